"""The paper broker carries emulated bracket children: a reduce-only stop market rests until the
last price reaches it and fills at the price that passed it, a reduce-only order never fills past
the position it reduces, and a resting order is resized in place."""

from __future__ import annotations

from decimal import Decimal

from at_core.catalog import InstrumentCatalog
from at_core.models.enums import OrderSide, OrderType
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.paper import PaperBroker
from at_exec_sim.domain.ports import ReportStatus

D = Decimal
MES = InstrumentCatalog().get("MES.CME")


def broker(prices: dict[str, Decimal]) -> PaperBroker:
    return PaperBroker(prices.get, cash={"USD": D(10_000)})


def stop(qty: str, at: str) -> OrderSpec:
    return OrderSpec(
        side=OrderSide.SELL, quantity=D(qty), order_type=OrderType.STOP_MARKET, stop_price=D(at), reduce_only=True
    )


async def test_a_reduce_only_stop_rests_and_fills_at_the_price_that_gapped_through_it() -> None:
    prices = {"MES.CME": D("5000.00")}
    paper = broker(prices)
    await paper.submit("e", MES, OrderSpec(side=OrderSide.BUY, quantity=D(2)))
    assert (await paper.submit("e:sl", MES, stop("2", "4998.00"))).status is ReportStatus.ACCEPTED
    assert paper.on_price("MES.CME", D("4998.25")) == []  # above the stop: rests
    (report,) = paper.on_price("MES.CME", D("4995.00"))
    assert (report.status, report.executions[0].price, report.executions[0].quantity) == (
        ReportStatus.FILLED, D("4995.00"), D(2),
    )  # fmt: skip
    assert await paper.positions() == []


async def test_a_reduce_only_child_never_fills_past_the_position_and_is_canceled_when_none_is_left() -> None:
    prices = {"MES.CME": D("5000.00")}
    paper = broker(prices)
    await paper.submit("e", MES, OrderSpec(side=OrderSide.BUY, quantity=D(1)))
    await paper.submit("e:sl", MES, stop("3", "4998.00"))  # larger than the position
    (report,) = paper.on_price("MES.CME", D("4997.00"))
    assert (report.status, report.filled, report.reason) == (ReportStatus.CANCELED, D(1), "nothing_to_reduce")
    assert await paper.positions() == []  # flat, never flipped short
    late = await paper.submit("e:tp", MES, stop("1", "4990.00"))
    assert (late.status, late.reason) == (ReportStatus.CANCELED, "nothing_to_reduce")


async def test_a_resting_child_is_resized_in_place_and_an_unknown_one_is_refused() -> None:
    prices = {"MES.CME": D("5000.00")}
    paper = broker(prices)
    await paper.submit("e", MES, OrderSpec(side=OrderSide.BUY, quantity=D(3)))
    await paper.submit("e:sl", MES, stop("1", "4998.00"))
    assert (await paper.modify("e:sl", MES, stop("3", "4998.00"))).status is ReportStatus.ACCEPTED
    (report,) = paper.on_price("MES.CME", D("4998.00"))
    assert report.filled == D(3)
    assert (await paper.modify("nope", MES, stop("1", "4998.00"))).reason == "unknown_order"


async def test_a_restored_broker_holds_the_positions_cash_and_resting_orders_it_had_before_the_restart() -> None:
    prices = {"MES.CME": D("5000.00")}
    before = broker(prices)
    entry = await before.submit("e", MES, OrderSpec(side=OrderSide.BUY, quantity=D(2)))
    await before.submit("e:sl", MES, stop("2", "4998.00"))
    await before.modify("e:sl", MES, stop("2", "4998.50"))  # trailed: it comes back as last modified
    after = broker(prices)  # a new process: nothing in memory
    assert after.restore([(MES, OrderSide.BUY, entry.executions[0])], [("e:sl", MES, stop("2", "4998.50"))]) == 1
    assert await after.positions() == await before.positions()
    assert await after.balances() == await before.balances()
    assert await after.order_status("e:sl", MES) == await before.order_status("e:sl", MES)  # same venue id
    assert after.on_price("MES.CME", D("4998.75")) == []
    (report,) = after.on_price("MES.CME", D("4998.50"))
    assert (report.client_order_id, report.status, report.filled) == ("e:sl", ReportStatus.FILLED, D(2))
    assert after.on_price("MES.CME", D("4990.00")) == []  # filled once
    assert after.restore([(MES, OrderSide.BUY, entry.executions[0])], []) == 0  # replaces, never adds
    assert [p.quantity for p in await after.positions()] == [D(2)]
