"""Settings, one source of truth: .env.example and docker compose name only settings that exist."""

from __future__ import annotations

import re

import pytest
import yaml

from e2e.conftest import ROOT
from tools.env_example import ENV_EXAMPLE, render, settings_classes

SETTING = re.compile(r"^(AT_[A-Z0-9_]+)=", re.MULTILINE)


def test_env_example_lists_every_setting_with_its_default() -> None:
    assert ENV_EXAMPLE.read_text() == render(), "stale: run `.venv/bin/python tools/env_example.py`"


def test_every_setting_docker_compose_sets_is_a_real_setting() -> None:
    known = set(SETTING.findall(render()))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        names = env if isinstance(env, dict) else [item.split("=", 1)[0] for item in env]
        unknown = sorted(n for n in names if n.startswith("AT_") and n not in known)
        assert not unknown, f"{name} sets settings no service reads: {unknown}"


@pytest.mark.parametrize("service", ["gateway", "agents", "exec_sim", "obs"])
def test_every_service_starts_on_its_defaults(service: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here: the defaults alone
    for cls in settings_classes()[service]:
        cls()
