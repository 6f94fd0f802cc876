"""The backtest report: a JSON document and its HTML rendering, one self-contained file (pure).

The HTML has no external reference (no script, stylesheet, font or image from a URL): the
chart is inline SVG, the style an inline ``<style>``, so it opens offline and can be mailed.
Nothing in either depends on the wall clock: the same backtest gives the same bytes.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

FILL_RULE = (
    "Each alert is a market order filled by exec-sim's simulated venue against the last bar it has: the bar "
    "that closed at the alert's time (TradingView lists a trade at the open of its fill bar, which is that "
    "bar's close), at its close, plus the configured slippage, with the configured fees. An alert between "
    "bar closes fills at the previous close; one before the first bar is rejected (no price)."
)


def iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(c: int | Decimal) -> str:
    value = Decimal(c) / 100 if isinstance(c, int) else c
    return f"{value:,.2f}"


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"


def _svg(daily: list[dict[str, Any]], start: float, width: int = 760, height: int = 260) -> str:
    """Balance at each day's end, its trailing floor, and the drawdown below the peak, as one SVG."""
    if not daily:
        return "<p>No trading day: no chart.</p>"
    balances = [start] + [float(d["balance"]) for d in daily]
    floors = [float(d["floor"]) for d in daily if d.get("floor") is not None]
    target = [float(daily[0]["target_balance"])] if daily[0].get("target_balance") else []
    lo, hi = min(balances + floors + target), max(balances + floors + target)
    span = (hi - lo) or 1.0
    pad = 30

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * i / max(1, len(balances) - 1)

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * (v - lo) / span

    def line(points: list[tuple[float, float]], colour: str, dash: str = "") -> str:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2"{extra} points="{path}"/>'

    peak, dd_area = balances[0], []
    for i, b in enumerate(balances):
        peak = max(peak, b)
        dd_area.append((x(i), y(peak)))
    dd_poly = dd_area + [(x(i), y(b)) for i, b in reversed(list(enumerate(balances)))]
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="balance, trailing floor and drawdown by day">',
        f'<polygon fill="#f4c7c3" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in dd_poly)}"/>',
        line([(x(i), y(b)) for i, b in enumerate(balances)], "#1a73e8"),
    ]
    if floors:
        pts = [(x(i + 1), y(float(d["floor"]))) for i, d in enumerate(daily) if d.get("floor") is not None]
        parts.append(line(pts, "#d93025", "6 4"))
    if target:
        parts.append(line([(x(0), y(target[0])), (x(len(balances) - 1), y(target[0]))], "#188038", "2 4"))
    parts.append(f'<text x="{pad}" y="14" font-size="12">{html.escape(money(Decimal(str(hi))))}</text>')
    parts.append(f'<text x="{pad}" y="{height - 8}" font-size="12">{html.escape(money(Decimal(str(lo))))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for k, _ in columns) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _odds_rows(odds: dict[str, Any]) -> list[dict[str, Any]]:
    def row(name: str, p: dict[str, Any]) -> dict[str, Any]:
        lo, hi = p["ci95"]
        return {"outcome": name, "p": f"{p['probability']:.1%}", "ci": f"{lo:.1%} - {hi:.1%}", "n": p["hits"]}

    rows = [row("passed", odds["passed"])]
    rows += [row(f"failed: {rule}", p) for rule, p in odds["failed"].items()]
    rows.append(row("still running at the horizon", odds["running"]))
    return rows


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px;color:#202124}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}td,th{border:1px solid #dadce0;"
    "padding:.25rem .5rem;text-align:right}th{background:#f1f3f4}.verdict{font-size:1.3rem;font-weight:600}"
    ".legend span{margin-right:1.5rem}"
)


