"""exec-sim's service layer: one handler per input event or command, each returning the events it
published, in order.

Inputs: market data, proposals and manual requests (``consumers.py``), the kill switch and
resume (``api/routes/control.py``), the live timer's tick and the broker poll. Every handler
runs under one lock: the engine's state changes one input at a time, and what it produced is
published (through the outbox, in order) before the next input is applied.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from at_core.clock import Clock, ManualClock, WallClock
from at_core.events import (
    AccountStateEvent,
    BrokerMismatchEvent,
    ContractExpiryWarningEvent,
    Event,
    ExecutionRequest,
    FillEvent,
    Heartbeat,
    MarketDataBatchEvent,
    MarketDataEvent,
    OrderRejected,
    RiskDecisionEvent,
    TradeProposalEvent,
    TradingStateChangedEvent,
)
from at_core.metrics import Metrics
from at_core.models.enums import OrderStatus, TradingState
from at_core.runtime.bus import Consumer, Delivery, EventBus, PublishError
from at_core.runtime.logging import get_logger
from at_exec_sim.adapters.broker_checks import BrokerChecks, read_broker
from at_exec_sim.adapters.routing import VenueRouter
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.domain.engine import ExecutionEngine
from at_exec_sim.domain.query import EngineQuery

log = get_logger("at_exec_sim")


@dataclass
class ExecSim:
    """The running service: the engine, the venues, the bus and the outbox, behind one lock."""

    settings: ExecSimSettings
    clock: Clock
    engine: ExecutionEngine
    metrics: Metrics
    venues: VenueRouter
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    bus: EventBus | None = None
    consumers: list[Consumer] = field(default_factory=list)
    recovered: int = 0
    ready: bool = False
    ticks: int = 0
    timer: asyncio.Task[None] | None = None
    poller: asyncio.Task[None] | None = None
    #: Outputs the engine produced that JetStream has not taken yet (the execution stream electing
    #: a leader, NATS down): published first, in order, before any later input is applied. The
    #: engine's state already holds them, so the input that caused them, redelivered, produces nothing new.
    outbox: deque[Event] = field(default_factory=deque)
    #: While a market-data batch is applied (:meth:`handle_batch`): account marks wait in the outbox
    #: and go with the next event that is not one, or at the batch's end, in order, before its ack.
    batching: bool = False
    #: How many events at the head of the outbox are known to be account marks (not scanned again).
    marks_waiting: int = 0
    #: Positions and balances compared with each broker's: the watches and the standing mismatches.
    checks: BrokerChecks = field(default_factory=BrokerChecks)
    checker: asyncio.Task[None] | None = None
    #: The wall clock (signal-to-fill latency, live mode only) and the stopwatch (seconds, monotonic).
    wall: Clock = field(default_factory=WallClock)
    stopwatch: Callable[[], float] = time.perf_counter

    @property
    def mismatches(self) -> dict[str, str]:
        """Accounts whose book differs from their broker's (seen twice in a row): account id -> what differs."""
        return self.checks.mismatches

    @property
    def query(self) -> EngineQuery:
        """The engine's read-only view (positions, orders, fills, accounts) for the API."""
        return self.engine.query

    async def handle(self, event: Event, delivery: Delivery | None = None) -> list[Event]:
        """Run one input through the engine and publish what it produced, in order."""
        if isinstance(event, MarketDataBatchEvent):
            return await self.handle_batch(event, delivery)
        async with self.lock:
            await self.flush()  # raises while the bus refuses: this input is nak'd, not applied
            if isinstance(self.clock, ManualClock):
                self.clock.advance_to(event.ts_event)
            started = self.stopwatch()
            if isinstance(event, MarketDataEvent):
                return await self._on_market_data(event, started)
            if isinstance(event, TradeProposalEvent):
                return await self._applied(self.engine.on_proposal(event), started)
            if isinstance(event, ExecutionRequest):
                return await self._applied(self.engine.on_execution_request(event), started)
            return []  # not an input of exec-sim's (its consumers' filters make this rare)

    async def handle_batch(self, batch: MarketDataBatchEvent, delivery: Delivery | None = None) -> list[Event]:
        """Each member in order, as if it had come alone (a backtest's bars between two barriers).

        A failure part-way raises: the batch is nak'd and comes again, its members each as a
        redelivered bar would (outputs' ids derive from the member, so JetStream drops repeats).
        """
        out: list[Event] = []
        self.batching = True
        try:
            for event in batch.events:
                out += await self.handle(event, delivery)
        finally:
            self.batching = False
        async with self.lock:
            await self.flush()
        return out

    async def _on_market_data(self, event: MarketDataEvent, started: float) -> list[Event]:
        """A price: the engine's outputs, then what the venues that fill on it (paper) filled."""
        outputs = self.engine.on_market_data(event)
        await self.publish(outputs, started)
        published = list(outputs)
        paper = await self.venues.on_market(self.engine, event)
        await self.publish(paper, started)
        published += paper
        await self.route(published, started)
        return published

    async def _applied(self, outputs: list[Event], started: float | None = None) -> list[Event]:
        """Publish ``outputs``, then send what they routed to brokers (publishing their answers)."""
        await self.publish(outputs, started)
        published = list(outputs)
        await self.route(published, started)
        return published

    async def route(self, published: list[Event], started: float | None = None) -> None:
        """Cancel at brokers the orders of accounts the engine locked or halted, send the orders it
        routed to external venues, and publish what the brokers answered, in order."""

        async def publish(events: list[Event]) -> None:
            await self.publish(events, started)
            published.extend(events)

        await self.venues.drain(self.engine, publish)
        await self.venues.follow_updates(self.engine, published)  # a child resized or a stop moved: at its broker too

    async def kill_switch(self, account_id: str | None, flatten: bool) -> list[Event]:
        """Halt new orders (one account, or all), cancel their orders resting at brokers, optionally flatten."""
        async with self.lock:
            published = self.engine.kill_switch(None, account_id, flatten)
            # Cancels before publishing, so they go out even while NATS refuses the events; the
            # flatten orders go to brokers only after their OrderSubmitted is published (route).
            published += await self.venues.cancel_stopped(self.engine)
            await self.publish(published)
            await self.route(published)
            return published

    async def resume(self, account_id: str) -> list[Event]:
        """Lift a halt on one account."""
        async with self.lock:
            events = self.engine.resume(None, account_id)
            await self.publish(events)
            return events

    async def tick(self) -> list[Event]:
        """Apply the time that passed since the last input (live mode's timer); publish what it produced."""
        async with self.lock:
            self.ticks += 1
            beat = self.engine.factory.make(
                Heartbeat, service="exec_sim", instance=self.settings.instance_id, sequence=self.ticks
            )
            return await self._applied(self.engine.on_timer(beat))  # expiries and cancels name their order

    async def reconcile(self) -> list[Event]:
        """Ask brokers about their open and unknown orders; book and publish what is new, in order."""
        async with self.lock:
            targets = self.venues.to_poll(self.engine)
        answers = await self.venues.poll(self.engine, targets)  # network: without the lock
        published: list[Event] = []

        async def publish(events: list[Event]) -> None:
            await self.publish(events)
            published.extend(events)

        async with self.lock:
            grace_ns = int(self.settings.broker_absent_grace_s * 1e9)
            await self.venues.book(self.engine, answers, publish, grace_ns)
            await self.route(published)  # a fill that breaches a rule flattens the account
        return published

    async def check_brokers(self) -> list[Event]:
        """Compare every broker account's positions (and balance, ``broker_balance_check``) with
        exec-sim's; a difference seen twice in a row is a mismatch: a :class:`BrokerMismatchEvent`
        (once), shown on ``/account``, and a halt when ``broker_mismatch_halt`` is set; a check that
        agrees again publishes a ``restored`` one. An order in flight or unknown at the venue postpones it."""
        published: list[Event] = []
        for link in self.venues.links.values():
            accounts = [a for a in self.engine.accounts.values() if a.config.venue == link.name]
            if len(accounts) != 1 or not link.connected:
                continue  # no account on it (check_accounts refuses a venue named by two)
            rt = accounts[0]
            async with self.lock:
                busy = self._in_flight(link.name)
            if busy:
                continue
            try:
                seen = await read_broker(link, self.settings.broker_balance_check != "off")  # network: no lock
            except Exception as exc:  # asked again next round
                self.metrics.counter("broker_checks_failed_total").labels(link.name).inc()
                log.warning("broker_check_failed", venue=link.name, error=repr(exc)[:300])
                continue
            async with self.lock:
                if self._in_flight(link.name):
                    continue  # an order went out meanwhile: its fill may be on one side only
                halts = self.settings.broker_mismatch_halt
                event = self.checks.judge(self.engine.factory, rt, link.name, seen, self.clock.now_ns(), halts)
                if event is None:
                    continue
                events: list[Event] = [event]
                if event.status == "mismatch":
                    log.error("broker_mismatch", account_id=event.account_id, venue=link.name, difference=event.message)
                    if halts:
                        kind = "position" if any(d.kind == "position" for d in event.differences) else "balance"
                        events += self.engine.kill_switch(event, event.account_id, False, f"broker_{kind}_mismatch")
                else:
                    log.info("broker_match_restored", account_id=event.account_id, venue=link.name)
                await self.publish(events)
                published += events
        return published

    def _in_flight(self, venue: str) -> bool:
        """An order at ``venue`` sent and not yet answered, or unknown there: its fill may be on one
        side only, so the check waits. A resting order (a bracket's stop) does not: a fill it gets
        between the two reads is booked before the next check, and one check is not a mismatch."""
        return any(
            t.venue == venue and (t.unknown or t.status is OrderStatus.SUBMITTED)
            for t in self.venues.to_poll(self.engine)
        )

    def recover(self, event: Event) -> None:
        """Rebuild state from a published event (on restart): the engine's, and standing mismatches."""
        self.engine.recover(event)
        if isinstance(event, BrokerMismatchEvent):
            self.checks.recover(event)
            self.observe(event, None)  # the gauge as it stood

    async def resume_after_recovery(self) -> list[Event]:
        """After recovery: hold what is too old to resend as unknown, finish the rest, publish it."""
        async with self.lock:
            max_age_ns = int(self.settings.resubmit_max_age_s * 1e9)
            for record, age_ns in self.engine.stale_in_flight(max_age_ns):
                self.venues.hold_unresent(record, age_ns)  # a market order hours late is not the trade asked for
            # each is asked for at its broker first, and the broker refuses a client order id it
            # already has: never doubled
            with self.venues.resending():
                return await self._applied(self.engine.resume_unfinished(max_age_ns))

    async def publish(self, outputs: list[Event], started: float | None = None) -> None:
        """Publish ``outputs`` after whatever the outbox still holds, in order (call under the lock).

        Raises:
            Exception: the bus's error when JetStream did not take an event; it and the rest stay
                in the outbox (their ids are derived, so a publish that did land is deduplicated).
        """
        self.outbox.extend(outputs)
        await self.flush(started)

    async def flush(self, started: float | None = None) -> None:
        """Publish the outbox, oldest first, in one pipelined batch; keep what was not acknowledged."""
        waiting = self.metrics.gauge("unpublished_events")
        if not self.outbox or (self.batching and self._only_marks_waiting()):
            return
        waiting.set(len(self.outbox))
        batch = list(self.outbox)
        done = len(batch)
        error: PublishError | None = None
        if self.bus is not None:
            try:
                await self.bus.publish_many(batch)
            except PublishError as exc:  # the acknowledged prefix is out; the rest waits, in order
                done, error = exc.published, exc
        for out in batch[:done]:
            self.outbox.popleft()
            self.observe(out, started)
        self.marks_waiting = 0
        waiting.set(len(self.outbox))
        if error is not None:
            log.warning(
                "publish_failed_kept_in_outbox",
                event_id=error.event_id,
                unpublished=len(self.outbox),
                error=error.reason,
            )
            raise error

    def _only_marks_waiting(self) -> bool:
        # Marks only move equity: nothing is sent to a broker on them, so they may wait for the
        # next real publish. Anything else (a fill, an order, a state change) flushes everything.
        for event in itertools.islice(self.outbox, self.marks_waiting, None):
            if not isinstance(event, AccountStateEvent):
                return False
            self.marks_waiting += 1
        return True

    def observe(self, event: Event, started: float | None) -> None:
        """Count a published event in the metrics."""
        if isinstance(event, RiskDecisionEvent):
            self.metrics.counter("risk_decisions_total").labels(event.account_id, str(event.approved).lower()).inc()
            for reason in event.reasons:
                self.metrics.counter("denials_total").labels(reason.code).inc()
            log_decision(event)
        elif isinstance(event, OrderRejected):
            log.warning(
                "order_rejected",
                correlation_id=event.correlation_id,
                account_id=event.account_id,
                client_order_id=event.client_order_id,
                reason=event.reason,
                message=event.message,
            )
        elif isinstance(event, ContractExpiryWarningEvent):
            self.metrics.counter("contract_expiry_warnings_total").labels(event.account_id, event.instrument_id).inc()
        elif isinstance(event, FillEvent):
            self._observe_fill(event, started)
        elif isinstance(event, TradingStateChangedEvent):
            # a halt (breach, kill switch) pages; a prop session's nightly lock is routine, not a halt
            halted = 1 if event.state == TradingState.HALTED else 0
            self.metrics.gauge("trading_halted").labels(event.account_id).set(halted)
        elif isinstance(event, AccountStateEvent):
            self._observe_account(event)
        elif isinstance(event, BrokerMismatchEvent):
            kinds = {d.kind for d in event.differences}
            for kind in ("position", "balance"):
                standing = 1 if event.status == "mismatch" and kind in kinds else 0
                self.metrics.gauge("broker_mismatch").labels(event.account_id, event.venue, kind).set(standing)

    def _observe_fill(self, event: FillEvent, started: float | None) -> None:
        m, labels = self.metrics, (event.venue, event.instrument_id)
        m.counter("fills_total").labels(*labels).inc()
        if event.slippage_ticks is not None:
            m.histogram("slippage_ticks").labels(*labels).observe(float(event.slippage_ticks))
        if event.slippage_amount is not None:
            m.histogram("slippage_amount").labels(*labels).observe(float(event.slippage_amount))
        if event.signal_ts_event is not None and not self.settings.replay_mode:
            seconds = max(0.0, (self.wall.now_ns() - event.signal_ts_event) / 1e9)
            m.histogram("signal_to_fill_seconds").labels(*labels).observe(seconds)
        if started is not None:
            m.histogram("proposal_to_fill_seconds").labels(*labels).observe(self.stopwatch() - started)

    def _observe_account(self, event: AccountStateEvent) -> None:
        m, account_id = self.metrics, event.account_id
        m.gauge("equity").labels(account_id).set(float(event.equity))
        for h in event.headroom:
            m.gauge("rule_headroom").labels(account_id, h.rule).set(float(h.headroom))
            if h.limit:
                m.gauge("rule_headroom_ratio").labels(account_id, h.rule).set(float(h.headroom / h.limit))
        if self.query.has_account(account_id):
            m.gauge("open_positions").labels(account_id).set(self.query.open_positions(account_id))


def log_decision(event: RiskDecisionEvent) -> None:
    """A denial at warning with every reason (the user sees why nothing traded); an alert-priced approval at info."""
    if not event.approved:
        log.warning(
            "risk_denied",
            correlation_id=event.correlation_id,
            account_id=event.account_id,
            instrument_id=event.instrument_id,
            request_event_id=event.request_event_id,
            reasons=[r.code.value for r in event.reasons],
            message="; ".join(r.message for r in event.reasons)[:1000],
        )
    elif event.price_source is not None:
        log.info(
            "priced_on_alert",
            correlation_id=event.correlation_id,
            account_id=event.account_id,
            instrument_id=event.instrument_id,
            mark_price=str(event.mark_price),
        )
