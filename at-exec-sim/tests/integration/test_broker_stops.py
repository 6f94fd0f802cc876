"""An account locked or halted has no orders left resting at brokers: a session cutoff (like the
kill switch) cancels them there before the flatten orders go out. exec-sim over a real nats-server
under uvicorn, on a manual clock so the cutoff comes when the test says; OANDA faked on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from tests.helpers import T0, proposal
from tests.integration.test_broker_routing import Service, Stack, broker_stack, has

from at_core.clock import ManualClock
from at_core.events import Event, TradingStateChangedEvent
from at_core.models.enums import OrderSide, OrderType, TradingState
from at_core.testing import NatsServer

pytestmark = pytest.mark.integration
D = Decimal
MIN = 60 * 10**9
# T0 is Wednesday 19:00 in Chicago; the session below closes Thursday 15:10 there, T0 + 20 h 10 min.
CUTOFF = T0 + (20 * 60 + 10) * MIN
PROP = "oanda-prop"

FX_SESSION = """
profile_id: fx_session
version: "test"
description: An FX account flat and locked outside its session (Topstep's hours)
starting_balance: "100000"
currency: USD
checked_on: 2026-11-24
source: tests
limits:
  max_order_quantity: "1000000"
  sessions:
    - {start: "18:00:00", end: "15:10:00", timezone: America/Chicago, days: [6, 0, 1, 2, 3], flatten_at_end: true}
"""
ACCOUNTS = """
accounts:
  - {account_id: binance-1, profile: crypto, venue: BINANCE}
  - {account_id: oanda-prop, profile: fx_session, venue: OANDA}
"""


@pytest.fixture
async def stack(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Stack]:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for name in ("retail.yaml", "crypto.yaml"):
        (profiles / name).write_text(resources.files("at_exec_sim.data.profiles").joinpath(name).read_text())
    (profiles / "fx_session.yaml").write_text(FX_SESSION)
    (tmp_path / "prop.yaml").write_text(ACCOUNTS)
    async with broker_stack(nats_server, tmp_path) as built:
        built.settings = built.settings.model_copy(
            update={"accounts_file": str(tmp_path / "prop.yaml"), "profiles_dir": str(profiles)}
        )
        yield built


def kinds(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


async def test_a_session_cutoff_cancels_the_limit_resting_at_oanda_before_the_flatten_order_is_sent(
    stack: Stack,
) -> None:
    clock = ManualClock(T0)
    async with Service(stack.settings, clock) as svc:
        bought = await stack.send(proposal(stack.f, PROP, "EUR/USD.OANDA", OrderSide.BUY, "1000"))
        await bought.until(has("order_filled"))
        limit = proposal(
            stack.f, PROP, "EUR/USD.OANDA", OrderSide.BUY, "500", order_type=OrderType.LIMIT, limit="1.075"
        )
        resting = await stack.send(limit)
        await resting.until(has("order_accepted"))
        limit_coid = resting.first("risk_decision").client_order_id
        assert stack.oanda.orders[limit_coid]["state"] == "PENDING"

        clock.set(CUTOFF)
        out = await svc.exec_sim.tick()  # the session closed: the first tick after it applies the cutoff

        locked = next(e for e in out if e.event_type == "trading_state_changed")
        assert (locked.account_id, locked.state, locked.reason) == (PROP, TradingState.LOCKED_UNTIL, "session_cutoff")
        canceled = next(e for e in out if e.event_type == "order_canceled")
        assert (canceled.client_order_id, canceled.reason, canceled.venue) == (limit_coid, "session_cutoff", "OANDA")
        # in order: the lock, the flatten order's submission, the broker's cancel, then the flatten's answer
        assert kinds(out).index("trading_state_changed") < kinds(out).index("order_canceled")
        assert kinds(out).index("order_canceled") < kinds(out).index("fill")
        at_broker = stack.oanda.orders[limit_coid]
        assert at_broker["state"] == "CANCELLED"
        (flatten,) = [o for o in stack.oanda.orders.values() if o["positionFill"] == "REDUCE_ONLY"]
        assert (flatten["units"], flatten["state"]) == ("-1000", "FILLED")
        assert int(at_broker["cancellingTransactionID"]) < int(flatten["fillingTransactionID"])
        await resting.until(has("order_canceled"))  # published, under the limit's correlation id
        assert (await svc.orders(PROP))[limit_coid]["status"] == "canceled"
        positions = (await svc.client.get("/positions", params={"account_id": PROP})).json()
        assert [p["quantity"] for p in positions] == ["0"]
        assert await svc.exec_sim.tick() == []  # applied once
        for w in (bought, resting):
            await w.close()


async def test_an_account_halted_just_before_a_crash_has_its_resting_broker_orders_canceled_at_restart(
    stack: Stack,
) -> None:
    """The halt reached the stream, the broker's cancel did not (exec-sim died in between): the
    restarted service, recovering the halt, cancels the limit still resting at OANDA."""
    clock = ManualClock(T0)
    async with Service(stack.settings, clock):
        limit = proposal(
            stack.f, PROP, "EUR/USD.OANDA", OrderSide.BUY, "500", order_type=OrderType.LIMIT, limit="1.075"
        )
        resting = await stack.send(limit)
        await resting.until(has("order_accepted"))
        coid = resting.first("risk_decision").client_order_id
    assert stack.oanda.orders[coid]["state"] == "PENDING"
    halted = stack.f.make(
        TradingStateChangedEvent,
        account_id=PROP,
        state=TradingState.HALTED,
        previous_state=TradingState.ACTIVE,
        reason="daily_loss_limit",
        message="published, then the process died before the broker's cancel",
    )
    await stack.bus.publish(halted)

    async with Service(stack.settings, clock) as svc:
        canceled = (await resting.until(has("order_canceled")))[-1]
        assert (canceled.client_order_id, canceled.reason) == (coid, "daily_loss_limit")
        assert stack.oanda.orders[coid]["state"] == "CANCELLED"
        assert (await svc.orders(PROP))[coid]["status"] == "canceled"
    async with Service(stack.settings, clock):  # a second restart finds nothing left to cancel
        pass
    assert sum(1 for e in resting.events if e.event_type == "order_canceled") == 1
    await resting.close()
