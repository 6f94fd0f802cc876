"""The simulated venue behind the :class:`BrokerAdapter` port.

It keeps the venue's own ledger (net quantity and cash flow per instrument), as a real
venue would, so a reconciliation can compare the engine's positions with the venue's.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.constants import SIM_VENUE
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.ports import Balance, BrokerPosition, ExecutionReport, ReportStatus, sim_report
from at_exec_sim.domain.venue import Execution, Market, SimVenue


class SimBrokerAdapter:
    """Orders go to a :class:`SimVenue` against the last market seen per instrument."""

    venue = SIM_VENUE

    def __init__(self, sim: SimVenue, markets: Mapping[str, Market]) -> None:
        self.sim = sim
        self.markets = markets
        self._net: dict[str, Decimal] = {}
        self._cash: dict[str, Decimal] = {}

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        market = self.markets.get(instrument.instrument_id, Market())
        execs, outcome = self.sim.submit(client_order_id, instrument, spec, market)
        self.record(instrument, spec, execs)
        return sim_report(client_order_id, execs, outcome)

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        order = self.sim.cancel(client_order_id)
        if order is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "unknown_order")
        return ExecutionReport(client_order_id, ReportStatus.CANCELED, f"SIM-{client_order_id}")

    def record(self, instrument: Instrument, spec: OrderSpec, execs: list[Execution]) -> None:
        """Book executions in the venue's own ledger (also for fills of resting orders)."""
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
