"""Accounts and rule profiles, loaded from versioned YAML (shipped defaults or configured files).

Both files are parsed with Pydantic models that refuse unknown keys, so a typo (``profle:``,
``venu: OANDA``) is an error naming the file, the account and the field, never a silent
default. Profiles: the shipped ones, then every ``*.yaml`` in ``profiles_dir`` on top (a file
there whose ``profile_id`` is a shipped one replaces it; two files there with one id are refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from at_core.constants import SIM_VENUE
from at_core.models.base import Identifier
from at_core.models.risk import RiskProfile
from at_exec_sim.errors import ConfigError

SHIPPED_ACCOUNTS = "<shipped accounts.yaml>"
SHIPPED_PROFILES = "<shipped profiles>"


@dataclass(frozen=True, slots=True)
class AccountConfig:
    account_id: str
    profile: RiskProfile
    venue: str = SIM_VENUE  # where its orders go: the simulated venue, or a configured adapter
    live: bool = False  # may trade a real-money account at its venue (the venue's settings must allow it too)
    #: exec-sim places and manages bracket children at this account's venue (set by bootstrap for
    #: venues whose adapters cancel and modify them there: ProjectX, Tradovate)
    brackets_at_venue: bool = False


class AccountEntry(BaseModel):
    """One account of the accounts file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: Identifier = Field(description="The id proposals and orders name (e.g. topstep-50k-1)")
    profile: Identifier = Field(description="The rule profile's profile_id (shipped or in profiles_dir)")
    venue: Identifier = Field(
        default=SIM_VENUE, description="SIM (the simulated venue), PAPER, or an external venue the settings enable"
    )
    live: bool = Field(
        default=False,
        description="May trade a real-money account at its venue (the venue's settings must allow live too)",
    )


class AccountsFile(BaseModel):
    """The accounts file: ``accounts:``, a list of :class:`AccountEntry`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accounts: list[AccountEntry] = Field(default_factory=list)


def _where(loc: tuple[Any, ...], doc: Any, key: str = "accounts") -> str:
    """``account paper-1, field profle`` from a validation error's location in the accounts file."""
    if len(loc) >= 2 and loc[0] == key and isinstance(loc[1], int):
        items = doc.get(key) if isinstance(doc, dict) else None
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        name = item.get("account_id") if isinstance(item, dict) else None
        who = f"account {name}" if name else f"account #{loc[1] + 1}"
        return f"{who}, field {'.'.join(str(p) for p in loc[2:]) or '(entry)'}"
    return f"field {'.'.join(str(p) for p in loc) or '(top level)'}"


def _explain(file: str, exc: ValidationError, doc: Any) -> ConfigError:
    lines = []
    for e in exc.errors():
        msg = "unknown key (typo?)" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{_where(tuple(e['loc']), doc)}: {msg}")
    return ConfigError(file, "; ".join(lines))


def _yaml(file: str, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(file, f"not valid YAML: {exc}") from exc


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from exc


def _profile(file: str, text: str) -> RiskProfile:
    doc = _yaml(file, text)
    try:
        return RiskProfile.model_validate(doc)
    except ValidationError as exc:
        pid = doc.get("profile_id") if isinstance(doc, dict) else None
        head = f"profile {pid}, " if pid else ""
        reasons = [
            f"{head}field {'.'.join(str(p) for p in e['loc']) or '(top level)'}: "
            + ("unknown key (typo?)" if e["type"] == "extra_forbidden" else e["msg"])
            for e in exc.errors()
        ]
        raise ConfigError(file, "; ".join(reasons)) from exc


def load_profiles(directory: Path | None = None) -> dict[str, RiskProfile]:
    """The shipped profiles, then every ``*.yaml`` in ``directory`` added on top (same id: replaces).

    Raises:
        ConfigError: naming the file (and the profile and field) that cannot be used.
    """
    out: dict[str, RiskProfile] = {}
    shipped = sorted(
        (f for f in resources.files("at_exec_sim.data.profiles").iterdir() if f.name.endswith(".yaml")),
        key=lambda f: f.name,
    )
    for f in shipped:
        profile = _profile(f"{SHIPPED_PROFILES}/{f.name}", f.read_text())
        out[profile.profile_id] = profile
    if directory is None:
        return out
    if not directory.is_dir():
        raise ConfigError(str(directory), "profiles_dir is not a directory")
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = _profile(str(path), _read(path))
        if profile.profile_id in seen:
            raise ConfigError(
                str(path), f"profile {profile.profile_id} is also defined in {seen[profile.profile_id].name}"
            )
        seen[profile.profile_id] = path
        out[profile.profile_id] = profile
    return out


def load_accounts(accounts_file: Path | None, profiles: dict[str, RiskProfile]) -> dict[str, AccountConfig]:
    """The accounts file (the shipped one when None), every account's profile resolved.

    Raises:
        ConfigError: naming the file, the account and the field (unknown key, unknown profile, duplicate id).
    """
    if accounts_file is None:
        name, text = SHIPPED_ACCOUNTS, resources.files("at_exec_sim.data").joinpath("accounts.yaml").read_text()
    else:
        name, text = str(accounts_file), _read(accounts_file)
    doc = _yaml(name, text)
    try:
        parsed = AccountsFile.model_validate(doc if doc is not None else {})
    except ValidationError as exc:
        raise _explain(name, exc, doc) from exc
    out: dict[str, AccountConfig] = {}
    for entry in parsed.accounts:
        if entry.account_id in out:
            raise ConfigError(name, f"account {entry.account_id} is listed twice")
        if entry.profile not in profiles:
            known = ", ".join(sorted(profiles))
            raise ConfigError(
                name, f"account {entry.account_id}, field profile: unknown profile {entry.profile!r} (known: {known})"
            )
        out[entry.account_id] = AccountConfig(entry.account_id, profiles[entry.profile], entry.venue, entry.live)
    return out
