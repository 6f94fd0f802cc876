"""Replay verification, pure: inputs and outputs, causal lineage, the canonical output stream, diffs.

Outputs are matched between a recording and a replay by their *lineage*: the input that
started their causal chain (its ``event_id``, which replay re-publishes unchanged), the event
types along the chain (``trade_proposal/risk_decision/order_submitted/...``), and their
ordinal among siblings with the same lineage (siblings are matched by event id first).
Matched outputs are compared as canonical bytes, so any change (a price, a derived id, a timestamp) is a difference, and a difference is
reported where it happened ("the fill under signal X has price 6013 instead of 6012.5").
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from at_core.events import AccountStateEvent, Event, FillEvent, RiskDecisionEvent, TradingStateChangedEvent
from at_core.serialization import decode_event, encode_event, stream_sha256

INPUT_TYPES = frozenset({"signal", "market_data", "execution_request", "chart_snapshot"})
OUTPUT_TYPES = frozenset(
    {
        "agent_analysis",
        "trade_proposal",
        "risk_decision",
        "order_submitted",
        "order_accepted",
        "order_rejected",
        "order_canceled",
        "order_expired",
        "order_partially_filled",
        "order_filled",
        "order_updated",
        "fill",
        "position",
        "account_state",
        "trading_state_changed",
    }
)
MAX_DEPTH = 64

Lineage = tuple[str, str, int]  # (root id, "type/type/...", ordinal)


def read_jsonl(text: str) -> list[Event]:
    """Events from JSONL (one canonical event per line; blank lines ignored)."""
    return [decode_event(line) for line in text.splitlines() if line.strip()]


def write_jsonl(events: list[Event]) -> str:
    return "".join(encode_event(e).decode() + "\n" for e in events)


def split(events: list[Event]) -> tuple[list[Event], list[Event]]:
    """(inputs in replay order, outputs). Inputs go in event-time order, ties in recorded order."""
    inputs = sorted((e for e in events if e.event_type in INPUT_TYPES), key=lambda e: e.ts_event)
    return inputs, [e for e in events if e.event_type in OUTPUT_TYPES]


def canonical_outputs(events: list[Event]) -> list[Event]:
    """Outputs in a stable order: by event time, then id (ids are derived, so stable across runs)."""
    return sorted((e for e in events if e.event_type in OUTPUT_TYPES), key=lambda e: (e.ts_event, e.event_id))


def output_hash(events: list[Event]) -> str:
    """SHA-256 of the canonical output stream (the manifest's ``output_sha256``)."""
    return stream_sha256(canonical_outputs(events))


def root_of(event: Event, outputs_by_id: dict[str, Event]) -> tuple[str, list[str]]:
    """The id that started ``event``'s chain (the first cause that is not an output) and the types below it."""
    types = [event.event_type]
    current = event
    for _ in range(MAX_DEPTH):
        parent = outputs_by_id.get(current.causation_id or "")
        if parent is None:
            break
        types.append(parent.event_type)
        current = parent
    return current.causation_id or f"correlation:{current.correlation_id}", types[::-1]


def lineage_groups(outputs: list[Event]) -> dict[tuple[str, str], list[Event]]:
    """Outputs grouped by (root id, type path), each group in a stable sibling order."""
    by_id = {e.event_id: e for e in outputs}
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in outputs:
        root, types = root_of(event, by_id)
        groups[(root, "/".join(types))].append(event)
    for siblings in groups.values():
        siblings.sort(key=lambda e: (e.ts_event, e.event_type, encode_event(e)))
    return groups


def expected_per_root(outputs: list[Event]) -> Counter[str]:
    """How many outputs each root (input id) caused: what replay waits for after each input."""
    by_id = {e.event_id: e for e in outputs}
    return Counter(root_of(e, by_id)[0] for e in outputs)


@dataclass(frozen=True, slots=True)
class Difference:
    """One output that is missing, extra, or changed in the replay."""

    kind: Literal["missing", "extra", "changed"]
    lineage: Lineage
    event_type: str
    fields: tuple[str, ...] = ()
    recorded: str | None = None
    replayed: str | None = None

    def describe(self) -> str:
        root, path, ordinal = self.lineage
        where = f"{self.event_type} #{ordinal} under {root} ({path})"
        if self.kind != "changed":
            event_id = json.loads(self.recorded or self.replayed or "{}").get("event_id", "?")
            return f"{self.kind}: {where}: event {event_id}"
        return f"changed: {where}: {', '.join(self.fields)}"


def _changed_fields(a: bytes, b: bytes) -> tuple[str, ...]:
    left, right = json.loads(a), json.loads(b)
    return tuple(sorted(k for k in set(left) | set(right) if left.get(k) != right.get(k)))


def _pair(left: list[Event], right: list[Event]) -> tuple[list[tuple[int, Event, Event]], list[int], list[int]]:
    """Siblings matched by event id first (derived ids are stable), the rest in sibling order.

    Returns (ordinal in ``left``, recorded, replayed) pairs, unmatched ordinals in ``left``
    (missing) and in ``right`` (extra).
    """
    right_by_id = {e.event_id: i for i, e in enumerate(right)}
    pairs, lone_left = [], []
    for i, event in enumerate(left):
        j = right_by_id.pop(event.event_id, None)
        if j is None:
            lone_left.append(i)
        else:
            pairs.append((i, event, right[j]))
    lone_right = sorted(right_by_id.values())
    pairs += [(i, left[i], right[j]) for i, j in zip(lone_left, lone_right, strict=False)]
    return pairs, lone_left[len(lone_right) :], lone_right[len(lone_left) :]


def diff(recorded: list[Event], replayed: list[Event]) -> list[Difference]:
    """Every difference between recorded and replayed outputs, matched by lineage.

    Siblings (outputs with the same root and type path, e.g. several agents' analyses of one
    signal) are matched by event id before position, so one changed sibling is one difference.
    """
    a = lineage_groups([e for e in recorded if e.event_type in OUTPUT_TYPES])
    b = lineage_groups([e for e in replayed if e.event_type in OUTPUT_TYPES])
    out: list[Difference] = []
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key, []), b.get(key, [])
        pairs, missing, extra = _pair(left, right)
        for i in missing:
            out.append(Difference("missing", (*key, i), left[i].event_type, recorded=encode_event(left[i]).decode()))
        for j in extra:
            out.append(Difference("extra", (*key, j), right[j].event_type, replayed=encode_event(right[j]).decode()))
        for i, rec, rep in pairs:
            before, after = encode_event(rec), encode_event(rep)
            if before != after:
                fields = _changed_fields(before, after)
                out.append(Difference("changed", (*key, i), rec.event_type, fields, before.decode(), after.decode()))
    return sorted(out, key=lambda d: (d.lineage, d.kind))


