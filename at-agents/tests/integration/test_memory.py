"""Memory in JetStream KV: a restart (or another replica) sees it; outcomes resolve from positions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.helpers import T0, factory, signal

from at_agents import bootstrap
from at_agents.config import AgentsSettings
from at_core.events import PositionEvent
from at_core.models.enums import PositionSide
from at_core.models.portfolio import PositionSnapshot
from at_core.testing import NatsServer

pytestmark = pytest.mark.integration


def _closed(ts: int) -> PositionEvent:
    snap = PositionSnapshot(
        account_id="paper-1",
        instrument_id="MES.CME",
        quantity=Decimal(0),
        side=PositionSide.FLAT,
        avg_price=Decimal(0),
        realized_pnl=Decimal(125),
        unrealized_pnl=Decimal(0),
        currency="USD",
        last_price=Decimal(5050),
    )
    return factory().make(PositionEvent, ts_event=ts, position=snap, change="closed")


async def test_memory_survives_a_restart_and_outcomes_stay_invisible_before_they_happen(
    nats_server: NatsServer,
) -> None:
    settings = AgentsSettings(nats_url=nats_server.url)
    first = bootstrap.build(settings)
    await bootstrap.start(first)
    sig = signal(factory())
    await first.on_signal(sig)
    await first.on_position(_closed(T0 + 60 * 10**9))
    await bootstrap.stop(first)

    nats_server.stop()
    nats_server.start()
    second = bootstrap.build(settings)
    await bootstrap.start(second)
    memory = second.memory[("s", "MES.CME")]
    decision = next(e for e in memory.entries if e.kind == "decision")
    assert decision.signal_event_id == sig.event_id and decision.proposal_event_id is not None
    assert decision.outcome.realized_pnl == Decimal(125) and decision.outcome.hold_return == Decimal("0.01")
    before = next(e for e in memory.visible_at(T0 + 1) if e.kind == "decision")
    assert before.outcome is None  # the close happened a minute later
    assert next(e for e in memory.visible_at(T0 + 61 * 10**9) if e.kind == "decision").outcome is not None
    await bootstrap.stop(second)
