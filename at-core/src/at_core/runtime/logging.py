"""structlog JSON logging: one line per event, with service and ids, secrets redacted.

Every line carries ``ts`` (ISO-8601 UTC), ``level``, ``service``, ``event`` and, where the
context knows them, ``event_id``, ``correlation_id`` and ``causation_id`` (bound with
:func:`bind_event_context`). See at-obs/docs/LOG_SPEC.md.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

REDACTED = "***"
_SECRET_KEYS = re.compile(r"(pass(word|phrase)?|secret|token|api[_-]?key|authorization|cookie|credential)", re.I)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET_KEYS.search(str(k)) else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: replace values of secret-looking keys, at any depth."""
    for key in list(event_dict):
        if _SECRET_KEYS.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(event_dict[key])
    return event_dict


def _add_service(service: str) -> Any:
    def add(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict["service"] = service  # the configured one, whatever a stale context holds
        return event_dict

    return add


def _stdlib_fields(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A stdlib record (uvicorn, MCP, nats-py) as a log line: its logger's name as ``logger``."""
    record = event_dict.get("_record")
    if record is not None:
        event_dict.setdefault("logger", record.name)
    return event_dict


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Configure structlog and stdlib logging to write JSON lines to ``stream`` (stdout).

    Every line carries ``service`` (a processor, not only a context variable: tasks started
    before this call, uvicorn's request tasks among them, have their own context), and the
    libraries' stdlib lines (uvicorn, the MCP server, nats-py) go through the same processors:
    JSON with ``ts``, ``level``, ``service``, ``logger`` and the event ids bound where they run.
    """
    out = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_service(service),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    render: list[Any] = [
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.processors.EventRenamer("event"),
        structlog.processors.JSONRenderer(sort_keys=True),
    ]
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _stdlib_fields],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        )
    )
    logging.basicConfig(handlers=[handler], level=level, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "mcp", "nats"):
        lib = logging.getLogger(name)
        lib.handlers.clear()  # uvicorn's own dictConfig, when one ran, wrote plain text
        lib.setLevel(logging.NOTSET)  # and set its own levels: the service's log level rules
        lib.propagate = True
    structlog.configure(
        processors=[*shared, *render],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


@contextmanager
def bind_event_context(
    event_id: str | None = None, correlation_id: str | None = None, causation_id: str | None = None
) -> Iterator[None]:
    """Bind event ids to every log line inside the block (async-safe: contextvars)."""
    ids = {
        k: v
        for k, v in (("event_id", event_id), ("correlation_id", correlation_id), ("causation_id", causation_id))
        if v
    }
    with structlog.contextvars.bound_contextvars(**ids):
        yield
