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

_REDACTORS: weakref.WeakSet[Redactor] = weakref.WeakSet()


def _scrub(value: Any, redactors: tuple[Redactor, ...] | None = None) -> Any:
    if redactors is None:
        redactors = tuple(_REDACTORS)
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
    redactors = tuple(_REDACTORS)
    if not redactors:
        return event_dict
    values = [v for v in event_dict.values() if not isinstance(v, _PLAIN)]
    if all(isinstance(v, str) for v in values) and all(r.holds_none(values) for r in redactors):
        return event_dict  # the common line: flat, no secret in any value (one pass, not one per value)
    for key, value in event_dict.items():
        if not isinstance(value, _PLAIN):
            event_dict[key] = _scrub(value, redactors)
    return event_dict


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
    _REDACTORS.add(redactor)
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
