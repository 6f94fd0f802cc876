"""Wires the agents service: settings, clock, agents, committees, context, bus, metrics."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from at_agents.config import AgentsSettings
from at_agents.domain.agents.session_guard import SessionGuard
from at_agents.domain.agents.signal_follower import SignalFollower
from at_agents.domain.agents.trend_filter import TrendFilter
from at_agents.domain.agents.volatility_sizer import VolatilitySizer
from at_agents.domain.analysis import Agent, Analysis
from at_agents.domain.committee import CommitteeConfig, Member
from at_agents.domain.context import Bar, MarketContext
from at_agents.domain.decision import analysis_event, decide
from at_core import subjects
from at_core.catalog import InstrumentCatalog
from at_core.clock import Clock, ManualClock, WallClock
from at_core.events import Event, EventFactory, SignalEvent
from at_core.ids import IdGenerator
from at_core.metrics import Metrics
from at_core.metrics.agents import CATALOG
from at_core.runtime.bus import Consumer, Delivery, EventBus
from at_core.runtime.logging import get_logger

log = get_logger("at_agents")


def load_committees(path: str | None) -> list[tuple[list[str], CommitteeConfig]]:
    text = Path(path).read_text() if path else resources.files("at_agents.data").joinpath("committees.yaml").read_text()
    out = []
    for c in (yaml.safe_load(text) or {}).get("committees", []):
        members = tuple(
            Member(m["agent_id"], Decimal(str(m.get("weight", "1"))), bool(m.get("veto", False))) for m in c["members"]
        )
        config = CommitteeConfig(
            name=c["name"],
            members=members,
            rule=c.get("rule", "weighted_mean"),
            threshold=Decimal(str(c.get("threshold", "0.2"))),
            deadline_s=float(c.get("deadline_s", 5.0)),
            max_quantity={k: Decimal(str(v)) for k, v in (c.get("max_quantity") or {}).items()},
        )
        out.append((list(c.get("strategies", ["*"])), config))
    if not out:
        raise ValueError("no committee configured")
    return out


@dataclass
class AgentsService:
    settings: AgentsSettings
    clock: Clock
    factory: EventFactory
    agents: dict[str, Agent]
    committees: list[tuple[list[str], CommitteeConfig]]
    metrics: Metrics
    ctx: MarketContext = field(default_factory=MarketContext)
    decisions: deque[dict[str, Any]] = field(default_factory=deque)
    health: dict[str, str] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    bus: EventBus | None = None
    consumers: list[Consumer] = field(default_factory=list)
    ready: bool = False

    def committee_for(self, strategy_id: str) -> CommitteeConfig:
        for strategies, config in self.committees:
            if "*" in strategies or strategy_id in strategies:
                return config
        return self.committees[0][1]

    async def on_signal(self, signal: SignalEvent) -> list[Event]:
        """Run the committee on one signal; publish every analysis and at most one proposal."""
        async with self.lock:
            if isinstance(self.clock, ManualClock):
                self.clock.advance_to(signal.ts_event)
            started = time.perf_counter()
            if signal.bar is not None:
                self.ctx.add_bar(
                    signal.instrument_id,
                    Bar(signal.ts_event, signal.bar.open, signal.bar.high, signal.bar.low, signal.bar.close),
                )
            config = self.committee_for(signal.strategy_id)
            now = signal.ts_event  # decision time is the event clock: point in time
            views, dropped, analyses = {}, {}, {}
            for member in config.members:
                agent = self.agents.get(member.agent_id)
                if agent is None:
                    dropped[member.agent_id] = "not configured"
                    continue
                t0 = time.perf_counter()
                try:
                    view = await asyncio.wait_for(
                        asyncio.to_thread(agent.analyze, signal, self.ctx, now), config.deadline_s
                    )
                except TimeoutError:
                    dropped[member.agent_id] = f"deadline {config.deadline_s}s"
                    self.metrics.counter("agent_dropped_total").labels(member.agent_id, "deadline").inc()
                    view = Analysis.abstain(f"dropped: missed the {config.deadline_s}s deadline")
                except Exception as exc:
                    dropped[member.agent_id] = f"error: {exc!r}"[:200]
                    self.metrics.counter("agent_dropped_total").labels(member.agent_id, "error").inc()
                    log.exception("agent_failed", agent_id=member.agent_id)
                    view = Analysis.abstain(f"dropped: {exc!r}"[:200])
                elapsed = time.perf_counter() - t0
                self.metrics.histogram("agent_latency_seconds").labels(member.agent_id).observe(elapsed)
                views[member.agent_id] = view
                latency = None if self.settings.replay_mode else Decimal(str(round(elapsed * 1000, 3)))
                analyses[member.agent_id] = analysis_event(
                    self.factory, signal, member.agent_id, agent.kind if agent else "rule", view, latency
                )
                self.metrics.counter("decisions_total").labels(
                    member.agent_id, "abstained" if view.abstained else str(view.stance)
                ).inc()
            current = self.ctx.position_at(signal.account_id, signal.instrument_id, now)
            proposal, reason = decide(
                self.factory,
                signal,
                config,
                views,
                analyses,
                dropped,
                current,
                signal.price or self.ctx.price_at(signal.instrument_id, now),
            )
            out: list[Event] = list(analyses.values()) + ([proposal] if proposal else [])
            for event in out:
                if self.bus is not None:
                    await self.bus.publish(event)
            if proposal is not None:
                self.metrics.counter("proposals_total").labels(config.name).inc()
                self.metrics.histogram("signal_to_proposal_seconds").labels(config.name).observe(
                    time.perf_counter() - started
                )
                # The position will change once exec-sim fills; assume the target until it says otherwise.
            else:
                self.metrics.counter("no_proposal_total").labels(config.name).inc()
            self._remember(signal, config, analyses, proposal, reason)
            log.info(
                "decision", signal_id=signal.event_id, proposal=proposal.event_id if proposal else None, reason=reason
            )
            return out

    def _remember(
        self, signal: SignalEvent, config: CommitteeConfig, analyses: dict, proposal: Any, reason: str
    ) -> None:
        self.decisions.append(
            {
                "signal_event_id": signal.event_id,
                "correlation_id": signal.correlation_id,
                "instrument_id": signal.instrument_id,
                "account_id": signal.account_id,
                "strategy_id": signal.strategy_id,
                "committee": config.name,
                "rule": config.rule,
                "reason": reason,
                "proposal": proposal.model_dump(mode="json") if proposal else None,
                "analyses": [a.model_dump(mode="json") for a in analyses.values()],
            }
        )
        while len(self.decisions) > self.settings.decisions_kept:
            self.decisions.popleft()


def build(settings: AgentsSettings, clock: Clock | None = None) -> AgentsService:
    clock = clock or (ManualClock() if settings.replay_mode else WallClock())
    catalog = InstrumentCatalog()
    agents: dict[str, Agent] = {
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
        "session_guard": SessionGuard(),
    }
    factory = EventFactory("agents", clock, IdGenerator(clock, random.Random(settings.seed)))
    service = AgentsService(
        settings, clock, factory, agents, load_committees(settings.committees_file), CATALOG.build()
    )
    service.health = dict.fromkeys(agents, "ok")
    return service


async def start(svc: AgentsService) -> None:
    svc.bus = await EventBus.from_settings(svc.settings, service="agents", metrics=svc.metrics)
    await svc.bus.ensure_streams(replicas=svc.settings.nats_stream_replicas)
    p = svc.settings.durable_prefix

    async def on_signal(event: Event, _: Delivery) -> None:
        if isinstance(event, SignalEvent):
            await svc.on_signal(event)

    async def on_context(event: Event, _: Delivery) -> None:
        if event.event_type == "market_data":
            svc.ctx.on_market_data(event)  # type: ignore[arg-type]
        elif event.event_type == "position":
            svc.ctx.on_position(event)  # type: ignore[arg-type]
        elif event.event_type == "account_state":
            svc.ctx.on_account(event)  # type: ignore[arg-type]

    svc.consumers.append(
        await svc.bus.consume(subjects.MARKET_DATA, on_context, durable=f"{p}-md", ack_wait_s=svc.settings.ack_wait_s)
    )
    svc.consumers.append(
        await svc.bus.consume(
            subjects.POSITIONS, on_context, durable=f"{p}-positions", ack_wait_s=svc.settings.ack_wait_s
        )
    )
    svc.consumers.append(
        await svc.bus.consume(
            subjects.ACCOUNTS, on_context, durable=f"{p}-accounts", ack_wait_s=svc.settings.ack_wait_s
        )
    )
    svc.consumers.append(
        await svc.bus.consume(subjects.SIGNALS, on_signal, durable=f"{p}-signals", ack_wait_s=svc.settings.ack_wait_s)
    )
    svc.ready = True


async def stop(svc: AgentsService) -> None:
    svc.ready = False
    if svc.bus is not None:
        await svc.bus.close()
