"""Soft breaches: a lock that lifts by itself when the next trading day opens. Pure.

A soft breach (Topstep's daily loss limit) flattens the account and locks it until the next
trading day opens; unlike a hard breach (halted until an operator resumes), nobody has to act.
"""

from __future__ import annotations

from at_core.models.enums import TradingState
from at_core.models.risk import BreachKind
from at_exec_sim.domain.records import AccountRuntime

SOFT_BREACH_LIFTED = "soft_breach_lifted"


def soft_lock_expired(rt: AccountRuntime, now_ns: int) -> bool:
    """The account is locked by a soft breach whose lock time has come."""
    return (
        rt.state is TradingState.LOCKED_UNTIL
        and rt.state_reason is not None
        and rt.rules.breach_kind(rt.state_reason) is BreachKind.SOFT
        and rt.locked_until_ns is not None
        and now_ns >= rt.locked_until_ns
    )
