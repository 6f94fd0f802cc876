"""Wires the agents service: settings, clock, rule and LLM agents, committees, context, metrics.

``build`` is pure wiring (no connection); ``start`` opens the bus, the memory store and reloads
memory; ``stop`` closes the bus. The handlers are ``service.py``'s, the consumers ``consumers.py``'s.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from pydantic_ai.models import Model

from at_agents.adapters.committee_file import CommitteeFile, load_committee_file
from at_agents.adapters.llm.providers import api_key, build_model
from at_agents.adapters.llm.recorder import LlmCache
from at_agents.adapters.llm.runner import LlmRunner
from at_agents.adapters.memory_store import MemoryStore
from at_agents.config import AgentsSettings, BarSignalConfig
from at_agents.domain.agents.session_guard import SessionGuard
from at_agents.domain.agents.signal_follower import SignalFollower
from at_agents.domain.agents.trend_filter import TrendFilter
from at_agents.domain.agents.volatility_sizer import VolatilitySizer
from at_agents.domain.analysis import Agent
from at_agents.errors import ConfigError
from at_agents.service import AgentsService, BarSource
from at_core.catalog import InstrumentCatalog
from at_core.clock import Clock, ManualClock, WallClock
from at_core.errors import AtCoreError
from at_core.events import EventFactory
from at_core.ids import IdGenerator
from at_core.markets.calendars import preload
from at_core.metrics.agents import CATALOG
from at_core.runtime.bus import EventBus
from at_core.strategies.bar_signal_event import SignalTarget, generator_name
from at_core.strategies.bar_signals import BarSignalGenerator, make_strategy

__all__ = ["AgentsService", "bar_sources", "build", "rule_agents", "start", "stop"]


def rule_agents(settings: AgentsSettings, catalog: InstrumentCatalog) -> dict[str, Agent]:
    preload(list(settings.session_calendars.values()))  # seconds, once: not on the first signal
    return {
        "signal_follower": SignalFollower(
            catalog,
            risk_fraction=settings.risk_fraction,
            default_stop_ticks=settings.default_stop_ticks,
            default_equity=settings.default_equity,
        ),
        "trend_filter": TrendFilter(),
        "volatility_sizer": VolatilitySizer(
            catalog, risk_fraction=settings.risk_fraction, default_equity=settings.default_equity
        ),
        "session_guard": SessionGuard(calendars=dict(settings.session_calendars)),
    }


def bar_sources(configs: list[BarSignalConfig], catalog: InstrumentCatalog) -> dict[str, list[BarSource]]:
    """A fresh generator per configured bar strategy, grouped by the instrument whose bars it reads.

    Raises:
        ConfigError: an instrument the catalog does not know.
    """
    out: dict[str, list[BarSource]] = {}
    for i, cfg in enumerate(configs):
        try:
            asset_class = catalog.get(cfg.instrument_id).asset_class
        except AtCoreError as exc:
            raise ConfigError(f"bar_signals[{i}].instrument_id", str(exc)) from exc
        name = generator_name(cfg.kind, cfg.account_id, cfg.strategy_id)
        generator = BarSignalGenerator(make_strategy(cfg.kind, cfg.params), long_only=cfg.long_only)
        target = SignalTarget(name, cfg.account_id, cfg.strategy_id, cfg.quantity, asset_class)
        out.setdefault(cfg.instrument_id, []).append(BarSource(cfg.interval, generator, target))
    return out


def check_config(settings: AgentsSettings) -> list[str]:
    """Validate the committees file (shape, rules, members, providers) without starting anything.

    Returns:
        One line per committee (``default: weighted_mean, 4 members, strategies *``).

    Raises:
        ConfigError: the file, the committee or agent and the field that cannot be used, named.
    """
    file = load_committee_file(settings.committees_file)
    agents = rule_agents(settings, InstrumentCatalog())
    llm = {a.agent_id for a in file.llm_agents}
    lines = []
    for strategies, committee in file.committees:
        for m in committee.members:
            if m.agent_id not in agents and m.agent_id not in llm:
                raise ConfigError(f"committees.{committee.name}", f"unknown agent {m.agent_id!r}")
        lines.append(
            f"{committee.name}: {committee.rule}, {len(committee.members)} members, strategies {', '.join(strategies)}"
        )
    for instrument_id, sources in bar_sources(settings.bar_signals, InstrumentCatalog()).items():
        lines.append(f"bar signals on {instrument_id}: {', '.join(s.target.name for s in sources)}")
    return lines


def build(
    settings: AgentsSettings,
    clock: Clock | None = None,
    *,
    models: Mapping[str, Model] | None = None,
    committee_file: CommitteeFile | None = None,
) -> AgentsService:
    """The service, not yet connected.

    Args:
        models: pydantic-ai models by provider name, replacing those built from the file (tests
            pass ``TestModel``/``FunctionModel`` here; the recorder still wraps them).

    Raises:
        ConfigError: a committee names an agent that does not exist, or a provider has no key.
    """
    clock = clock or (ManualClock() if settings.replay_mode else WallClock())
    file = committee_file or load_committee_file(settings.committees_file)
    agents = rule_agents(settings, InstrumentCatalog())  # at-core's keeps what it builds
    llm_specs = {a.agent_id: a for a in file.llm_agents}
    for _, committee in file.committees:
        for m in committee.members:
            if m.agent_id not in agents and m.agent_id not in llm_specs:
                raise ConfigError(f"committees.{committee.name}", f"unknown agent {m.agent_id!r}")
    metrics = CATALOG.build()
    runner = None
    if file.providers:
        built = dict(models or {})
        for cfg in file.providers:
            if cfg.name not in built:
                built[cfg.name] = build_model(cfg, api_key(cfg))
        runner = LlmRunner.build(
            file.providers,
            built,
            LlmCache(settings.llm_cache_dir),
            metrics,
            replay=settings.replay_mode,
            global_budget=file.global_budget,
        )
    factory = EventFactory("agents", clock, IdGenerator(clock, random.Random(settings.seed)))
    service = AgentsService(
        settings, clock, factory, agents, file.committees, metrics, llm_agents=llm_specs, llm=runner
    )
    service.bar_sources = bar_sources(settings.bar_signals, InstrumentCatalog())
    service.health = dict.fromkeys([*agents, *llm_specs], "ok")
    # counted when /metrics is read, not on every memory write (a sum over every key each signal)
    metrics.gauge("memory_entries").set_function(lambda: sum(len(m.entries) for m in list(service.memory.values())))
    return service


async def start(svc: AgentsService) -> None:
    """Open the bus and streams, open the memory bucket and reload memory (a restart sees it)."""
    svc.bus = await EventBus.from_settings(svc.settings, service="agents", metrics=svc.metrics)
    await svc.bus.ensure_streams(replicas=svc.settings.nats_stream_replicas)
    svc.memory_store = await MemoryStore.open(svc.bus.js, svc.settings.nats_stream_replicas)
    for memory in await svc.memory_store.load_all():
        svc.memory[(memory.strategy_id, memory.instrument_id)] = memory


async def stop(svc: AgentsService) -> None:
    """Stop consuming and close the bus (the memory bucket lives in JetStream: nothing to close)."""
    svc.ready = False
    if svc.bus is not None:
        await svc.bus.close()
