"""Memory per strategy and symbol: a decision log resolved later with its outcome, plus recent signals. Pure.

Point in time: :meth:`StrategyMemory.visible_at` returns only entries made at or before the
decision time, and hides an outcome that was resolved after it, so a replay cannot see the future.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from at_core.models.portfolio import PositionSnapshot


class Outcome(BaseModel):
    """How a decision turned out once its position closed (or flipped)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resolved_ts_ns: int
    realized_pnl: Decimal = Field(description="Realised P&L since the decision, in the instrument's currency")
    exit_price: Decimal | None = None
    hold_return: Decimal | None = Field(
        default=None, description="Return of simply holding the instrument from the decision to the exit"
    )


class MemoryEntry(BaseModel):
    """A decision (with the proposal it made, if any) or a signal seen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["decision", "signal"]
    ts_ns: int
    signal_event_id: str
    account_id: str
    action: str
    target: Decimal | None = None
    reference_price: Decimal | None = None
    proposal_event_id: str | None = None
    rationale: str = ""
    realized_before: Decimal = Decimal(0)
    outcome: Outcome | None = None


class StrategyMemory(BaseModel):
    """The bounded log for one (strategy, instrument)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy_id: str
    instrument_id: str
    entries: tuple[MemoryEntry, ...] = ()

    def add(self, entry: MemoryEntry, max_decisions: int, max_signals: int) -> StrategyMemory:
        """A copy with ``entry`` appended; the oldest of its kind are dropped past the bound."""
        return self.extend((entry,), max_decisions, max_signals)

    def extend(self, new: tuple[MemoryEntry, ...], max_decisions: int, max_signals: int) -> StrategyMemory:
        """A copy with ``new`` appended in order; the oldest of each kind are dropped past its bound
        (the same log as adding them one by one, in one pass). Entries of a signal already in the
        log are replaced (kind by kind), not repeated: a redelivered signal (its first memory save
        failed) is remembered once, as last decided."""
        ids = {e.signal_event_id for e in new}
        entries = list(self.entries)
        if any(e.signal_event_id in ids for e in entries):  # rare: only a redelivery pays the exact check
            again = {(e.kind, e.signal_event_id) for e in new}
            entries = [e for e in entries if (e.kind, e.signal_event_id) not in again]
        entries.extend(new)
        extra = {"decision": -max_decisions, "signal": -max_signals}
        for e in entries:
            extra[e.kind] += 1
        if extra["decision"] > 0 or extra["signal"] > 0:
            kept = []
            for e in entries:
                if extra[e.kind] > 0:
                    extra[e.kind] -= 1
                    continue
                kept.append(e)
            entries = kept
        return self.model_copy(update={"entries": tuple(entries)})

    def resolve(self, snapshot: PositionSnapshot, ts_ns: int) -> StrategyMemory:
        """Resolve every open decision with a proposal on the snapshot's account made before ``ts_ns``."""
        exit_price = snapshot.last_price or snapshot.avg_price or None
        changed = False
        entries = []
        for e in self.entries:
            if (
                e.kind == "decision"
                and e.outcome is None
                and e.proposal_event_id is not None
                and e.account_id == snapshot.account_id
                and e.ts_ns <= ts_ns
            ):
                hold = None
                if exit_price and e.reference_price:
                    hold = ((exit_price - e.reference_price) / e.reference_price).quantize(Decimal("0.000001"))
                outcome = Outcome(
                    resolved_ts_ns=ts_ns,
                    realized_pnl=snapshot.realized_pnl - e.realized_before,
                    exit_price=exit_price,
                    hold_return=hold,
                )
                e = e.model_copy(update={"outcome": outcome})
                changed = True
            entries.append(e)
        return self.model_copy(update={"entries": tuple(entries)}) if changed else self

    def visible_at(self, now_ns: int) -> list[MemoryEntry]:
        """What an agent deciding at ``now_ns`` may see: nothing later, and no outcome from the future."""
        out = []
        for e in self.entries:
            if e.ts_ns > now_ns:
                continue
            if e.outcome is not None and e.outcome.resolved_ts_ns > now_ns:
                e = e.model_copy(update={"outcome": None})
            out.append(e)
        return out
