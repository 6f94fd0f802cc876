"""A paper broker: an account with cash and positions that fills at the last price.

No order book, no queue: a market order fills in full at the last price plus a fixed
slippage in ticks, a marketable limit at its limit; others rest until :meth:`on_price`
crosses them. A stop market rests until the last price reaches its stop and fills at that price
(a gap fills at the price that passed it). A reduce-only order fills only up to the position it
reduces, and is canceled (``nothing_to_reduce``) when there is none. :meth:`modify` changes a
resting order in place (exec-sim's emulated bracket children are resized and trailed that way).
Useful as a stand-in for a broker account in demos and reconciliation drills. Its state lives in
exec-sim's memory and has no store of its own: after a restart :meth:`restore` rebuilds it from
what exec-sim published (``VenueRouter.restore``): positions and cash from the fills, the resting
orders with their ids, sizes and prices (a bracket child's OCO is exec-sim's, rebuilt with it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.models.enums import LiquiditySide, OrderSide, OrderType
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.ports import UNKNOWN_ORDER, Balance, BrokerPosition, ExecutionReport, ReportStatus
from at_exec_sim.domain.venue import Execution, FeeModel


@dataclass
class _Resting:
    client_order_id: str
    instrument: Instrument
    spec: OrderSpec


class PaperBroker:
    venue = "PAPER"

    def __init__(
        self,
        last_price: Callable[[str], Decimal | None],
        cash: dict[str, Decimal],
        fees: FeeModel | None = None,
        slippage_ticks: Decimal = Decimal(0),
    ) -> None:
        self._last = last_price
        self._initial_cash = dict(cash)
        self._cash = dict(cash)
        self._fees = fees or FeeModel()
        self._slip = slippage_ticks
        self._positions: dict[str, tuple[Decimal, Decimal]] = {}  # instrument -> (qty, avg)
        self._resting: dict[str, _Resting] = {}
        self._orders: dict[str, ExecutionReport] = {}  # every order's last state, for order_status

    async def connect(self) -> list[Instrument]:
        """Nothing to connect to; it lists no instruments of its own."""
        return []

    async def close(self) -> None:
        """It holds no connection."""

    def restore(
        self,
        fills: Iterable[tuple[Instrument, OrderSide, Execution]],
        resting: Iterable[tuple[str, Instrument, OrderSpec]],
    ) -> int:
        """Its book after a restart, from what exec-sim published: every fill booked here in order
        (positions and cash by the same arithmetic as when they happened), and the orders resting
        here (client order id, instrument, spec as last modified) put back under their ids. What
        was here before is replaced, so calling it again changes nothing. How many orders rest.
        """
        self._cash, self._positions = dict(self._initial_cash), {}
        self._resting, self._orders = {}, {}
        for inst, side, ex in fills:
            self._book(inst, side, ex)
        for client_order_id, inst, spec in resting:
            self._resting[client_order_id] = _Resting(client_order_id, inst, spec)
            self._keep(ExecutionReport(client_order_id, ReportStatus.ACCEPTED, f"PAPER-{client_order_id}"))
        return len(self._resting)

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        if spec.order_type is OrderType.STOP_LIMIT:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "unsupported_order_type")
        last = self._last(instrument.instrument_id)
        if last is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "no_market_price")
        if spec.reduce_only and self._reducible(instrument, spec) == 0:
            return self._keep(self._nothing_to_reduce(client_order_id))
        ex = self._try(instrument, spec, last)
        if ex is None:
            self._resting[client_order_id] = _Resting(client_order_id, instrument, spec)
            return self._keep(ExecutionReport(client_order_id, ReportStatus.ACCEPTED, f"PAPER-{client_order_id}"))
        return self._keep(self._filled(client_order_id, ex, spec.quantity))

    async def modify(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """Change a resting order's size and prices in place; REJECTED ``unknown_order`` if none rests."""
        order = self._resting.get(client_order_id)
        if order is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER)
        order.spec = spec
        return self._keep(ExecutionReport(client_order_id, ReportStatus.ACCEPTED, f"PAPER-{client_order_id}"))

    def _reducible(self, inst: Instrument, spec: OrderSpec) -> Decimal:
        """How much of a reduce-only ``spec`` the position lets fill."""
        qty, _ = self._positions.get(inst.instrument_id, (Decimal(0), Decimal(0)))
        if qty == 0 or (qty > 0) == (spec.side is OrderSide.BUY):
            return Decimal(0)
        return min(spec.quantity, abs(qty))

    @staticmethod
    def _nothing_to_reduce(client_order_id: str) -> ExecutionReport:
        return ExecutionReport(
            client_order_id, ReportStatus.CANCELED, f"PAPER-{client_order_id}", (), "nothing_to_reduce"
        )

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        """Fill resting orders that ``price`` crosses."""
        out = []
        for order in [o for o in self._resting.values() if o.instrument.instrument_id == instrument_id]:
            if order.spec.reduce_only and self._reducible(order.instrument, order.spec) == 0:
                if self._crossed(order.spec, price):  # it would fill, but nothing is left to reduce
                    del self._resting[order.client_order_id]
                    out.append(self._keep(self._nothing_to_reduce(order.client_order_id)))
                continue
            ex = self._try(order.instrument, order.spec, price)
            if ex is not None:
                del self._resting[order.client_order_id]
                out.append(self._keep(self._filled(order.client_order_id, ex, order.spec.quantity)))
        return out

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """The order's state here (the paper broker fills in one execution, named ``PAPER-<id>-1``)."""
        known = self._orders.get(client_order_id)
        return known or ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER)

    @staticmethod
    def _filled(client_order_id: str, ex: Execution, ordered: Decimal) -> ExecutionReport:
        """Filled; a reduce-only order cut to the position it closed has its rest canceled."""
        venue_order_id = f"PAPER-{client_order_id}"
        if ex.quantity < ordered:
            return ExecutionReport(client_order_id, ReportStatus.CANCELED, venue_order_id, (ex,), "nothing_to_reduce",
                                   trade_ids=(f"{venue_order_id}-1",))  # fmt: skip
        return ExecutionReport(
            client_order_id, ReportStatus.FILLED, venue_order_id, (ex,), trade_ids=(f"{venue_order_id}-1",)
        )

    def _keep(self, report: ExecutionReport) -> ExecutionReport:
        self._orders[report.client_order_id] = report
        return report

    @staticmethod
    def _crossed(spec: OrderSpec, last: Decimal) -> bool:
        """The last price reaches the order: a market always, a limit through its limit, a stop at its stop."""
        if spec.order_type is OrderType.MARKET:
            return True
        if spec.order_type is OrderType.STOP_MARKET:
            assert spec.stop_price is not None
            return last >= spec.stop_price if spec.side is OrderSide.BUY else last <= spec.stop_price
        assert spec.limit_price is not None
        return last <= spec.limit_price if spec.side is OrderSide.BUY else last >= spec.limit_price

    def _try(self, inst: Instrument, spec: OrderSpec, last: Decimal) -> Execution | None:
        if not self._crossed(spec, last):
            return None
        if spec.order_type in (OrderType.MARKET, OrderType.STOP_MARKET):  # a triggered stop is a market order
            price, liq = (
                inst.round_price(last + inst.price_increment * self._slip * spec.side.sign),
                LiquiditySide.TAKER,
            )
        else:
            assert spec.limit_price is not None
            price, liq = spec.limit_price, LiquiditySide.MAKER
        quantity = self._reducible(inst, spec) if spec.reduce_only else spec.quantity
        ex = Execution(quantity, price, self._fees.fee(inst, quantity, price, liq), liq)
        self._book(inst, spec.side, ex)
        return ex

    def _book(self, inst: Instrument, side: OrderSide, ex: Execution) -> None:
        qty, avg = self._positions.get(inst.instrument_id, (Decimal(0), Decimal(0)))
        signed = ex.quantity * side.sign
        new = qty + signed
        if qty == 0 or (qty > 0) == (signed > 0):
            avg = (avg * abs(qty) + ex.price * ex.quantity) / abs(new)
        else:
            closing = min(ex.quantity, abs(qty))
            realized = inst.pnl(closing * (1 if qty > 0 else -1), avg, ex.price)
            self._cash[inst.currency] = self._cash.get(inst.currency, Decimal(0)) + realized
            avg = ex.price if abs(signed) > abs(qty) else (avg if new != 0 else Decimal(0))
        self._cash[inst.currency] = self._cash.get(inst.currency, Decimal(0)) - ex.fee
        self._positions[inst.instrument_id] = (new, avg)

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        if self._resting.pop(client_order_id, None) is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER)
        return self._keep(ExecutionReport(client_order_id, ReportStatus.CANCELED, f"PAPER-{client_order_id}"))

    async def balances(self) -> dict[str, Balance]:
        return {c: Balance(c, v, Decimal(0), v) for c, v in sorted(self._cash.items())}

    async def positions(self) -> list[BrokerPosition]:
        return [BrokerPosition(i, q, a) for i, (q, a) in sorted(self._positions.items()) if q != 0]
