"""LLM agents inside a committee, with pydantic-ai's own test models: votes, deadline, replay."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from tests.helpers import T0, factory, signal

from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_core.clock import ManualClock
from at_core.events import PositionEvent
from at_core.models.enums import PositionSide, SignalAction
from at_core.models.portfolio import PositionSnapshot
from at_core.serialization import stream_sha256

VIEW = {"stance": "long", "conviction": 0.5, "rationale": "trend intact", "evidence_ids": []}


def _yaml(tmp: Path, deadline: float = 5.0) -> str:
    text = f"""
providers:
  - {{name: gpt, kind: openai, model: gpt-test, base_url: "http://127.0.0.1:9/v1", output_mode: tool}}
llm_agents:
  - {{agent_id: llm_analyst, provider: gpt, prompt: analyst}}
committees:
  - name: mixed
    strategies: ["*"]
    rule: weighted_mean
    deadline_s: {deadline}
    members:
      - {{agent_id: signal_follower, weight: "1"}}
      - {{agent_id: llm_analyst, weight: "1"}}
      - {{agent_id: session_guard, weight: "0", veto: true}}
"""
    path = tmp / "committees.yaml"
    path.write_text(text)
    return str(path)


def _run(tmp: Path, model, replay: bool = False, deadline: float = 5.0) -> list:  # type: ignore[no-untyped-def]
    settings = AgentsSettings(
        committees_file=_yaml(tmp, deadline), llm_cache_dir=str(tmp / "cache"), replay_mode=replay
    )
    svc = build(settings, ManualClock(T0), models={"gpt": model})
    return asyncio.run(svc.on_signal(signal(factory())))


def _answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(VIEW))])


def test_an_llm_agent_votes_with_model_prompt_version_and_inputs_hash(tmp_path: Path) -> None:
    out = _run(tmp_path, TestModel(custom_output_args=VIEW))
    llm = next(e for e in out if e.event_type == "agent_analysis" and e.agent_id == "llm_analyst")
    assert (llm.agent_kind, llm.stance, llm.model) == ("llm", "long", "openai:gpt-test")
    assert llm.prompt_version.startswith("analyst@") and len(llm.inputs_hash) == 64
    proposal = out[-1]
    assert proposal.event_type == "trade_proposal"
    assert {v.agent_id: v.stance for v in proposal.votes}["llm_analyst"] == "long"


def test_a_slow_llm_agent_is_dropped_at_the_deadline_and_the_others_decide(tmp_path: Path) -> None:
    async def slow(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        await asyncio.sleep(5)  # the model hangs: the committee's deadline is under test
        return _answer(messages, info)

    out = _run(tmp_path, FunctionModel(slow), deadline=0.2)
    llm = next(e for e in out if e.event_type == "agent_analysis" and e.agent_id == "llm_analyst")
    assert llm.abstained and "deadline" in llm.abstain_reason
    proposal = out[-1]
    assert proposal.event_type == "trade_proposal"
    assert {v.agent_id: v.dropped_reason for v in proposal.votes}["llm_analyst"] == "missed the 0.2s deadline"


def test_an_llm_that_disagrees_stops_the_proposal(tmp_path: Path) -> None:
    out = _run(tmp_path, TestModel(custom_output_args={**VIEW, "stance": "short", "conviction": -1}))
    assert [e.event_type for e in out] == ["agent_analysis"] * 3  # (0.8 - 1) / 2 is below the threshold


def test_a_replay_from_recordings_is_byte_identical_and_makes_no_call(tmp_path: Path) -> None:
    calls: list[int] = []

    def counting(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(1)
        return _answer(messages, info)

    live = _run(tmp_path, FunctionModel(counting))
    first = _run(tmp_path, FunctionModel(counting), replay=True)
    second = _run(tmp_path, FunctionModel(counting), replay=True)
    assert len(calls) == 1
    assert stream_sha256(first) == stream_sha256(second)
    pick = [e for e in (live, first) for e in e if getattr(e, "agent_id", "") == "llm_analyst"]
    assert pick[0].conviction == pick[1].conviction and pick[0].inputs_hash == pick[1].inputs_hash


def test_the_agents_listing_shows_llm_agents_with_provider_and_prompt_version(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from at_agents.main import create_app

    settings = AgentsSettings(committees_file=_yaml(tmp_path), llm_cache_dir=str(tmp_path / "cache"))
    app = create_app(settings, models={"gpt": TestModel()})
    listing = TestClient(app).get("/agents").json()  # no lifespan: the listing needs no connection
    llm = next(a for a in listing["agents"] if a["agent_id"] == "llm_analyst")
    assert llm["kind"] == "llm" and llm["provider"] == "gpt" and llm["prompt_version"].startswith("analyst@")


def test_a_fill_consumed_while_an_agent_thinks_does_not_change_the_position_decided_from(tmp_path: Path) -> None:
    """Long 3, "sell 1": the agents saw 3, so the proposal sells 1 to 2, even though the
    position consumer applied a fill (now long 1) before the committee finished."""
    settings = AgentsSettings(committees_file=_yaml(tmp_path), llm_cache_dir=str(tmp_path / "cache"))

    async def thinking(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        svc.ctx.on_position(_position(1))  # what the position consumer does meanwhile
        view = {**VIEW, "stance": "long", "conviction": -0.5, "rationale": "take some off"}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(view))])

    svc = build(settings, ManualClock(T0), models={"gpt": FunctionModel(thinking)})
    svc.ctx.on_position(_position(3))
    out = asyncio.run(svc.on_signal(signal(factory(), action=SignalAction.SELL, quantity="1")))
    proposal = out[-1]
    assert proposal.event_type == "trade_proposal", [getattr(e, "rationale", "") for e in out]
    assert (proposal.order.side, proposal.order.quantity, proposal.target_position) == ("sell", 1, 2)


def _position(quantity: int):  # type: ignore[no-untyped-def]
    snap = PositionSnapshot(
        account_id="paper-1",
        instrument_id="MES.CME",
        quantity=Decimal(quantity),
        side=PositionSide.LONG,
        avg_price=Decimal(5000),
        realized_pnl=Decimal(0),
        unrealized_pnl=Decimal(0),
        currency="USD",
        last_price=Decimal(5000),
    )
    return factory().make(PositionEvent, ts_event=T0 - 1, position=snap, change="changed")
