"""Accounts and rule profiles, loaded from versioned YAML (shipped defaults or a configured file)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from at_core.constants import SIM_VENUE
from at_core.models.risk import RiskProfile


@dataclass(frozen=True, slots=True)
class AccountConfig:
    account_id: str
    profile: RiskProfile
    venue: str = SIM_VENUE  # where its orders go: the simulated venue, or a configured adapter
    live: bool = False  # may trade a real-money account at its venue (the venue's settings must allow it too)
    #: exec-sim places and manages bracket children at this account's venue (set by bootstrap for
    #: venues whose adapters cancel and modify them there: ProjectX, Tradovate)
    brackets_at_venue: bool = False


def load_profiles(directory: Path | None = None) -> dict[str, RiskProfile]:
    """Every ``*.yaml`` profile in ``directory`` (default: the shipped ones)."""
    out: dict[str, RiskProfile] = {}
    if directory is None:
        files = [f for f in resources.files("at_exec_sim.data.profiles").iterdir() if f.name.endswith(".yaml")]
        texts = [f.read_text() for f in files]
    else:
        texts = [p.read_text() for p in sorted(directory.glob("*.yaml"))]
    for text in texts:
        profile = RiskProfile.model_validate(yaml.safe_load(text))
        out[profile.profile_id] = profile
    return out


def load_accounts(accounts_file: Path | None, profiles: dict[str, RiskProfile]) -> dict[str, AccountConfig]:
    text = (
        accounts_file.read_text()
        if accounts_file
        else resources.files("at_exec_sim.data").joinpath("accounts.yaml").read_text()
    )
    data = yaml.safe_load(text) or {}
    out = {}
    for item in data.get("accounts", []):
        profile_id = item["profile"]
        if profile_id not in profiles:
            raise ValueError(f"account {item['account_id']}: unknown profile {profile_id!r}")
        live = item.get("live", False)
        if not isinstance(live, bool):
            raise ValueError(f"account {item['account_id']}: live must be true or false, not {live!r}")
        out[item["account_id"]] = AccountConfig(
            item["account_id"], profiles[profile_id], item.get("venue", SIM_VENUE), live
        )
    return out
