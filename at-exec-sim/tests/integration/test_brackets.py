"""Brackets over a real nats-server and a real uvicorn: an entry fills and its children rest; the stop
fills and the target is cancelled; a restart of exec-sim keeps the children working."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from tests.helpers import factory, proposal, quote
from tests.integration.test_service import Running, _collect, bus  # noqa: F401  (the bus fixture)

from at_core.models.brackets import BracketLevel, BracketSpec, BracketUnit
from at_core.models.enums import OrderSide
from at_core.runtime.bus import EventBus
from at_core.testing import NatsServer

pytestmark = pytest.mark.integration
BRACKET = BracketSpec(
    stop_loss=BracketLevel(value=Decimal(8), unit=BracketUnit.TICKS),
    take_profit=BracketLevel(value=Decimal(16), unit=BracketUnit.TICKS),
)


def _working_children(rows: list[dict]) -> dict[str, tuple[str, str]]:
    return {
        r["bracket_role"]: (r["status"], r["order"]["stop_price"] or r["order"]["limit_price"])
        for r in rows
        if r["bracket_role"] and r["status"] in ("accepted", "submitted", "partially_filled")
    }


async def test_a_bracketed_entry_rests_its_children_a_restart_keeps_them_and_the_stop_cancels_the_target(
    nats_server: NatsServer,
    bus: EventBus,  # noqa: F811
) -> None:
    f = factory()
    p = proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "2")
    p = p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})
    async with Running(nats_server.url) as svc:
        await bus.publish(quote(f, "MES.CME", "5000.00", "5000.25"))
        nc, got, done = await _collect(nats_server.url, p.correlation_id, "order_accepted")

        async def two_children() -> None:
            while sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) < 2:
                done.clear()
                await done.wait()

        await bus.publish(p)
        await asyncio.wait_for(two_children(), 10)
        await nc.close()
        rows = (await svc.client.get("/orders", params={"account_id": "paper-1"})).json()
        assert _working_children(rows) == {"stop_loss": ("accepted", "4998.25"), "take_profit": ("accepted", "5004.25")}
    async with Running(nats_server.url) as again:  # rebuilt from AT_EXECUTION: the children still work
        rows = (await again.client.get("/orders", params={"account_id": "paper-1"})).json()
        assert _working_children(rows) == {"stop_loss": ("accepted", "4998.25"), "take_profit": ("accepted", "5004.25")}
        nc, got, done = await _collect(nats_server.url, p.correlation_id, "order_canceled")
        await bus.publish(quote(f, "MES.CME", "4998.00", "4998.25"))
        await asyncio.wait_for(done.wait(), 10)
        await nc.close()
        canceled = next(e for e in got if e.event_type == "order_canceled")
        assert (canceled.bracket_role, canceled.reason) == ("take_profit", "oco")
        fills = [e for e in got if e.event_type == "fill"]
        assert [(x.bracket_role, x.quantity, x.price) for x in fills] == [("stop_loss", 2, Decimal("4998.00"))]
        positions = (await again.client.get("/positions", params={"account_id": "paper-1"})).json()
        assert positions[0]["quantity"] == "0"
        assert _working_children((await again.client.get("/orders")).json()) == {}
