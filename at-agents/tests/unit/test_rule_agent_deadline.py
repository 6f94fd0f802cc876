"""Rule agents under the committee's deadline, inline (on the loop) or in a worker thread: a slow
or failing one is dropped from the decision, the others decide, and the drill (deadline 0) drops all."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

from tests.helpers import T0, factory, signal

from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_agents.domain.analysis import Analysis
from at_agents.domain.committee import CommitteeConfig, Member
from at_core.clock import ManualClock
from at_core.events import Event, TradeProposalEvent


class Sleeper:
    """Blocks ``seconds`` (a runaway computation), then agrees with the follower."""

    kind = "rule"

    def __init__(self, agent_id: str, seconds: float, inline: bool) -> None:
        self.agent_id, self.seconds, self.inline = agent_id, seconds, inline
        self.thread: str | None = None
        self.finished = threading.Event()

    def analyze(self, signal, ctx, now_ns):  # type: ignore[no-untyped-def]
        self.thread = threading.current_thread().name
        time.sleep(self.seconds)
        self.finished.set()
        return Analysis(stance="long", conviction=Decimal(1), rationale="late but sure")


class Broken:
    agent_id, kind, inline = "broken", "rule", True

    def analyze(self, signal, ctx, now_ns):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("a bug in the agent")


def _decide(extra: list, deadline_s: float = 0.2) -> tuple[list[Event], dict[str, str | None]]:
    return asyncio.run(_decide_async(extra, deadline_s))


async def _decide_async(extra: list, deadline_s: float) -> tuple[list[Event], dict[str, str | None]]:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    for agent in extra:
        svc.agents[agent.agent_id] = agent
    members = (Member("signal_follower"), *(Member(a.agent_id) for a in extra))
    svc.committees = [(["*"], CommitteeConfig("t", members, deadline_s=deadline_s))]
    out = await svc.on_signal(signal(factory()))
    proposal = out[-1]
    dropped = {v.agent_id: v.dropped_reason for v in proposal.votes} if isinstance(proposal, TradeProposalEvent) else {}
    return out, dropped


def test_the_shipped_rule_agents_run_on_the_loop_without_a_thread_hop() -> None:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    assert all(svc._runs_inline(a) for a in ("signal_follower", "trend_filter", "volatility_sizer", "session_guard"))


def test_an_inline_agent_that_overruns_the_deadline_is_dropped_and_the_others_decide() -> None:
    out, dropped = _decide([Sleeper("slow", 0.3, inline=True)])
    assert out[-1].event_type == "trade_proposal"
    assert dropped == {"signal_follower": None, "slow": "missed the 0.2s deadline"}
    slow = next(e for e in out if e.event_type == "agent_analysis" and e.agent_id == "slow")
    assert slow.abstained and "deadline" in slow.abstain_reason


def test_a_failing_inline_agent_is_dropped_with_its_error_and_the_others_decide() -> None:
    out, dropped = _decide([Broken()])
    assert out[-1].event_type == "trade_proposal"
    assert dropped["broken"] is not None and "ZeroDivisionError" in dropped["broken"]


def test_a_threaded_agent_is_dropped_at_the_deadline_without_waiting_for_it() -> None:
    agent = Sleeper("stuck", 1.0, inline=False)

    async def decide_then_look() -> tuple[dict[str, str | None], bool]:
        _, dropped = await _decide_async([agent], 0.2)
        return dropped, agent.finished.is_set()

    dropped, agent_had_finished = asyncio.run(decide_then_look())
    assert not agent_had_finished  # decided while the agent still ran, in its own thread
    assert agent.thread is not None and agent.thread != threading.main_thread().name
    assert dropped == {"signal_follower": None, "stuck": "missed the 0.2s deadline"}


def test_the_drill_deadline_of_zero_drops_every_agent_inline_or_threaded() -> None:
    out, _ = _decide([Sleeper("quick", 0.0, inline=False)], deadline_s=0.0)
    assert [e.event_type for e in out] == ["agent_analysis"] * 2  # no follower view: no proposal
    assert all(e.abstained and "deadline" in e.abstain_reason for e in out)