def _profile_rows(profiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for p in profiles:
        v, r, passed = p["verdict"], p["rules"], p["passed"]
        rows.append({
            "name": p["name"],
            "verdict": v["status"] + (f" on day {v['day']} ({v['date']})" if v.get("date") else ""),
            "start": r["starting_balance"], "target": r["profit_target"],
            "daily_loss": (r["daily_loss_limit"] or "-") + (" soft" if r["daily_loss_soft"] else ""),
            "trailing": r["trailing_drawdown"] or "-",
            "odds": f"{passed['probability']:.1%} ({passed['ci95'][0]:.1%} - {passed['ci95'][1]:.1%})" if passed else "-",
        })  # fmt: skip
    return rows


def _calendar_note(inputs: dict[str, Any]) -> list[str]:
    """One line saying what the trading calendar left out (nothing when nothing was)."""
    outside, holiday = inputs.get("bars_outside_session") or 0, inputs.get("bars_on_holidays") or 0
    trades, alerts = inputs.get("trades_outside_session") or [], inputs.get("alerts_outside_session") or 0
    if not (outside or holiday or trades or alerts):
        return []
    days = f" ({', '.join(inputs.get('holidays') or [])})" if inputs.get("holidays") else ""
    text = (
        f"Calendar {inputs.get('calendar')}: {outside} bar(s) outside its sessions and {holiday} on holidays{days} "
        f"not traded; {len(trades)} TradingView trade(s) and {alerts} alert(s) left out with them."
    )
    return [f'<p class="calendar">{html.escape(text)}</p>']


def to_html(report: dict[str, Any]) -> str:
    """The report as one HTML page with everything inline."""
    verdict = report["verdict"]
    odds = report.get("odds")
    totals = report["totals"]
    day_word = f" on day {verdict['day']} ({verdict['date']})" if verdict.get("date") else ""
    sections = [
        f"<h1>Backtest: {html.escape(report['inputs']['instrument_id'])}</h1>",
        f'<p class="verdict">Verdict: {html.escape(verdict["status"])}{html.escape(day_word)}</p>',
        *_calendar_note(report["inputs"]),
        "<h2>Balance, trailing floor and drawdown</h2>",
        '<p class="legend"><span style="color:#1a73e8">&#9644; balance at day end</span>'
        '<span style="color:#d93025">- - trailing floor</span><span style="color:#188038">.. target</span>'
        '<span style="color:#c5221f">&#9632; drawdown</span></p>',
        _svg(report["daily"], float(report["rules"]["starting_balance"])),
        "<h2>Totals</h2>",
        _table([totals], [(k, k.replace("_", " ")) for k in totals]),
    ]
    if len(report.get("profiles") or []) > 1:
        sections += ["<h2>Profiles side by side (the same trades)</h2>", _table(_profile_rows(report["profiles"]), [
            ("name", "profile"), ("verdict", "verdict"), ("start", "start"), ("target", "target"),
            ("daily_loss", "daily loss"), ("trailing", "trailing drawdown"), ("odds", "odds of passing")])]  # fmt: skip
    if odds:
        sections += [
            f"<h2>Odds ({odds['runs']:,} bootstrap runs of {html.escape(odds['method'])}, seed {odds['seed']})</h2>",
            _table(_odds_rows(odds), [("outcome", "outcome"), ("p", "probability"), ("ci", "95% CI"), ("n", "runs")]),
            f"<p>Days to pass: median {odds['days_to_pass']['median']}, 10th-90th percentile "
            f"{odds['days_to_pass']['p10']} - {odds['days_to_pass']['p90']}. The bootstrap assumes days "
            "(or trades) independent and identically distributed.</p>",
        ]
    llm = report.get("llm")
    if llm and llm["analyses"]:
        sections.append(
            f"<h2>LLM agents</h2><p>{llm['analyses']} LLM analyses: {llm['views']} views from recorded exchanges, "
            f"{llm['abstained']} abstained (no recording). Alerts decided with an LLM view: "
            f"{html.escape(', '.join(llm['alerts_with_an_llm_view']) or 'none')} "
            f"({llm['trades_with_an_llm_view']} trades). A model may know the future of the data it is asked "
            "about: treat these decisions' results with suspicion.</p>"
        )
    sections += [
        "<h2>Daily P&amp;L</h2>",
        _table(report["daily"], [("date", "day"), ("pnl", "P&L"), ("trades", "trades"), ("balance", "balance"),
                                 ("floor", "floor")]),
        "<h2>Trades</h2>",
        _table(report["trades"], [("entry_time", "entry"), ("exit_time", "exit"), ("direction", "side"),
                                  ("qty", "qty"), ("entry_price", "entry price"), ("exit_price", "exit price"),
                                  ("gross_pnl", "gross"), ("fees", "fees"), ("slippage", "slippage"),
                                  ("net_pnl", "net"), ("duration_s", "seconds"), ("entry_alert", "alert")]),
        "<h2>How it was run</h2>",
        f"<p>{html.escape(report['fill_rule'])}</p>",
        f"<pre>{html.escape(json.dumps({'inputs': report['inputs'], 'run': report['run'], 'rules': report['rules']}, indent=2, sort_keys=True))}</pre>",
    ]  # fmt: skip
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Backtest report</title>'
        f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>\n"
    )
