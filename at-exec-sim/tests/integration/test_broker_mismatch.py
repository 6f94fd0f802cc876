"""exec-sim's positions and balance compared with ProjectX's and Tradovate's (faked at the wire,
real adapters), over a real nats-server: a difference seen twice in a row is one
``BrokerMismatchEvent`` on JetStream, shown on ``/account``, a halt when configured, and a
``restored`` event once the broker agrees again; a difference seen once, or within the balance
tolerance, is none."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.helpers import T0, proposal
from tests.integration.test_broker_reconciliation import until
from tests.integration.test_broker_routing import Service, broker_stack, has
from tests.integration.test_prop_broker_routing import Prop
from tests.integration.test_prop_broker_routing import prop as prop  # the fixture

from at_core import subjects
from at_core.clock import ManualClock
from at_core.events import BrokerMismatchEvent
from at_core.models.enums import OrderSide, OrderType
from at_exec_sim.config import ExecSimSettings

pytestmark = pytest.mark.integration
D = Decimal
S = 10**9

VENUES = {"TOPSTEPX": "topstep-1", "TRADOVATE": "tradovate-1"}
#: One exec-sim account per broker account: a venue several accounts share is not checked.
ACCOUNTS = """
accounts:
  - {account_id: topstep-1, profile: topstepx_150k, venue: TOPSTEPX}
  - {account_id: tradovate-1, profile: topstepx_50k, venue: TRADOVATE}
