"""Runs a debate committee's turns through the LLM runner, under one deadline and one budget.

Each round's bull and bear turns run together (both see only the earlier rounds), then the judge.
The whole debate has one deadline: a turn gets what is left of it, and once it has passed every
remaining turn (the judge too) abstains with the reason, so the committee always gets its
transcript back in time, never an exception. The budget is checked before each round and
before the judge; a refused turn abstains, and a judge that abstains means no trade.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from at_agents.adapters.llm.runner import LlmRunner
from at_agents.domain.analysis import Analysis
from at_agents.domain.debate import DebateConfig, Role, Turn, budget_refusal, turn_inputs
from at_agents.domain.llm_analyst import LlmAgentSpec, LlmInputs
from at_core.events import SignalEvent
from at_core.runtime.logging import get_logger

log = get_logger("at_agents.debate")


class Debate:
    """One debate on one signal: the runner, the three agents' specs, the shared snapshot."""

    def __init__(
        self,
        runner: LlmRunner,
        specs: dict[str, LlmAgentSpec],
        config: DebateConfig,
        signal: SignalEvent,
        inputs: LlmInputs,
        now_ns: int,
        *,
        record_latency: bool = True,
    ) -> None:
        self.runner, self.specs, self.config = runner, specs, config
        self.signal, self.inputs, self.now_ns = signal, inputs, now_ns
        self.record_latency = record_latency
        self._end = asyncio.get_running_loop().time() + config.deadline_s

    async def run(self) -> list[Turn]:
        """Every turn in order (bull, bear per round, then the judge); never raises for a model's failure."""
        cfg = self.config
        turns: list[Turn] = []
        for round_ in range(1, cfg.rounds + 1):
            prior = tuple(turns)
            refusal = budget_refusal(cfg, prior)
            pair: list[tuple[Role, str]] = [("bull", cfg.bull), ("bear", cfg.bear)]
            done = await asyncio.gather(*(self._turn(role, agent, round_, prior, refusal) for role, agent in pair))
            turns.extend(done)
        turns.append(await self._turn("judge", cfg.judge, cfg.rounds + 1, tuple(turns), budget_refusal(cfg, turns)))
        return turns

    async def _turn(self, role: Role, agent_id: str, round_: int, prior: tuple[Turn, ...], refusal: str | None) -> Turn:
        if refusal is not None:
            return Turn(role, round_, agent_id, self._abstain(agent_id, f"budget: {refusal}"))
        remaining = self._end - asyncio.get_running_loop().time()
        if remaining <= 0:
            return Turn(role, round_, agent_id, self._abstain(agent_id, self._late()))
        spec = self.specs[agent_id]
        inputs = turn_inputs(self.inputs, role, round_, prior)
        started = time.perf_counter()
        try:
            view = await asyncio.wait_for(self.runner.analyze(spec, self.signal, inputs, self.now_ns), remaining)
        except TimeoutError:
            log.warning("debate_turn_late", agent_id=agent_id, role=role, round=round_)
            view = self._abstain(agent_id, self._late()).model_copy(update={"inputs_hash": inputs.inputs_hash})
        latency = Decimal(str(round((time.perf_counter() - started) * 1000, 3))) if self.record_latency else None
        return Turn(role, round_, agent_id, view, latency)

    def _late(self) -> str:
        return f"dropped: the debate's {self.config.deadline_s}s deadline passed"

    def _abstain(self, agent_id: str, reason: str) -> Analysis:
        spec = self.specs[agent_id]
        return Analysis.abstain(reason).model_copy(update={"prompt_version": spec.prompt.version})
