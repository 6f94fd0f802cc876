"""Follow events on the bus by correlation id and render each alert's story as text.

Used by `make demo` and the whole-stack tests: subscribe to ``at.>`` (core NATS sees every
JetStream-published message too), decode each event, group by correlation id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from decimal import Decimal

import nats
from nats.aio.client import Client as NatsClient

from at_core import subjects
from at_core.errors import DecodeError
from at_core.events import (
    AccountStateEvent,
    AgentAnalysisEvent,
    Event,
    FillEvent,
    OrderEvent,
    PositionEvent,
    RiskDecisionEvent,
    SignalEvent,
    TradeProposalEvent,
)
from at_core.serialization import decode_event


class Tracer:
    """Collects decoded events by correlation id; awaitable until a predicate holds."""

    def __init__(self) -> None:
        self.by_correlation: dict[str, list[Event]] = defaultdict(list)
        self.all: list[Event] = []
        self._changed = asyncio.Condition()
        self._nc: NatsClient | None = None

    async def start(self, url: str, user: str | None = None, password: str | None = None) -> None:
        self._nc = await nats.connect(url, user=user, password=password, name="tracer")
        await self._nc.subscribe(subjects.ALL, cb=self._on_msg)

    async def stop(self) -> None:
        """Stop collecting (again is a no-op)."""
        nc, self._nc = self._nc, None
        if nc is not None:
            await nc.drain()

    async def _on_msg(self, msg) -> None:
        try:
            event = decode_event(msg.data)
        except DecodeError:
            return
        async with self._changed:
            self.by_correlation[event.correlation_id].append(event)
            self.all.append(event)
            self._changed.notify_all()

    async def wait_for(self, correlation_id: str, predicate, timeout: float) -> list[Event]:
        """Wait until ``predicate(events)`` holds for a correlation id; return its events either way."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self.by_correlation.get(correlation_id, [])))

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_wait(), timeout)
        return list(self.by_correlation.get(correlation_id, []))


def is_settled(events: list[Event]) -> bool:
    """The story of one alert is complete: denied, rejected, or filled with its position published."""
    types = {e.event_type for e in events}
    denied = any(isinstance(e, RiskDecisionEvent) and not e.approved for e in events)
    return denied or "order_rejected" in types or ("fill" in types and "position" in types)


def _d(value: Decimal | None) -> str:
    return "-" if value is None else format(value.normalize(), "f")


def describe(event: Event) -> str:
    """One line per event, in words an operator reads."""
    match event:
        case SignalEvent():
            size = f" qty {_d(event.quantity)}" if event.quantity else ""
            target = f" target {_d(event.position_size)}" if event.position_size is not None else ""
            return f"signal     {event.action} {event.instrument_id}{size}{target} -> {event.account_id}/{event.strategy_id}"
        case AgentAnalysisEvent():
            if event.abstained:
                return f"agent      {event.agent_id}: abstained ({event.abstain_reason})"
            return f"agent      {event.agent_id}: {event.stance} conviction {_d(event.conviction)} - {event.rationale[:70]}"
        case TradeProposalEvent():
            o = event.order
            return f"proposal   {o.side} {_d(o.quantity)} {event.instrument_id} {o.order_type} ({event.combination_rule}, conviction {_d(event.combined_conviction)})"
        case RiskDecisionEvent():
            if event.approved:
                return f"risk       APPROVED {event.order.side} {_d(event.order.quantity)} as {event.client_order_id}"
            reasons = "; ".join(f"{r.code}: {r.message}" for r in event.reasons)
            return f"risk       DENIED {reasons}"
        case FillEvent():
            slip = f", slippage {_d(event.slippage_ticks)} ticks" if event.slippage_ticks is not None else ""
            return f"fill       {event.side} {_d(event.quantity)} @ {_d(event.price)} fee {_d(event.fee)} {event.fee_currency}{slip}"
        case OrderEvent():
            return f"order      {event.status} {event.client_order_id}" + (
                f" ({getattr(event, 'reason', '')})" if event.status == "rejected" else ""
            )
        case PositionEvent():
            p = event.position
            return f"position   {p.side} {_d(p.quantity)} {p.instrument_id} avg {_d(p.avg_price)} uPnL {_d(p.unrealized_pnl)} rPnL {_d(p.realized_pnl)} {p.currency}"
        case AccountStateEvent():
            return f"account    {event.account_id} balance {_d(event.balance)} equity {_d(event.equity)} {event.currency} ({event.trading_state})"
    return f"{event.event_type:<10} {event.event_id}"


def render(events: list[Event]) -> list[str]:
    ordered = sorted(events, key=lambda e: (e.ts_init, e.event_id))
    return [describe(e) for e in ordered if e.event_type not in ("heartbeat", "market_data")]
