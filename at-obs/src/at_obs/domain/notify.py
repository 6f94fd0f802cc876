"""Which trade events become notifications, and how many go out one by one. Pure.

:func:`notice_for` turns an event into a :class:`Notice` (or None); :class:`Throttle`
lets ``max_per_minute`` notices out one by one per route and holds the rest for one digest,
sent at the next :meth:`Throttle.flush` after the digest interval. Time is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Notice:
    """One notification: its kind (what routes subscribe to), account, title and body."""

    kind: str
    account_id: str
    title: str
    body: str
    event_id: str
    correlation_id: str


def _state_kind(e: dict[str, Any]) -> str:
    if e.get("reason") == "kill_switch":
        return "kill_switch"
    state = e.get("state")
    return {"halted": "halt", "locked_until": "lock", "reducing": "reducing", "active": "resume"}.get(str(state), "")


def _difference_line(d: dict[str, Any]) -> str:
    return f"{d.get('kind')} {d.get('item')}: ours {d.get('ours')}, theirs {d.get('theirs')}"


def _broker_notice(e: dict[str, Any], common: dict[str, str]) -> Notice:
    """A broker check: ``mismatch`` (each difference, halted or not) or ``restored``."""
    account, venue = common["account_id"], e.get("venue")
    message = str(e.get("message") or "")
    if e.get("status") == "restored":
        return Notice(
            "broker_restored",
            title=f"Broker agrees again {account} at {venue}",
            body=message or f"positions and balance at {venue} match exec-sim's again",
            **common,
        )
    differences = e.get("differences") or []
    halted = "account HALTED" if e.get("halted") else "account not halted"
    plural = "difference" if len(differences) == 1 else "differences"
    lines = [_difference_line(d) for d in differences] or ["(no difference listed)"]
    if message:
        lines.append(message)
    return Notice(
        "broker_mismatch",
        title=f"Broker mismatch {account} at {venue}: {len(differences)} {plural}, {halted}",
        body="\n".join(lines),
        **common,
    )


def notice_for(e: dict[str, Any]) -> Notice | None:
    """The notification an event (decoded JSON) calls for, or None."""
    t = e.get("event_type")
    account = str(e.get("account_id") or "")
    common = {
        "account_id": account,
        "event_id": str(e.get("event_id", "")),
        "correlation_id": str(e.get("correlation_id", "")),
    }
    if t == "fill":
        return Notice(
            "fill",
            title=f"Fill {account}: {e.get('side')} {e.get('quantity')} {e.get('instrument_id')} @ {e.get('price')}",
            body=f"fee {e.get('fee')} {e.get('fee_currency', '')}, slippage {e.get('slippage_ticks')} ticks",
            **common,
        )
    if t == "risk_decision" and e.get("approved") is False:
        reasons = "; ".join(f"{r.get('code')}: {r.get('message')}" for r in e.get("reasons") or [])
        order = e.get("order") or {}
        return Notice(
            "denied",
            title=f"Denied {account}: {order.get('side')} {order.get('quantity')} {e.get('instrument_id')}",
            body=reasons or "denied by risk",
            **common,
        )
    if t == "order_rejected":
        return Notice(
            "rejected",
            title=f"Order rejected {account}: {e.get('client_order_id')} at {e.get('venue')}",
            body=f"{e.get('reason')}: {e.get('message', '')}",
            **common,
        )
    if t == "trading_state_changed":
        kind = _state_kind(e)
        if not kind:
            return None
        return Notice(
            kind,
            title=f"{account} {e.get('previous_state')} -> {e.get('state')} ({e.get('reason')})",
            body=str(e.get("message") or ""),
            **common,
        )
    if t == "broker_mismatch":
        return _broker_notice(e, common)
    return None


@dataclass
class Throttle:
    """At most ``max_per_minute`` sent one by one in any minute; the rest wait for one digest."""

    max_per_minute: int
    digest_interval_s: float
    sent_at: deque[float] = field(default_factory=deque)
    held: list[Notice] = field(default_factory=list)
    last_digest_s: float | None = None

    def offer(self, notice: Notice, now_s: float) -> bool:
        """True: send it now. False: it is held for the digest."""
        while self.sent_at and self.sent_at[0] <= now_s - 60.0:
            self.sent_at.popleft()
        if len(self.sent_at) < self.max_per_minute and not self.held:
            self.sent_at.append(now_s)
            return True
        self.held.append(notice)
        if self.last_digest_s is None:
            self.last_digest_s = now_s  # the digest interval starts with the first notice held
        return False

    def flush(self, now_s: float) -> list[Notice]:
        """The held notices when a digest is due (empty otherwise); they are no longer held."""
        if not self.held or self.last_digest_s is None or now_s - self.last_digest_s < self.digest_interval_s:
            return []
        out, self.held, self.last_digest_s = self.held, [], None
        return out


def digest_text(notices: list[Notice]) -> tuple[str, str]:
    """Title and body of one digest of ``notices``."""
    kinds: dict[str, int] = {}
    for n in notices:
        kinds[n.kind] = kinds.get(n.kind, 0) + 1
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    lines = [n.title for n in notices[:50]]
    if len(notices) > 50:
        lines.append(f"... and {len(notices) - 50} more")
    return f"{len(notices)} notifications: {summary}", "\n".join(lines)
