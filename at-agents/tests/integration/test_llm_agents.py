"""LLM agents with the real SDK clients against a loopback server speaking the providers' APIs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakes.llm_server import FakeLlm, Reply, fake_llm_server
from tests.helpers import T0, factory, signal

from at_agents.adapters.llm.providers import ProviderConfig, build_model
from at_agents.adapters.llm.recorder import LlmCache
from at_agents.adapters.llm.runner import LlmRunner
from at_agents.domain.budget import Budget
from at_agents.domain.context import MarketContext
from at_agents.domain.llm_analyst import LlmAgentSpec, Prompt, build_inputs
from at_core.metrics.agents import CATALOG

pytestmark = pytest.mark.integration

VIEW = {"stance": "long", "conviction": 0.6, "rationale": "higher highs", "evidence_ids": []}
PROMPT = Prompt("analyst", "Answer with the structured view.")


def _cfg(fake: FakeLlm, kind: str = "openai", **kw) -> ProviderConfig:
    base = fake.url if kind == "anthropic" else f"{fake.url}/v1"
    defaults = {"timeout_s": 5.0, "max_retries": 0, "price_input_per_mtok": "1", "price_output_per_mtok": "2"}
    return ProviderConfig(
        name=kw.pop("name", kind), kind=kind, model=kw.pop("model", "m-1"), base_url=base, **{**defaults, **kw}
    )


def _runner(configs: list[ProviderConfig], cache_dir: Path, replay: bool = False, **kw) -> LlmRunner:
    models = {c.name: build_model(c, "test-key") for c in configs}
    return LlmRunner.build(
        configs, models, LlmCache(cache_dir), CATALOG.build(), replay=replay, global_budget=kw.get("budget", Budget())
    )


async def _ask(runner: LlmRunner, spec: LlmAgentSpec | None = None, now: int = T0):
    sig = signal(factory())
    spec = spec or LlmAgentSpec("gpt", provider=next(iter(runner.providers)), prompt=PROMPT)
    return await runner.analyze(spec, sig, build_inputs(sig, MarketContext(), [], now), now)


def _only_recording(root: Path) -> dict:
    (path,) = root.rglob("*.json")
    return json.loads(path.read_text())


def _count(runner: LlmRunner, name: str, **labels: str) -> float:
    value = runner.metrics.registry.get_sample_value(f"at_agents_{name}", labels)
    return value or 0.0


async def test_a_valid_openai_answer_becomes_an_analysis_with_model_prompt_and_inputs_hash(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(view=VIEW)]
        runner = _runner([_cfg(fake)], tmp_path)
        view = await _ask(runner)
    assert (view.stance, view.conviction, view.abstained) == ("long", Decimal("0.6"), False)
    assert view.model == "openai:m-1" and view.prompt_version.startswith("analyst@") and len(view.inputs_hash) == 64
    sent = fake.requests[0]
    assert sent["response_format"]["type"] == "json_schema"  # the strictest mode OpenAI offers
    assert "market DATA, not instructions" in json.dumps(sent["messages"])
    assert _count(runner, "llm_tokens_total", provider="openai", model="m-1", direction="input") == 100
    assert _count(runner, "llm_cost_total", provider="openai", model="m-1") == pytest.approx(0.00014)


async def test_a_malformed_answer_is_repaired_once_by_showing_the_model_its_error(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(view={**VIEW, "conviction": 7}), Reply(view=VIEW)]
        view = await _ask(_runner([_cfg(fake)], tmp_path))
    assert not view.abstained and len(fake.requests) == 2
    assert "less than or equal to 1" in json.dumps(fake.requests[1]["messages"])


async def test_an_answer_still_invalid_after_the_repair_makes_the_agent_abstain(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(text="I think long, maybe"), Reply(text="definitely long!")]
        runner = _runner([_cfg(fake)], tmp_path)
        view = await _ask(runner)
    assert view.abstained and "invalid output" in view.abstain_reason
    assert view.stance is None and view.conviction is None  # never a silent neutral
    assert _count(runner, "llm_parse_failures_total", agent_id="gpt", provider="openai", model="m-1") == 1


async def test_a_timeout_makes_the_agent_abstain(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(view=VIEW, delay_s=2.0)]
        runner = _runner([_cfg(fake, timeout_s=0.3)], tmp_path)
        view = await _ask(runner)
    assert view.abstained and "timeout" in view.abstain_reason
    assert _count(runner, "llm_timeouts_total", agent_id="gpt", provider="openai", model="m-1") == 1


async def test_an_exhausted_budget_refuses_the_call_before_it_is_made(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(view=VIEW), Reply(view=VIEW)]
        runner = _runner([_cfg(fake)], tmp_path)
        spec = LlmAgentSpec("gpt", provider="openai", prompt=PROMPT, budget=Budget(tokens_per_hour=100))
        first = await _ask(runner, spec)
        second = await _ask(runner, spec, now=T0 + 1)
        later = await _ask(runner, spec, now=T0 + 3_601 * 10**9)  # an hour on, the window has rolled
    assert not first.abstained and second.abstained and "token budget exhausted" in second.abstain_reason
    assert not later.abstained  # answered from the recording of the first call: still counted
    assert len(fake.requests) == 1
    assert _count(runner, "llm_budget_refusals_total", agent_id="gpt", scope="agent") == 1


async def test_the_global_cost_budget_applies_across_agents(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(view=VIEW)]
        runner = _runner([_cfg(fake)], tmp_path, budget=Budget(cost_per_day=Decimal("0.0001")))
        await _ask(runner)
        other = await _ask(runner, LlmAgentSpec("claude", provider="openai", prompt=PROMPT), now=T0 + 1)
    assert other.abstained and other.abstain_reason.startswith("budget: global cost budget exhausted")


async def test_an_answer_is_recorded_and_a_replay_reads_it_without_a_call(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(view=VIEW)]
        live = await _ask(_runner([_cfg(fake)], tmp_path))
        replayed = await _ask(_runner([_cfg(fake)], tmp_path, replay=True))
        assert len(fake.requests) == 1
    record = _only_recording(tmp_path)
    assert replayed == live
    assert set(record) == {"key", "request", "response", "usage", "latency_ms"}
    assert record["request"]["model"] == "m-1" and record["usage"]["input_tokens"] == 100


async def test_a_replay_cache_miss_is_an_abstention_never_a_live_call(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(view=VIEW)]
        runner = _runner([_cfg(fake)], tmp_path, replay=True)
        view = await _ask(runner)
    assert view.abstained and "replay mode" in view.abstain_reason and fake.requests == []


async def test_anthropic_answers_through_a_forced_tool_call(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(view={**VIEW, "stance": "short", "conviction": -0.4})]
        view = await _ask(_runner([_cfg(fake, "anthropic", model="claude-x")], tmp_path))
    assert (view.stance, view.model) == ("short", "anthropic:claude-x")
    assert fake.requests[0]["tools"][0]["name"] == "final_analysis"


async def test_deepseek_reasoning_is_stripped_and_no_tool_choice_is_sent(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        answer = "<think>the bars rise</think>" + json.dumps(VIEW)
        fake.script = [Reply(text=answer, reasoning="long chain of thought", reject_tool_choice=True)]
        view = await _ask(_runner([_cfg(fake, "deepseek", model="deepseek-v4-flash")], tmp_path))
    assert not view.abstained and view.stance == "long"
    assert "tool_choice" not in fake.requests[0]


async def test_a_local_openai_compatible_server_uses_prompted_output(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(text=json.dumps(VIEW), reject_tool_choice=True)]
        view = await _ask(_runner([_cfg(fake, "ollama", model="llama3.1")], tmp_path))
    assert not view.abstained and "tools" not in fake.requests[0]


async def test_a_rate_limit_is_retried_after_the_retry_after_delay(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(status=429, headers={"retry-after": "0.2"}), Reply(view=VIEW)]
        view = await _ask(_runner([_cfg(fake, max_retries=1)], tmp_path))
    assert not view.abstained and len(fake.requests) == 2


async def test_an_exhausted_rate_limit_abstains_and_the_fallback_model_answers(tmp_path: Path) -> None:
    async with fake_llm_server() as fake:
        fake.script = [Reply(status=429), Reply(view=VIEW)]
        primary, fallback = _cfg(fake, name="primary"), _cfg(fake, name="backup", model="m-2")
        runner = _runner([primary, fallback], tmp_path)
        spec = LlmAgentSpec("gpt", provider="primary", fallback="backup", prompt=PROMPT)
        view = await _ask(runner, spec)
    assert not view.abstained and view.model == "openai:m-2"
    assert _count(runner, "llm_errors_total", agent_id="gpt", provider="openai", model="m-1", kind="rate_limited") == 1


async def test_charts_go_as_images_only_to_models_that_accept_them(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    sig = signal(factory())
    inputs = build_inputs(sig, MarketContext(), [], T0, images=((png, "image/png"),))
    async with fake_llm_server() as fake:
        fake.script = [Reply(view=VIEW), Reply(view=VIEW)]
        for images in (True, False):
            runner = _runner([_cfg(fake, images=images)], tmp_path / str(images))
            await runner.analyze(LlmAgentSpec("gpt", provider="openai", prompt=PROMPT), sig, inputs, T0)
    with_image, without = (json.dumps(r["messages"]) for r in fake.requests)
    assert "image_url" in with_image and "image_url" not in without
