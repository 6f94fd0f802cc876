"""What an account's trading state means for the operator: which rule, when it lifts, what to do. Pure.

Four kinds read differently on ``GET /account`` (``state``):

* ``active``: it trades.
* ``lock``: a routine stop that lifts by itself (a prop session's cutoff, until the session reopens).
* ``breach``: a rule of the account's profile broke (daily loss, trailing drawdown, static max loss).
  A soft breach (Topstep's daily loss limit) locks until the next trading day opens and lifts by
  itself; a hard one halts until an operator resumes it, and at a prop firm it fails the account.
* ``halt``: an operator's kill switch; lifts only when an operator resumes.

``reducing`` (only orders that reduce a position) is shown as ``reducing``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from at_core.models.enums import TradingState
from at_core.models.risk import BreachKind
from at_exec_sim.domain.records import SESSION_CUTOFF, AccountRuntime

#: The rule names a breach can carry (``RuleState.headroom``'s), as the operator reads them.
RULE_NAMES = {
    "daily_loss": "daily loss limit",
    "trailing_drawdown": "trailing drawdown",
    "static_max_loss": "static max loss",
}
RESUME_HOW = 'POST /resume {"account_id": "%s"} on exec-sim with an operator key'


def iso(ns: int | None) -> str | None:
    """Nanoseconds since the epoch as an ISO-8601 UTC time (None stays None)."""
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def explain(rt: AccountRuntime) -> dict[str, Any]:
    """The account's state as ``GET /account`` shows it under ``state``."""
    account_id, reason = rt.account.account_id, rt.state_reason
    base: dict[str, Any] = {
        "reason": reason or None,
        "rule": None,
        "message": rt.state_message or None,
        "since": iso(rt.state_since_ns),
        "lifts_at": iso(rt.locked_until_ns),
    }
    resume = RESUME_HOW % account_id
    if rt.state is TradingState.ACTIVE:
        return {**base, "kind": "active", "lifts": None, "operator_action": "none: it trades"}
    if rt.state is TradingState.REDUCING:
        return {
            **base,
            "kind": "reducing",
            "lifts": "when an operator resumes",
            "operator_action": f"only orders that reduce a position pass; to trade freely: {resume}",
        }
    if reason in RULE_NAMES:
        rule = RULE_NAMES[reason]
        soft = rt.state is TradingState.LOCKED_UNTIL and rt.rules.breach_kind(reason) is BreachKind.SOFT
        if soft:
            return {
                **base,
                "kind": "breach",
                "rule": reason,
                "severity": "soft",
                "lifts": f"by itself at {iso(rt.locked_until_ns)}, when the next trading day opens",
                "operator_action": f"nothing: the {rule} locked the account (positions were closed) until the next "
                f"trading day; to trade earlier (not allowed at the prop firm): {resume}",
            }
        return {
            **base,
            "kind": "breach",
            "rule": reason,
            "severity": "hard",
            "lifts": "only when an operator resumes",
            "operator_action": f"the {rule} broke (positions were closed); at a prop firm this fails the account. "
            f"Review the trades; to trade this simulated account again: {resume}",
        }
    if rt.state is TradingState.LOCKED_UNTIL:
        routine = reason == SESSION_CUTOFF
        return {
            **base,
            "kind": "lock",
            "lifts": f"by itself at {iso(rt.locked_until_ns)}" + (", when the session reopens" if routine else "")
            if rt.locked_until_ns is not None
            else "when an operator resumes",
            "operator_action": "nothing: the session is closed; it reopens by itself"
            if routine
            else f"nothing, or to lift it now: {resume}",
        }
    who = "the operator's kill switch" if reason == "kill_switch" else (reason.replace("_", " ") or "a halt")
    return {
        **base,
        "kind": "halt",
        "lifts": "only when an operator resumes",
        "operator_action": f"halted by {who}; when it is safe to trade again: {resume}",
    }
