"""The shipped LLM example configuration parses and wires (keys from a test environment)."""

from __future__ import annotations

from importlib import resources

import pytest

from at_agents.bootstrap import build
from at_agents.config import AgentsSettings


def test_the_llm_example_committee_builds_with_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY"):
        monkeypatch.setenv(var, "test-key")
    path = resources.files("at_agents.data").joinpath("committees.llm.example.yaml")
    svc = build(AgentsSettings(committees_file=str(path)))
    assert svc.llm is not None and set(svc.llm.providers) == {"gpt", "claude", "deepseek", "local"}
    assert svc.llm_agents["llm_analyst"].fallback == "deepseek"
    assert svc.llm.providers["deepseek"].config.mode == "prompted"


def test_the_local_model_committees_build_without_any_key() -> None:
    path = resources.files("at_agents.data").joinpath("committees.local.yaml")
    svc = build(AgentsSettings(committees_file=str(path)))
    assert svc.llm is not None and svc.llm.providers["local"].config.mode == "schema"
    debate = svc.committee_for("mes-trend")
    assert debate.rule == "debate" and debate.debate is not None and debate.debate.rounds == 2
    assert debate.debate.max_tokens == 20000 and "judge" in {m.agent_id for m in debate.members}
    assert svc.committee_for("fx-swing").name == "local-analyst"
