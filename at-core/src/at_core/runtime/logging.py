"""structlog JSON logging: one line per event, with service and ids, secrets redacted.

Every line carries ``ts`` (ISO-8601 UTC), ``level``, ``service``, ``event`` and, where the
context knows them, ``event_id``, ``correlation_id`` and ``causation_id`` (bound with
:func:`bind_event_context`). See at-obs/docs/LOG_SPEC.md.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import MutableMapping
from contextlib import AbstractContextManager
from typing import Any, TextIO

import orjson
import structlog

REDACTED = "***"
_SECRET_KEYS = re.compile(r"(pass(word|phrase)?|secret|token|api[_-]?key|authorization|cookie|credential)", re.I)


@functools.lru_cache(maxsize=4096)
def _is_secret(key: str) -> bool:
    """Whether ``key`` names a secret (remembered: a service logs the same few dozen keys)."""
    return _SECRET_KEYS.search(key) is not None


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if _is_secret(str(k)) else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: replace values of secret-looking keys, at any depth."""
    for key, value in event_dict.items():
        if _is_secret(key):
            event_dict[key] = REDACTED
        elif isinstance(value, dict | list):
            event_dict[key] = _redact(value)
    return event_dict


#: The reference rendering (structlog's, through json) and the fallback of :func:`render_json`.
_JSON_RENDERER = structlog.processors.JSONRenderer(sort_keys=True)
_RENDER_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _render_fallback(value: Any) -> Any:
    """What json's renderer writes for a value JSON has no type for: ``__structlog__()`` or repr."""
    to_log = getattr(value, "__structlog__", None)
    return to_log() if callable(to_log) else repr(value)


def render_json(logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> str:
    """structlog processor: the line ``JSONRenderer(sort_keys=True)`` writes, through orjson.

    The same keys and values (dates, Decimals and other objects as their repr), compact; a fifth of
    the CPU. Where orjson cannot (an integer beyond 64 bits, a key that is not a str) or the line
    is not ASCII (json escapes it, so any stream encoding can write it), json renders it as before.
    Enums and UUIDs are written as their value rather than their repr, NaN as null.
    """
    try:
        line = orjson.dumps(event_dict, default=_render_fallback, option=_RENDER_OPTIONS)
    except orjson.JSONEncodeError:
        return str(_JSON_RENDERER(logger, name, event_dict))
    if not line.isascii():
        return str(_JSON_RENDERER(logger, name, event_dict))
    return line.decode()


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
        render_json,
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


class _Logger:
    """A module's logger: bound once per structlog configuration instead of on every call.

    structlog's lazy proxy builds a new bound logger (and output logger) for each line unless
    ``cache_logger_on_first_use``, which would pin a module's logger to the first configuration:
    tests and the gateway's redaction reconfigure later. This one rebuilds when the configuration
    (processors, wrapper, factory, context class) is no longer the one it was built from.
    """

    __slots__ = ("_bound", "_built_from", "_name")

    def __init__(self, name: str | None) -> None:
        self._name = name
        self._built_from: tuple[Any, ...] = ()
        self._bound: Any = None

    def _current(self) -> Any:
        conf = structlog.get_config()
        now = (conf["processors"], conf["wrapper_class"], conf["logger_factory"], conf["context_class"])
        built = self._built_from
        if len(built) != len(now) or any(a is not b for a, b in zip(built, now, strict=True)):
            self._bound = structlog.get_logger(self._name).bind()
            self._built_from = now
        return self._bound

    def __getattr__(self, attr: str) -> Any:
        if attr in _Logger.__slots__:  # not set yet (a copy being made): never recurse into _current
            raise AttributeError(attr)
        return getattr(self._current(), attr)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger for ``name``, following :func:`configure_logging` (and any reconfiguration)."""
    return _Logger(name)


class _EventContext:
    """structlog's ``bound_contextvars`` as a class rather than a generator (it is entered for every
    consumed event): binds the ids on entry; on exit unbinds them and rebinds what they were."""

    __slots__ = ("_ids", "_saved")

    def __init__(self, ids: dict[str, str]) -> None:
        self._ids = ids
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        context = structlog.contextvars.get_contextvars()
        self._saved = {k: context[k] for k in self._ids if k in context}
        structlog.contextvars.bind_contextvars(**self._ids)

    def __exit__(self, *_: object) -> None:
        structlog.contextvars.unbind_contextvars(*self._ids)
        structlog.contextvars.bind_contextvars(**self._saved)


def bind_event_context(
    event_id: str | None = None, correlation_id: str | None = None, causation_id: str | None = None
) -> AbstractContextManager[None]:
    """Bind event ids to every log line inside the block (async-safe: contextvars)."""
    ids = {}
    if event_id:
        ids["event_id"] = event_id
    if correlation_id:
        ids["correlation_id"] = correlation_id
    if causation_id:
        ids["causation_id"] = causation_id
    return _EventContext(ids)
