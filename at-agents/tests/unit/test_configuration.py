"""Configuration fails fast: unknown agents or providers, missing keys, unsafe production settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from at_agents.adapters.committee_file import load_committee_file
from at_agents.adapters.llm.providers import ProviderConfig, build_model
from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_agents.errors import ConfigError, ProviderConfigError


def _file(tmp: Path, text: str) -> str:
    path = tmp / "c.yaml"
    path.write_text(text)
    return str(path)


def test_the_shipped_committee_is_rule_agents_only() -> None:
    file = load_committee_file(None)
    assert file.providers == [] and file.llm_agents == []
    members = {m.agent_id for _, c in file.committees for m in c.members}
    assert members == {"signal_follower", "trend_filter", "volatility_sizer", "session_guard"}


def test_a_committee_naming_an_unknown_agent_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, "committees: [{name: c, members: [{agent_id: oracle}]}]")
    with pytest.raises(ConfigError, match="unknown agent 'oracle'"):
        build(AgentsSettings(committees_file=path))


def test_an_llm_agent_on_an_unknown_provider_is_refused(tmp_path: Path) -> None:
    text = "llm_agents: [{agent_id: a, provider: nope}]\ncommittees: [{name: c, members: [{agent_id: a}]}]"
    with pytest.raises(ConfigError, match="unknown provider"):
        load_committee_file(_file(tmp_path, text))


def test_a_hosted_provider_without_a_key_is_refused_but_a_local_one_needs_none() -> None:
    with pytest.raises(ProviderConfigError, match="DEEPSEEK_API_KEY"):
        build_model(
            ProviderConfig(name="d", kind="deepseek", model="deepseek-v4-pro", api_key_env="DEEPSEEK_API_KEY"), None
        )
    assert build_model(ProviderConfig(name="o", kind="ollama", model="llama3.1"), None).model_name == "llama3.1"


def test_replay_mode_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="replay_mode"):
        AgentsSettings(environment="production", replay_mode=True)
