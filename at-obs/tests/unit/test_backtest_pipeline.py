"""Backtest plumbing without the stack: inputs as events, fills as a trade list, days, the report."""

from __future__ import annotations

import itertools
import json
import random
from datetime import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from at_core.clock import ManualClock
from at_core.events import EventFactory, FillEvent, MarketDataEvent, SignalEvent
from at_core.ids import IdGenerator
from at_core.models.enums import OrderSide
from at_core.serialization import encode_event
from at_core.symbols import normalize_ticker
from at_obs.backtest.bars import load_bars
from at_obs.backtest.challenge import ChallengeRules, DayState, run_challenge
from at_obs.backtest.daily import by_day, equity_curve, trading_day
from at_obs.backtest.montecarlo import monte_carlo
from at_obs.backtest.pipeline import segments
from at_obs.backtest.recording import Target, build_inputs
from at_obs.backtest.report import to_html, to_json
from at_obs.backtest.result import build_report
from at_obs.backtest.trades import ClosedTrade, trade_list
from at_obs.backtest.tv_trades import load_tv_trades

DATA = Path(__file__).resolve().parents[1] / "data" / "backtest"
NY, CHICAGO = ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")
TARGET = Target(normalize_ticker("CME_MINI:MES1!"), "CME_MINI:MES1!", "topstep-50k-1", "backtest")
D = Decimal


def _inputs() -> list[object]:
    bars = load_bars(DATA / "mes_5m_tradingview.csv")
    trades = load_tv_trades(DATA / "mes_5m_list_of_trades.csv", NY).trades
    return build_inputs(bars, trades, TARGET)  # type: ignore[return-value]


def test_every_bar_is_market_data_at_its_close_and_every_trade_two_tradingview_signals() -> None:
    events = _inputs()
    bars = [e for e in events if isinstance(e, MarketDataEvent)]
    signals = [e for e in events if isinstance(e, SignalEvent)]
    assert len(bars) == 48 and len(signals) == 6
    first = bars[0]
    assert first.ts_event - first.data.ts_open == 300 * 10**9  # type: ignore[union-attr,operator]
    assert (first.instrument_id, first.venue) == ("MES.CME", "CME")
    entry, exit_ = signals[0], signals[1]
    assert (entry.action, entry.market_position, entry.position_size, entry.alert_id) == (
        "buy", "long", D(2), "tv-trade-1-entry",
    )  # fmt: skip
    assert (exit_.action, exit_.market_position, exit_.position_size, exit_.prev_market_position) == (
        "sell", "flat", D(0), "long",
    )  # fmt: skip
    assert (entry.origin, entry.ticker, entry.interval) == ("tradingview", "CME_MINI:MES1!", "5")


def test_a_signal_comes_right_after_the_bar_that_closed_at_its_time() -> None:
    events = _inputs()
    entry = next(i for i, e in enumerate(events) if isinstance(e, SignalEvent))
    bar = events[entry - 1]
    assert isinstance(bar, MarketDataEvent) and bar.ts_event == events[entry].ts_event  # type: ignore[attr-defined]
    assert [e.ts_event for e in events] == sorted(e.ts_event for e in events)  # type: ignore[attr-defined]


def test_the_same_inputs_give_the_same_events_byte_for_byte() -> None:
    assert [encode_event(e) for e in _inputs()] == [encode_event(e) for e in _inputs()]  # type: ignore[arg-type]


def _fills(*legs: tuple[int, str, str, str, str]) -> list[FillEvent]:
    clock = ManualClock(0)
    factory = EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(0)))
    out = []
    for ts, side, qty, price, fee in legs:
        clock.advance_to(ts)
        out.append(
            factory.make(
                FillEvent,
                account_id="a",
                strategy_id="s",
                instrument_id="MES.CME",
                client_order_id="c",
                venue="SIM",
                trade_id=f"t{ts}",
                side=OrderSide(side),
                quantity=D(qty),
                price=D(price),
                fee=D(fee),
                fee_currency="USD",
                slippage_amount=D("1.25") * D(qty),
            )
        )
    return out


def test_fills_pair_first_in_first_out_and_a_reversal_closes_then_opens() -> None:
    fills = _fills(
        (1, "buy", "1", "100", "0.62"),
        (2, "buy", "1", "102", "0.62"),
        (3, "sell", "3", "104", "1.86"),  # closes 2 long (at 100 and 102), opens 1 short
        (4, "buy", "1", "103", "0.62"),
    )
    trades = trade_list(fills, D(5))  # type: ignore[arg-type]
    assert [(t.direction, t.qty, t.entry_price, t.exit_price, t.gross_pnl) for t in trades] == [
        ("long", D(1), D(100), D(104), D(20)),
        ("long", D(1), D(102), D(104), D(10)),
        ("short", D(1), D(104), D(103), D(5)),
    ]
    assert [t.fees for t in trades] == [D("1.24")] * 3
    assert [t.slippage for t in trades] == [D("2.50")] * 3
    assert trades[0].net_pnl == D("18.76")


