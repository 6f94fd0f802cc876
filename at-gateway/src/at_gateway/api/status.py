"""The one table from a refusal's reason to its HTTP status (the domain never sees a status)."""

from __future__ import annotations

from at_gateway.errors import Reason

STATUS: dict[str, int] = {
    Reason.MALFORMED: 400,
    Reason.MISSING_SECRET: 401,
    Reason.BAD_SECRET: 401,
    Reason.BAD_API_KEY: 401,
    Reason.ADDRESS_NOT_ALLOWED: 403,
    Reason.NOT_FOUND: 404,
    Reason.METHOD_NOT_ALLOWED: 405,
    Reason.REQUEST_TIMEOUT: 408,
    Reason.TOO_LARGE: 413,
    Reason.UNSUPPORTED_TYPE: 415,
    Reason.INVALID: 422,
    Reason.STALE: 422,
    Reason.PLACEHOLDER: 422,
    Reason.TOO_DEEP: 422,
    Reason.NUMBER_OUT_OF_RANGE: 422,
    Reason.RATE_LIMITED: 429,
    Reason.NOT_DURABLE: 503,
    Reason.HTTP_ERROR: 400,
}
REASON_OF_STATUS: dict[int, Reason] = {404: Reason.NOT_FOUND, 405: Reason.METHOD_NOT_ALLOWED}


def status_for(reason: str) -> int:
    """The HTTP status for a refusal reason (400 for one this table does not know)."""
    return STATUS.get(reason, 400)
