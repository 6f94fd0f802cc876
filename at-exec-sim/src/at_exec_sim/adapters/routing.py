"""Sends the engine's routes to the venues' adapters and feeds their reports back to the engine.

The engine decides and books; this is the I/O in between. An order whose outcome at its
broker cannot be known (the adapter raised :class:`VenueUnavailableError`, or failed after
the request may have left, or the broker says it already has that client order id) is
recorded as UNKNOWN: logged, counted, shown by ``GET /orders``, ``/venues`` and ``/readyz``,
and never resent blindly. The client order id is the broker's idempotency key, so a later
resubmission (e.g. the engine finishing interrupted orders after a restart) is refused by the
broker rather than doubled. An order that provably was not sent (its venue could not even be
connected) is rejected with ``venue_unavailable``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from at_core.catalog import InstrumentCatalog
from at_core.clock import Clock
from at_core.events import Event, MarketDataEvent
from at_core.metrics import Metrics
from at_core.runtime.logging import get_logger
from at_exec_sim.adapters.paper import PaperBroker
from at_exec_sim.domain.engine import ExecutionEngine, OrderRecord, Route
from at_exec_sim.domain.ports import BrokerAdapter, ExecutionReport, ReportStatus
from at_exec_sim.errors import VenueUnavailableError

log = get_logger("at_exec_sim.routing")

UNKNOWN_ORDERS_METRIC = "broker_orders_unknown_total"
#: How brokers say "that client order id exists already": the order was sent before.
DUPLICATE_REASONS = frozenset({"CLIENT_ORDER_ID_ALREADY_EXISTS", "DuplicateOrderId"})
OPEN_STATUSES = frozenset({"submitted", "accepted", "partially_filled"})

Publish = Callable[[list[Event]], Awaitable[None]]


@dataclass
class VenueLink:
    """One external venue: its adapter and what we know of its health."""

    name: str
    adapter: BrokerAdapter
    connected: bool = False
    instruments: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownOrder:
    """An order whose state at its broker is unknown until reconciled."""

    client_order_id: str
    account_id: str
    instrument_id: str
    venue: str
    reason: str
    since_ns: int


class VenueRouter:
    """The external venues of one exec-sim, and the orders whose fate there is unknown."""

    def __init__(self, adapters: Mapping[str, BrokerAdapter], metrics: Metrics, clock: Clock) -> None:
        self.links = {name: VenueLink(name, adapter) for name, adapter in adapters.items()}
        self.unknown: dict[str, UnknownOrder] = {}
        self.metrics = metrics
        self.clock = clock

    async def connect_all(self, catalog: InstrumentCatalog) -> None:
        """Connect every venue and add its instruments to ``catalog``; a venue that fails stays down."""
        for link in self.links.values():
            await self._connect(link, catalog)

    async def close_all(self) -> None:
        for link in self.links.values():
            close = getattr(link.adapter, "close", None)  # the paper broker holds no connection
            if close is not None:
                try:
                    await close()
                except Exception as exc:  # shutting down: log, close the others
                    log.warning("venue_close_failed", venue=link.name, error=_describe(exc))

    async def _connect(self, link: VenueLink, catalog: InstrumentCatalog) -> bool:
        connect = getattr(link.adapter, "connect", None)
        try:
            instruments = await connect() if connect is not None else []
        except Exception as exc:  # unreachable, refused credentials, an odd answer: the venue stays down
            link.connected, link.last_error = False, _describe(exc)
            log.error("venue_connect_failed", venue=link.name, error=link.last_error)
            return False
        for inst in instruments:
            catalog.add(inst)  # the broker's precision and limits are what the risk check must use
        link.connected, link.instruments, link.last_error = True, len(instruments), None
        log.info("venue_connected", venue=link.name, instruments=len(instruments))
        return True

    async def drain(self, engine: ExecutionEngine, publish: Publish) -> None:
        """Send every route the engine holds, publishing what each report produces, in order.

        A report can produce routes of its own (a fill that breaches a rule flattens the account),
        so this loops until the engine holds none.
        """
        while routes := engine.take_routes():
            for route in routes:
                await publish(await self._submit(engine, route))

    async def _submit(self, engine: ExecutionEngine, route: Route) -> list[Event]:
        coid, submitted = route.client_order_id, route.submitted
        link = self.links.get(submitted.venue)
        if link is None:  # accounts are checked against the settings at start: a bug if it happens
            return engine.on_report(coid, _not_sent(coid, "venue_not_configured", f"no adapter for {submitted.venue}"))
        if not link.connected and not await self._connect(link, engine.catalog):
            message = f"{link.name} is not connected ({link.last_error}); the order was not sent"
            return engine.on_report(coid, _not_sent(coid, "venue_unavailable", message))
        try:
            report = await link.adapter.submit(coid, route.instrument, route.spec)
        except VenueUnavailableError as exc:
            link.last_error = exc.reason
            self._unknown(coid, submitted.account_id, submitted.instrument_id, link.name, exc.reason)
            return []
        except Exception as exc:  # the request may have left: as ambiguous as a lost answer
            self._unknown(coid, submitted.account_id, submitted.instrument_id, link.name, _describe(exc))
            return []
        link.last_error = None
        if report.status is ReportStatus.REJECTED and _duplicate(report):
            reason = f"the broker already has this client order id ({report.reason}): it was sent before"
            self._unknown(coid, submitted.account_id, submitted.instrument_id, link.name, reason)
            return []
        self.unknown.pop(coid, None)
        return engine.on_report(coid, report)

    async def cancel_open(self, engine: ExecutionEngine, account_id: str | None) -> list[Event]:
        """Cancel at their brokers the orders that may rest there (one account, or all): the kill switch."""
        out: list[Event] = []
        for record in list(engine.orders.values()):
            if record.venue not in self.links or (account_id is not None and record.account_id != account_id):
                continue
            if record.status in OPEN_STATUSES or record.client_order_id in self.unknown:
                out += await self._cancel(engine, record)
        return out

    async def _cancel(self, engine: ExecutionEngine, record: OrderRecord) -> list[Event]:
        coid, link = record.client_order_id, self.links[record.venue]
        try:
            report = await link.adapter.cancel(coid, engine.catalog.get(record.instrument_id))
        except Exception as exc:  # VenueUnavailableError or worse: it may still rest there
            self._unknown(coid, record.account_id, record.instrument_id, link.name, f"cancel failed: {_describe(exc)}")
            return []
        if report.status is not ReportStatus.CANCELED:  # not resting there: filled, or it never arrived
            reason = f"cancel refused ({report.reason}): filled or never placed at the broker"
            self._unknown(coid, record.account_id, record.instrument_id, link.name, reason)
            return []
        self.unknown.pop(coid, None)
        # Executions in a cancel's answer repeat earlier ones: book none here, flag a difference.
        out = engine.on_report(
            coid, ExecutionReport(coid, ReportStatus.CANCELED, report.venue_order_id, (), "kill_switch"), "cancel"
        )
        if report.filled > record.filled:
            reason = f"the broker filled {report.filled}, exec-sim booked {record.filled}"
            self._unknown(coid, record.account_id, record.instrument_id, link.name, reason)
        return out

    async def on_market(self, engine: ExecutionEngine, event: MarketDataEvent) -> list[Event]:
        """The paper broker fills its resting orders that the new price crosses."""
        out: list[Event] = []
        market = engine.markets.get(event.instrument_id)
        price = None if market is None else (market.mid if market.mid is not None else market.last)
        for link in self.links.values():
            if isinstance(link.adapter, PaperBroker) and price is not None:
                for report in link.adapter.on_price(event.instrument_id, price):
                    out += engine.on_report(report.client_order_id, report, f"md:{event.event_id}")
        return out

    def _unknown(self, coid: str, account_id: str, instrument_id: str, venue: str, reason: str) -> None:
        first = coid not in self.unknown
        self.unknown[coid] = UnknownOrder(coid, account_id, instrument_id, venue, reason, self.clock.now_ns())
        log.error(
            "broker_order_unknown",
            client_order_id=coid,
            account_id=account_id,
            instrument_id=instrument_id,
            venue=venue,
            reason=reason,
        )
        if first:
            self.metrics.counter(UNKNOWN_ORDERS_METRIC).labels(venue, account_id).inc()


def _not_sent(coid: str, reason: str, message: str) -> ExecutionReport:
    return ExecutionReport(coid, ReportStatus.REJECTED, None, (), reason, message)


def _duplicate(report: ExecutionReport) -> bool:
    return report.reason in DUPLICATE_REASONS or "duplicate order" in report.message.lower()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
