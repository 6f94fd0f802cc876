"""A cancel a broker answers PENDING_CANCEL is on its way: the order is neither ended nor unknown
until the broker says it ended, which the poller books. The router and engine against a scripted
broker (no I/O)."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from tests.helpers import NO_FEES, T0, factory, proposal, quote

from at_core.catalog import Instrument, InstrumentCatalog
from at_core.clock import ManualClock
from at_core.events import Event, EventFactory
from at_core.ids import IdGenerator
from at_core.metrics.exec_sim import CATALOG
from at_core.models.enums import OrderSide, OrderType
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.routing import VenueRouter
from at_exec_sim.domain.accounts import load_accounts, load_profiles
from at_exec_sim.domain.engine import ExecutionEngine
from at_exec_sim.domain.ports import Balance, BrokerPosition, ExecutionReport, ReportStatus
from at_exec_sim.domain.venue import SimVenue
from at_exec_sim.domain.venue_models import LatencyModel, NoSlippage

ACCOUNT = "slow-1"


class SlowCancels:
    """A broker that rests limits and takes cancels that land only when told (``land``)."""

    venue = "SLOW"

    def __init__(self) -> None:
        self.landed = False
        self.cancels: list[str] = []

    async def connect(self) -> list[Instrument]:
        return []

    async def close(self) -> None:
        pass

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        return []

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        return ExecutionReport(client_order_id, ReportStatus.ACCEPTED, f"S-{client_order_id}")

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        self.cancels.append(client_order_id)
        return ExecutionReport(
            client_order_id, ReportStatus.PENDING_CANCEL, f"S-{client_order_id}", (), "", "cancel lands later"
        )

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        status = ReportStatus.CANCELED if self.landed else ReportStatus.ACCEPTED
        return ExecutionReport(
            client_order_id, status, f"S-{client_order_id}", (), "CLIENT_REQUEST" if self.landed else ""
        )

    async def balances(self) -> dict[str, Balance]:
        return {}

    async def positions(self) -> list[BrokerPosition]:
        return []


def resting_at_a_slow_broker(tmp_path: Path) -> tuple[ExecutionEngine, VenueRouter, SlowCancels, str]:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(f"accounts:\n  - {{account_id: {ACCOUNT}, profile: retail, venue: SLOW}}\n")
    clock = ManualClock(T0)
    eng = ExecutionEngine(
        load_accounts(accounts, load_profiles()),
        InstrumentCatalog(),
        EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(1))),
        clock,
        SimVenue(fees=NO_FEES, slippage=NoSlippage(), latency=LatencyModel()),
    )
    broker = SlowCancels()
    router = VenueRouter({"SLOW": broker}, CATALOG.build(), clock)
    f = factory()
    eng.on_market_data(quote(f, "EUR/USD.FX", "1.08010", "1.08022"))
    decision = eng.on_proposal(
        proposal(f, ACCOUNT, "EUR/USD.FX", OrderSide.BUY, "1000", order_type=OrderType.LIMIT, limit="1.07500")
    )[0]
    return eng, router, broker, decision.client_order_id


async def drain(eng: ExecutionEngine, router: VenueRouter) -> list[Event]:
    out: list[Event] = []

    async def publish(events: list[Event]) -> None:
        out.extend(events)

    await router.drain(eng, publish)
    return out


async def test_a_pending_cancel_is_taken_the_order_stays_open_and_the_poller_books_its_end(tmp_path: Path) -> None:
    eng, router, broker, coid = resting_at_a_slow_broker(tmp_path)
    assert [e.event_type for e in await drain(eng, router)] == ["order_accepted"]

    eng.kill_switch(None, ACCOUNT, flatten=False)
    assert await drain(eng, router) == []  # the cancel was sent; nothing ended yet
    assert broker.cancels == [coid]
    assert eng.orders[coid].status == "accepted"  # it may still fill until the cancel lands
    assert router.unknown == {}  # taken, not refused: nothing for an operator

    published: list[Event] = []

    async def publish(events: list[Event]) -> None:
        published.extend(events)

    await router.book(eng, await router.poll(eng, router.to_poll(eng)), publish, absent_grace_ns=0)
    assert published == []  # still resting at the broker
    broker.landed = True
    await router.book(eng, await router.poll(eng, router.to_poll(eng)), publish, absent_grace_ns=0)
    assert [e.event_type for e in published] == ["order_canceled"]
    assert (published[0].client_order_id, eng.orders[coid].status) == (coid, "canceled")
    assert router.to_poll(eng) == []  # ended: no longer asked
