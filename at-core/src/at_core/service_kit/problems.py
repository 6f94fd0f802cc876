"""One error shape for every service: RFC 9457 problem details, ``application/problem+json``.

Every 4xx and 5xx a service answers has the same body::

    {"type": "urn:at:problem:<reason>", "title": "Unprocessable Content", "status": 422,
     "detail": "invalid request", "instance": "/orders", "reason": "invalid",
     "errors": [{"loc": ["body", "quantity"], "msg": "Input should be greater than 0"}]}

``reason`` is a stable machine-readable code (the last token of ``type``); ``errors`` (field
errors with their path) is present for a 422. Services raise :class:`ProblemError` (or FastAPI's
``HTTPException``) at the HTTP edge; the handlers installed by :func:`install_problem_handlers`
render both, validation errors and any unhandled exception in this shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from at_core.errors import AtCoreError
from at_core.runtime.logging import get_logger

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:at:problem:"

#: The reason given to a bare HTTP status (a 404 from routing, a 405, an ``HTTPException``).
REASON_BY_STATUS: Mapping[int, str] = {
    400: "bad_request",
    401: "bad_api_key",
    403: "insufficient_scope",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}

#: RFC 9110's names where Python's ``HTTPStatus`` still has the older ones (3.11, 3.12).
_TITLES: Mapping[int, str] = {413: "Content Too Large", 422: "Unprocessable Content"}

log = get_logger("at_core.service_kit")


class ProblemError(AtCoreError):
    """An error answered as problem details (raise it at the HTTP edge, never in domain code)."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers) if headers else None
        super().__init__(f"{status} {reason}: {detail}")


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI error dicts reduced to ``{"loc": [...], "msg": ...}`` (no input echoed back).

    The input is left out on purpose: it may hold a secret or a megabyte of garbage.
    """
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]


def problem_body(
    status: int,
    reason: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The problem-details document (a plain dict, for a service that renders it itself)."""
    try:
        title = _TITLES.get(status) or HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + reason,
        "title": title,
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = [dict(e) for e in errors]
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return body


def problem_response(
    status: int,
    reason: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A response carrying :func:`problem_body`, typed ``application/problem+json``."""
    body = problem_body(status, reason, detail, instance=instance, errors=errors, extra=extra)
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None, media_type=PROBLEM_JSON)


def reason_for(status: int) -> str:
    return REASON_BY_STATUS.get(status, "internal" if status >= 500 else "http_error")


def route_of(request: Request) -> str:
    """The matched route's template (``/webhook/{secret}``), never the raw path: a path may hold a secret."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status, exc.reason, exc.detail, instance=route_of(request), errors=exc.errors, headers=exc.headers
    )


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem_response(
        exc.status_code, reason_for(exc.status_code), detail, instance=route_of(request), headers=exc.headers
    )


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422, "invalid", "invalid request", instance=route_of(request), errors=field_errors(exc.errors())
    )


async def on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", route=route_of(request), error=repr(exc))
    return problem_response(500, "internal", "internal error, logged", instance=route_of(request))


def install_problem_handlers(app: FastAPI) -> None:
    """Answer ``ProblemError``, ``HTTPException``, validation errors and bugs as problem details.

    A service registers its own handler for its own error types after this (a later
    ``app.exception_handler`` for the same type replaces the kit's).
    """
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unhandled)