def _trade(exit_ns: int, net: str) -> ClosedTrade:
    return ClosedTrade("a", "MES.CME", "long", D(1), exit_ns - 60 * 10**9, D(100), exit_ns, D(100), D(net), D(0),
                       D(0), "tv-1", "tv-2")  # fmt: skip


def test_a_trade_closed_after_the_five_pm_chicago_roll_counts_on_the_next_trading_day() -> None:
    monday_1659 = 1772492340 * 10**9  # 2026-03-02 16:59 CT (22:59 UTC)
    assert trading_day(monday_1659, CHICAGO, time(17)).isoformat() == "2026-03-02"
    assert trading_day(monday_1659 + 60 * 10**9, CHICAGO, time(17)).isoformat() == "2026-03-03"
    days = by_day([_trade(monday_1659, "10"), _trade(monday_1659 + 120 * 10**9, "-4.5")], CHICAGO, time(17))
    assert [(d.day.isoformat(), d.pnl, d.trades) for d in days] == [("2026-03-02", 1000, 1), ("2026-03-03", -450, 1)]


def test_equity_curve_tracks_the_drawdown_from_the_running_peak() -> None:
    curve = equity_curve([_trade(10**9, "100"), _trade(2 * 10**9, "-30"), _trade(3 * 10**9, "50")], D(1000))
    assert [(p.equity, p.drawdown) for p in curve] == [(D(1100), D(0)), (D(1070), D(30)), (D(1120), D(0))]


def _report() -> dict[str, object]:
    trades = [_trade(1772470000 * 10**9, "150"), _trade(1772560000 * 10**9, "-40")]
    days = by_day(trades, CHICAGO, time(17))
    rules = ChallengeRules(5_000_000, 30_000, 200_000, 0, 100_000)
    trace: list[DayState] = []
    outcome = run_challenge([d.pnl for d in days], rules, trace)
    odds = monte_carlo(rules, random.Random(1), runs=100, daily_pnl=[d.pnl for d in days], seed=1)
    return build_report(
        inputs={"instrument_id": "MES.CME"}, run={"output_sha256": "x", "warnings": []}, trades=trades,
        days=days, rules=rules, trace=trace, outcome=outcome, odds=odds,
    )  # fmt: skip


def test_the_report_json_holds_trades_days_floors_verdict_and_odds() -> None:
    report = _report()
    assert report["totals"] == {
        "trades": 2, "wins": 1, "losses": 1, "gross_pnl": "110.00", "fees": "0.00", "slippage": "0.00",
        "net_pnl": "110.00",
    }  # fmt: skip
    assert [(d["date"], d["pnl"], d["balance"], d["floor"]) for d in report["daily"]] == [  # type: ignore[index,union-attr]
        ("2026-03-02", "150.00", "50150.00", "48000.00"),
        ("2026-03-03", "-40.00", "50110.00", "48150.00"),
    ]
    assert report["verdict"] == {"status": "running", "day": 2, "date": "2026-03-03"}
    assert report["odds"]["runs"] == 100  # type: ignore[index]
    assert to_json(report) == to_json(_report())
    assert json.loads(to_json(report))["trades"][0]["entry_alert"] == "tv-1"


def test_the_html_report_is_one_self_contained_file_with_an_inline_chart() -> None:
    page = to_html(_report())
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<polyline" in page
    for outside in ("src=", "href=", "<script", "<link", "@import", "url("):
        assert outside not in page
    assert "Verdict: running on day 2 (2026-03-03)" in page
    assert "tv-1" in page and "Odds (100 bootstrap runs of daily, seed 1)" in page


def test_bars_between_signals_go_without_waiting_and_every_signal_and_the_bar_before_it_wait() -> None:

    events = _inputs()
    groups = segments(events)  # type: ignore[arg-type]
    assert [e for _, group in groups for e in group] == events
    waiting = {e.event_id for wait, group in groups if wait for e in group}  # type: ignore[attr-defined]
    for i, event in enumerate(events):
        if isinstance(event, SignalEvent):
            assert event.event_id in waiting and events[i - 1].event_id in waiting  # type: ignore[attr-defined]
    assert events[-1].event_id in waiting  # type: ignore[attr-defined]
    assert groups[-1][0] and all(a[0] != b[0] for a, b in itertools.pairwise(groups))
    assert all(wait for wait, _ in segments(events, batch_bars=False))  # type: ignore[arg-type]


