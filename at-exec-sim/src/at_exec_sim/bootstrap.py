"""Wires exec-sim: settings, clock (wall, or following events in replay mode), engine, bus, metrics,
and the external venues' adapters (orders the engine routes to a broker are sent after each input).

In live mode a timer applies time passing without market data (DAY/GTD expiries, due cancels,
day rolls) every ``timer_interval_s``, and a poller reconciles orders at external brokers every
``broker_poll_interval_s``; in replay mode time moves only with the events and nothing polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from at_core import subjects
from at_core.catalog import InstrumentCatalog
from at_core.clock import Clock, ManualClock, WallClock
from at_core.events import (
    ContractExpiryWarningEvent,
    Event,
    EventFactory,
    FillEvent,
    Heartbeat,
    RiskDecisionEvent,
    TradingStateChangedEvent,
)
from at_core.ids import IdGenerator
from at_core.markets.calendars import preload
from at_core.metrics import MetricCatalog, Metrics
from at_core.metrics.exec_sim import CATALOG
from at_core.models.enums import TradingState
from at_core.runtime.bus import Consumer, Delivery, EventBus, PublishError
from at_core.runtime.logging import get_logger
from at_core.serialization import decode_event
from at_exec_sim.adapters.registry import build_adapters, check_accounts
from at_exec_sim.adapters.routing import VenueRouter
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.domain.accounts import load_accounts, load_profiles
from at_exec_sim.domain.engine import ExecutionEngine
from at_exec_sim.domain.sessions import profile_calendars
from at_exec_sim.domain.venue import SimVenue
from at_exec_sim.domain.venue_models import FeeModel, LatencyModel, slippage_model

log = get_logger("at_exec_sim")


@dataclass
class ExecSim:
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
    #: Outputs the engine produced that JetStream has not taken yet (AT_EXECUTION electing a leader,
    #: NATS down): published first, in order, before any later input is applied. The engine's state
    #: already holds them, so the input that caused them, redelivered, produces nothing new.
    outbox: deque[Event] = field(default_factory=deque)

    async def handle(self, event: Event, delivery: Delivery | None = None) -> list[Event]:
        """Run one input through the engine and publish what it produced, in order."""
        async with self.lock:
            await self.flush()  # raises while the bus refuses: this input is nak'd, not applied
            if isinstance(self.clock, ManualClock):
                self.clock.advance_to(event.ts_event)
            started = time.perf_counter()
            if event.event_type == "market_data":
                outputs = self.engine.on_market_data(event)  # type: ignore[arg-type]
            elif event.event_type == "trade_proposal":
                outputs = self.engine.on_proposal(event)  # type: ignore[arg-type]
            elif event.event_type == "execution_request":
                outputs = self.engine.on_execution_request(event)  # type: ignore[arg-type]
            else:
                return []
            await self.publish(outputs, started)
            published = list(outputs)
            if event.event_type == "market_data":
                paper = await self.venues.on_market(self.engine, event)  # type: ignore[arg-type]
                await self.publish(paper, started)
                published += paper
            await self.route(published, started)
            return published

    async def route(self, published: list[Event], started: float | None = None) -> None:
        """Cancel at brokers the orders of accounts the engine locked or halted, send the orders it
        routed to external venues, and publish what the brokers answered, in order."""

        async def publish(events: list[Event]) -> None:
            await self.publish(events, started)
            published.extend(events)

        await self.venues.drain(self.engine, publish)

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
            outputs = self.engine.on_timer(beat)  # expiries and cancels name their order, not the tick
            await self.publish(outputs)
            await self.route(outputs)
            return outputs

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
        if not self.outbox:
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
        waiting.set(len(self.outbox))
        if error is not None:
            log.warning(
                "publish_failed_kept_in_outbox",
                event_id=error.event_id,
                unpublished=len(self.outbox),
                error=error.reason,
            )
            raise error

    def observe(self, event: Event, started: float | None) -> None:
        m = self.metrics
        if isinstance(event, RiskDecisionEvent):
            m.counter("risk_decisions_total").labels(event.account_id, str(event.approved).lower()).inc()
            for reason in event.reasons:
                m.counter("denials_total").labels(reason.code).inc()
        elif isinstance(event, ContractExpiryWarningEvent):
            m.counter("contract_expiry_warnings_total").labels(event.account_id, event.instrument_id).inc()
        elif isinstance(event, FillEvent):
            labels = (event.venue, event.instrument_id)
            m.counter("fills_total").labels(*labels).inc()
            if event.slippage_ticks is not None:
                m.histogram("slippage_ticks").labels(*labels).observe(float(event.slippage_ticks))
            if event.slippage_amount is not None:
                m.histogram("slippage_amount").labels(*labels).observe(float(event.slippage_amount))
            if event.signal_ts_event is not None and not self.settings.replay_mode:
                m.histogram("signal_to_fill_seconds").labels(*labels).observe(
                    max(0.0, (time.time_ns() - event.signal_ts_event) / 1e9)
                )
            if started is not None:
                m.histogram("proposal_to_fill_seconds").labels(*labels).observe(time.perf_counter() - started)
        elif isinstance(event, TradingStateChangedEvent):
            # a halt (breach, kill switch) pages; a prop session's nightly lock is routine, not a halt
            m.gauge("trading_halted").labels(event.account_id).set(1 if event.state == TradingState.HALTED else 0)
        elif event.event_type == "account_state":
            m.gauge("equity").labels(event.account_id).set(float(event.equity))  # type: ignore[attr-defined]
            for h in event.headroom:  # type: ignore[attr-defined]
                m.gauge("rule_headroom").labels(event.account_id, h.rule).set(float(h.headroom))  # type: ignore[attr-defined]
                if h.limit:
                    m.gauge("rule_headroom_ratio").labels(event.account_id, h.rule).set(float(h.headroom / h.limit))  # type: ignore[attr-defined]
            rt = self.engine.accounts.get(event.account_id)  # type: ignore[attr-defined]
            if rt is not None:
                m.gauge("open_positions").labels(event.account_id).set(
                    sum(1 for p in rt.account.positions.values() if p.quantity != 0)
                )  # type: ignore[attr-defined]


def build(settings: ExecSimSettings, clock: Clock | None = None, metrics_catalog: MetricCatalog = CATALOG) -> ExecSim:
    """Everything exec-sim needs, unconnected.

    Raises:
        ConfigError: an unusable setting, or an account whose venue is not configured.
    """
    clock = clock or (ManualClock() if settings.replay_mode else WallClock())
    profiles = load_profiles(Path(settings.profiles_dir) if settings.profiles_dir else None)
    preload(profile_calendars(profiles.values()))  # seconds, once: not on the first event
    accounts = load_accounts(Path(settings.accounts_file) if settings.accounts_file else None, profiles)
    check_accounts(accounts, settings)
    venue = build_venue(settings)
    factory = EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(settings.seed)))
    engine = ExecutionEngine(accounts, InstrumentCatalog(), factory, clock, venue)
    metrics = metrics_catalog.build()
    for account_id in accounts:
        metrics.gauge("trading_halted").labels(account_id).set(0)

    def last_price(instrument_id: str) -> Decimal | None:
        market = engine.markets.get(instrument_id)
        return None if market is None else (market.mid if market.mid is not None else market.last)

    venues = VenueRouter(build_adapters(settings, last_price), metrics, clock)
    return ExecSim(settings, clock, engine, metrics, venues)


def build_venue(settings: ExecSimSettings) -> SimVenue:
    """The simulated venue with the configured fee, slippage and latency models.

    Raises:
        ConfigError: a slippage or latency setting that cannot be used.
    """
    name, value = settings.slippage()
    return SimVenue(
        fees=FeeModel(
            per_contract=settings.fee_per_contract,
            fx_bps=settings.fx_bps,
            crypto_taker_bps=settings.crypto_taker_bps,
            crypto_maker_bps=settings.crypto_maker_bps,
            fixed_per_fill=settings.fee_per_fill,
        ),
        slippage=slippage_model(name, value, settings.slippage_volume_limit),
        latency=LatencyModel(
            submit_ns=settings.latency_submit_ns,
            cancel_ns=settings.latency_cancel_ns,
            jitter_ns=settings.latency_jitter_ns,
            rng=random.Random(f"latency:{settings.seed}"),  # its own stream: ids do not shift with jitter
        ),
    )


def timer_interval(settings: ExecSimSettings) -> float | None:
    """Live mode's tick interval, or None: in replay mode time moves only with the events."""
    if settings.replay_mode or settings.timer_interval_s <= 0:
        return None
    return settings.timer_interval_s


