"""Why the gateway refuses an input: a typed rejection with a machine-readable reason.

The domain and the service layer speak reasons; only the HTTP edge (``api/status.py``) turns a
reason into a status code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Every reason the gateway refuses an input (the ``reason`` of answers and dead letters)."""

    MALFORMED = "malformed"
    INVALID = "invalid"
    STALE = "stale"
    PLACEHOLDER = "placeholder"
    TOO_DEEP = "too_deep"
    NUMBER_OUT_OF_RANGE = "number_out_of_range"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    MISSING_SECRET = "missing_secret"  # noqa: S105 - a reason code, not a secret
    BAD_SECRET = "bad_secret"  # noqa: S105 - a reason code, not a secret
    BAD_API_KEY = "bad_api_key"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    RATE_LIMITED = "rate_limited"
    REQUEST_TIMEOUT = "request_timeout"
    NOT_DURABLE = "not_durable"
    HTTP_ERROR = "http_error"


class GatewayError(Exception):
    """Root of the gateway's errors."""


class Rejection(GatewayError):
    """An input refused at the edge: ``reason`` says why, ``errors`` point at the fields."""

    def __init__(self, reason: Reason, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.errors = errors or []
        super().__init__(f"{reason}: {detail}")


class NotDurable(GatewayError):
    """The event could be stored neither in JetStream nor in the outbox."""


@dataclass(frozen=True, slots=True)
class Stored:
    """Where a publish went: ``jetstream`` or ``outbox``; ``duplicate_of``, the stream sequence of the
    message JetStream already held under the same message id (this one was dropped)."""

    sink: str
    duplicate_of: int | None = None
