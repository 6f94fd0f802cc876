"""Sends the engine's routes to the venues' adapters and feeds their reports back to the engine.

The engine decides and books; this is the I/O in between. An order whose outcome at its
broker cannot be known (the adapter raised :class:`VenueUnavailableError`, or failed after
the request may have left, or the broker says it already has that client order id) is
recorded as UNKNOWN: logged, counted, shown by ``GET /orders``, ``/venues`` and ``/readyz``,
and never resent blindly. The client order id is the broker's idempotency key, so a later
resubmission (e.g. the engine finishing interrupted orders after a restart) is refused by the
broker rather than doubled. An order that provably was not sent (its venue could not even be
connected) is rejected with ``venue_unavailable``.

An order exec-sim ends on its own while it rests at a broker (a bracket child OCO-cancelled or
orphaned by the position closing) is canceled there by :meth:`VenueRouter.cancel_ended`, so no
stop or target is left resting after its position closed.

At a venue whose adapter places brackets natively (``adapters/native_brackets.py``), an entry
with a bracket is sent with it in one request (``submit_bracketed``) and each bracket child the
engine opens is adopted (``adopt``: the venue's own child found and brought to exec-sim's size
and price) rather than placed; after a restart the adopted children's venue ids are handed back
to the adapter (``remember``) when it connects.

At any other broker the bracket is *emulated*: the entry goes alone, and the children the engine
opens when it fills are placed here as reduce-only orders, resized with the adapter's ``modify``
and canceled by :meth:`VenueRouter.cancel_ended` after the OCO. An adapter that cannot rest and
keep a stop for an instrument says why (``bracket_unsupported``); its bracketed entries are
rejected ``bracket_unsupported`` before anything is sent, never traded without their stop.

Reconciliation (:meth:`VenueRouter.poll` then :meth:`VenueRouter.book`) asks each broker for
the state of every open or unknown order and books only what is new (``adapters/reconcile.py``):
a resting limit's later fill, the rest of a partial fill, the fate of an order whose answer was
lost. Asking happens without the service's lock; booking under it, and only for orders that did
not change meanwhile, so an answer racing a fill from elsewhere is dropped (and asked again).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from at_core.clock import Clock
from at_core.events import Event, MarketDataEvent, OrderUpdated
from at_core.metrics import Metrics
from at_core.models.brackets import BracketRole
from at_core.models.enums import OrderStatus, OrderType
from at_core.runtime.logging import get_logger
from at_exec_sim.adapters.native_brackets import native, reference_price
from at_exec_sim.adapters.reconcile import judge
from at_exec_sim.domain.brackets import SUFFIX
from at_exec_sim.domain.ports import UNKNOWN_ORDER, BrokerAdapter, ExecutionReport, OrderBook, ReportStatus
from at_exec_sim.domain.records import OPEN_STATUSES, OrderRecord, Route
from at_exec_sim.domain.venue import Execution
from at_exec_sim.errors import VenueUnavailableError

log = get_logger("at_exec_sim.routing")

UNKNOWN_ORDERS_METRIC = "broker_orders_unknown_total"
ORPHAN_CANCELS_METRIC = "broker_orphan_cancels_total"
CHILD_MODIFIES_METRIC = "broker_child_modifies_total"
#: The reason of an entry rejected before it was sent: its venue cannot keep its bracket's stop.
BRACKET_UNSUPPORTED = "bracket_unsupported"
#: How brokers say "that client order id exists already": the order was sent before.
DUPLICATE_REASONS = frozenset({"CLIENT_ORDER_ID_ALREADY_EXISTS", "DuplicateOrderId"})

Publish = Callable[[list[Event]], Awaitable[None]]


@dataclass
class VenueLink:
    """One external venue: its adapter and what we know of its health."""

    name: str
    adapter: BrokerAdapter
    connected: bool = False
    instruments: int = 0
    last_error: str | None = None
    poll_failures: int = 0  # status queries that failed (the order stays as it was)


@dataclass(frozen=True, slots=True)
class PollTarget:
    """An order to ask its broker about, as exec-sim held it when asking."""

    client_order_id: str
    venue: str
    status: OrderStatus
    filled: Decimal
    unknown: bool


@dataclass(frozen=True, slots=True)
class Polled:
    """A broker's answer about one order (None when asking failed)."""

    target: PollTarget
    state: ExecutionReport | None


