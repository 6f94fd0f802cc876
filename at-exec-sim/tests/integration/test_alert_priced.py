"""A bare alert trades on paper, over a real nats-server and a real uvicorn server; a denial is visible
on GET /decisions with its reason (its warning log line: tests/unit/test_alert_mark.py)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from tests.helpers import factory, proposal
from tests.integration.test_service import Running, _collect, bus  # noqa: F401  (the bus fixture)

from at_core.models.enums import OrderSide
from at_core.runtime.bus import EventBus
from at_core.testing import NatsServer

pytestmark = pytest.mark.integration


async def test_an_alert_without_market_data_fills_on_paper_at_its_price_and_says_so(
    nats_server: NatsServer,
    bus: EventBus,  # noqa: F811
) -> None:
    f = factory(time.time_ns())  # a fresh alert, as the live service's wall clock sees it
    p = proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1").model_copy(update={"reference_price": Decimal("6012.25")})
    async with Running(nats_server.url) as svc:
        nc, got, done = await _collect(nats_server.url, p.correlation_id, "position")
        await bus.publish(p)
        await asyncio.wait_for(done.wait(), 10)
        fill = next(e for e in got if e.event_type == "fill")
        assert fill.price == Decimal("6012.25") and fill.price_source == "alert"
        (decision,) = (await svc.client.get("/decisions", params={"account_id": "paper-1"})).json()
        assert decision["approved"] and decision["price_source"] == "alert" and decision["mark_price"] == "6012.25"
        (shown,) = (await svc.client.get("/fills", params={"account_id": "paper-1"})).json()
        assert shown["price_source"] == "alert"
        await nc.close()


async def test_a_denial_shows_on_decisions_with_its_reason_and_what_to_do(
    nats_server: NatsServer,
    bus: EventBus,  # noqa: F811
) -> None:
    f = factory(time.time_ns() - 3600 * 10**9)  # an alert an hour old: its price is too old to trade on
    p = proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1").model_copy(update={"reference_price": Decimal("6000")})
    async with Running(nats_server.url) as svc:
        nc, _, done = await _collect(nats_server.url, p.correlation_id, "risk_decision")
        await bus.publish(p)
        await asyncio.wait_for(done.wait(), 10)
        (denied,) = (await svc.client.get("/decisions", params={"approved": "false"})).json()
        assert denied["correlation_id"] == p.correlation_id
        (reason,) = denied["reasons"]
        assert reason["code"] == "no_market_price" and "older than alert_price_max_age_s=300" in reason["message"]
        assert (await svc.client.get("/decisions", params={"approved": "true"})).json() == []
        await nc.close()
