"""The simulated venue behind the :class:`BrokerAdapter` port.

It keeps the venue's own ledger (net quantity and cash flow per instrument), as a real
venue would, so a reconciliation can compare the engine's positions with the venue's.

With latency, answers are what a real venue would say at that moment: an order in flight is
``PENDING`` (accepted or filled on a later market event), and a cancel in flight is
``PENDING_CANCEL``: the order may still fill until the cancel lands, on the first market event
at or after it (``SimVenue.on_market``), where the engine publishes ``OrderCanceled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.clock import Clock, WallClock
from at_core.constants import SIM_VENUE
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.ports import (
    UNKNOWN_ORDER,
    Balance,
    BrokerPosition,
    ExecutionReport,
    ReportStatus,
    sim_report,
)
from at_exec_sim.domain.venue import Execution, Market, SimVenue


class SimBrokerAdapter:
    """Orders go to a :class:`SimVenue` against the last market seen per instrument."""

    venue = SIM_VENUE

    def __init__(self, sim: SimVenue, markets: Mapping[str, Market], clock: Clock | None = None) -> None:
        """Args:
        sim: the venue (share the engine's, so its market events land orders and cancels).
        markets: the last market per instrument id.
        clock: when orders and cancels are sent, for latency (the service's clock; wall by default).
        """
        self.sim = sim
        self.markets = markets
        self.clock = clock or WallClock()
        self._net: dict[str, Decimal] = {}
        self._cash: dict[str, Decimal] = {}
        self._orders: dict[str, tuple[OrderSpec, list[Execution]]] = {}  # client order id -> (spec, executions)
        self._ended: dict[str, ExecutionReport] = {}  # orders ended unfilled in part: canceled, rejected

    async def connect(self) -> list[Instrument]:
        """Nothing to connect to: the venue is in process."""
        return []

    async def close(self) -> None:
        """It holds no connection."""

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        """The venue fills on the market events the engine gives it, not through this port."""
        return []

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        market = self.markets.get(instrument.instrument_id, Market())
        execs, outcome = self.sim.submit(client_order_id, instrument, spec, market, self.clock.now_ns())
        self._orders[client_order_id] = (spec, [])
        self.record(instrument, spec, execs, client_order_id)
        report = sim_report(client_order_id, execs, outcome)
        if report.status in (ReportStatus.CANCELED, ReportStatus.REJECTED):
            self._ended[client_order_id] = report
        return report

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        order = self.sim.cancel(client_order_id, self.clock.now_ns())
        venue_order_id = f"SIM-{client_order_id}"
        if order is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER)
        if self.sim.holds(client_order_id):  # cancel latency: scheduled, not done
            message = f"cancel lands at {order.cancel_at} ns"
            return ExecutionReport(client_order_id, ReportStatus.PENDING_CANCEL, venue_order_id, (), "", message)
        self._ended[client_order_id] = ExecutionReport(client_order_id, ReportStatus.CANCELED, venue_order_id)
        return self._ended[client_order_id]

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """What the venue did with the order so far (executions it was told of through :meth:`record`)."""
        known = self._orders.get(client_order_id)
        if known is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER)
        spec, execs = known
        filled = sum((e.quantity for e in execs), Decimal(0))
        if (ended := self._ended.get(client_order_id)) is not None:
            status = ended.status
        elif filled >= spec.quantity:
            status = ReportStatus.FILLED
        elif client_order_id in self.sim.inflight:
            status = ReportStatus.PENDING
        elif not self.sim.holds(client_order_id):
            status = ReportStatus.CANCELED  # ended at the venue: a cancel that landed, a DAY/GTD expiry
        else:
            status = ReportStatus.PARTIALLY_FILLED if filled > 0 else ReportStatus.ACCEPTED
        return ExecutionReport(client_order_id, status, f"SIM-{client_order_id}", tuple(execs))

    def record(
        self, instrument: Instrument, spec: OrderSpec, execs: list[Execution], client_order_id: str | None = None
    ) -> None:
        """Book executions in the venue's own ledger (also for fills of resting orders, named by their id)."""
        if client_order_id is not None and client_order_id in self._orders:
            self._orders[client_order_id][1].extend(execs)
        for ex in execs:
            key = instrument.instrument_id
            self._net[key] = self._net.get(key, Decimal(0)) + ex.quantity * spec.side.sign
            flow = -instrument.notional(ex.quantity, ex.price) * spec.side.sign - ex.fee
            self._cash[instrument.currency] = self._cash.get(instrument.currency, Decimal(0)) + flow

    async def balances(self) -> dict[str, Balance]:
        """Cash flows by currency since start (notional paid or received, less fees)."""
        return {ccy: Balance(ccy, amount, Decimal(0), amount) for ccy, amount in self._cash.items()}

    async def positions(self) -> list[BrokerPosition]:
        return [BrokerPosition(i, q) for i, q in sorted(self._net.items()) if q != 0]
