"""The report document from a backtest's pieces: trades, days, the verdict, the odds (pure)."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from at_core.events import AgentAnalysisEvent, Event, SignalEvent
from at_obs.backtest.challenge import ChallengeRules, DayState, Outcome
from at_obs.backtest.daily import Day, equity_curve
from at_obs.backtest.montecarlo import Odds
from at_obs.backtest.report import FILL_RULE, iso
from at_obs.backtest.trades import CENT, ClosedTrade


def _c(cents_value: int | None) -> str | None:
    return None if cents_value is None else str((Decimal(cents_value) / 100).quantize(CENT))


def _trade(t: ClosedTrade) -> dict[str, Any]:
    return {
        "entry_time": iso(t.entry_ns),
        "exit_time": iso(t.exit_ns),
        "direction": t.direction,
        "qty": str(t.qty),
        "entry_price": str(t.entry_price),
        "exit_price": str(t.exit_price),
        "gross_pnl": str(t.gross_pnl.quantize(CENT)),
        "fees": str(t.fees.quantize(CENT)),
        "slippage": str(t.slippage.quantize(CENT)),
        "net_pnl": str(t.net_pnl.quantize(CENT)),
        "duration_s": round(t.duration_s),
        "entry_alert": t.entry_alert,
        "exit_alert": t.exit_alert,
        "instrument_id": t.instrument_id,
        "account_id": t.account_id,
    }


def totals(trades: list[ClosedTrade]) -> dict[str, Any]:
    gross = sum((t.gross_pnl for t in trades), Decimal(0))
    fees = sum((t.fees for t in trades), Decimal(0))
    slip = sum((t.slippage for t in trades), Decimal(0))
    return {
        "trades": len(trades),
        "wins": sum(t.net_pnl > 0 for t in trades),
        "losses": sum(t.net_pnl < 0 for t in trades),
        "gross_pnl": str(gross.quantize(CENT)),
        "fees": str(fees.quantize(CENT)),
        "slippage": str(slip.quantize(CENT)),
        "net_pnl": str((gross - fees).quantize(CENT)),
    }


def _rules_dict(rules: ChallengeRules) -> dict[str, Any]:
    return {k: v if k in ("min_days", "max_days", "daily_loss_soft") else _c(v) for k, v in asdict(rules).items()}


def _verdict(outcome: Outcome, days: list[Day]) -> dict[str, Any]:
    verdict: dict[str, Any] = {"status": outcome.status, "day": outcome.day if days else None}
    verdict["date"] = days[outcome.day - 1].day.isoformat() if days and outcome.day else None
    return verdict


def profile_entry(
    name: str, rules: ChallengeRules, days: list[Day], outcome: Outcome, odds: Odds | None
) -> dict[str, Any]:
    """One profile of a side-by-side comparison: its rules, its verdict on the same days, its odds of passing."""
    passed = odds.as_dict()["passed"] if odds else None
    return {"name": name, "rules": _rules_dict(rules), "verdict": _verdict(outcome, days), "passed": passed}


def llm_dependence(events: list[Event], trades: list[ClosedTrade]) -> dict[str, Any]:
    """Which decisions an LLM had a view in (a model may know the future of the data it is shown).

    In replay mode an LLM agent answers only from the recorded exchanges (``--llm-cache``); with no
    recording it abstains, and the decision is the rule agents' alone.
    """
    signals = {e.event_id: e for e in events if isinstance(e, SignalEvent)}
    llm = [e for e in events if isinstance(e, AgentAnalysisEvent) and e.agent_kind == "llm"]
    viewed = {a.trigger_event_id for a in llm if not a.abstained and a.trigger_event_id in signals}
    alerts = sorted(signals[i].alert_id or i for i in viewed)
    return {
        "analyses": len(llm),
        "views": sum(not a.abstained for a in llm),
        "abstained": sum(a.abstained for a in llm),
        "models": sorted({a.model for a in llm if a.model}),
        "alerts_with_an_llm_view": alerts,
        "trades_with_an_llm_view": sum(1 for t in trades if t.entry_alert in alerts or t.exit_alert in alerts),
    }


def build_report(
    *,
    inputs: dict[str, Any],
    run: dict[str, Any],
    trades: list[ClosedTrade],
    days: list[Day],
    rules: ChallengeRules,
    trace: list[DayState],
    outcome: Outcome,
    odds: Odds | None,
    profiles: list[dict[str, Any]] | None = None,
    llm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON twin of the HTML report (money as strings of exact decimals)."""
    start = Decimal(rules.starting_balance) / 100
    by_number = {s.day: s for s in trace}
    daily, balance = [], rules.starting_balance
    for n, day in enumerate(days, start=1):
        balance += day.pnl
        state = by_number.get(n)  # None after the verdict: the challenge was over
        daily.append(
            {
                "date": day.day.isoformat(),
                "pnl": _c(day.pnl),
                "trades": day.trades,
                "balance": _c(balance),
                "floor": _c(state.floor) if state else None,
                "in_challenge": state is not None,
                "target_balance": _c(rules.starting_balance + rules.profit_target),
            }
        )
    return {
        "inputs": inputs,
        "run": run,
        "fill_rule": FILL_RULE,
        "rules": _rules_dict(rules),
        "totals": totals(trades),
        "trades": [_trade(t) for t in trades],
        "daily": daily,
        "equity": [
            {"time": iso(p.ts_ns), "equity": str(p.equity.quantize(CENT)), "drawdown": str(p.drawdown.quantize(CENT))}
            for p in equity_curve(trades, start)
        ],
        "verdict": _verdict(outcome, days),
        "odds": odds.as_dict() if odds else None,
        "profiles": profiles or [],
        "llm": llm or llm_dependence([], trades),
    }
