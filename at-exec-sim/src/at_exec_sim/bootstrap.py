"""Wires exec-sim: settings, clock (wall, or following events in replay mode), engine, metrics and
the external venues' adapters (``build``); the bus, the venues' connections and the state
recovered from JetStream (``start``); and the shutdown (``stop``). The handlers are
``service.py``'s, the consumers, timer and poller ``consumers.py``'s.

In live mode a timer applies time passing without market data (DAY/GTD expiries, due cancels,
day rolls) every ``timer_interval_s``, a poller reconciles orders at external brokers every
``broker_poll_interval_s``, and positions and balances are compared with each broker's on start
and every ``broker_check_interval_s``; in replay mode time moves only with the events and nothing
polls or checks.
"""

from __future__ import annotations

import random
from pathlib import Path

from at_core.catalog import InstrumentCatalog
from at_core.clock import Clock, ManualClock, WallClock
from at_core.events import EventFactory
from at_core.ids import IdGenerator
from at_core.markets.calendars import preload
from at_core.metrics import MetricCatalog
from at_core.metrics.exec_sim import CATALOG
from at_core.runtime.bus import EventBus
from at_core.runtime.logging import get_logger
from at_core.runtime.tasks import stop_task
from at_exec_sim.adapters.broker_checks import BrokerChecks
from at_exec_sim.adapters.health import MetricsHealth
from at_exec_sim.adapters.registry import build_adapters, check_accounts, with_bracket_venues
from at_exec_sim.adapters.routing import VenueRouter
from at_exec_sim.adapters.state_stream import last_market_data, replay_execution
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.domain.accounts import load_accounts, load_profiles
from at_exec_sim.domain.alert_mark import NS_PER_S, AlertMarkPolicy
from at_exec_sim.domain.engine import ExecutionEngine
from at_exec_sim.domain.sessions import profile_calendars
from at_exec_sim.domain.venue import SimVenue
from at_exec_sim.domain.venue_models import FeeModel, LatencyModel, slippage_model
from at_exec_sim.service import ExecSim

__all__ = [
    "ExecSim",
    "build",
    "build_venue",
    "check_config",
    "check_interval",
    "poll_interval",
    "start",
    "stop",
    "timer_interval",
]

log = get_logger("at_exec_sim")


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
    accounts = with_bracket_venues(accounts, settings)
    factory = EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(settings.seed)))
    alert_marks = AlertMarkPolicy(max_age_ns=int(settings.alert_price_max_age_s * NS_PER_S))
    engine = ExecutionEngine(accounts, InstrumentCatalog(), factory, clock, build_venue(settings), alert_marks)
    metrics = metrics_catalog.build()
    for account_id in accounts:
        metrics.gauge("trading_halted").labels(account_id).set(0)
    venues = VenueRouter(build_adapters(settings, engine.paper_price), metrics, clock)
    for name, link in venues.links.items():  # rate limits, tokens, reconnects: counted per venue
        if (set_health := getattr(link.adapter, "set_health", None)) is not None:
            set_health(MetricsHealth(metrics, name))
    for account_id, cfg in accounts.items():
        if cfg.venue in venues.links:
            for kind in ("position", "balance"):
                metrics.gauge("broker_mismatch").labels(account_id, cfg.venue, kind).set(0)
    checks = BrokerChecks(settings.broker_balance_check, settings.broker_balance_tolerance)
    return ExecSim(settings, clock, engine, metrics, venues, checks=checks)


def check_config(settings: ExecSimSettings) -> list[str]:
    """Validate the profiles, the accounts and their venues as ``build`` would, without starting anything.

    Returns:
        One line per account (``paper-1: profile retail, venue SIM``), for ``at-exec-sim check-config``.

    Raises:
        ConfigError: the first file, account or field that cannot be used, named.
    """
    profiles = load_profiles(Path(settings.profiles_dir) if settings.profiles_dir else None)
    accounts = load_accounts(Path(settings.accounts_file) if settings.accounts_file else None, profiles)
    check_accounts(accounts, settings)
    build_venue(settings)
    return [
        f"{a.account_id}: profile {a.profile.profile_id} (version {a.profile.version}), venue {a.venue}"
        for a in accounts.values()
    ]


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


def check_interval(settings: ExecSimSettings) -> float | None:
    """Live mode's interval between position and balance checks against brokers, or None (replay mode)."""
    if settings.replay_mode or settings.broker_check_interval_s <= 0:
        return None
    return settings.broker_check_interval_s


def poll_interval(settings: ExecSimSettings) -> float | None:
    """Live mode's broker poll interval, or None: replay mode never polls."""
    if settings.replay_mode or settings.broker_poll_interval_s <= 0:
        return None
    return settings.broker_poll_interval_s


async def start(svc: ExecSim) -> None:
    """Connect to NATS and the venues, rebuild state from JetStream and finish interrupted orders."""
    svc.bus = await EventBus.from_settings(svc.settings, service="exec_sim", metrics=svc.metrics)
    await svc.bus.ensure_streams(replicas=svc.settings.nats_stream_replicas)
    await svc.venues.connect_all(svc.engine)  # before recovery: fills are booked on the broker's instruments
    if not svc.settings.recover_on_start:
        return
    svc.recovered = await replay_execution(svc.bus, svc.recover)  # the engine's state, standing mismatches
    svc.venues.restore(svc.engine)  # the paper broker's book (it has no other store), before anything is sent
    primed = await last_market_data(svc.bus, svc.engine.prime_market)
    resumed = await svc.resume_after_recovery()
    log.info("state_recovered", events=svc.recovered, fills=len(svc.engine.fills), prices=primed, resumed=len(resumed))


async def stop(svc: ExecSim) -> None:
    """Stop the timer and the poller, then close the bus and the venues."""
    svc.ready = False
    for task in (svc.timer, svc.poller, svc.checker):
        await stop_task(task)
    if svc.bus is not None:
        await svc.bus.close()
    await svc.venues.close_all()