"""


def one_each(prop: Prop, tmp_path: Path, **update: object) -> ExecSimSettings:
    path = tmp_path / "one-each.yaml"
    path.write_text(ACCOUNTS)
    return prop.settings.model_copy(update={"accounts_file": str(path), **update})


async def published(prop: Prop, account_id: str, venue: str) -> list[BrokerMismatchEvent]:
    """The mismatch events on JetStream for this account and venue, in stream order."""
    out = []
    async for event, _ in prop.bus.read_stream(
        "AT_EXECUTION", subjects.broker_mismatch(account_id, venue), fetch_timeout_s=0.5
    ):
        assert isinstance(event, BrokerMismatchEvent)
        out.append(event)
    return out


async def account(svc: Service, account_id: str) -> dict:
    (row,) = (await svc.client.get("/account", params={"account_id": account_id})).json()
    return row


async def filled(prop: Prop, account_id: str, venue: str, side: OrderSide = OrderSide.BUY, qty: str = "2") -> None:
    watch = await prop.send(proposal(prop.f, account_id, f"MESZ6.{venue}", side, qty))
    await watch.until(has("order_filled"))
    await watch.close()


def hand_trade(prop: Prop, venue: str) -> None:
    """Someone trades the account by hand at the broker: one more contract than exec-sim has."""
    if venue == "TOPSTEPX":
        prop.px.positions["CON.F.US.MES.Z26"] = (3, D("6000.25"))
    else:
        prop.tv.positions[2665]["netPos"] = 3


def hand_back(prop: Prop, venue: str) -> None:
    if venue == "TOPSTEPX":
        prop.px.positions["CON.F.US.MES.Z26"] = (2, D("6000.25"))
    else:
        prop.tv.positions[2665]["netPos"] = 2


def charge(prop: Prop, venue: str, amount: str) -> None:
    """The broker moves the balance by ``amount`` without a fill exec-sim saw (a fee, a payout)."""
    if venue == "TOPSTEPX":
        prop.px.account["balance"] = round(prop.px.account["balance"] + float(amount), 2)
    else:
        prop.tv.cash += D(amount)


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_a_position_mismatch_is_one_event_on_jetstream_shown_halting_and_then_restored(
    prop: Prop, venue: str, tmp_path: Path
) -> None:
    account_id = VENUES[venue]
    clock = ManualClock(T0)
    settings = one_each(prop, tmp_path, broker_mismatch_halt=True)
    async with Service(settings, clock) as svc:
        await filled(prop, account_id, venue)
        hand_trade(prop, venue)
        assert await svc.exec_sim.check_brokers() == []  # once: maybe a fill not booked yet
        assert (await account(svc, account_id))["broker_mismatch"] is None
        clock.advance(30 * S)
        out = await svc.exec_sim.check_brokers()  # twice in a row: a mismatch
        assert [e.event_type for e in out] == ["broker_mismatch", "trading_state_changed"]
        clock.advance(30 * S)
        assert await svc.exec_sim.check_brokers() == []  # it stands: not published again
        (event,) = await published(prop, account_id, venue)
        assert (event.status, event.venue, event.halted) == ("mismatch", venue, True)
        assert [(d.kind, d.item, d.ours, d.theirs) for d in event.differences] == [
            ("position", f"MESZ6.{venue}", D(2), D(3))
        ]
        row = await account(svc, account_id)
        assert row["broker_mismatch"] == f"MESZ6.{venue}: exec-sim 2, {venue} 3"
        assert row["trading_state"] == "halted" and out[1].reason == "broker_position_mismatch"
        assert out[1].causation_id == event.event_id  # the halt names the mismatch as its cause
        metrics = (await svc.client.get("/metrics")).text
        assert (
            f'at_exec_sim_broker_mismatch{{account_id="{account_id}",kind="position",venue="{venue}"}} 1.0' in metrics
        )

        hand_back(prop, venue)
        clock.advance(30 * S)
        (restored,) = await svc.exec_sim.check_brokers()
        assert (restored.status, restored.differences, restored.halted) == ("restored", [], False)
        assert restored.correlation_id == event.event_id
        assert [e.status for e in await published(prop, account_id, venue)] == ["mismatch", "restored"]
        row = await account(svc, account_id)
        assert row["broker_mismatch"] is None and row["trading_state"] == "halted"  # resuming is the operator's
        metrics = (await svc.client.get("/metrics")).text
        assert (
            f'at_exec_sim_broker_mismatch{{account_id="{account_id}",kind="position",venue="{venue}"}} 0.0' in metrics
        )


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_a_balance_change_the_ledger_does_not_have_is_a_balance_mismatch_within_tolerance_none(
    prop: Prop, venue: str, tmp_path: Path
) -> None:
    account_id = VENUES[venue]
    clock = ManualClock(T0)
    async with Service(one_each(prop, tmp_path), clock) as svc:
        assert await svc.exec_sim.check_brokers() == []  # the check begins: both balances noted
        await filled(prop, account_id, venue)  # fees on both sides: the changes agree
        await filled(prop, account_id, venue, OrderSide.SELL)  # closed flat: realized P&L (and fees) on both
        for _ in range(2):
            clock.advance(30 * S)
            assert await svc.exec_sim.check_brokers() == []
        charge(prop, venue, "-0.80")  # within the 1.00 tolerance
        for _ in range(2):
            clock.advance(30 * S)
            assert await svc.exec_sim.check_brokers() == []
        charge(prop, venue, "-24.20")  # 25.00 now: beyond it
        clock.advance(30 * S)
        assert await svc.exec_sim.check_brokers() == []  # once
        clock.advance(30 * S)
        (event,) = await svc.exec_sim.check_brokers()
        assert (event.status, event.halted) == ("mismatch", False)  # broker_mismatch_halt is off
        ((kind, item, ours, theirs),) = [(d.kind, d.item, d.ours, d.theirs) for d in event.differences]
        assert (kind, item) == ("balance", "USD") and ours - theirs == D("25.00")
        row = await account(svc, account_id)
        assert row["broker_mismatch"].startswith("balance USD: exec-sim") and row["trading_state"] == "active"
        assert [e.event_id for e in await published(prop, account_id, venue)] == [event.event_id]
        charge(prop, venue, "25.00")
        clock.advance(30 * S)
        (restored,) = await svc.exec_sim.check_brokers()
        assert restored.status == "restored" and (await account(svc, account_id))["broker_mismatch"] is None


async def test_a_difference_seen_once_then_gone_publishes_nothing(prop: Prop) -> None:
    async with Service(prop.settings, ManualClock(T0)) as svc:
        await filled(prop, "topstep-1", "TOPSTEPX")
        hand_trade(prop, "TOPSTEPX")
        assert await svc.exec_sim.check_brokers() == []
        hand_back(prop, "TOPSTEPX")
        assert await svc.exec_sim.check_brokers() == []
        assert await svc.exec_sim.check_brokers() == []
        assert await published(prop, "topstep-1", "TOPSTEPX") == []


async def test_a_mismatch_published_before_a_restart_still_stands_and_is_restored_once(prop: Prop) -> None:
    clock = ManualClock(T0)
    async with Service(prop.settings, clock) as svc:
        await filled(prop, "topstep-1", "TOPSTEPX")
        hand_trade(prop, "TOPSTEPX")
        await svc.exec_sim.check_brokers()
        clock.advance(30 * S)
        (event,) = await svc.exec_sim.check_brokers()
    async with Service(prop.settings, ManualClock(T0 + 120 * S)) as again:
        assert (await account(again, "topstep-1"))["broker_mismatch"] == "MESZ6.TOPSTEPX: exec-sim 2, TOPSTEPX 3"
        assert await again.exec_sim.check_brokers() == []  # still differs: not published a second time
        hand_back(prop, "TOPSTEPX")
        (restored,) = await again.exec_sim.check_brokers()
        assert restored.status == "restored" and restored.correlation_id == event.event_id
    assert [e.status for e in await published(prop, "topstep-1", "TOPSTEPX")] == ["mismatch", "restored"]


async def test_a_balance_oanda_moved_without_exec_sim_is_a_mismatch_there_too(nats_server, tmp_path: Path) -> None:
    async with broker_stack(nats_server, tmp_path) as stack:
        clock = ManualClock(T0)
        async with Service(stack.settings, clock) as svc:
            assert await svc.exec_sim.check_brokers() == []  # the check begins at both venues
            watch = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "10000"))
            await watch.until(has("order_filled"))  # OANDA's commission on both sides
            await watch.close()
            clock.advance(30 * S)
            assert await svc.exec_sim.check_brokers() == []
            stack.oanda.balance -= D(30)  # financing, a fee: money moved at OANDA only
            clock.advance(30 * S)
            assert await svc.exec_sim.check_brokers() == []
            clock.advance(30 * S)
            (event,) = [e for e in await svc.exec_sim.check_brokers() if e.event_type == "broker_mismatch"]
            assert (event.venue, [d.kind for d in event.differences]) == ("OANDA", ["balance"])
            assert event.differences[0].ours - event.differences[0].theirs == D(30)


async def test_a_resting_order_at_the_broker_does_not_postpone_the_check(prop: Prop) -> None:
    clock = ManualClock(T0)
    async with Service(prop.settings, clock) as svc:
        await filled(prop, "topstep-1", "TOPSTEPX")
        stop = proposal(
            prop.f, "topstep-1", "MESZ6.TOPSTEPX", OrderSide.SELL, "2", order_type=OrderType.STOP_MARKET, stop="5990.00"
        )
        watch = await prop.send(stop)  # a protective stop rests at TopstepX for as long as the position is on
        await watch.until(has("order_accepted"))
        await watch.close()
        hand_trade(prop, "TOPSTEPX")
        assert await svc.exec_sim.check_brokers() == []
        clock.advance(30 * S)
        (event, *_) = await svc.exec_sim.check_brokers()
        assert event.event_type == "broker_mismatch" and event.status == "mismatch"


async def test_the_checks_run_on_their_own_on_start_and_every_interval(prop: Prop) -> None:
    hand_trade(prop, "TOPSTEPX")  # before exec-sim starts: it has no position, TopstepX has 3
    settings = prop.settings.model_copy(update={"broker_check_interval_s": 0.05})
    async with Service(settings) as svc:
        await until(lambda: "topstep-1" in svc.exec_sim.mismatches)
        (event,) = await published(prop, "topstep-1", "TOPSTEPX")
        assert [(d.item, d.ours, d.theirs) for d in event.differences] == [("MESZ6.TOPSTEPX", D(0), D(3))]
        assert not svc.exec_sim.checker.done()
