"""exec-sim's book against a broker's (pure): what differs, and when a difference is a mismatch.

Positions are compared by instrument (signed quantities); the balance either by its change since
the check began (``change``: the broker's balance change against exec-sim's realized P&L less
fees over the same span, since a prop account's starting balance rarely equals the profile's) or
as it stands (``absolute``), a difference within the tolerance being none.

A difference is a mismatch only when it is seen on two checks in a row (:class:`BrokerWatch`): a
fill the broker has and exec-sim books on the next reconciliation round is not an alarm. A
position difference must be the same both times; a balance difference beyond the tolerance on
both (its amount may move with fills meanwhile). A mismatch stands until a check finds no
difference: then it is restored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from at_core.events import BrokerDifference
from at_core.ids import ulid_from_parts

NS_PER_MS = 1_000_000
BalanceCheck = Literal["change", "absolute", "off"]
Transition = Literal["mismatch", "restored"]


def differences(ours: Mapping[str, Decimal], theirs: Mapping[str, Decimal]) -> dict[str, tuple[Decimal, Decimal]]:
    """Instrument id -> (exec-sim's signed quantity, the broker's) wherever they differ."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for inst in sorted(set(ours) | set(theirs)):
        mine, broker = ours.get(inst, Decimal(0)), theirs.get(inst, Decimal(0))
        if mine != broker:
            out[inst] = (mine, broker)
    return out


def position_differences(ours: Mapping[str, Decimal], theirs: Mapping[str, Decimal]) -> list[BrokerDifference]:
    """The positions that differ, as the event carries them (by instrument id)."""
    return [
        BrokerDifference(kind="position", item=inst, ours=mine, theirs=broker)
        for inst, (mine, broker) in differences(ours, theirs).items()
    ]


@dataclass(frozen=True, slots=True)
class BalanceBaseline:
    """Both balances when the check began (``change`` mode measures from here)."""

    ours: Decimal
    theirs: Decimal


def balance_difference(
    currency: str,
    ours: Decimal,
    theirs: Decimal,
    baseline: BalanceBaseline | None,
    tolerance: Decimal,
    mode: BalanceCheck,
) -> BrokerDifference | None:
    """The balance difference beyond ``tolerance``, or None.

    ``change``: exec-sim's balance change since ``baseline`` (its realized P&L less fees) against
    the broker's; ``absolute``: the two balances themselves; ``off``: never a difference.
    """
    if mode == "off":
        return None
    if mode == "change":
        if baseline is None:
            return None
        ours, theirs = ours - baseline.ours, theirs - baseline.theirs
    if abs(ours - theirs) <= tolerance:
        return None
    return BrokerDifference(kind="balance", item=currency, ours=ours, theirs=theirs)


def describe(diffs: Iterable[BrokerDifference], venue: str) -> str:
    """One line for an operator: ``MESZ6.TOPSTEPX: exec-sim 2, TOPSTEPX 3; balance USD change: ...``."""
    parts = []
    for d in diffs:
        if d.kind == "position":
            parts.append(f"{d.item}: exec-sim {d.ours}, {venue} {d.theirs}")
        else:
            parts.append(f"balance {d.item}: exec-sim {d.ours}, {venue} {d.theirs}")
    return "; ".join(parts)


def _signature(diffs: Iterable[BrokerDifference]) -> frozenset[tuple[str, str, str]]:
    """What must be the same on two checks in a row: a position's quantities, a balance's currency."""
    return frozenset(
        (d.kind, d.item, f"{d.ours}/{d.theirs}" if d.kind == "position" else "beyond tolerance") for d in diffs
    )


def episode_root(first_seen_ns: int) -> str:
    """The id the events of one mismatch derive from: the time its difference was first seen
    (the events' purposes name the account and the venue), so a retry gets the same ids."""
    return ulid_from_parts(first_seen_ns // NS_PER_MS, 0)


@dataclass
class BrokerWatch:
    """One account's checks against its broker: the last difference seen, and a standing mismatch."""

    last: frozenset[tuple[str, str, str]] = field(default_factory=frozenset)
    first_seen_ns: int | None = None  # when the difference now seen was first seen
    standing: list[BrokerDifference] | None = None  # the mismatch, while it stands
    root: str | None = None  # what its events derive from

    def observe(self, diffs: list[BrokerDifference], now_ns: int) -> Transition | None:
        """One check's differences: ``mismatch`` when they confirm the last check's, ``restored``
        when none are left of a standing mismatch, else None."""
        signature = _signature(diffs)
        if not diffs:
            self.last, self.first_seen_ns = frozenset(), None
            if self.standing is None:
                return None
            self.standing = None
            return "restored"
        if self.standing is not None:
            self.standing, self.last = diffs, signature  # still a mismatch: shown as it is now
            return None
        if signature != self.last or self.first_seen_ns is None:
            self.last, self.first_seen_ns = signature, now_ns  # once: maybe a fill not booked yet
            return None
        self.standing, self.root = diffs, episode_root(self.first_seen_ns)
        return "mismatch"

    def recovered(self, diffs: list[BrokerDifference]) -> None:
        """A mismatch published before a restart (read back from the stream): it stands."""
        self.standing, self.last = diffs, _signature(diffs)
        self.first_seen_ns = None

    def restored_from_stream(self) -> None:
        """A restored event read back from the stream: nothing stands."""
        self.standing, self.last, self.first_seen_ns = None, frozenset(), None
