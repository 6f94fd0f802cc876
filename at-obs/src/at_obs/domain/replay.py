"""Replay verification, pure: which events are inputs, the canonical output stream, diffs, summaries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from at_core.events import AccountStateEvent, Event, FillEvent, TradingStateChangedEvent
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
        "fill",
        "position",
        "account_state",
        "trading_state_changed",
    }
)


def read_jsonl(text: str) -> list[Event]:
    return [decode_event(line) for line in text.splitlines() if line.strip()]


def write_jsonl(events: list[Event]) -> str:
    return "".join(encode_event(e).decode() + "\n" for e in events)


def split(events: list[Event]) -> tuple[list[Event], list[Event]]:
    return [e for e in events if e.event_type in INPUT_TYPES], [e for e in events if e.event_type in OUTPUT_TYPES]


def canonical_outputs(events: list[Event]) -> list[Event]:
    """Outputs in a stable order: by event time, then id (ids are derived, so stable across runs)."""
    return sorted((e for e in events if e.event_type in OUTPUT_TYPES), key=lambda e: (e.ts_event, e.event_id))


def output_hash(events: list[Event]) -> str:
    return stream_sha256(canonical_outputs(events))


@dataclass
class Diff:
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.missing or self.extra or self.changed)


def diff(recorded: list[Event], replayed: list[Event]) -> Diff:
    a = {e.event_id: encode_event(e) for e in canonical_outputs(recorded)}
    b = {e.event_id: encode_event(e) for e in canonical_outputs(replayed)}
    return Diff(
        missing=sorted(set(a) - set(b)),
        extra=sorted(set(b) - set(a)),
        changed=sorted(k for k in set(a) & set(b) if a[k] != b[k]),
    )


@dataclass
class Summary:
    trades: int
    pnl: dict[str, Decimal]
    max_drawdown: dict[str, Decimal]
    breaches: list[str]
    equity_curve: dict[str, list[tuple[int, Decimal]]]


def summarize(events: list[Event]) -> Summary:
    fills = [e for e in events if isinstance(e, FillEvent)]
    curve: dict[str, list[tuple[int, Decimal]]] = {}
    start: dict[str, Decimal] = {}
    for e in sorted((e for e in events if isinstance(e, AccountStateEvent)), key=lambda e: (e.ts_event, e.event_id)):
        curve.setdefault(e.account_id, []).append((e.ts_event, e.equity))
        start.setdefault(e.account_id, e.balance - e.realized_pnl_today + e.fees_today)
    pnl, mdd = {}, {}
    for account, points in curve.items():
        pnl[account] = points[-1][1] - start[account]
        peak, worst = points[0][1], Decimal(0)
        for _, eq in points:
            peak = max(peak, eq)
            worst = max(worst, peak - eq)
        mdd[account] = worst
    breaches = [
        f"{e.account_id}: {e.reason}" for e in events if isinstance(e, TradingStateChangedEvent) and e.state != "active"
    ]
    return Summary(len(fills), pnl, mdd, breaches, curve)


def html_report(summary: Summary, manifest: dict) -> str:
    """A self-contained HTML page: summary table, equity curve and drawdown per account (inline SVG)."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>at-replay report</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;border-bottom:1px solid #ddd}</style>",
        "<h1>Replay report</h1>",
        f"<pre>{json.dumps(manifest, indent=2)}</pre>",
        f"<p>Trades: {summary.trades}. Rule breaches: {', '.join(summary.breaches) or 'none'}.</p>",
        "<table><tr><th>account</th><th>P&amp;L</th><th>max drawdown</th></tr>",
    ]
    for account in summary.pnl:
        parts.append(
            f"<tr><td>{account}</td><td>{summary.pnl[account]}</td><td>{summary.max_drawdown[account]}</td></tr>"
        )
    parts.append("</table>")
    for account, points in summary.equity_curve.items():
        parts.append(f"<h2>{account}: equity and drawdown</h2>{_svg(points)}")
    return "\n".join(parts)


def _svg(points: list[tuple[int, Decimal]], width: int = 640, height: int = 160) -> str:
    if len(points) < 2:
        return "<p>not enough points for a curve</p>"
    values = [float(v) for _, v in points]
    peak, dd = values[0], []
    for v in values:
        peak = max(peak, v)
        dd.append(v - peak)

    def line(series: list[float], color: str) -> str:
        lo, hi = min(series), max(series)
        span = (hi - lo) or 1.0
        pts = " ".join(
            f"{i * width / (len(series) - 1):.1f},{height - (s - lo) / span * height:.1f}" for i, s in enumerate(series)
        )
        return f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{pts}'/>"

    return (
        f"<svg width='{width}' height='{height * 2 + 20}'><g>{line(values, '#2a6')}</g>"
        f"<g transform='translate(0,{height + 20})'>{line(dd, '#c33')}</g></svg>"
    )
