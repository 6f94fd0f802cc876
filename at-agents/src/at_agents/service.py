"""The agents' service layer: one handler per input event, each returning the events it published.

Inputs (``consumers.py``): signals (run the committee: an analysis per agent, at most one
proposal), market data, positions and account states (the context agents decide on), and chart
snapshots (shown to LLM agents). Agents never publish or do I/O: this does. Rule agents that
declare themselves ``inline`` (the shipped four: pure, bounded work, microseconds) run on the
event loop, since a thread hop each cost more than they do; other rule agents run in a worker
thread, LLM agents through the :class:`LlmRunner`. Each is held to the committee's deadline, so
a slow or failing agent is dropped from that decision (counted, logged, and said in its
analysis): a threaded or LLM agent at the deadline, never blocking the others; an inline agent
when it returns (it cannot be interrupted) and its view is then discarded.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from at_agents.adapters.charts import fetch_chart
from at_agents.adapters.debate import Debate
from at_agents.adapters.llm.runner import LlmRunner
from at_agents.adapters.memory_store import MemoryStore
from at_agents.config import AgentsSettings
from at_agents.decision_log import DecisionRecord
from at_agents.domain.analysis import Agent, Analysis
from at_agents.domain.committee import CommitteeConfig, Member
from at_agents.domain.context import Bar, MarketContext
from at_agents.domain.debate import Turn
from at_agents.domain.decision import analysis_event, decide, id_time_ns, rule_analysis_event
from at_agents.domain.llm_analyst import LlmAgentSpec, LlmInputs, build_inputs
from at_agents.domain.memory import MemoryEntry, StrategyMemory
from at_core.clock import Clock, ManualClock
from at_core.events import (
    AccountStateEvent,
    AgentAnalysisEvent,
    BarData,
    ChartSnapshotEvent,
    Event,
    EventFactory,
    MarketDataBatchEvent,
    MarketDataEvent,
    PositionEvent,
    SignalEvent,
    TradeProposalEvent,
)
from at_core.metrics import Metrics
from at_core.runtime.bus import Consumer, EventBus
from at_core.runtime.logging import get_logger
from at_core.strategies.bar_signal_event import SignalTarget, bar_signal
from at_core.strategies.bar_signals import BarSignalGenerator, closed_bar

log = get_logger("at_agents")


@dataclass
class Votes:
    """What one committee round produced: every view, its analysis event, and who was dropped."""

    views: dict[str, Analysis] = field(default_factory=dict)
    analyses: dict[str, AgentAnalysisEvent] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    timed: list[tuple[str, float]] = field(default_factory=list)  # (member, seconds): observed after the publish


@dataclass
class BarSource:
    """One configured bar strategy (``AT_AGENTS_BAR_SIGNALS``): which bars it reads, its state, its target."""

    interval: str | None
    generator: BarSignalGenerator
    target: SignalTarget


@dataclass
class AgentsService:
    """The running service: agents, committees, the context and memory they read, the bus."""

    settings: AgentsSettings
    clock: Clock
    factory: EventFactory
    agents: dict[str, Agent]
    committees: list[tuple[list[str], CommitteeConfig]]
    metrics: Metrics
    llm_agents: dict[str, LlmAgentSpec] = field(default_factory=dict)
    llm: LlmRunner | None = None
    ctx: MarketContext = field(default_factory=MarketContext)
    bar_sources: dict[str, list[BarSource]] = field(default_factory=dict)  # by instrument id
    memory: dict[tuple[str, str], StrategyMemory] = field(default_factory=dict)
    memory_store: MemoryStore | None = None
    charts: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    decisions: deque[DecisionRecord] = field(default_factory=deque)
    health: dict[str, str] = field(default_factory=dict)
    labelled: dict[tuple[str, ...], Any] = field(default_factory=dict)  # metric children per labels
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    bus: EventBus | None = None
    consumers: list[Consumer] = field(default_factory=list)
    ready: bool = False

    async def handle(self, event: Event) -> list[Event]:
        """Hand one consumed event to its handler; the events published, in order."""
        handler = self._handlers().get(type(event))
        return await handler(event) if handler is not None else []

    def _handlers(self) -> dict[type[Event], Callable[[Any], Awaitable[list[Event]]]]:
        return {
            SignalEvent: self.on_signal,
            MarketDataEvent: self.on_market_data,
            MarketDataBatchEvent: self.on_market_data_batch,
            PositionEvent: self.on_position,
            AccountStateEvent: self.on_account,
            ChartSnapshotEvent: self.on_chart_snapshot,
        }

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
            votes = await self._vote(config, signal, ctx, now)
            current = ctx.position_at(signal.account_id, signal.instrument_id, now)
            reference = signal.price or ctx.price_at(signal.instrument_id, now)
            proposal, reason = decide(
                self.factory, signal, config, votes.views, votes.analyses, votes.dropped, current, reference
            )
            out: list[Event] = [*votes.analyses.values(), *([proposal] if proposal else [])]
            if self.bus is not None:  # in order, acks awaited together; a failure redelivers the signal
                await self.bus.publish_many(out)
            # what follows is off the proposal's path: metrics, decision log, memory, the log line
            self._count_votes(votes)
            self._count_outcome(config, proposal, started)
            self._record(signal, config, votes.analyses, proposal, reason, reference)
            await self._remember(signal, proposal, reason, reference, now)
            log.info(
                "decision", signal_id=signal.event_id, proposal=proposal.event_id if proposal else None, reason=reason
            )
            return out

    async def on_market_data(self, event: MarketDataEvent) -> list[Event]:
        """Context update (the instrument's last price and bar); a bar also feeds the bar strategies,
        whose direction changes are published as signals (before the bar is acked: a crash redelivers
        the bar, and its signal's derived id makes the second publish a duplicate)."""
        self.ctx.on_market_data(event)
        sources = self.bar_sources.get(event.instrument_id)
        if not sources or not isinstance(event.data, BarData):
            return []
        if isinstance(self.clock, ManualClock):
            self.clock.advance_to(event.ts_event)
        saved = [copy.deepcopy(source.generator) for source in sources]
        try:
            return await self._bar_signals(event, sources)
        except BaseException:  # not published: the bar is nak'd and comes again, to the state before it
            for source, generator in zip(sources, saved, strict=True):
                source.generator = generator
            raise

    async def on_market_data_batch(self, batch: MarketDataBatchEvent) -> list[Event]:
        """Each member in order, as if it had come alone (a backtest's bars between two barriers)."""
        out: list[Event] = []
        for event in batch.events:
            out += await self.on_market_data(event)
        return out

    async def _bar_signals(self, event: MarketDataEvent, sources: list[BarSource]) -> list[Event]:
        made: list[tuple[str, SignalEvent]] = []
        for source in sources:
            bar = closed_bar(event, source.interval)
            change = source.generator.on_bar(bar) if bar is not None else None
            if change is not None:
                made.append((source.target.name, bar_signal(self.factory, event, change, source.target)))
        out: list[Event] = [signal for _, signal in made]
        if out and self.bus is not None:
            await self.bus.publish_many(out)
        for name, signal in made:  # counted once published (a refused publish comes again with the bar)
            self.metrics.counter("bar_signals_total").labels(name).inc()
            log.info("bar_signal", bar_id=event.event_id, generator=name, signal_id=signal.event_id)
        return out

    async def on_account(self, event: AccountStateEvent) -> list[Event]:
        """Context update: the account's equity."""
        self.ctx.on_account(event)
        return []

    async def on_position(self, event: PositionEvent) -> list[Event]:
        """Context update, and resolution of the decisions whose position closed or flipped."""
        self.ctx.on_position(event)
        if event.change not in ("closed", "flipped"):
            return []
        snap = event.position
        for key, memory in list(self.memory.items()):
            if key[1] == snap.instrument_id:
                resolved = memory.resolve(snap, event.ts_event)
                if resolved is not memory:
                    await self._store(key, resolved)
        return []

    async def on_chart_snapshot(self, event: ChartSnapshotEvent) -> list[Event]:
        """Fetch the screenshot the event names (checked against its sha256) and keep it for LLM agents."""
        if self.bus is not None:
            self.on_chart(event, await fetch_chart(self.bus.js, event))
        return []

    def on_chart(self, event: ChartSnapshotEvent, data: bytes | None) -> None:
        """Keep a fetched screenshot (None: missing or not matching its hash, ignored)."""
        if data is not None:
            self.charts[event.instrument_id] = (event.ts_event, data, event.content_type)

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

    async def _vote(self, config: CommitteeConfig, signal: SignalEvent, ctx: MarketContext, now: int) -> Votes:
        """Every member's view (and the debate's turns), each under the committee's deadline."""
        judge = config.debate.judge if config.debate is not None else None
        members = [
            m
            for m in config.members
            if (m.agent_id in self.agents or m.agent_id in self.llm_agents) and m.agent_id != judge
        ]
        votes = Votes(
            dropped={m.agent_id: "not configured" for m in config.members if m not in members and m.agent_id != judge}
        )
        debate = asyncio.create_task(self._debate(config, signal, ctx, now)) if config.debate else None
        results: dict[str, Analysis | BaseException] = {}
        elapsed: dict[str, float] = {}
        waiting = [m for m in members if not self._runs_inline(m.agent_id)]
        id_ts_ns = id_time_ns(signal)  # the derived ids' time part, read once for every analysis
        t0 = time.perf_counter()
        tasks = [
            asyncio.create_task(asyncio.wait_for(self._run_agent(m.agent_id, signal, ctx, now), config.deadline_s))
            for m in waiting
        ]
        for m in members:  # before the tasks' first step: bounded pure work, microseconds each
            if m.agent_id not in results and self._runs_inline(m.agent_id):
                results[m.agent_id], elapsed[m.agent_id] = self._run_inline(m.agent_id, signal, ctx, now, config)
        if tasks:
            done = await asyncio.gather(*tasks, return_exceptions=True)
            took = time.perf_counter() - t0
            for m, result in zip(waiting, done, strict=True):
                results[m.agent_id], elapsed[m.agent_id] = result, took
        for member in members:  # in the committee's order, whichever way each ran
            self._member_view(
                votes, member, results[member.agent_id], signal, config, elapsed[member.agent_id], id_ts_ns
            )
        if debate is not None:
            for turn in await debate:  # the debate bounds itself (deadline, budget): it always returns
                self._turn_view(votes, turn, signal)
        return votes

    def _runs_inline(self, agent_id: str) -> bool:
        """A rule agent that declares itself ``inline`` (pure, bounded work) runs on the loop, no thread."""
        agent = self.agents.get(agent_id)
        return agent is not None and agent_id not in self.llm_agents and getattr(agent, "inline", False) is True

    def _run_inline(
        self, agent_id: str, signal: SignalEvent, ctx: MarketContext, now: int, config: CommitteeConfig
    ) -> tuple[Analysis | BaseException, float]:
        """One inline agent's view, or its error; a view later than the deadline is dropped like a
        threaded agent's (it cannot be interrupted, so the deadline is checked when it returns)."""
        started = time.perf_counter()
        try:
            result: Analysis | BaseException = self.agents[agent_id].analyze(signal, ctx, now)
        except Exception as exc:  # a failing agent is dropped from this decision, never the signal
            result = exc
        took = time.perf_counter() - started
        if took > config.deadline_s:
            log.warning("inline_agent_overran", agent_id=agent_id, seconds=round(took, 3))
            result = TimeoutError()
        return result, took

    def _member_view(
        self,
        votes: Votes,
        member: Member,
        result: Analysis | BaseException,
        signal: SignalEvent,
        config: CommitteeConfig,
        elapsed: float,
        id_ts_ns: int,
    ) -> None:
        """One member's view (abstaining when it missed the deadline or failed) and its analysis event;
        a drop is counted and logged here, its latency and stance once the proposal is published."""
        agent_id = member.agent_id
        if isinstance(result, TimeoutError):
            votes.dropped[agent_id] = f"missed the {config.deadline_s}s deadline"
            self.metrics.counter("agent_dropped_total").labels(agent_id, "deadline").inc()
            log.warning("agent_dropped", agent_id=agent_id, reason="deadline")
            view = Analysis.abstain(f"dropped: {votes.dropped[agent_id]}")
        elif isinstance(result, BaseException):
            votes.dropped[agent_id] = f"error: {result!r}"[:200]
            self.metrics.counter("agent_dropped_total").labels(agent_id, "error").inc()
            log.error("agent_failed", agent_id=agent_id, error=repr(result))
            view = Analysis.abstain(f"dropped: {result!r}"[:200])
        else:
            view = result
        votes.views[agent_id] = view
        votes.timed.append((agent_id, elapsed))
        latency = None if self.settings.replay_mode else Decimal(str(round(elapsed * 1000, 3)))
        if agent_id in self.llm_agents:  # an LLM's view stays validated
            votes.analyses[agent_id] = analysis_event(self.factory, signal, agent_id, "llm", view, latency)
        else:  # a rule agent's view was validated when made: its event is not validated again
            votes.analyses[agent_id] = rule_analysis_event(self.factory, signal, agent_id, view, latency, id_ts_ns)

    def _count_votes(self, votes: Votes) -> None:
        """Each member's health, latency and stance, once the proposal is on its way."""
        for agent_id, elapsed in votes.timed:
            view = votes.views[agent_id]
            self.health[agent_id] = "ok" if agent_id not in votes.dropped else "degraded"
            self._labelled("histogram", "agent_latency_seconds", agent_id).observe(elapsed)
            stance = "abstained" if view.abstained else str(view.stance)
            self._labelled("counter", "decisions_total", agent_id, stance).inc()

    def _turn_view(self, votes: Votes, turn: Turn, signal: SignalEvent) -> None:
        """One debate turn's view and analysis event, counted."""
        votes.views[turn.key] = turn.view
        votes.analyses[turn.key] = analysis_event(
            self.factory, signal, turn.agent_id, "llm", turn.view, turn.latency_ms, (turn.role, turn.round)
        )
        self.health[turn.agent_id] = "degraded" if turn.view.abstained else "ok"
        stance = "abstained" if turn.view.abstained else str(turn.view.stance)
        self.metrics.counter("decisions_total").labels(turn.agent_id, stance).inc()

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

    def _count_outcome(self, config: CommitteeConfig, proposal: TradeProposalEvent | None, started: float) -> None:
        if proposal is not None:
            self._labelled("counter", "proposals_total", config.name).inc()
            self._labelled("histogram", "signal_to_proposal_seconds", config.name).observe(
                time.perf_counter() - started
            )
        else:
            self._labelled("counter", "no_proposal_total", config.name).inc()

    def _labelled(self, kind: str, name: str, *labels: str) -> Any:
        """A metric's child for these labels, looked up once (agents, stances and committees are few)."""
        key = (name, *labels)
        child = self.labelled.get(key)
        if child is None:
            metric = self.metrics.counter(name) if kind == "counter" else self.metrics.histogram(name)
            child = self.labelled[key] = metric.labels(*labels)
        return child

    def _record(
        self,
        signal: SignalEvent,
        config: CommitteeConfig,
        analyses: dict[str, AgentAnalysisEvent],
        proposal: TradeProposalEvent | None,
        reason: str,
        reference: Decimal | None,
    ) -> None:
        fields = {
            "signal_event_id": signal.event_id,
            "correlation_id": signal.correlation_id,
            "ts_event": signal.ts_event,
            "instrument_id": signal.instrument_id,
            "account_id": signal.account_id,
            "strategy_id": signal.strategy_id,
            "committee": config.name,
            "rule": config.rule,
            "reason": reason,
        }
        self.decisions.append(DecisionRecord(fields, proposal, tuple(analyses.values())))  # dumped when read
        while len(self.decisions) > self.settings.decisions_kept:
            self.decisions.popleft()

    async def _remember(
        self, signal: SignalEvent, proposal: TradeProposalEvent | None, reason: str, reference: Any, now: int
    ) -> None:
        key = (signal.strategy_id, signal.instrument_id)
        realized = self.ctx.realized.get((signal.account_id, signal.instrument_id), Decimal(0))
        base = {"ts_ns": now, "signal_event_id": signal.event_id, "account_id": signal.account_id}
        seen = MemoryEntry(kind="signal", action=str(signal.action), target=signal.position_size, **base)
        decided = MemoryEntry(
            kind="decision",
            action="propose" if proposal else "none",
            target=proposal.target_position if proposal else None,
            reference_price=reference,
            proposal_event_id=proposal.event_id if proposal else None,
            rationale=(proposal.rationale if proposal else reason)[:500],
            realized_before=realized,
            **base,
        )
        memory = self.memory_for(*key).extend(
            (seen, decided), self.settings.memory_decisions_kept, self.settings.memory_signals_kept
        )
        await self._store(key, memory)

    async def _store(self, key: tuple[str, str], memory: StrategyMemory) -> None:
        self.memory[key] = memory  # the memory_entries gauge counts at scrape time (bootstrap.build)
        if self.memory_store is not None:
            await self.memory_store.save(memory)
