"""The committees YAML: committees, LLM providers, LLM agents and the global budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from at_agents.adapters.committee_schema import parse_committees
from at_agents.adapters.llm.providers import ProviderConfig
from at_agents.domain.budget import Budget
from at_agents.domain.committee import RULES, CommitteeConfig, Member
from at_agents.domain.debate import DebateConfig
from at_agents.domain.llm_analyst import LlmAgentSpec, Prompt
from at_agents.errors import ConfigError


@dataclass(frozen=True)
class CommitteeFile:
    committees: list[tuple[list[str], CommitteeConfig]]
    providers: list[ProviderConfig] = field(default_factory=list)
    llm_agents: list[LlmAgentSpec] = field(default_factory=list)
    global_budget: Budget = field(default_factory=Budget)


def _budget(raw: dict[str, Any] | None) -> Budget:
    raw = raw or {}
    dec = {k: Decimal(str(raw[k])) for k in ("cost_per_hour", "cost_per_day") if raw.get(k) is not None}
    ints = {k: int(raw[k]) for k in ("tokens_per_hour", "tokens_per_day") if raw.get(k) is not None}
    return Budget(**ints, **dec)


def _debate(raw: dict[str, Any], rule: str, llm_agents: set[str]) -> DebateConfig | None:
    """The ``debate:`` section of a ``rule: debate`` committee (bull, bear and judge are LLM agents)."""
    where = f"committees.{raw.get('name')}.debate"
    section = raw.get("debate")
    if rule != "debate":
        if section is not None:
            raise ConfigError(where, "a debate section needs rule: debate")
        return None
    if not isinstance(section, dict):
        raise ConfigError(where, "rule: debate needs a debate section (bull, bear, judge)")
    roles = {r: section.get(r) for r in ("bull", "bear", "judge")}
    for role, agent in roles.items():
        if agent not in llm_agents:
            raise ConfigError(where, f"{role} {agent!r} is not one of llm_agents")
    if len(set(roles.values())) != 3:
        raise ConfigError(where, "bull, bear and judge must be three different agents")
    budget = section.get("budget") or {}
    rounds = int(section.get("rounds", 2))
    if not 1 <= rounds <= 10:
        raise ConfigError(where, f"rounds must be 1..10, got {rounds}")
    return DebateConfig(
        bull=roles["bull"],
        bear=roles["bear"],
        judge=roles["judge"],
        rounds=rounds,
        deadline_s=float(section.get("deadline_s", raw.get("deadline_s", 60.0))),
        max_tokens=int(budget["tokens"]) if budget.get("tokens") is not None else None,
        max_cost=Decimal(str(budget["cost"])) if budget.get("cost") is not None else None,
    )


def load_prompt(ref: str, base: Path | None) -> Prompt:
    """A prompt file: a path relative to the YAML, or a shipped one (``analyst`` -> data/prompts/analyst.md)."""
    path = (base / ref) if base is not None else None
    if path is not None and path.is_file():
        return Prompt(path.stem, path.read_text())
    shipped = resources.files("at_agents.data").joinpath("prompts", f"{ref}.md")
    if not shipped.is_file():
        raise ConfigError("prompt", f"no prompt file {ref!r}")
    return Prompt(ref, shipped.read_text())


def load_committee_file(path: str | None) -> CommitteeFile:
    """Parse and check the file (the shipped rule-only committee when ``path`` is None).

    Raises:
        ConfigError: an unknown rule, provider or member, or no committee.
    """
    if path:
        try:
            text, base = Path(path).read_text(), Path(path).parent
        except OSError as exc:
            raise ConfigError(path, f"cannot read: {exc.strerror or exc}") from exc
        name = path
    else:
        text, base = resources.files("at_agents.data").joinpath("committees.yaml").read_text(), None
        name = "<shipped committees.yaml>"
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(name, f"not valid YAML: {exc}") from exc
    parse_committees(name, doc)  # the shape, strictly: a typo names the file, the committee and the field
    providers = [ProviderConfig(**p) for p in doc.get("providers", [])]
    names = {p.name for p in providers}
    llm_agents = []
    for a in doc.get("llm_agents", []):
        for ref in (a["provider"], a.get("fallback")):
            if ref is not None and ref not in names:
                raise ConfigError(f"llm_agents.{a['agent_id']}", f"unknown provider {ref!r}")
        llm_agents.append(
            LlmAgentSpec(
                agent_id=a["agent_id"],
                provider=a["provider"],
                fallback=a.get("fallback"),
                prompt=load_prompt(a.get("prompt", "analyst"), base),
                budget=_budget(a.get("budget")),
                max_tokens_per_call=int(a.get("max_tokens_per_call", 6000)),
            )
        )
    committees = []
    for c in doc.get("committees", []):
        rule = c.get("rule", "weighted_mean")
        if rule not in RULES:
            raise ConfigError(f"committees.{c.get('name')}", f"unknown rule {rule!r}")
        members = tuple(
            Member(m["agent_id"], Decimal(str(m.get("weight", "1"))), bool(m.get("veto", False))) for m in c["members"]
        )
        debate = _debate(c, rule, {a.agent_id for a in llm_agents})
        if debate is not None and debate.judge not in {m.agent_id for m in members}:
            members += (Member(debate.judge),)  # the judge's verdict is the committee's vote
        config = CommitteeConfig(
            name=c["name"],
            members=members,
            rule=rule,
            threshold=Decimal(str(c.get("threshold", "0.2"))),
            deadline_s=float(c.get("deadline_s", 5.0)),
            max_quantity={k: Decimal(str(v)) for k, v in (c.get("max_quantity") or {}).items()},
            debate=debate,
        )
        committees.append((list(c.get("strategies", ["*"])), config))
    if not committees:
        raise ConfigError("committees", "no committee configured")
    return CommitteeFile(committees, providers, llm_agents, _budget(doc.get("global_budget")))