@dataclass(frozen=True, slots=True)
class UnknownOrder:
    """An order whose state at its broker is unknown until reconciled."""

    client_order_id: str
    account_id: str
    instrument_id: str
    venue: str
    reason: str
    since_ns: int
    cancel_failed: bool = False  # a cancel (kill switch, cutoff, breach) did not go through: unknown until canceled


class VenueRouter:
    """The external venues of one exec-sim, and the orders whose fate there is unknown."""

    def __init__(self, adapters: Mapping[str, BrokerAdapter], metrics: Metrics, clock: Clock) -> None:
        self.links = {name: VenueLink(name, adapter) for name, adapter in adapters.items()}
        self.unknown: dict[str, UnknownOrder] = {}
        self.metrics = metrics
        self.clock = clock
        self.booked_trade_ids: dict[str, frozenset[str]] = {}  # broker trade ids booked per open order
        self.polls: int = 0
        #: Orders whose end the broker knows (it reported the cancel, or a cancel sent there landed);
        #: None until first seeded, so a restart never re-sends the cancels of history.
        self.ended_at_broker: set[str] | None = None
        self._canceled_seen = 0  # the engine's cancels looked at so far (``OrderBook.canceled_from``)
        self._batch: dict[str, Route] = {}  # the routes being sent (a bracket child finds its sibling)
        #: A child sent with its sibling as one OCO list: its report (or the error that lost it), until its route comes.
        self._paired: dict[str, ExecutionReport | VenueUnavailableError] = {}
        #: Sending what a crash interrupted: each order is looked up at its broker before it is sent.
        self._resending = False

    @contextlib.contextmanager
    def resending(self) -> Iterator[None]:
        """Within: every order is first asked for at its broker by its client order id, and sent only
        if the broker does not know it. After a crash an order may have reached the broker with its
        answer lost, and not every broker refuses a client id it has seen: Binance takes one again
        once the first order has filled (it is unique among open orders only)."""
        self._resending = True
        try:
            yield
        finally:
            self._resending = False

    async def _found_there(self, link: VenueLink, route: Route) -> ExecutionReport | None:
        """The broker's report of the route's order if it has it already (see :meth:`resending`):
        booked as its answer, the order not sent again. Raises what the adapter raises (the caller
        leaves the order in doubt, unsent, for the poller)."""
        if native(link.adapter) and route.submitted.parent_client_order_id is not None:
            return None  # a native child is adopted (found), never placed
        state = await link.adapter.order_status(route.client_order_id, route.instrument)
        if state.status is ReportStatus.REJECTED and state.reason == UNKNOWN_ORDER:
            return None
        log.warning(
            "broker_order_found_before_resend",
            client_order_id=route.client_order_id,
            venue=link.name,
            status=state.status.value,
        )
        return state

    async def connect_all(self, book: OrderBook) -> None:
        """Connect every venue and add its instruments to the engine's; a venue that fails stays down."""
        for link in self.links.values():
            await self._connect(link, book)

    def restore(self, book: OrderBook) -> dict[str, int]:
        """After recovery, before anything is sent: each venue whose book lives in exec-sim's memory
        (the paper broker: its adapter has ``restore``) gets it back from what exec-sim published,
        its fills (positions, cash) and the orders open there (same client and venue ids, the size
        and prices as last modified). One submitted whose answer was never published rests too:
        the broker never had it, and the next poll books its acceptance. A market order never
        rests: one a crash interrupted is finished by the recovery (looked up here first, then
        sent). The orders restored, per venue.
        """
        out: dict[str, int] = {}
        for link in self.links.values():
            restore = getattr(link.adapter, "restore", None)
            if restore is None:
                continue
            fills = [
                (book.instrument(f.instrument_id), f.side, Execution(f.quantity, f.price, f.fee, f.liquidity))
                for f in book.fills_at([link.name])
            ]
            resting = [
                (r.client_order_id, book.instrument(r.instrument_id), r.spec)
                for r in book.orders_at([link.name])
                if r.status in OPEN_STATUSES and r.spec.order_type is not OrderType.MARKET
            ]
            out[link.name] = restore(fills, resting)
            log.info("venue_book_restored", venue=link.name, fills=len(fills), resting=out[link.name])
        return out

    async def close_all(self) -> None:
        """Close every venue's connection, all at once (each adapter's close is bounded: a shutdown
        takes the longest of them, not their sum); a failure is logged and the others are closed."""

        async def close(link: VenueLink) -> None:
            try:
                await link.adapter.close()
            except Exception as exc:  # shutting down: log, close the others
                log.warning("venue_close_failed", venue=link.name, error=_describe(exc))

        await asyncio.gather(*(close(link) for link in self.links.values()))

    async def _connect(self, link: VenueLink, book: OrderBook) -> bool:
        try:
            instruments = await link.adapter.connect()
        except Exception as exc:  # unreachable, refused credentials, an odd answer: the venue stays down
            link.connected, link.last_error = False, _describe(exc)
            log.error("venue_connect_failed", venue=link.name, error=link.last_error)
            return False
        for inst in instruments:
            book.add_instrument(inst)  # the broker's precision and limits are what the risk check must use
        if native(link.adapter):  # children adopted before a restart: their venue ids, as persisted
            for record in book.orders_at([link.name]):
                if record.parent_client_order_id is not None and record.venue_order_id is not None:
                    link.adapter.remember(record.client_order_id, record.venue_order_id)
        link.connected, link.instruments, link.last_error = True, len(instruments), None
        log.info("venue_connected", venue=link.name, instruments=len(instruments))
        return True

    async def drain(self, book: OrderBook, publish: Publish) -> None:
        """Send every route the engine holds, publishing what each report produces, in order.

        First, the orders resting at brokers of every account the engine locked or halted (a
        session cutoff, a rule breach, the kill switch) are canceled there, so nothing reopens what
        its flatten orders, sent next, close. A report can lock an account or produce routes of its
        own (a fill that breaches a rule flattens the account), so this loops until nothing is left.
        """
        while True:
            await publish(await self.cancel_stopped(book))
            await self.cancel_ended(book)
            if not (routes := book.take_routes()):
                return
            self._batch = {route.client_order_id: route for route in routes}
            for route in routes:
                await publish(await self._submit(book, route))

    async def _submit(self, book: OrderBook, route: Route) -> list[Event]:
        coid, submitted = route.client_order_id, route.submitted
        link = self.links.get(submitted.venue)
        if link is None:  # accounts are checked against the settings at start: a bug if it happens
            return book.on_report(coid, _not_sent(coid, "venue_not_configured", f"no adapter for {submitted.venue}"))
        if not link.connected and not await self._connect(link, book):
            message = f"{link.name} is not connected ({link.last_error}); the order was not sent"
            return book.on_report(coid, _not_sent(coid, "venue_unavailable", message))
        try:
            found = await self._found_there(link, route) if self._resending else None
            report = found if found is not None else await self._send(book, link, route)
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
        self.booked_trade_ids[coid] = frozenset(report.trade_ids)
        self._ended_there(coid, report)
        return book.on_report(coid, report)

    async def _send(self, book: OrderBook, link: VenueLink, route: Route) -> ExecutionReport:
        """Place the route's order: adopt the venue's own bracket child, send an entry with its native
        bracket, or place the order as it is."""
        adapter, submitted = link.adapter, route.submitted
        if native(adapter) and submitted.parent_client_order_id is not None:
            return await adapter.adopt(route.client_order_id, route.instrument, route.spec)
        if submitted.parent_client_order_id is not None and hasattr(adapter, "submit_oco"):
            paired = await self._send_oco(book, adapter, route)
            if paired is not None:
                return paired
        if route.spec.bracket is not None and not native(adapter):
            unsupported = getattr(adapter, "bracket_unsupported", None)
            if unsupported is not None and (why := unsupported(route.instrument, route.spec)) is not None:
                log.warning("broker_bracket_unsupported", venue=link.name, client_order_id=route.client_order_id,
                            reason=why)  # fmt: skip
                return _not_sent(route.client_order_id, BRACKET_UNSUPPORTED, why)
        if native(adapter) and route.spec.bracket is not None:
            arrival = submitted.arrival_price or book.last_price(route.instrument.instrument_id)
            reference = reference_price(route.spec, arrival)
            return await adapter.submit_bracketed(route.client_order_id, route.instrument, route.spec, reference)
        return await adapter.submit(route.client_order_id, route.instrument, route.spec)

    async def _send_oco(self, book: OrderBook, adapter: BrokerAdapter, route: Route) -> ExecutionReport | None:
        """A bracket child at an adapter that rests stop and target as one OCO list (a ccxt spot
        market): the pair goes in one request when the stop's route comes, and the target's route
        takes the answer kept for it. A child whose sibling is not in this batch goes alone."""
        coid = route.client_order_id
        if (kept := self._paired.pop(coid, None)) is not None:
            if isinstance(kept, VenueUnavailableError):
                raise kept
            return kept
        parent = route.submitted.parent_client_order_id
        assert parent is not None
        stop_id, target_id = parent + SUFFIX[BracketRole.STOP_LOSS], parent + SUFFIX[BracketRole.TAKE_PROFIT]
        if coid != stop_id or target_id not in self._batch:  # after a restart, say: never one leg alone
            why = f"{coid}: its sibling is not being sent with it, and one leg alone would lock the coins"
            log.error("broker_oco_leg_alone", client_order_id=coid, reason=why)
            return _not_sent(coid, "oco_leg_alone", why)
        stop, target = book.order(stop_id), book.order(target_id)
        assert stop is not None and target is not None  # routes come from the book's orders
        # the records' specs, not the routes': a later fill in the same report may have resized them
        try:
            stop_report, target_report = await adapter.submit_oco(  # type: ignore[attr-defined]
                (stop_id, stop.spec), (target_id, target.spec), route.instrument
            )
        except VenueUnavailableError as exc:
            self._paired[target_id] = exc
            raise
        except Exception as exc:  # the request may have left: both legs as ambiguous as a lost answer
            self._paired[target_id] = VenueUnavailableError(route.submitted.venue, _describe(exc))
            raise
        self._paired[target_id] = target_report
        return stop_report

    async def cancel_stopped(self, book: OrderBook) -> list[Event]:
        """Cancel at their brokers the orders of the accounts the engine locked or halted since last time."""
        out: list[Event] = []
        while (stops := book.take_stops()) and self.links:  # taken even without brokers: never piles up
            for account_id, reason in stops.items():
                out += await self.cancel_open(book, account_id, reason)
        return out

    async def cancel_open(self, book: OrderBook, account_id: str | None, reason: str = "kill_switch") -> list[Event]:
        """Cancel at their brokers the orders that may rest there (one account, or all), in order.

        Args:
            reason: why (the kill switch, a session cutoff, the rule breached): the ``OrderCanceled`` reason.
        """
        out: list[Event] = []
        unsent = book.unsent()  # its flatten orders, about to be sent
        for record in book.orders_at(self.links):
            if account_id is not None and record.account_id != account_id:
                continue
            if record.client_order_id in unsent or _is_flatten(record):
                continue  # a flatten order closes the position the stop is about: never canceled by it
            if record.status in OPEN_STATUSES or record.client_order_id in self.unknown:
                out += await self._cancel(book, record, reason)
        return out

    async def _cancel(self, book: OrderBook, record: OrderRecord, reason: str) -> list[Event]:
        coid, link = record.client_order_id, self.links[record.venue]
        try:
            report = await link.adapter.cancel(coid, book.instrument(record.instrument_id))
        except Exception as exc:  # VenueUnavailableError or worse: it may still rest there
            problem = f"cancel failed: {_describe(exc)}"
            self._unknown(coid, record.account_id, record.instrument_id, link.name, problem, cancel_failed=True)
            return []
        if report.status is ReportStatus.PENDING_CANCEL:
            # Taken, not landed: the order rests (and may fill) until it does. The poller books
            # its end (CANCELED, or fills that came first) like any other change at the broker.
            log.info("broker_cancel_pending", client_order_id=coid, venue=link.name, message=report.message)
            return []
        if report.status is not ReportStatus.CANCELED:  # not resting there: filled, or it never arrived
            problem = f"cancel refused ({report.reason}): filled or never placed at the broker"
            self._unknown(coid, record.account_id, record.instrument_id, link.name, problem)
            return []
        self.unknown.pop(coid, None)
        self._ended_there(coid, report)
        # Executions in a cancel's answer repeat earlier ones: book none here, flag a difference.
        out = book.on_report(
            coid, ExecutionReport(coid, ReportStatus.CANCELED, report.venue_order_id, (), reason), "cancel"
        )
        if report.filled > record.filled:
            problem = f"the broker filled {report.filled}, exec-sim booked {record.filled}"
            self._unknown(coid, record.account_id, record.instrument_id, link.name, problem)
        return out

    async def cancel_ended(self, book: OrderBook) -> None:
        """Cancel at their brokers the orders exec-sim ended on its own while they rest there: a
        bracket child OCO-cancelled or orphaned (its position closed), an entry's unfilled rest.
        A refusal means the broker ended it already (filled, canceled): logged, nothing booked,
        the poller and the position check show any difference."""
        # only the cancels since the last call: every input calls this, and scanning every order
        # the service ever placed was most of a quiet input's routing cost
        since = book.canceled_from(self._canceled_seen)
        self._canceled_seen += len(since)
        if self.ended_at_broker is None:  # first call after start: what ended before is history
            ended = [r for r in book.orders_at(self.links) if r.status == OrderStatus.CANCELED]
            self.ended_at_broker = {r.client_order_id for r in ended}
            return
        ended = [r for r in since if r.venue in self.links and r.status == OrderStatus.CANCELED]
        if len(ended) > 1:  # in submission order, as the scan over every order went
            rank = {r.client_order_id: i for i, r in enumerate(book.orders_at(self.links))}
            ended.sort(key=lambda r: rank.get(r.client_order_id, len(rank)))
        for record in ended:
            coid = record.client_order_id
            if coid in self.ended_at_broker:
                continue
            self.ended_at_broker.add(coid)
            link = self.links[record.venue]
            try:
                report = await link.adapter.cancel(coid, book.instrument(record.instrument_id))
            except Exception as exc:  # may still rest there: unknown until the poller or an operator ends it
                problem = f"orphan cancel failed: {_describe(exc)}"
                self._unknown(coid, record.account_id, record.instrument_id, link.name, problem, cancel_failed=True)
                self.metrics.counter(ORPHAN_CANCELS_METRIC).labels(link.name, "failed").inc()
                continue
            outcome = "canceled" if report.status is ReportStatus.CANCELED else "refused"
            self.metrics.counter(ORPHAN_CANCELS_METRIC).labels(link.name, outcome).inc()
            log.info(
                "broker_orphan_canceled" if report.status is ReportStatus.CANCELED else "broker_orphan_cancel_refused",
                client_order_id=coid,
                venue=link.name,
                status=report.status.value,
                reason=report.reason,
            )

    async def follow_updates(self, book: OrderBook, published: list[Event]) -> None:
        """Carry to its broker every change exec-sim made to a working order there (``OrderUpdated``:
        a bracket child resized after a partial fill, a trailing stop moved), with the adapter's
        ``modify``. A venue without one, or a refusal, is logged: the child keeps its old size there."""
        for event in published:
            if not isinstance(event, OrderUpdated) or (link := self.links.get(event.venue)) is None:
                continue
            record = book.order(event.client_order_id)
            if record is None or record.status not in OPEN_STATUSES:
                continue
            modify = getattr(link.adapter, "modify", None)
            modifies = self.metrics.counter(CHILD_MODIFIES_METRIC)
            if modify is None:
                log.warning("broker_modify_unsupported", venue=link.name, client_order_id=record.client_order_id)
                modifies.labels(link.name, "unsupported").inc()
                continue
            try:
                report = await modify(record.client_order_id, book.instrument(record.instrument_id), record.spec)
            except Exception as exc:  # the old size or price rests there: the poller and the position check see it
                log.error("broker_modify_failed", venue=link.name, client_order_id=record.client_order_id,
                          error=_describe(exc))  # fmt: skip
                modifies.labels(link.name, "failed").inc()
                continue
            modifies.labels(link.name, "refused" if report.status is ReportStatus.REJECTED else "modified").inc()
            log.info(
                "broker_order_modified" if report.status is not ReportStatus.REJECTED else "broker_modify_refused",
                client_order_id=record.client_order_id,
                venue=link.name,
                quantity=str(record.spec.quantity),
                reason=report.reason or event.reason,
            )

    def _ended_there(self, coid: str, report: ExecutionReport) -> None:
        if self.ended_at_broker is not None and report.status in (ReportStatus.CANCELED, ReportStatus.REJECTED):
            self.ended_at_broker.add(coid)

    def hold_unresent(self, record: OrderRecord, age_ns: int) -> None:
        """An order in flight at a crash too long ago to send again: unknown, for the poller to find
        at its broker (booked if there, rejected ``not_at_broker`` after the grace if not)."""
        reason = f"submitted {age_ns // 1_000_000_000} s ago, in flight at a crash: not resent; check the broker"
        self._unknown(record.client_order_id, record.account_id, record.instrument_id, record.venue, reason)

    async def on_market(self, book: OrderBook, event: MarketDataEvent) -> list[Event]:
        """A new price: what the venues that fill on exec-sim's prices (the paper broker) filled."""
        out: list[Event] = []
        price = book.last_price(event.instrument_id)
        if price is None:
            return out
        for link in self.links.values():
            for report in link.adapter.on_price(event.instrument_id, price):
                self.booked_trade_ids[report.client_order_id] = frozenset(report.trade_ids)
                out += book.on_report(report.client_order_id, report, f"md:{event.event_id}")
        return out

    def to_poll(self, book: OrderBook) -> list[PollTarget]:
        """The orders to ask brokers about: open at an external venue, or unknown (call under the lock)."""
        return [
            PollTarget(r.client_order_id, r.venue, r.status, r.filled, r.client_order_id in self.unknown)
            for r in book.orders_at(self.links)
            if r.status in OPEN_STATUSES or r.client_order_id in self.unknown
        ]

    async def poll(self, book: OrderBook, targets: list[PollTarget]) -> list[Polled]:
        """Ask each target's broker for its order's state; a failure is logged, counted and left for next time."""
        self.polls += 1
        out: list[Polled] = []
        for target in targets:
            link = self.links[target.venue]
            if not link.connected and not await self._connect(link, book):
                self._poll_failed(link, target, link.last_error or "not connected")
                out.append(Polled(target, None))
                continue
            record = book.order(target.client_order_id)
            assert record is not None  # targets come from the book, and orders are never dropped
            try:
                state = await link.adapter.order_status(target.client_order_id, book.instrument(record.instrument_id))
            except Exception as exc:  # unreachable, refused, an odd answer: nothing is known, nothing booked
                self._poll_failed(link, target, _describe(exc))
                state = None
            out.append(Polled(target, state))
        return out

    async def book(self, book: OrderBook, polled: list[Polled], publish: Publish, absent_grace_ns: int) -> None:
        """Book what the answers hold that exec-sim has not booked, publishing it in order (call under the lock)."""
        for answer in polled:
            target, state = answer.target, answer.state
            record = book.order(target.client_order_id)
            changed = record is None or (record.status, record.filled) != (target.status, target.filled)
            if state is None or changed or (target.client_order_id in self.unknown) != target.unknown:
                continue  # something else booked it meanwhile: the next poll asks again
            assert record is not None and record.submitted is not None
            coid, unknown = record.client_order_id, self.unknown.get(record.client_order_id)
            verdict = judge(
                record,
                state,
                self.booked_trade_ids.get(coid, frozenset()),
                # from when exec-sim lost the answer (its own clock), else from the order's submission
                age_ns=self.clock.now_ns() - (unknown.since_ns if unknown is not None else record.submitted.ts_event),
                absent_grace_ns=absent_grace_ns,
                venue=target.venue,
                hold_unknown=unknown is not None and unknown.cancel_failed,
            )
            if verdict.problem is not None:
                self._unknown(coid, record.account_id, record.instrument_id, target.venue, verdict.problem)
                continue
            if verdict.report is not None:
                self._ended_there(coid, verdict.report)
                events = book.on_report(coid, verdict.report, verdict.purpose)
                self.booked_trade_ids[coid] = frozenset(state.trade_ids)
                log.info(
                    "broker_order_reconciled",
                    client_order_id=coid,
                    venue=target.venue,
                    status=state.status.value,
                    new_executions=len(verdict.report.executions),
                    events=len(events),
                )
                await publish(events)
            if verdict.resolved and self.unknown.pop(coid, None) is not None:
                log.info("broker_order_resolved", client_order_id=coid, venue=target.venue, status=record.status)
            if record.status not in OPEN_STATUSES and coid not in self.unknown:
                self.booked_trade_ids.pop(coid, None)

    def _poll_failed(self, link: VenueLink, target: PollTarget, reason: str) -> None:
        link.poll_failures += 1
        link.last_error = reason
        log.warning("broker_poll_failed", venue=link.name, client_order_id=target.client_order_id, error=reason)

    def _unknown(
        self, coid: str, account_id: str, instrument_id: str, venue: str, reason: str, cancel_failed: bool = False
    ) -> None:
        first = coid not in self.unknown
        if not first and self.unknown[coid].reason == reason:
            return  # the same problem seen again by the next poll: logged and counted once
        cancel_failed = cancel_failed or (not first and self.unknown[coid].cancel_failed)
        since = self.clock.now_ns() if first else self.unknown[coid].since_ns
        self.unknown[coid] = UnknownOrder(coid, account_id, instrument_id, venue, reason, since, cancel_failed)
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


def _is_flatten(record: OrderRecord) -> bool:
    """A reduce-only market order: how a halt or lock closes positions (it never rests)."""
    return record.spec.reduce_only and record.spec.order_type is OrderType.MARKET
