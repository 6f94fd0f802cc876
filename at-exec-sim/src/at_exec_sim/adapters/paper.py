"""A paper broker: an account with cash and positions that fills at the last price.

No order book, no queue: a market order fills in full at the last price plus a fixed
slippage in ticks, a marketable limit at its limit; others rest until :meth:`on_price`
crosses them. Useful as a stand-in for a broker account in demos and reconciliation drills.
"""

from __future__ import annotations

from collections.abc import Callable
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

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        if spec.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "unsupported_order_type")
        last = self._last(instrument.instrument_id)
        if last is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "no_market_price")
        ex = self._try(instrument, spec, last)
        if ex is None:
            self._resting[client_order_id] = _Resting(client_order_id, instrument, spec)
            return self._keep(ExecutionReport(client_order_id, ReportStatus.ACCEPTED, f"PAPER-{client_order_id}"))
        return self._keep(self._filled(client_order_id, ex))

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        """Fill resting orders that ``price`` crosses."""
        out = []
        for order in [o for o in self._resting.values() if o.instrument.instrument_id == instrument_id]:
            ex = self._try(order.instrument, order.spec, price)
            if ex is not None:
                del self._resting[order.client_order_id]
                out.append(self._keep(self._filled(order.client_order_id, ex)))
        return out

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """The order's state here (the paper broker fills in one execution, named ``PAPER-<id>-1``)."""
        known = self._orders.get(client_order_id)
        return known or ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER)

    @staticmethod
    def _filled(client_order_id: str, ex: Execution) -> ExecutionReport:
        venue_order_id = f"PAPER-{client_order_id}"
        return ExecutionReport(
            client_order_id, ReportStatus.FILLED, venue_order_id, (ex,), trade_ids=(f"{venue_order_id}-1",)
        )

    def _keep(self, report: ExecutionReport) -> ExecutionReport:
        self._orders[report.client_order_id] = report
        return report

    def _try(self, inst: Instrument, spec: OrderSpec, last: Decimal) -> Execution | None:
        if spec.order_type is OrderType.MARKET:
            price, liq = (
                inst.round_price(last + inst.price_increment * self._slip * spec.side.sign),
                LiquiditySide.TAKER,
            )
        else:
            assert spec.limit_price is not None
            crossed = last <= spec.limit_price if spec.side is OrderSide.BUY else last >= spec.limit_price
            if not crossed:
                return None
            price, liq = spec.limit_price, LiquiditySide.MAKER
        ex = Execution(spec.quantity, price, self._fees.fee(inst, spec.quantity, price, liq), liq)
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