async def run_timer(svc: ExecSim, interval_s: float) -> None:
    """Live mode: tick every ``interval_s`` until cancelled; a failed tick is logged, not fatal."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await svc.tick()
        except Exception as exc:  # the next tick retries; the timer must outlive a publish failure
            log.warning("timer_tick_failed", error=repr(exc))


def poll_interval(settings: ExecSimSettings) -> float | None:
    """Live mode's broker poll interval, or None: replay mode never polls."""
    if settings.replay_mode or settings.broker_poll_interval_s <= 0:
        return None
    return settings.broker_poll_interval_s


async def run_poller(svc: ExecSim, interval_s: float) -> None:
    """Live mode: reconcile broker orders every ``interval_s`` until cancelled; a failed round is logged."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await svc.reconcile()
        except Exception as exc:  # the next round asks again; nothing was booked twice
            log.warning("broker_poll_round_failed", error=repr(exc))


async def recover(svc: ExecSim) -> int:
    """Rebuild decisions, orders, fills and trading states from AT_EXECUTION (in stream order)."""
    assert svc.bus is not None
    js = svc.bus.js
    try:
        info = await js.stream_info("AT_EXECUTION")
    except Exception:
        return 0
    last = info.state.last_seq
    if info.state.messages == 0:
        return 0
    sub = await js.pull_subscribe(subjects.ALL, stream="AT_EXECUTION", config=None)
    count = 0
    try:
        while True:
            try:
                msgs = await sub.fetch(256, timeout=2)
            except Exception:
                break
            done = False
            for msg in msgs:
                svc.engine.recover(decode_event(msg.data))
                await msg.ack()
                count += 1
                done = msg.metadata.sequence.stream >= last
            if done:
                break
    finally:
        await sub.unsubscribe()
    return count


async def prime_prices(svc: ExecSim) -> int:
    """The last market data per subject, so a restarted service knows prices before the next tick."""
    assert svc.bus is not None
    try:
        sub = await svc.bus.js.pull_subscribe(
            subjects.MARKET_DATA,
            stream="AT_MARKET_DATA",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, ack_policy=AckPolicy.NONE),
        )
    except Exception:
        return 0
    count = 0
    try:
        while True:
            try:
                msgs = await sub.fetch(256, timeout=0.5)
            except Exception:
                break
            for msg in msgs:
                event = decode_event(msg.data)
                if event.event_type == "market_data":
                    svc.engine.prime_market(event)  # type: ignore[arg-type]
                    count += 1
            if not msgs or msgs[-1].metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return count


async def start(svc: ExecSim) -> None:
    """Connect, recover state, start the durable consumers (proposals, requests, market data)."""
    svc.bus = await EventBus.from_settings(svc.settings, service="exec_sim", metrics=svc.metrics)
    await svc.bus.ensure_streams(replicas=svc.settings.nats_stream_replicas)
    await svc.venues.connect_all(svc.engine.catalog)  # before recovery: fills are booked on the broker's instruments
    if svc.settings.recover_on_start:
        svc.recovered = await recover(svc)
        primed = await prime_prices(svc)
        async with svc.lock:
            max_age_ns = int(svc.settings.resubmit_max_age_s * 1e9)
            for record, age_ns in svc.engine.stale_in_flight(max_age_ns):
                svc.venues.hold_unresent(record, age_ns)  # a market order hours late is not the trade asked for
            resumed = svc.engine.resume_unfinished(max_age_ns)
            await svc.publish(resumed)
            await svc.route(resumed)  # the broker refuses a client order id it already has: never doubled
        log.info(
            "state_recovered", events=svc.recovered, fills=len(svc.engine.fills), prices=primed, resumed=len(resumed)
        )
    prefix = svc.settings.durable_prefix
    for filt, name in (
        (subjects.MARKET_DATA, "md"),
        (subjects.TRADE_PROPOSALS, "proposals"),
        (subjects.EXECUTION_REQUESTS, "requests"),
    ):
        svc.consumers.append(
            await svc.bus.consume(
                filt,
                _handler(svc),
                durable=f"{prefix}-{name}",
                deliver_policy=DeliverPolicy.ALL,
                ack_wait_s=svc.settings.ack_wait_s,
            )
        )
    if (interval := timer_interval(svc.settings)) is not None:
        svc.timer = asyncio.create_task(run_timer(svc, interval), name="exec-sim-timer")
    if svc.venues.links and (poll := poll_interval(svc.settings)) is not None:
        svc.poller = asyncio.create_task(run_poller(svc, poll), name="exec-sim-broker-poller")
    svc.ready = True


def _handler(svc: ExecSim):
    async def handle(event: Event, delivery: Delivery) -> None:
        await svc.handle(event, delivery)

    return handle


async def stop(svc: ExecSim) -> None:
    svc.ready = False
    for task in (svc.timer, svc.poller):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if svc.bus is not None:
        await svc.bus.close()
    await svc.venues.close_all()