@dataclass
class Summary:
    """What an operator reads first: trades, P&L, drawdown, breaches."""

    trades: int
    pnl: dict[str, Decimal]
    max_drawdown: dict[str, Decimal]
    breaches: list[str]
    denials: dict[str, int]
    equity_curve: dict[str, list[tuple[int, Decimal]]] = field(default_factory=dict)


def summarize(events: list[Event]) -> Summary:
    """Trades (fills), P&L and maximum drawdown per account (from account states), breaches, denials."""
    fills = [e for e in events if isinstance(e, FillEvent)]
    curve: dict[str, list[tuple[int, Decimal]]] = {}
    start: dict[str, Decimal] = {}
    states = sorted((e for e in events if isinstance(e, AccountStateEvent)), key=lambda e: (e.ts_event, e.event_id))
    for e in states:
        # Equity before the first recorded change: balance less today's realized P&L, plus fees paid.
        start.setdefault(e.account_id, e.balance - e.realized_pnl_today + e.fees_today)
        curve.setdefault(e.account_id, [(e.ts_event, start[e.account_id])]).append((e.ts_event, e.equity))
    pnl, mdd = {}, {}
    for account, points in curve.items():
        pnl[account] = points[-1][1] - start[account]
        peak, worst = points[0][1], Decimal(0)
        for _, equity in points:
            peak = max(peak, equity)
            worst = max(worst, peak - equity)
        mdd[account] = worst
    breaches = [
        f"{e.account_id}: {e.state} ({e.reason})"
        for e in events
        if isinstance(e, TradingStateChangedEvent) and e.state != "active"
    ]
    denials: Counter[str] = Counter()
    for e in events:
        if isinstance(e, RiskDecisionEvent) and not e.approved:
            for reason in e.reasons or []:
                denials[str(reason.code)] += 1
    return Summary(len(fills), pnl, mdd, breaches, dict(sorted(denials.items())), curve)
