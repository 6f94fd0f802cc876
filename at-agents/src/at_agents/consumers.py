"""Durable consumers (names from settings, so replicas share the work): signals, context, charts."""

from __future__ import annotations

from at_agents.adapters.charts import fetch_chart
from at_agents.bootstrap import AgentsService, connect
from at_core import subjects
from at_core.events import AccountStateEvent, ChartSnapshotEvent, Event, MarketDataEvent, PositionEvent, SignalEvent
from at_core.runtime.bus import Delivery


async def start(svc: AgentsService) -> None:
    """Connect, then consume context (market data, positions, accounts, charts) and signals."""
    await connect(svc)
    assert svc.bus is not None
    bus, p, wait = svc.bus, svc.settings.durable_prefix, svc.settings.ack_wait_s

    async def on_signal(event: Event, _: Delivery) -> None:
        if isinstance(event, SignalEvent):
            await svc.on_signal(event)
        elif isinstance(event, ChartSnapshotEvent):
            svc.on_chart(event, await fetch_chart(bus.js, event))

    async def on_context(event: Event, _: Delivery) -> None:
        if isinstance(event, MarketDataEvent):
            svc.ctx.on_market_data(event)
        elif isinstance(event, PositionEvent):
            await svc.on_position(event)
        elif isinstance(event, AccountStateEvent):
            svc.ctx.on_account(event)

    for subject, durable, handler in (
        (subjects.MARKET_DATA, f"{p}-md", on_context),
        (subjects.POSITIONS, f"{p}-positions", on_context),
        (subjects.ACCOUNTS, f"{p}-accounts", on_context),
        (subjects.CHART_SNAPSHOTS, f"{p}-charts", on_signal),
        (subjects.SIGNALS, f"{p}-signals", on_signal),
    ):
        svc.consumers.append(await bus.consume(subject, handler, durable=durable, ack_wait_s=wait))
    svc.ready = True
