"""Secrets out of every log line, whoever writes it: a structlog processor and a stdlib filter.

at-core's logging masks values under secret-looking *keys*; a webhook secret can also arrive as a
*value* (a path logged on an error, an exception message echoing input, a traceback). Each
running gateway registers its :class:`Redactor`; every line, structlog's and the standard
library's (uvicorn's tracebacks included), has every registered secret masked before it is written.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import MutableMapping
from typing import Any

import structlog

from at_gateway.domain.redaction import Redactor

#: The registered redactors, weakly (a stopped gateway's goes with it); a list of references
#: rather than a WeakSet, whose iteration (a Python generator with a guard) every line paid.
_REFS: list[weakref.ref[Redactor]] = []


def _scrub(value: Any, redactors: tuple[Redactor, ...] | None = None) -> Any:
    if redactors is None:
        redactors = _live()
    if isinstance(value, str):
        for redactor in redactors:
            value = redactor.text(value)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, redactors) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, redactors) for v in value]
    return value


_PLAIN = (int, float, bool, type(None))  # nothing to mask: the common non-text values, skipped at once


def redact_values(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask every registered secret in every value (the registry read once a line)."""
    redactors = _live()
    if not redactors:
        return event_dict
    texts = []
    for value in event_dict.values():  # one pass: the common line is flat, its values texts and numbers
        if isinstance(value, str):
            texts.append(value)
        elif not isinstance(value, _PLAIN):
            break  # a nested value: masked value by value below
    else:
        if all(r.holds_none(texts) for r in redactors):
            return event_dict  # no secret in any value (one pass over them all, not one per value)
    for key, value in event_dict.items():
        if not isinstance(value, _PLAIN):
            event_dict[key] = _scrub(value, redactors)
    return event_dict


def _live() -> tuple[Redactor, ...]:
    """The registered redactors still alive."""
    return tuple(r for ref in _REFS if (r := ref()) is not None)


def _forget(ref: weakref.ref[Redactor]) -> None:
    """A redactor was collected. A new list, never one changed in place: the collector may run
    this in the middle of :func:`_live`'s pass over the old one, which must not skip a redactor."""
    global _REFS
    _REFS = [r for r in _REFS if r is not ref]


class RedactingFilter(logging.Filter):
    """stdlib filter: the record's message and traceback rendered, then masked."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = _scrub(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = _scrub(record.exc_text)
        return True


def install(redactor: Redactor) -> None:
    """Register ``redactor`` and make sure both hooks are in place (idempotent; call after logging is configured)."""
    global _REFS
    if not any(ref() is redactor for ref in _REFS):
        _REFS = [*_REFS, weakref.ref(redactor, _forget)]
    processors = list(structlog.get_config()["processors"])
    if redact_values not in processors:
        processors.insert(max(0, len(processors) - 1), redact_values)  # before the renderer
        structlog.configure(processors=processors)
    handlers = [
        h for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access") for h in logging.getLogger(name).handlers
    ]
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
