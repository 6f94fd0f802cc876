"""The first thing every request meets (pure ASGI): its client address, its deadline, and a refusal
budget for unknown paths, enforced before anything is routed, read, logged or stored."""

from __future__ import annotations

import json
import time

from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from at_core.service_kit.problems import PROBLEM_JSON, problem_body
from at_gateway.domain.limits import client_address
from at_gateway.errors import Reason


class FrontDoor:
    """Sets ``request.state.source`` and ``.deadline``; answers 429 to a source that keeps asking for
    paths that do not exist once it has used up its refusal budget (nothing is kept for those)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = getattr(scope["app"].state, "service", None) if "app" in scope else None
        if scope["type"] != "http" or gw is None:
            await self.app(scope, receive, send)
            return
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        source = client_address(peer, forwarded, gw.proxies)
        state = scope.setdefault("state", {})
        state["source"] = source
        state["deadline"] = time.monotonic() + gw.settings.answer_within_s
        if gw.service.refused_too_often(source) and not _known(scope):  # cheap test first
            gw.metrics.counter("rejected_total").labels("unmatched", Reason.RATE_LIMITED).inc()
            await _answer_429(send, source)
            return
        await self.app(scope, receive, send)


def _known(scope: Scope) -> bool:
    return any(route.matches(scope)[0] is not Match.NONE for route in scope["app"].router.routes)


async def _answer_429(send: Send, source: str) -> None:
    detail = f"too many refused requests from {source}"
    body = json.dumps(problem_body(429, Reason.RATE_LIMITED, detail, instance="unmatched")).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
