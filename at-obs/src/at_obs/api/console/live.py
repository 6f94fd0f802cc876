"""The live tail: a page, and its server-sent event stream, filtered by account, strategy, symbol, type."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from at_obs.api.console.deps import ConsoleDep, SessionDep, page_context, templates
from at_obs.domain.console.tail import TailFilter

router = APIRouter()
KEEPALIVE_S = 15.0
FilterField = Annotated[str, Query(max_length=64)]


def tail_filter(
    account_id: FilterField = "",
    strategy_id: FilterField = "",
    instrument_id: FilterField = "",
    event_type: FilterField = "",
) -> TailFilter:
    """The filter of the page and of its stream, from the same four query parameters."""
    return TailFilter(account_id.strip(), strategy_id.strip(), instrument_id.strip(), event_type.strip())


FilterDep = Annotated[TailFilter, Depends(tail_filter)]


@router.get("/live", response_class=HTMLResponse)
async def live(request: Request, console: ConsoleDep, session: SessionDep, flt: FilterDep) -> Response:
    """The latest events, and new ones as they happen."""
    ctx = page_context(request, console, session, lines=list(reversed(console.tail.latest(flt))), flt=flt, page="live")
    return templates.TemplateResponse(request, "live.html", ctx)


@router.get("/live/stream")
async def stream(request: Request, console: ConsoleDep, session: SessionDep, flt: FilterDep) -> StreamingResponse:
    """Server-sent events: one ``data:`` line of JSON per new event that passes the filter."""
    queue = console.listen()

    async def events() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    line = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if flt.matches(line):
                    yield f"data: {json.dumps(line)}\n\n"
        finally:
            console.unlisten(queue)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
