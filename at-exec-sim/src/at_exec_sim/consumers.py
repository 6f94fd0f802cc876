"""exec-sim's inputs wired to its handlers (``service.py``): the durable consumers (subjects and
durable names), the live timer, the broker poller and the broker checks."""

from __future__ import annotations

import asyncio
import contextlib

from nats.js.api import DeliverPolicy

from at_core import subjects
from at_core.events import Event
from at_core.runtime.bus import Delivery
from at_core.runtime.logging import get_logger
from at_exec_sim.bootstrap import check_interval, poll_interval, timer_interval
from at_exec_sim.bootstrap import start as start_service
from at_exec_sim.service import ExecSim

log = get_logger("at_exec_sim")

#: Subject filter -> durable name suffix (the prefix is ``AT_EXEC_SIM_DURABLE_PREFIX``, shared by replicas).
DURABLES: tuple[tuple[str, str], ...] = (
    (subjects.MARKET_DATA, "md"),
    (subjects.TRADE_PROPOSALS, "proposals"),
    (subjects.EXECUTION_REQUESTS, "requests"),
)


async def start(svc: ExecSim) -> None:
    """Connect and recover (``bootstrap.start``), then consume the inputs and start the timers."""
    await start_service(svc)
    assert svc.bus is not None

    async def on_input(event: Event, delivery: Delivery) -> None:
        await svc.handle(event, delivery)

    for subject, name in DURABLES:
        svc.consumers.append(
            await svc.bus.consume(
                subject,
                on_input,
                durable=f"{svc.settings.durable_prefix}-{name}",
                deliver_policy=DeliverPolicy.ALL,
                ack_wait_s=svc.settings.ack_wait_s,
            )
        )
    if (interval := timer_interval(svc.settings)) is not None:
        svc.timer = asyncio.create_task(run_timer(svc, interval), name="exec-sim-timer")
    if svc.venues.links and (poll := poll_interval(svc.settings)) is not None:
        wake = asyncio.Event()
        for link in svc.venues.links.values():  # a broker's push or reconnect: reconcile now, not at the next round
            if (listen := getattr(link.adapter, "set_listener", None)) is not None:
                listen(lambda _reason: wake.set())
        svc.poller = asyncio.create_task(run_poller(svc, poll, wake), name="exec-sim-broker-poller")
    if svc.venues.links and (every := check_interval(svc.settings)) is not None:
        svc.checker = asyncio.create_task(run_checks(svc, every), name="exec-sim-broker-checks")
    svc.ready = True


async def run_timer(svc: ExecSim, interval_s: float) -> None:
    """Live mode: tick every ``interval_s`` until cancelled; a failed tick is logged, not fatal."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await svc.tick()
        except Exception as exc:  # the next tick retries; the timer must outlive a publish failure
            log.warning("timer_tick_failed", error=repr(exc))


async def run_poller(svc: ExecSim, interval_s: float, wake: asyncio.Event | None = None) -> None:
    """Live mode: reconcile broker orders every ``interval_s``, or as soon as a broker's real-time
    connection says something changed (``wake``), until cancelled; a failed round is logged."""
    wake = wake or asyncio.Event()
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval_s)
        wake.clear()
        try:
            await svc.reconcile()
        except Exception as exc:  # the next round asks again; nothing was booked twice
            log.warning("broker_poll_round_failed", error=repr(exc))


async def run_checks(svc: ExecSim, interval_s: float) -> None:
    """Live mode: compare positions and balances with each broker now (on start), then every
    ``interval_s``, until cancelled; a failed round is logged (and counted per venue)."""
    while True:
        try:
            await svc.check_brokers()
        except Exception as exc:  # a publish refused: the event waits in the outbox, the next round goes on
            log.warning("broker_check_round_failed", error=repr(exc))
        await asyncio.sleep(interval_s)
