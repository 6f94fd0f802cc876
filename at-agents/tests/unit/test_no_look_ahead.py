"""What an LLM is shown is built only from events at or before the signal's time.

The context below holds a bar, a chart and a memory entry from *after* the signal (a backtest's
data loaded ahead, or a market-data consumer that ran ahead of the signals): none may reach a
prompt, for the analyst or for any debate turn.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from tests.helpers import T0, factory, signal

from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_agents.domain.context import Bar, MarketContext
from at_agents.domain.llm_analyst import build_inputs
from at_agents.domain.memory import MemoryEntry, StrategyMemory
from at_core.clock import ManualClock

SEC = 10**9
LATER_CLOSE = "7777.25"  # appears only in the bar after the signal
VIEW = {"stance": "long", "conviction": 0.5, "rationale": "ok", "evidence_ids": []}


def _bars(ctx: MarketContext) -> None:
    for i, close in enumerate(("5000.25", "5001.50", "5002.75")):
        p = Decimal(close)
        ctx.add_bar("MES.CME", Bar(T0 - (3 - i) * 60 * SEC, p, p, p, p))
    later = Decimal(LATER_CLOSE)
    ctx.add_bar("MES.CME", Bar(T0 + 60 * SEC, later, later, later, later))


def test_the_inputs_hold_no_bar_after_the_signal() -> None:
    ctx = MarketContext()
    _bars(ctx)
    sig = signal(factory())
    inputs = build_inputs(sig, ctx, [], sig.ts_event)
    payload = json.loads(inputs.text.split("\n", 1)[1])
    assert [b[0] for b in payload["bars"]] == [T0 - 180 * SEC, T0 - 120 * SEC, T0 - 60 * SEC]
    assert LATER_CLOSE not in inputs.text and str(T0 + 60 * SEC) not in inputs.text


def _yaml(tmp: Path) -> str:
    text = """
providers:
  - {name: m, kind: openai, model: pit-test, base_url: "http://127.0.0.1:9/v1", output_mode: tool}
llm_agents:
  - {agent_id: llm_analyst, provider: m, prompt: analyst}
  - {agent_id: bull, provider: m, prompt: bull}
  - {agent_id: bear, provider: m, prompt: bear}
  - {agent_id: judge, provider: m, prompt: judge}
committees:
  - name: research
    strategies: ["*"]
    rule: debate
    debate: {bull: bull, bear: bear, judge: judge, rounds: 1}
    members:
      - {agent_id: signal_follower}
      - {agent_id: llm_analyst, weight: "0"}
      - {agent_id: session_guard, weight: "0", veto: true}
"""
    path = tmp / "committees.yaml"
    path.write_text(text)
    return str(path)


def test_no_llm_turn_is_shown_a_later_bar_chart_or_memory_entry(tmp_path: Path) -> None:
    shown: list[str] = []

    def capture(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        shown.append(repr(messages))  # everything the model was sent, instructions and data
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(VIEW))])

    settings = AgentsSettings(committees_file=_yaml(tmp_path), llm_cache_dir=str(tmp_path / "cache"))
    svc = build(settings, ManualClock(T0), models={"m": FunctionModel(capture)})
    _bars(svc.ctx)
    svc.charts["MES.CME"] = (T0 + 1, b"\x89PNG later chart", "image/png")
    later = MemoryEntry(kind="signal", ts_ns=T0 + 1, signal_event_id="0" * 26, account_id="paper-1", action="later-x")
    svc.memory[("s", "MES.CME")] = StrategyMemory(strategy_id="s", instrument_id="MES.CME").add(later, 10, 10)
    out = asyncio.run(svc.on_signal(signal(factory())))
    assert len([e for e in out if e.event_type == "agent_analysis" and e.agent_kind == "llm"]) == 4
    assert len(shown) == 4  # the analyst, bull, bear and judge each asked once
    for text in shown:
        assert LATER_CLOSE not in text and "later chart" not in text and "later-x" not in text
        assert "5002.75" in text  # the last bar before the signal is there
