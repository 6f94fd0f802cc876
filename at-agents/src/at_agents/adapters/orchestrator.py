"""The runtime around the pure agents: runs a committee on a signal, publishes, remembers.

Agents never publish or do I/O: this does. Rule agents run in a worker thread, LLM agents through
the :class:`LlmRunner`; each under the committee's deadline, so a slow or failing agent is dropped
from that decision (counted, logged, and said in its analysis), never blocking the others.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from at_agents.adapters.debate import Debate
from at_agents.adapters.llm.runner import LlmRunner
from at_agents.adapters.memory_store import MemoryStore
from at_agents.config import AgentsSettings
from at_agents.domain.analysis import Agent, Analysis
from at_agents.domain.committee import CommitteeConfig
from at_agents.domain.context import Bar, MarketContext
from at_agents.domain.debate import Turn
from at_agents.domain.decision import analysis_event, decide
from at_agents.domain.llm_analyst import LlmAgentSpec, LlmInputs, build_inputs
from at_agents.domain.memory import MemoryEntry, StrategyMemory
from at_core.clock import Clock, ManualClock
from at_core.events import AgentAnalysisEvent, ChartSnapshotEvent, Event, EventFactory, PositionEvent, SignalEvent
from at_core.metrics import Metrics
from at_core.runtime.bus import Consumer, EventBus
from at_core.runtime.logging import get_logger

log = get_logger("at_agents")


@dataclass
class AgentsService:
    settings: AgentsSettings
    clock: Clock
    factory: EventFactory
    agents: dict[str, Agent]
    committees: list[tuple[list[str], CommitteeConfig]]
    metrics: Metrics
    llm_agents: dict[str, LlmAgentSpec] = field(default_factory=dict)
    llm: LlmRunner | None = None
    ctx: MarketContext = field(default_factory=MarketContext)
    memory: dict[tuple[str, str], StrategyMemory] = field(default_factory=dict)
    memory_store: MemoryStore | None = None
    charts: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
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

    def kind_of(self, agent_id: str) -> str:
        return "llm" if agent_id in self.llm_agents else "rule"

    def memory_for(self, strategy_id: str, instrument_id: str) -> StrategyMemory:
        return self.memory.get((strategy_id, instrument_id)) or StrategyMemory(
            strategy_id=strategy_id, instrument_id=instrument_id
        )

    async def _run_agent(self, agent_id: str, signal: SignalEvent, ctx: MarketContext, now: int) -> Analysis:
        spec = self.llm_agents.get(agent_id)
        if spec is not None:
            if self.llm is None:
                return Analysis.abstain("LLM runtime not configured")
            return await self.llm.analyze(spec, signal, self._llm_inputs(signal, ctx, now), now)
        return await asyncio.to_thread(self.agents[agent_id].analyze, signal, ctx, now)

    def _llm_inputs(self, signal: SignalEvent, ctx: MarketContext, now: int) -> LlmInputs:
        """What an LLM is shown: the snapshot as of ``now`` (bars, prices, memory, chart at or before it)."""
        chart = self.charts.get(signal.instrument_id)
        images = ((chart[1], chart[2]),) if chart is not None and chart[0] <= now else ()
        memory = self.memory_for(signal.strategy_id, signal.instrument_id).visible_at(now)
        return build_inputs(signal, ctx, memory, now, images)

    async def _debate(self, config: CommitteeConfig, signal: SignalEvent, ctx: MarketContext, now: int) -> list[Turn]:
        assert config.debate is not None
        d = config.debate
        if self.llm is None:
            return [Turn("judge", d.rounds + 1, d.judge, Analysis.abstain("LLM runtime not configured"))]
        specs = {a: self.llm_agents[a] for a in (d.bull, d.bear, d.judge)}
        inputs = self._llm_inputs(signal, ctx, now)
        return await Debate(self.llm, specs, d, signal, inputs, now, record_latency=not self.settings.replay_mode).run()

    async def on_signal(self, signal: SignalEvent) -> list[Event]:
        """Run the committee on one signal; publish every analysis and at most one proposal."""
        async with self.lock:
            if isinstance(self.clock, ManualClock):
                self.clock.advance_to(signal.ts_event)
            started = time.perf_counter()
            if signal.bar is not None:
                b = signal.bar
                self.ctx.add_bar(signal.instrument_id, Bar(signal.ts_event, b.open, b.high, b.low, b.close))
            config = self.committee_for(signal.strategy_id)
            now = signal.ts_event  # decision time is the event clock: point in time
            # One view for every agent and the decision: a fill consumed while an agent thinks
            # must not make the decision trade from another position than the agents saw.
            ctx = self.ctx.snapshot()
            judge = config.debate.judge if config.debate is not None else None
            members = [
                m
                for m in config.members
                if (m.agent_id in self.agents or m.agent_id in self.llm_agents) and m.agent_id != judge
            ]
            dropped = {m.agent_id: "not configured" for m in config.members if m not in members and m.agent_id != judge}
            t0 = time.perf_counter()
            debate = asyncio.create_task(self._debate(config, signal, ctx, now)) if config.debate else None
            tasks = [
                asyncio.create_task(asyncio.wait_for(self._run_agent(m.agent_id, signal, ctx, now), config.deadline_s))
                for m in members
            ]
            results = await asyncio.gather(*tasks, return_exceptions=True)
            elapsed = time.perf_counter() - t0
            views: dict[str, Analysis] = {}
            analyses: dict[str, AgentAnalysisEvent] = {}
            for member, result in zip(members, results, strict=True):
                agent_id = member.agent_id
                if isinstance(result, TimeoutError):
                    dropped[agent_id] = f"missed the {config.deadline_s}s deadline"
                    self.metrics.counter("agent_dropped_total").labels(agent_id, "deadline").inc()
                    log.warning("agent_dropped", agent_id=agent_id, reason="deadline")
                    view = Analysis.abstain(f"dropped: {dropped[agent_id]}")
                elif isinstance(result, BaseException):
                    dropped[agent_id] = f"error: {result!r}"[:200]
                    self.metrics.counter("agent_dropped_total").labels(agent_id, "error").inc()
                    log.error("agent_failed", agent_id=agent_id, error=repr(result))
                    view = Analysis.abstain(f"dropped: {result!r}"[:200])
                else:
                    view = result
                self.health[agent_id] = "ok" if agent_id not in dropped else "degraded"
                self.metrics.histogram("agent_latency_seconds").labels(agent_id).observe(elapsed)
                views[agent_id] = view
                latency = None if self.settings.replay_mode else Decimal(str(round(elapsed * 1000, 3)))
                analyses[agent_id] = analysis_event(
                    self.factory, signal, agent_id, self.kind_of(agent_id), view, latency
                )
                stance = "abstained" if view.abstained else str(view.stance)
                self.metrics.counter("decisions_total").labels(agent_id, stance).inc()
            if debate is not None:
                for turn in await debate:  # the debate bounds itself (deadline, budget): it always returns
                    views[turn.key] = turn.view
                    analyses[turn.key] = analysis_event(
                        self.factory, signal, turn.agent_id, "llm", turn.view, turn.latency_ms, (turn.role, turn.round)
                    )
                    self.health[turn.agent_id] = "degraded" if turn.view.abstained else "ok"
                    stance = "abstained" if turn.view.abstained else str(turn.view.stance)
                    self.metrics.counter("decisions_total").labels(turn.agent_id, stance).inc()
            current = ctx.position_at(signal.account_id, signal.instrument_id, now)
            reference = signal.price or ctx.price_at(signal.instrument_id, now)
            proposal, reason = decide(self.factory, signal, config, views, analyses, dropped, current, reference)
            out: list[Event] = [*analyses.values(), *([proposal] if proposal else [])]
            if self.bus is not None:  # in order, acks awaited together; a failure redelivers the signal
                await self.bus.publish_many(out)
            if proposal is not None:
                self.metrics.counter("proposals_total").labels(config.name).inc()
                self.metrics.histogram("signal_to_proposal_seconds").labels(config.name).observe(
                    time.perf_counter() - started
                )
            else:
                self.metrics.counter("no_proposal_total").labels(config.name).inc()
            self._record(signal, config, analyses, proposal, reason, reference)
            await self._remember(signal, proposal, reason, reference, now)
            log.info(
                "decision", signal_id=signal.event_id, proposal=proposal.event_id if proposal else None, reason=reason
            )
            return out

    def _record(
        self, signal: SignalEvent, config: CommitteeConfig, analyses: dict, proposal: Any, reason: str, ref: Any
    ) -> None:
        self.decisions.append(
            {
                "signal_event_id": signal.event_id,
                "correlation_id": signal.correlation_id,
                "ts_event": signal.ts_event,
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

    async def _remember(self, signal: SignalEvent, proposal: Any, reason: str, reference: Any, now: int) -> None:
        key = (signal.strategy_id, signal.instrument_id)
        realized = self.ctx.realized.get((signal.account_id, signal.instrument_id), Decimal(0))
        base = {"ts_ns": now, "signal_event_id": signal.event_id, "account_id": signal.account_id}
        memory = self.memory_for(*key)
        memory = memory.add(
            MemoryEntry(kind="signal", action=str(signal.action), target=signal.position_size, **base),
            self.settings.memory_decisions_kept,
            self.settings.memory_signals_kept,
        )
        memory = memory.add(
            MemoryEntry(
                kind="decision",
                action="propose" if proposal else "none",
                target=proposal.target_position if proposal else None,
                reference_price=reference,
                proposal_event_id=proposal.event_id if proposal else None,
                rationale=(proposal.rationale if proposal else reason)[:500],
                realized_before=realized,
                **base,
            ),
            self.settings.memory_decisions_kept,
            self.settings.memory_signals_kept,
        )
        await self._store(key, memory)

    async def _store(self, key: tuple[str, str], memory: StrategyMemory) -> None:
        self.memory[key] = memory
        self.metrics.gauge("memory_entries").set(sum(len(m.entries) for m in self.memory.values()))
        if self.memory_store is not None:
            await self.memory_store.save(memory)

    async def on_position(self, event: PositionEvent) -> None:
        """Context update, and resolution of the decisions whose position closed or flipped."""
        self.ctx.on_position(event)
        if event.change not in ("closed", "flipped"):
            return
        snap = event.position
        for key, memory in list(self.memory.items()):
            if key[1] == snap.instrument_id:
                resolved = memory.resolve(snap, event.ts_event)
                if resolved is not memory:
                    await self._store(key, resolved)

    def on_chart(self, event: ChartSnapshotEvent, data: bytes | None) -> None:
        if data is not None:
            self.charts[event.instrument_id] = (event.ts_event, data, event.content_type)
