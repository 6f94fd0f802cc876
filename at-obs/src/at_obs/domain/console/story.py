"""One alert's story, step by step, for the console. Pure.

The recorded events of one correlation id, in causal order, become steps (signal, each
agent's analysis, the proposal, the risk decision with every rule, the order, the fills, the
position, the account), each with the time since the step before and since the signal, and
whether its record's hash still matches its content.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from at_obs.domain.chain import AuditRecord, causal_order, record_hash

#: Keys whose values never reach a page, wherever they sit in the raw alert.
SECRET_KEY = re.compile(r"(secret|passphrase|password|token|api[_-]?key|signature)", re.IGNORECASE)
REDACTED = "***"

LABELS = {
    "signal": "Signal",
    "agent_analysis": "Agent view",
    "trade_proposal": "Proposal",
    "risk_decision": "Risk decision",
    "execution_request": "Execution request",
    "order_submitted": "Order submitted",
    "order_accepted": "Order accepted",
    "order_partially_filled": "Partial fill",
    "order_filled": "Order filled",
    "order_rejected": "Order rejected",
    "order_canceled": "Order canceled",
    "order_expired": "Order expired",
    "order_updated": "Order updated",
    "fill": "Fill",
    "position": "Position",
    "account_state": "Account",
    "trading_state_changed": "Trading state",
    "broker_mismatch": "Broker check",
    "rejected_input": "Rejected input",
}


@dataclass(frozen=True)
class Step:
    """One event of the story as the page shows it."""

    seq: int
    event_id: str
    event_type: str
    label: str
    ts_event: int
    since_previous_ms: float | None
    since_signal_ms: float | None
    hash_ok: bool
    facts: list[tuple[str, str]]
    event: dict[str, Any]


@dataclass(frozen=True)
class Story:
    """The whole story of one correlation id."""

    correlation_id: str
    steps: list[Step]
    raw_alert: str | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def all_hashes_ok(self) -> bool:
        return all(s.hash_ok for s in self.steps)

    @property
    def filled(self) -> bool:
        return any(s.event_type == "fill" for s in self.steps)


def redact(value: Any) -> Any:
    """The value with every secret-looking key's value replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_raw(raw: str) -> str:
    """A raw alert body with secrets redacted; a body that is not JSON is redacted by pattern."""
    try:
        return json.dumps(redact(json.loads(raw)), indent=2, sort_keys=True)
    except ValueError:
        return re.sub(r'(?i)("?(secret|passphrase|password|token|api[_-]?key)"?\s*[:=]\s*)("[^"]*"|\S+)', r"\1***", raw)


def _facts(e: dict[str, Any]) -> list[tuple[str, str]]:
    t = e.get("event_type")
    order = e.get("order") or {}
    if t == "signal":
        keys = ["origin", "ticker", "instrument_id", "action", "price", "position_size", "alert_id"]
    elif t == "agent_analysis":
        keys = ["agent_id", "agent_kind", "stance", "conviction", "target_quantity", "rationale", "abstained"]
    elif t == "trade_proposal":
        keys = ["committee", "combination_rule", "combined_conviction", "target_position", "rationale"]
    elif t == "risk_decision":
        keys = ["approved", "profile_id", "profile_version", "client_order_id"]
    elif t == "fill":
        keys = ["side", "quantity", "price", "fee", "slippage_ticks", "slippage_amount", "venue"]
    elif t in ("account_state",):
        keys = ["balance", "equity", "realized_pnl_today", "unrealized_pnl", "trading_state"]
    elif t == "trading_state_changed":
        keys = ["previous_state", "state", "reason", "message"]
    elif t == "broker_mismatch":
        keys = ["venue", "status", "halted", "message"]
    else:
        keys = ["client_order_id", "venue", "venue_order_id", "status", "reason", "filled_quantity", "avg_price"]
    out = [(k, str(e[k])) for k in keys if e.get(k) not in (None, "", [])]
    if order:
        out.append(("order", f"{order.get('side')} {order.get('quantity')} {order.get('order_type')}"))
    if t == "broker_mismatch":
        out += [
            (f"{d.get('kind')} {d.get('item')}", f"ours {d.get('ours')}, theirs {d.get('theirs')}")
            for d in e.get("differences") or []
        ]
    if t == "position":
        p = e.get("position") or {}
        out += [(k, str(p[k])) for k in ("side", "quantity", "avg_price", "realized_pnl") if k in p]
    return out


def build_story(correlation_id: str, records: list[AuditRecord]) -> Story:
    """The story of ``records`` (all of one correlation id, any order)."""
    steps: list[Step] = []
    raw_alert: str | None = None
    rules: list[dict[str, Any]] = []
    previous: int | None = None
    signal_ts: int | None = None
    for r in causal_order(records):
        event = json.loads(r.payload)
        if r.event_type == "signal" and signal_ts is None:
            signal_ts = r.ts_event
            raw_alert = redact_raw(event.get("raw_body") or "") or None
        if r.event_type == "risk_decision":
            rules.extend(event.get("reasons") or [])
        recomputed = record_hash(
            r.prev_hash, r.seq, r.event_id, r.event_type, r.correlation_id, r.causation_id, r.subject, r.ts_event,
            r.payload,
        )  # fmt: skip
        steps.append(
            Step(
                seq=r.seq,
                event_id=r.event_id,
                event_type=r.event_type,
                label=LABELS.get(r.event_type, r.event_type),
                ts_event=r.ts_event,
                since_previous_ms=None if previous is None else (r.ts_event - previous) / 1e6,
                since_signal_ms=None if signal_ts is None else (r.ts_event - signal_ts) / 1e6,
                hash_ok=recomputed == r.hash,
                facts=_facts(event),
                event=redact(event),
            )
        )
        previous = r.ts_event
    return Story(correlation_id, steps, raw_alert, rules)
