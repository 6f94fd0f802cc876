"""The replay HTML report: one self-contained page (inline SVG, no scripts) an operator can open."""

from __future__ import annotations

import json
from decimal import Decimal
from html import escape
from typing import Any

from at_core.clock import ns_to_datetime
from at_obs.domain.replay import Difference, Summary

_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:60em}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
    "text-align:left}svg{background:#fafafa;border:1px solid #eee}.bad{color:#b00}.ok{color:#070}"
)


def html_report(summary: Summary, manifest: dict[str, Any], differences: list[Difference] | None = None) -> str:
    """Summary, manifest, verification result, and an equity curve and drawdown chart per account."""
    parts = [
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>at-replay report</title>",
        f"<style>{_STYLE}</style>",
        "<h1>Replay report</h1>",
        f"<p>Trades: {summary.trades}. Rule breaches: {escape(', '.join(summary.breaches) or 'none')}. "
        f"Denials: {escape(', '.join(f'{k} x{v}' for k, v in summary.denials.items()) or 'none')}.</p>",
    ]
    if differences is not None:
        if differences:
            items = "".join(f"<li>{escape(d.describe())}</li>" for d in differences[:200])
            parts.append(f"<h2 class='bad'>{len(differences)} differences from the recording</h2><ul>{items}</ul>")
        else:
            parts.append("<h2 class='ok'>Identical to the recording</h2>")
    parts.append("<table><tr><th>account</th><th>P&amp;L</th><th>max drawdown</th></tr>")
    for account in summary.pnl:
        parts.append(
            f"<tr><td>{escape(account)}</td><td>{summary.pnl[account]}</td><td>{summary.max_drawdown[account]}</td></tr>"
        )
    parts.append("</table>")
    for account, points in summary.equity_curve.items():
        parts.append(f"<h2>{escape(account)}: equity (top) and drawdown (bottom)</h2>{_svg(points)}")
    parts.append(f"<h2>Run manifest</h2><pre>{escape(json.dumps(manifest, indent=2))}</pre></html>")
    return "\n".join(parts)


def _svg(points: list[tuple[int, Decimal]], width: int = 720, height: int = 160) -> str:
    if len(points) < 2:
        return "<p>not enough points for a curve</p>"
    values = [float(v) for _, v in points]
    peak, drawdown = values[0], []
    for v in values:
        peak = max(peak, v)
        drawdown.append(v - peak)

    def line(series: list[float], color: str) -> str:
        lo, hi = min(series), max(series)
        span = (hi - lo) or 1.0
        pts = " ".join(
            f"{i * width / (len(series) - 1):.1f},{height - (s - lo) / span * height:.1f}" for i, s in enumerate(series)
        )
        return (
            f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{pts}'/>"
            f"<text x='4' y='14' font-size='11'>{hi:,.2f}</text>"
            f"<text x='4' y='{height - 4}' font-size='11'>{lo:,.2f}</text>"
        )

    first, last = ns_to_datetime(points[0][0]), ns_to_datetime(points[-1][0])
    return (
        f"<svg width='{width}' height='{height * 2 + 20}' role='img' "
        f"aria-label='equity and drawdown {first:%Y-%m-%d %H:%M} to {last:%H:%M} UTC'>"
        f"<g>{line(values, '#2a6')}</g>"
        f"<g transform='translate(0,{height + 20})'>{line(drawdown, '#c33')}</g></svg>"
        f"<p><small>{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC</small></p>"
    )