def test_bars_between_signals_travel_as_one_batch_message_keeping_every_bar_and_signal_as_it_was() -> None:
    from at_core.events import MarketDataBatchEvent
    from at_obs.backtest.pipeline import batched

    events = _inputs()
    sent = batched(events)  # type: ignore[arg-type]
    unpacked = [m for e in sent for m in (e.events if isinstance(e, MarketDataBatchEvent) else [e])]
    assert [encode_event(e) for e in unpacked] == [encode_event(e) for e in events]  # type: ignore[arg-type]
    assert not any(isinstance(a, MarketDataBatchEvent) and isinstance(b, MarketDataBatchEvent)
                   for a, b in itertools.pairwise(sent)), "a run of bars is one message"  # fmt: skip
    assert [encode_event(e) for e in sent] == [encode_event(e) for e in batched(_inputs())]  # type: ignore[arg-type]
    waiting = {e.event_id for wait, group in segments(sent) if wait for e in group}
    for i, event in enumerate(sent):
        if isinstance(event, SignalEvent):
            assert event.event_id in waiting and sent[i - 1].event_id in waiting, "the batch before a signal waits"
    capped = batched(events, most=5)  # type: ignore[arg-type]
    assert max(len(e.events) for e in capped if isinstance(e, MarketDataBatchEvent)) == 5
    assert not {e.event_id for wait, g in segments(capped) if wait for e in g} - {
        e.event_id for e in capped if isinstance(e, SignalEvent)} - {
        capped[i - 1].event_id for i, e in enumerate(capped) if isinstance(e, SignalEvent)} - {capped[-1].event_id
    }, "a batch followed by a batch does not wait"  # fmt: skip


def test_recorded_alerts_come_again_at_their_times_as_the_backtests_account_with_what_tradingview_sent() -> None:
    from at_obs.backtest.recording import recorded_alerts

    live = [e for e in _inputs() if isinstance(e, SignalEvent)]
    recorded = [e.model_copy(update={"account_id": "live-7", "strategy_id": "live"}) for e in live]
    other = live[0].model_copy(update={"instrument_id": "ES.CME", "event_id": live[0].event_id[:-1] + "x"})
    alerts = recorded_alerts([*recorded, other], "MES.CME")
    assert len(alerts) == 6, "only the backtest's instrument"

    bars = load_bars(DATA / "mes_5m_tradingview.csv")
    events = build_inputs(bars, (), TARGET, alerts)
    replayed = [e for e in events if isinstance(e, SignalEvent)]
    assert [(e.ts_event, e.action, e.position_size, e.alert_id, e.price) for e in replayed] == [
        (e.ts_event, e.action, e.position_size, e.alert_id, e.price) for e in live
    ]
    assert {(e.account_id, e.strategy_id) for e in replayed} == {("topstep-50k-1", "backtest")}
    # ids from the backtest's own seeded generator: the alert log of a backtest, sent again, is its inputs exactly
    assert [encode_event(e) for e in replayed] == [encode_event(e) for e in live]
    first = next(i for i, e in enumerate(events) if isinstance(e, SignalEvent))
    assert isinstance(events[first - 1], MarketDataEvent) and events[first - 1].ts_event == events[first].ts_event
    assert [encode_event(e) for e in events] == [encode_event(e) for e in build_inputs(bars, (), TARGET, alerts)]


def test_several_profiles_are_judged_on_the_same_days_side_by_side() -> None:
    from at_obs.backtest.result import profile_entry

    report = _report()
    days = by_day([_trade(1772470000 * 10**9, "150")], CHICAGO, time(17))
    easy = ChallengeRules.from_mapping({"starting_balance": 50000, "profit_target": 100})
    strict = ChallengeRules.from_mapping({"starting_balance": 50000, "profit_target": 3000, "max_days": 1})
    rows = [
        profile_entry(name, rules, days, run_challenge([d.pnl for d in days], rules), None)
        for name, rules in (("easy", easy), ("strict", strict))
    ]
    assert [(r["name"], r["verdict"]["status"], r["verdict"]["day"]) for r in rows] == [
        ("easy", "passed", 1), ("strict", "time_limit", 1),
    ]  # fmt: skip
    page = to_html({**report, "profiles": rows})
    assert "Profiles side by side" in page and "time_limit on day 1 (2026-03-02)" in page
    assert "Profiles side by side" not in to_html(report), "one profile: no comparison table"


