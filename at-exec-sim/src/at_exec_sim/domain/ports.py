"""The port every venue implements: the simulated venue, the paper broker, ccxt exchanges.

The engine decides; a :class:`BrokerAdapter` executes. Adapters report what happened as
:class:`ExecutionReport`s (plain data), and the engine turns those into events, books the
fills and evaluates the account's rules, whichever venue filled them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from at_core.catalog import Instrument
from at_core.events import Event, FillEvent
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.records import OrderRecord, Route
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

    async def connect(self) -> list[Instrument]:
        """Open the connection; the venue's instruments (its precision and limits), or [] if it lists none."""
        ...

    async def close(self) -> None:
        """Close the connection (nothing to do for a venue that holds none)."""
        ...

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        """A new price of ``instrument_id`` from exec-sim's market data: what it filled of the
        venue's resting orders. A venue that fills on its own prices (a real broker) returns []."""
        ...

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


class OrderBook(Protocol):
    """What the venue router needs from the engine (the engine implements it): the orders it
    routed and the accounts it stopped, the orders at external venues, and where reports go."""

    def take_routes(self) -> list[Route]:
        """Orders for external venues to send now (each is taken once)."""
        ...

    def take_stops(self) -> dict[str, str]:
        """Accounts locked or halted since the last call, with why (each is taken once)."""
        ...

    def unsent(self) -> frozenset[str]:
        """Client order ids of the routes not taken yet (flatten orders about to be sent)."""
        ...

    def order(self, client_order_id: str) -> OrderRecord | None:
        """The order, or None if the engine never had it."""
        ...

    def orders_at(self, venues: Collection[str]) -> list[OrderRecord]:
        """The orders placed at these venues, in submission order."""
        ...

    def canceled_from(self, start: int) -> list[OrderRecord]:
        """The orders canceled since the ``start``-th cancel (0: all), in the order they were canceled."""
        ...

    def fills_at(self, venues: Collection[str]) -> list[FillEvent]:
        """The fills booked at these venues, in the order they were booked."""
        ...

    def on_report(self, client_order_id: str, report: ExecutionReport, purpose: str = "submit") -> list[Event]:
        """Book what a venue reported for an order; the events to publish."""
        ...

    def instrument(self, instrument_id: str) -> Instrument:
        """The instrument (raises ``UnknownInstrumentError``)."""
        ...

    def add_instrument(self, instrument: Instrument) -> None:
        """A venue's instrument, with the precision and limits the risk check must use."""
        ...

    def last_price(self, instrument_id: str) -> Decimal | None:
        """The instrument's mid, else its last trade; None before any market data."""
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
