"""The console's pages: accounts, one alert's story, performance, health."""

from __future__ import annotations

import asyncio
import json
from bisect import bisect_right
from collections import deque
from decimal import Decimal
from itertools import islice
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from at_obs.api.console.deps import ConsoleDep, SessionDep, page_context, templates
from at_obs.api.deps import RecorderDep
from at_obs.domain.console.ledger import Ledger, Trade
from at_obs.domain.console.story import build_story

router = APIRouter()
#: Points drawn per chart (an equity curve of a year of ticks is thinned to this).
CHART_POINTS = 2000
TRADES_SHOWN = 100
TRADES_MAX = 5000


@router.get("/", include_in_schema=False)
async def index() -> Response:
    return RedirectResponse("/console/accounts", status_code=303)


@router.get("/accounts", response_class=HTMLResponse)
async def accounts(request: Request, console: ConsoleDep, session: SessionDep, notice: str = "") -> Response:
    """Balance, equity, P&L, distance to every floor, trading state, open orders, positions."""
    views = sorted(console.ledger.accounts.values(), key=lambda v: v.account_id)
    ctx = page_context(request, console, session, accounts=views, notice=notice[:300], page="accounts")
    return templates.TemplateResponse(request, "accounts.html", ctx)


@router.get("/story", response_class=HTMLResponse)
async def story(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    rec: RecorderDep,
    correlation_id: str = Query(default="", max_length=64),
) -> Response:
    """One alert's story: every step from signal to position, with latencies and chain checks."""
    found = None
    if correlation_id:
        records = await asyncio.to_thread(rec.store.by_correlation, correlation_id)
        found = build_story(correlation_id, records) if records else None
    ctx = page_context(request, console, session, correlation_id=correlation_id, story=found, page="story")
    return templates.TemplateResponse(
        request, "story.html", ctx, status_code=404 if correlation_id and not found else 200
    )


def _thin(points: list[tuple[int, Decimal]], limit: int = CHART_POINTS) -> list[dict[str, Any]]:
    step = max(1, len(points) // limit)
    kept = points[::step]
    if points and kept[-1] != points[-1]:
        kept.append(points[-1])
    out: list[dict[str, Any]] = []
    for ts_ns, value in kept:
        t = ts_ns // 1_000_000_000
        if out and out[-1]["time"] >= t:  # the chart needs strictly increasing times: keep the latest per second
            out[-1]["value"] = float(value)
            continue
        out.append({"time": t, "value": float(value)})
    return out


def _candles(ledger: Ledger, trades: deque[Trade] | list[Trade]) -> dict[str, Any]:
    """The candles of the account's most traded instrument that has bars, with entries and exits marked."""
    counts: dict[str, int] = {}
    for t in trades:
        counts[t.instrument_id] = counts.get(t.instrument_id, 0) + 1
    instrument = next((i for i, _ in sorted(counts.items(), key=lambda kv: -kv[1]) if ledger.bars.get(i)), "")
    if not instrument:
        return {"instrument": "", "bars": [], "markers": []}
    bars: list[dict[str, Any]] = []
    for ts, o, h, low, c in list(ledger.bars[instrument])[-CHART_POINTS:]:
        t = ts // 1_000_000_000
        if bars and bars[-1]["time"] >= t:
            continue
        bars.append({"time": t, "open": float(o), "high": float(h), "low": float(low), "close": float(c)})
    times = [b["time"] for b in bars]

    def on_bar(ts_ns: int) -> int | None:
        i = bisect_right(times, ts_ns // 1_000_000_000) - 1  # the bar the moment falls in
        return times[i] if i >= 0 else None

    markers = []
    for t in trades:
        if t.instrument_id != instrument:
            continue
        entry = on_bar(t.entry_ts)
        if entry is not None:
            long = t.side == "long"
            markers.append(
                {"time": entry, "position": "belowBar" if long else "aboveBar", "color": "#2962ff",
                 "shape": "arrowUp" if long else "arrowDown", "text": f"{t.side} {t.quantity} @ {t.entry_price}"}
            )  # fmt: skip
        exit_at = on_bar(t.exit_ts) if t.exit_ts is not None else None
        if exit_at is not None:
            markers.append(
                {"time": exit_at, "position": "aboveBar", "color": "#ef5350" if t.pnl < 0 else "#26a69a",
                 "shape": "circle", "text": f"exit {float(t.pnl):+.2f}"}
            )  # fmt: skip
    markers.sort(key=lambda m: m["time"])
    return {"instrument": instrument, "bars": bars, "markers": markers}


@router.get("/performance", response_class=HTMLResponse)
async def performance(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    account_id: str = Query(default="", max_length=64),
    trades_shown: int = Query(default=TRADES_SHOWN, ge=1, le=TRADES_MAX),
) -> Response:
    """Equity curve and drawdown, P&L per day, fees and slippage, and the latest trades."""
    ledger = console.ledger
    ids = sorted(ledger.accounts)
    account_id = account_id if account_id in ledger.accounts else (ids[0] if ids else "")
    view = ledger.accounts.get(account_id)
    trades = view.trades if view else deque()
    daily = sorted((view.daily if view else {}).items())
    charts = {
        "equity": _thin(list(view.equity)) if view else [],
        "drawdown": _thin(ledger.drawdown(account_id)) if view else [],
        "daily": [{"time": day, "value": float(v["realized"] - v["fees"])} for day, v in daily],
        "candles": _candles(ledger, trades),
    }
    closed = [t for t in trades if not t.open]
    totals = {
        "trades": len(closed),
        "pnl": sum((t.pnl for t in closed), Decimal(0)),
        "fees": sum((t.fees for t in trades), Decimal(0)),
        "slippage": sum((t.slippage for t in trades), Decimal(0)),
        "wins": sum(1 for t in closed if t.pnl > 0),
    }
    ctx = page_context(
        request,
        console,
        session,
        account_ids=ids,
        account_id=account_id,
        trades=list(islice(reversed(trades), trades_shown)),
        trades_total=len(trades),
        daily=daily,
        totals=totals,
        charts_json=json.dumps(charts),
        page="performance",
    )
    return templates.TemplateResponse(request, "performance.html", ctx)


@router.get("/health", response_class=HTMLResponse)
async def health(request: Request, console: ConsoleDep, session: SessionDep, rec: RecorderDep) -> Response:
    """Each service's readiness, consumer lag per durable, unpublished events, alerts firing."""
    recorder = {
        "ready": rec.ready,
        "consumers": len(rec.consumers),
        "chain_ok": rec.metrics.gauge("audit_chain_ok")._value.get() == 1,
    }
    ctx = page_context(request, console, session, snap=console.health, recorder=recorder, page="health")
    return templates.TemplateResponse(request, "health.html", ctx)