def test_the_report_names_the_decisions_an_llm_had_a_view_in() -> None:
    from at_core.events import AgentAnalysisEvent
    from at_obs.backtest.result import llm_dependence

    signals = [e for e in _inputs() if isinstance(e, SignalEvent)]
    clock = ManualClock(signals[0].ts_event)
    agents = EventFactory("agents", clock, IdGenerator(clock, random.Random(3)))

    def analysis(signal: SignalEvent, kind: str, abstained: bool) -> AgentAnalysisEvent:
        view = {"abstained": True, "abstain_reason": "no recorded exchange"} if abstained else {
            "stance": "long", "conviction": D("0.8")}  # fmt: skip
        return agents.make(
            AgentAnalysisEvent, cause=signal, agent_id=f"{kind}-1", agent_kind=kind, account_id=signal.account_id,
            strategy_id=signal.strategy_id, instrument_id=signal.instrument_id, trigger_event_id=signal.event_id,
            model="local:smollm2" if kind == "llm" else None, **view,
        )  # fmt: skip

    views = [analysis(signals[0], "llm", False), analysis(signals[1], "llm", True), analysis(signals[1], "rule", False)]
    exit_ns = signals[1].ts_event
    trades = [ClosedTrade("a", "MES.CME", "long", D(2), signals[0].ts_event, D(100), exit_ns, D(101), D(10), D(0),
                          D(0), "tv-trade-1-entry", "tv-trade-1-exit")]  # fmt: skip
    llm = llm_dependence([*signals, *views], trades)
    assert (llm["analyses"], llm["views"], llm["abstained"], llm["models"]) == (2, 1, 1, ["local:smollm2"])
    assert llm["alerts_with_an_llm_view"] == ["tv-trade-1-entry"] and llm["trades_with_an_llm_view"] == 1
    assert llm_dependence(signals, trades)["analyses"] == 0
    assert "LLM agents" in to_html({**_report(), "llm": llm}) and "LLM agents" not in to_html(_report())


def test_the_agents_strategy_puts_each_signal_right_after_its_bar_where_the_driver_waits() -> None:
    from at_core.ids import derive_id
    from at_core.models.enums import IngestSource
    from at_core.symbols import normalize_ticker
    from at_obs.backtest.agent_signals import parse_signal_source, with_agent_signals
    from at_obs.backtest.bars import Bar, BarSeries
    from at_obs.backtest.pipeline import segments
    from at_obs.backtest.recording import Target, build_inputs

    minute = 60 * 10**9
    closes = ["10", "11", "12", "10", "8", "12", "14", "15"]  # fast 2 / slow 3: down on bar 4, up on bar 6
    bars = tuple(
        Bar(i * minute, Decimal(c), Decimal(c), Decimal(c), Decimal(c), Decimal(1)) for i, c in enumerate(closes)
    )
    target = Target(normalize_ticker("CME_MINI:MES1!"), "CME_MINI:MES1!", "acct", "strat")
    plain = build_inputs(BarSeries(bars, "1", minute), (), target)
    inputs = with_agent_signals(plain, parse_signal_source("agents:ma_cross:fast=2,slow=3"), target, "1")
    signals = [(i, e) for i, e in enumerate(inputs) if isinstance(e, SignalEvent)]
    assert [i for i, _ in signals] == [5, 8], "right after bars 4 and 6"
    for i, s in signals:
        bar = inputs[i - 1]
        assert s.event_id == derive_id(bar.event_id, "bar-signal:ma_cross.acct.strat")
        assert (s.source, s.origin, s.ts_event, s.ts_init, s.causation_id) == (
            "agents", IngestSource.AGENT, bar.ts_event, bar.ts_event, bar.event_id,
        )  # fmt: skip
    assert [s.position_size for _, s in signals] == [Decimal(-1), Decimal(1)]
    waits = [i for i, e in enumerate(inputs) for w, g in segments(inputs) if w and e in g]
    assert waits == [4, 5, 7, 8, 9], "each signal's bar (the venue has it), the signal, and the last bar"
    assert with_agent_signals(plain, parse_signal_source("agents:ma_cross:fast=2,slow=3"), target, "5") == plain


def test_the_html_report_says_what_the_calendar_left_out_and_nothing_when_nothing_was() -> None:
    report = _report()
    assert 'class="calendar"' not in to_html(report)
    report["inputs"] |= {
        "calendar": "CME_Equity", "bars_outside_session": 55, "bars_on_holidays": 24, "holidays": ["2026-12-25"],
        "trades_outside_session": [2], "alerts_outside_session": 0,
    }  # fmt: skip
    page = to_html(report)
    assert "Calendar CME_Equity: 55 bar(s) outside its sessions and 24 on holidays (2026-12-25) not traded" in page
    assert "1 TradingView trade(s) and 0 alert(s) left out" in page
