"""The port every venue implements: the simulated venue, the paper broker, ccxt exchanges.

The engine decides; a :class:`BrokerAdapter` executes. Adapters report what happened as
:class:`ExecutionReport`s (plain data), and the engine turns those into events, books the
fills and evaluates the account's rules, whichever venue filled them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from at_core.catalog import Instrument
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.venue import Execution

#: The reason of a REJECTED report for an order the venue does not know (cancel or status query).
UNKNOWN_ORDER = "unknown_order"


class ReportStatus(StrEnum):
    PENDING = "pending"  # sent, not at the venue yet (latency): its outcome comes later
    ACCEPTED = "accepted"  # resting, nothing filled yet
    PARTIALLY_FILLED = "partially_filled"  # some filled, the rest rests
    FILLED = "filled"
    CANCELED = "canceled"  # what was not filled was canceled (IOC, FOK, market remainder)
    REJECTED = "rejected"
    PENDING_CANCEL = "pending_cancel"  # the cancel is on its way: the order may still fill until it lands


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What a venue did with one order, now."""

    client_order_id: str
    status: ReportStatus
    venue_order_id: str | None = None
    executions: tuple[Execution, ...] = ()
    reason: str = ""
    message: str = ""
    #: The venue's id of each execution, in order, when it names every one (empty otherwise).
    trade_ids: tuple[str, ...] = ()

    @property
    def filled(self) -> Decimal:
        return sum((e.quantity for e in self.executions), Decimal(0))


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """A position as the venue sees it (for reconciliation)."""

    instrument_id: str
    quantity: Decimal  # signed
    avg_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    free: Decimal
    used: Decimal = Decimal(0)
    total: Decimal = field(default=Decimal(0))


@runtime_checkable
class BrokerAdapter(Protocol):
    """A venue that takes orders. Async because real ones are network calls."""

    venue: str

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """Place an order; the report says what filled immediately and what rests."""
        ...

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """Cancel a resting order: CANCELED (done), PENDING_CANCEL (taken, lands later: the order
        may fill meanwhile), or REJECTED when the venue does not know it."""
        ...

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """The order as the venue holds it now: its status and every execution so far (cumulative).

        Executions come in the venue's order, with ``trade_ids`` where the venue names them. An
        order the venue does not know is REJECTED with reason :data:`UNKNOWN_ORDER`.

        Raises:
            VenueUnavailableError: the venue could not be asked (nothing is known).
        """
        ...

    async def balances(self) -> dict[str, Balance]:
        """Balances by currency."""
        ...

    async def positions(self) -> list[BrokerPosition]:
        """Open positions as the venue sees them."""
        ...


def sim_report(client_order_id: str, execs: list[Execution], outcome: str | None) -> ExecutionReport:
    """Translate :meth:`SimVenue.submit`'s (executions, outcome) into a report."""
    venue_order_id = f"SIM-{client_order_id}"
    if outcome == "no_market_price":
        return ExecutionReport(
            client_order_id, ReportStatus.REJECTED, None, (), outcome, "no market price to fill against"
        )
    if outcome == "pending":
        return ExecutionReport(client_order_id, ReportStatus.PENDING, venue_order_id)
    if outcome == "filled":
        status = ReportStatus.FILLED
    elif outcome == "canceled":
        status = ReportStatus.CANCELED
    else:
        status = ReportStatus.PARTIALLY_FILLED if execs else ReportStatus.ACCEPTED
    return ExecutionReport(client_order_id, status, venue_order_id, tuple(execs))
