"""The profiles table of docs/RISK_RULES.md, built from the shipped profiles (a test keeps the two
in step: ``python -m tests.profile_table`` from at-exec-sim/ prints it)."""

from __future__ import annotations

from decimal import Decimal

from at_core.models.risk import RiskProfile, RuleSource
from at_exec_sim.domain.accounts import load_profiles

HEADER = (
    "| profile | start | daily loss | trailing / max loss | contracts | scaling plan (end-of-day profit) "
    "| micros | products | session | automation | sources |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def _n(x: Decimal) -> str:
    return f"{x:,.0f}" if x == x.to_integral_value() else f"{x:,}"


def _src(s: RuleSource | None) -> str | None:
    if s is None:
        return None
    return ("assumption: " if s.assumption else "") + s.source


def row(p: RiskProfile) -> str:
    """One profile's row."""
    lim = p.limits
    dl = lim.daily_loss
    daily = (
        f"{_n(dl.amount)} ({dl.breach}; ref {dl.reference_basis}, measured {dl.basis}; "
        f"resets {dl.reset_time:%H:%M} {dl.timezone})"
        if dl
        else "—"
    )
    if lim.trailing_drawdown:
        t = lim.trailing_drawdown
        lock = "" if t.stop_trailing_at_offset is None else f", locks at start + {_n(t.stop_trailing_at_offset)}"
        loss = f"trailing {_n(t.amount)} on {t.basis}{lock}"
    elif lim.static_max_loss:
        loss = f"static {_n(lim.static_max_loss.amount)} ({lim.static_max_loss.basis})"
    else:
        loss = "—"
    contracts = _n(lim.max_total_position) if lim.max_total_position else "—"
    plan = lim.scaling_plan
    scaling = (
        ", ".join(
            [f"{_n(plan.base_contracts)}"]
            + [
                f"> {_n(t.profit_above)}: {_n(t.max_contracts)}"
                for t in sorted(plan.tiers, key=lambda t: t.profit_above)
            ]
        )
        if plan
        else "—"
    )
    micros = (
        ("10 = 1 mini" if lim.count_micros_as_minis else "1 = 1 contract") if p.firm and lim.product_allowlist else "—"
    )
    if lim.product_allowlist is not None:
        products = "futures roots listed"
    elif lim.instrument_allowlist is not None:
        products = f"{len(lim.instrument_allowlist)} instruments"
    else:
        products = "any"
    if lim.sessions:
        w = lim.sessions[0]
        session = f"{w.start:%H:%M}-{w.end:%H:%M} {w.timezone.split('/')[-1]}" + (
            f" on {w.calendar}" if w.calendar else ""
        )
    else:
        session = "around the clock"
    auto = ("yes" if p.automation_allowed else "no") + (
        " (assumption)" if p.automation_source is not None and p.automation_source.assumption else ""
    )
    rules = (dl, lim.trailing_drawdown, lim.static_max_loss, plan)
    sources = sorted({s for r in rules if r is not None and (s := _src(r.source)) is not None})
    if p.automation_source is not None:
        sources.append("automation: " + (_src(p.automation_source) or ""))
    return (
        f"| `{p.profile_id}` v{p.version} | {_n(p.starting_balance)} {p.currency} | {daily} | {loss} | {contracts} "
        f"| {scaling} | {micros} | {products} | {session} | {auto} | {'<br>'.join(sources) or 'house defaults'} |"
    )


def table() -> str:
    """The whole table, firms first in the shipped order (by firm, then size)."""
    profiles = load_profiles()
    order = sorted(
        profiles.values(), key=lambda p: (p.firm == "", p.firm, p.platform, p.starting_balance, p.profile_id)
    )
    return "\n".join([HEADER, *(row(p) for p in order)])


if __name__ == "__main__":
    print(table())
