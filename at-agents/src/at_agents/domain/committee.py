"""How a committee's views combine into at most one proposal, and the rule-based gate that clamps size. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from at_agents.domain.analysis import Analysis
from at_agents.domain.debate import DebateConfig

RULES = ("weighted_mean", "vote", "unanimity", "debate")


@dataclass(frozen=True)
class Member:
    agent_id: str
    weight: Decimal = Decimal(1)
    veto: bool = False  # a designated risk manager: its veto stops the proposal


@dataclass(frozen=True)
class CommitteeConfig:
    name: str
    members: tuple[Member, ...]
    rule: str = "weighted_mean"
    threshold: Decimal = Decimal("0.2")
    deadline_s: float = 5.0
    max_quantity: dict[str, Decimal] = field(default_factory=dict)  # per asset class
    debate: DebateConfig | None = None  # rule "debate": bull and bear argue, the judge decides


@dataclass(frozen=True)
class Outcome:
    direction: int  # +1 buy, -1 sell, 0 none
    conviction: Decimal | None
    reason: str


def combine(config: CommitteeConfig, views: dict[str, Analysis]) -> Outcome:
    """Abstentions and dropped agents are ignored; a veto wins; then the configured rule."""
    for m in config.members:
        view = views.get(m.agent_id)
        if m.veto and view is not None and view.veto:
            return Outcome(0, Decimal(0), f"vetoed by {m.agent_id}: {view.rationale}")
    if config.rule == "debate" and config.debate is not None:
        return _judged(config, views.get(config.debate.judge))
    voting = [
        (m, views[m.agent_id])
        for m in config.members
        if m.agent_id in views
        and not views[m.agent_id].abstained
        and m.weight > 0
        and views[m.agent_id].conviction is not None
    ]
    if not voting:
        return Outcome(0, None, "no agent gave a view")
    if config.rule == "weighted_mean":
        total = sum((m.weight for m, _ in voting), Decimal(0))
        mean = sum((m.weight * v.conviction for m, v in voting), Decimal(0)) / total  # type: ignore[operator]
        mean = mean.quantize(Decimal("0.0001"))
        if abs(mean) < config.threshold:
            return Outcome(0, mean, f"weighted conviction {mean} below threshold {config.threshold}")
        return Outcome(1 if mean > 0 else -1, mean, f"weighted conviction {mean} of {len(voting)} agents")
    signs = [1 if v.conviction > 0 else -1 if v.conviction < 0 else 0 for _, v in voting]  # type: ignore[operator]
    if config.rule == "unanimity":
        if all(s == signs[0] for s in signs) and signs[0] != 0:
            return Outcome(signs[0], Decimal(signs[0]), f"unanimous among {len(signs)} agents")
        return Outcome(0, Decimal(0), "not unanimous")
    ups, downs = signs.count(1), signs.count(-1)
    if ups == downs:
        return Outcome(0, Decimal(0), f"vote tied {ups}-{downs}")
    return Outcome(1 if ups > downs else -1, Decimal(ups - downs) / len(signs), f"vote {ups} long, {downs} short")


def _judged(config: CommitteeConfig, verdict: Analysis | None) -> Outcome:
    """A debate decides by its judge alone: no verdict, no trade."""
    if verdict is None or verdict.abstained or verdict.conviction is None:
        reason = verdict.abstain_reason if verdict is not None else "no verdict"
        return Outcome(0, None, f"the judge gave no verdict: {reason}")
    conviction = verdict.conviction
    if abs(conviction) < config.threshold:
        return Outcome(0, conviction, f"judge's conviction {conviction} below threshold {config.threshold}")
    return Outcome(1 if conviction > 0 else -1, conviction, f"judge's conviction {conviction} after the debate")


def gate(
    quantity: Decimal, asset_class: str, config: CommitteeConfig, sizer_cap: Decimal | None
) -> tuple[Decimal, list[str]]:
    """Clamp the size to the sizer's cap and the committee's per-asset-class maximum; say every clamp."""
    clamps = []
    if sizer_cap is not None and quantity > sizer_cap:
        clamps.append(f"volatility sizer cap: {quantity} -> {sizer_cap}")
        quantity = sizer_cap
    cap = config.max_quantity.get(asset_class)
    if cap is not None and quantity > cap:
        clamps.append(f"{asset_class} max quantity: {quantity} -> {cap}")
        quantity = cap
    return quantity, clamps


def desired(views: dict[str, Analysis], follower_id: str) -> Analysis | None:
    view = views.get(follower_id)
    return None if view is None or view.abstained else view
