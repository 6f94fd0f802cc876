"""The committees YAML's shape as Pydantic models: unknown keys refused, errors naming the file,
the committee (or agent) and the field. ``committee_file.py`` builds the runtime objects from it.

Every key, with an example, is in the README ("The committees file").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from at_agents.adapters.llm.providers import ProviderConfig
from at_agents.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetDoc(_Strict):
    """Token and cost ceilings per hour and per day (an LLM agent's, or ``global_budget``)."""

    tokens_per_hour: int | None = Field(default=None, ge=0)
    tokens_per_day: int | None = Field(default=None, ge=0)
    cost_per_hour: Decimal | None = Field(default=None, ge=0)
    cost_per_day: Decimal | None = Field(default=None, ge=0)


class DebateBudgetDoc(_Strict):
    tokens: int | None = Field(default=None, ge=0)
    cost: Decimal | None = Field(default=None, ge=0)


class DebateDoc(_Strict):
    """A ``rule: debate`` committee's bull, bear and judge (three LLM agents)."""

    bull: str
    bear: str
    judge: str
    rounds: int = 2  # 1..10, checked with its own message by committee_file._debate
    deadline_s: float | None = Field(default=None, gt=0)
    budget: DebateBudgetDoc | None = None


class MemberDoc(_Strict):
    agent_id: str
    weight: Decimal = Decimal(1)
    veto: bool = False


class CommitteeDoc(_Strict):
    """One committee: its members, how their views combine, for which strategies."""

    name: str
    strategies: list[str] = Field(default_factory=lambda: ["*"])
    rule: str = "weighted_mean"
    threshold: Decimal = Decimal("0.2")
    #: 0 is a drill (every member misses it and the committee abstains: the deadline metrics and
    #: alert fire on purpose); below 0 is refused
    deadline_s: float = Field(default=5.0, ge=0)
    members: list[MemberDoc]
    max_quantity: dict[str, Decimal] = Field(default_factory=dict)
    debate: DebateDoc | None = None


class LlmAgentDoc(_Strict):
    agent_id: str
    provider: str
    fallback: str | None = None
    prompt: str = "analyst"
    budget: BudgetDoc | None = None
    max_tokens_per_call: int = Field(default=6000, gt=0)


class CommitteesDoc(_Strict):
    """The whole file."""

    committees: list[CommitteeDoc] = Field(default_factory=list)
    providers: list[ProviderConfig] = Field(default_factory=list)
    llm_agents: list[LlmAgentDoc] = Field(default_factory=list)
    global_budget: BudgetDoc | None = None


def _where(loc: tuple[Any, ...], doc: Any) -> str:
    """``committee default, field members.0.wieght`` from an error's location."""
    if len(loc) >= 2 and loc[0] in ("committees", "providers", "llm_agents") and isinstance(loc[1], int):
        items = doc.get(loc[0]) if isinstance(doc, dict) else None
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        key = "agent_id" if loc[0] == "llm_agents" else "name"
        name = item.get(key) if isinstance(item, dict) else None
        kind = {"committees": "committee", "providers": "provider", "llm_agents": "LLM agent"}[loc[0]]
        who = f"{kind} {name}" if name else f"{kind} #{loc[1] + 1}"
        return f"{who}, field {'.'.join(str(p) for p in loc[2:]) or '(entry)'}"
    return f"field {'.'.join(str(p) for p in loc) or '(top level)'}"


def parse_committees(file: str, doc: Any) -> CommitteesDoc:
    """The file's content checked against :class:`CommitteesDoc`.

    Raises:
        ConfigError: ``where`` is the file; the reason names the committee or agent and the field.
    """
    try:
        return CommitteesDoc.model_validate(doc if doc is not None else {})
    except ValidationError as exc:
        reasons = [
            f"{_where(tuple(e['loc']), doc)}: "
            + ("unknown key (typo?)" if e["type"] == "extra_forbidden" else e["msg"])
            for e in exc.errors()
        ]
        raise ConfigError(file, "; ".join(reasons)) from exc
