"""HTTP glue shared by the routes: the client address, the body (bounded in size and time), refusals."""

from __future__ import annotations

import asyncio
import time

from fastapi import Request

from at_gateway.api.status import status_for
from at_gateway.bootstrap import Gateway
from at_gateway.domain.limits import client_address
from at_gateway.errors import Reason, Rejection

JSON_TYPES = ("application/json", "text/plain", "")


def source_address(gw: Gateway, request: Request) -> str:
    """The client, through trusted proxies (set once per request by the front door)."""
    known = request.scope.get("state", {}).get("source")
    if known is not None:
        return str(known)
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), gw.proxies)


def deadline_of(gw: Gateway, request: Request) -> float:
    """The monotonic time by which this request must be answered."""
    return float(request.scope.get("state", {}).get("deadline") or time.monotonic() + gw.settings.answer_within_s)


def route_name_of(gw: Gateway, request: Request) -> str:
    """The route template; for an unknown path, the path with any secret redacted (bounded)."""
    route = request.scope.get("route")
    if route is not None:
        return str(route.path)
    return gw.redactor.text(request.url.path)[:200]


async def read_body(gw: Gateway, request: Request, cap: int, allowed_types: tuple[str, ...] = JSON_TYPES) -> bytes:
    """The body, refused as soon as it passes ``cap`` bytes or takes longer than the read timeout."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in allowed_types:
        raise Rejection(
            Reason.UNSUPPORTED_TYPE,
            f"content-type {ctype[:60]!r} not accepted ({', '.join(t for t in allowed_types if t)})",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise Rejection(Reason.TOO_LARGE, f"body of {declared[:20]} bytes exceeds {cap}")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(gw.settings.http_read_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise Rejection(Reason.TOO_LARGE, f"body exceeds {cap} bytes")
                chunks.append(chunk)
    except TimeoutError as exc:
        raise Rejection(
            Reason.REQUEST_TIMEOUT, f"body not received within {gw.settings.http_read_timeout_s:g}s"
        ) from exc
    raw = b"".join(chunks)
    request.state.raw_body = raw
    return raw


async def dead_letter(gw: Gateway, request: Request, rejection: Rejection, raw: bytes) -> None:
    """Count the refusal and keep it on the dead-letter stream (within the refusal budgets)."""
    await gw.service.keep_refusal(
        rejection,
        status_for(rejection.reason),
        route_name_of(gw, request),
        source_address(gw, request),
        raw,
        deadline_of(gw, request),
        metric_route=getattr(request.scope.get("route"), "path", "unmatched"),
    )
