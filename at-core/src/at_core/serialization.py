"""Canonical JSON for events: the same event gives the same bytes in every process.

Keys sorted, no insignificant white space, UTF-8, integers as integers, and Decimals as
strings in plain notation with no trailing zeros (``1.50`` and ``1.5`` are one value, so
they get one spelling; no exponent, so ``100`` never becomes ``1E+2``). A SHA-256 over a stream of canonical events is therefore
reproducible across processes and machines, which replay verification relies on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date, time
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import ValidationError

from at_core.errors import DecodeError
from at_core.events import EVENT_REGISTRY, Event


def canonical_decimal(value: Decimal) -> str:
    """One spelling per value: plain notation, no trailing zeros, no negative zero."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def canonical_dumps(data: Any) -> bytes:
    """Serialise data canonically (Decimals, enums, dates converted as above)."""
    return json.dumps(
        _canonical(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def encode_event(event: Event) -> bytes:
    """Canonical JSON bytes of an event."""
    return canonical_dumps(event.model_dump(mode="python"))


def decode_event(data: bytes | str) -> Event:
    """Decode bytes into the event class named by their ``event_type``.

    Unknown top-level fields are refused, except from a producer with a newer
    ``schema_version`` of the same major line, whose added optional fields are dropped.

    Raises:
        DecodeError: not JSON, no or unknown ``event_type``, or invalid fields.
    """
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise DecodeError("not a JSON object")
    event_type = raw.get("event_type")
    cls = EVENT_REGISTRY.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise DecodeError(f"unknown event_type {event_type!r}", event_type if isinstance(event_type, str) else None)
    version = raw.get("schema_version")
    if isinstance(version, int) and version > cls.SCHEMA_VERSION:
        # Forward compatibility within a major line: a newer producer may add optional
        # fields; an older consumer ignores them (and only them).
        raw = {k: v for k, v in raw.items() if k in cls.model_fields}
        raw["schema_version"] = version
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise DecodeError(str(exc), event_type) from exc


def event_sha256(event: Event) -> str:
    return hashlib.sha256(encode_event(event)).hexdigest()


def stream_sha256(events: Iterable[Event]) -> str:
    """SHA-256 over canonical events, newline-separated, in the given order."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(encode_event(event))
        digest.update(b"\n")
    return digest.hexdigest()
