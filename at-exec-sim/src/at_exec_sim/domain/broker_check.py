"""exec-sim's positions against a broker's (pure): what differs, by instrument.

A difference is a mismatch only when the same difference is seen on two checks in a row: a
fill the broker has and exec-sim books on the next reconciliation round is not an alarm.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal


def differences(ours: Mapping[str, Decimal], theirs: Mapping[str, Decimal]) -> dict[str, tuple[Decimal, Decimal]]:
    """Instrument id -> (exec-sim's signed quantity, the broker's) wherever they differ."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for inst in sorted(set(ours) | set(theirs)):
        mine, broker = ours.get(inst, Decimal(0)), theirs.get(inst, Decimal(0))
        if mine != broker:
            out[inst] = (mine, broker)
    return out


def describe(diff: Mapping[str, tuple[Decimal, Decimal]], venue: str) -> str:
    """One line for an operator: ``MESZ6.TOPSTEPX: exec-sim 2, TOPSTEPX 3``."""
    return "; ".join(f"{inst}: exec-sim {mine}, {venue} {broker}" for inst, (mine, broker) in diff.items())
