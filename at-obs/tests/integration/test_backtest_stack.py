"""``at-backtest`` end to end: the real agents and exec-sim, in replay mode, on a private nats-server.

Each run is a separate process (the console script), so "deterministic" means what a trader
needs: the same files give the same output hash and the same report, byte for byte.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from at_obs.adapters.recordings import load_jsonl
from at_obs.domain.replay import output_hash, split

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[1] / "data" / "backtest"
BARS, TRADES = DATA / "mes_5m_tradingview.csv", DATA / "mes_5m_list_of_trades.csv"
EXE = str(Path(sys.executable).parent / "at-backtest")
RULES = ["--starting-balance", "50000", "--profit-target", "250", "--trailing-drawdown", "2000", "--min-days", "1"]
TV_PRICES = [("6004.75", "6029"), ("6026.25", "5999.75"), ("6019", "6001.5")]


def backtest(out: Path, *extra: str) -> tuple[dict[str, Any], str]:
    out.mkdir(parents=True, exist_ok=True)
    listed = [] if "--alerts" in extra else [str(TRADES)]
    args = [EXE, str(BARS), *listed, "--symbol", "CME_MINI:MES1!", "--tz", "America/New_York", *RULES]
    args += ["--runs", "500", "--json", str(out / "r.json"), "--report", str(out / "r.html")]
    args += ["--recording", str(out / "rec.jsonl"), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((out / "r.json").read_text()), done.stdout


def test_two_processes_give_one_output_hash_and_one_report_through_the_real_services(tmp_path: Path) -> None:
    first, printed = backtest(tmp_path / "a")
    second, _ = backtest(tmp_path / "b")
    assert first["run"]["output_sha256"] == second["run"]["output_sha256"]
    assert (tmp_path / "a" / "r.json").read_bytes() == (tmp_path / "b" / "r.json").read_bytes()
    assert (tmp_path / "a" / "r.html").read_bytes() == (tmp_path / "b" / "r.html").read_bytes()
    assert f"output sha256: {first['run']['output_sha256']}" in printed
    assert first["run"]["warnings"] == []

    # the recording is at-replay's format: its outputs hash to what the report says
    events = load_jsonl(str(tmp_path / "a" / "rec.jsonl"))
    inputs, outputs = split(events)
    assert len(inputs) == first["run"]["inputs"] == 48 + 6
    assert output_hash(outputs) == first["run"]["output_sha256"]

    # every TradingView trade went through agents, risk and the venue, at TradingView's prices
    trades = first["trades"]
    assert [(t["entry_price"], t["exit_price"]) for t in trades] == TV_PRICES
    assert [t["entry_alert"] for t in trades] == [f"tv-trade-{n}-entry" for n in (1, 2, 3)]
    assert [t["exit_alert"] for t in trades] == [f"tv-trade-{n}-exit" for n in (1, 2, 3)]
    assert [t["direction"] for t in trades] == ["long", "short", "long"]
    assert [t["duration_s"] for t in trades] == [1800, 2400, 4500]
    # exec-sim's default fee, 0.62 a contract a side: 2 x 2 + 2 x 1 + 2 x 1 contract-sides
    assert first["totals"]["gross_pnl"] == first["inputs"]["tradingview_net_pnl"] == "287.50"
    assert first["totals"]["fees"] == str(Decimal("0.62") * 8)
    assert first["verdict"] == {"status": "passed", "day": 1, "date": "2026-03-02"}


def _alert_log(path: Path) -> str:
    """The trade list's alerts as a live account's audit trail (another account, a strategy of its own)."""
    from zoneinfo import ZoneInfo

    from at_core import subjects
    from at_core.events import SignalEvent
    from at_core.symbols import normalize_ticker
    from at_obs.adapters.audit_store import open_audit_store
    from at_obs.backtest.bars import load_bars
    from at_obs.backtest.recording import Target, build_inputs
    from at_obs.backtest.tv_trades import load_tv_trades

    live = Target(normalize_ticker("CME_MINI:MES1!"), "CME_MINI:MES1!", "live-account-1", "live-strategy")
    trades = load_tv_trades(TRADES, ZoneInfo("America/New_York")).trades
    signals = [e for e in build_inputs(load_bars(BARS), trades, live) if isinstance(e, SignalEvent)]
    store = open_audit_store(str(path))
    store.append_many([(e, subjects.subject_for(e)) for e in signals])
    store.close()
    return str(path)


def test_without_fees_the_net_pnl_is_tradingviews_to_the_cent_and_with_slippage_it_is_worse(tmp_path: Path) -> None:
    # the alerts from a recorded alert log (an audit trail) instead of the list of trades: the same trades
    free, _ = backtest(tmp_path / "free", "--fee-per-contract", "0", "--alerts", _alert_log(tmp_path / "audit.sqlite3"))
    assert free["inputs"]["recorded_alerts"] == 6 and free["inputs"]["trades_file"] is None
    assert [t["entry_alert"] for t in free["trades"]] == [f"tv-trade-{n}-entry" for n in (1, 2, 3)]
    assert {t["account_id"] for t in free["trades"]} == {"topstep-50k-1"}
    assert free["totals"]["net_pnl"] == "287.50" == free["totals"]["gross_pnl"]
    assert [t["net_pnl"] for t in free["trades"]] == ["242.50", "132.50", "-87.50"]
    # two more challenges judged on the same trades, side by side
    (tmp_path / "far.yaml").write_text("starting_balance: 50000\nprofit_target: 3000\nmax_days: 5\n")
    (tmp_path / "tight.yaml").write_text("starting_balance: 50000\nprofit_target: 3000\ndaily_loss_limit: 50\n")
    compare = ["--compare", str(tmp_path / "far.yaml"), "--compare", str(tmp_path / "tight.yaml")]
    slipped, printed = backtest(tmp_path / "slip", "--fee-per-contract", "0", "--slippage-ticks", "1", *compare)
    # one tick (1.25 USD on MES) against each of 8 contract-sides
    assert slipped["totals"]["slippage"] == "10.00"
    assert Decimal(slipped["totals"]["net_pnl"]) == Decimal("287.50") - Decimal("10.00")
    profiles = {p["name"]: p["verdict"]["status"] for p in slipped["profiles"]}
    assert profiles == {"rules": "passed", "far": "running", "tight": "running"}, "one day, 277.50 up: no daily loss"
    assert slipped["profiles"][1]["passed"]["probability"] == 0.0  # 5 days of 277.50 never make 3,000
    assert "far: running" in printed and "tight: running" in printed


def bars_only(out: Path, *extra: str) -> tuple[dict[str, Any], str]:
    """A backtest of the bars alone: the signals come from the agents' moving-average crossover."""
    out.mkdir(parents=True, exist_ok=True)
    args = [EXE, str(BARS), "--symbol", "CME_MINI:MES1!", *RULES, "--runs", "200"]
    args += [
        "--signals",
        "agents:ma_cross:fast=3,slow=8",
        "--committees",
        str(DATA / "committees_signal_follower.yaml"),
    ]
    args += ["--json", str(out / "r.json"), "--recording", str(out / "rec.jsonl"), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((out / "r.json").read_text()), done.stdout


def test_bars_alone_trade_through_the_agents_crossover_with_one_output_hash_in_two_processes(tmp_path: Path) -> None:
    from at_core.events import FillEvent, SignalEvent
    from at_core.models.enums import IngestSource

    first, printed = bars_only(tmp_path / "a")
    second, _ = bars_only(tmp_path / "b")
    assert first["run"]["output_sha256"] == second["run"]["output_sha256"]
    assert (tmp_path / "a" / "r.json").read_bytes() == (tmp_path / "b" / "r.json").read_bytes()
    assert first["run"]["warnings"] == [] and f"output sha256: {first['run']['output_sha256']}" in printed
    inputs, outputs = split(load_jsonl(str(tmp_path / "a" / "rec.jsonl")))
    generated = [e for e in inputs if isinstance(e, SignalEvent)]
    assert generated and {(e.origin, e.source) for e in generated} == {(IngestSource.AGENT, "agents")}
    assert first["inputs"]["trades_file"] is None and first["inputs"]["agent_signals_generated"] == len(generated)
    assert first["run"]["inputs"] == 48 + len(generated), "the bars and the signals made from them, nothing else"
    # a sine of closes: fast 3 / slow 8 crosses back and forth, each crossing a reversal to +-1
    assert {e.position_size for e in generated} == {Decimal(1), Decimal(-1)}
    closes = {e.price for e in generated}
    fills = [e for e in outputs if isinstance(e, FillEvent)]
    assert fills and {f.price for f in fills} <= closes, "each signal filled at its own bar's close (no slippage)"
    trades = first["trades"]
    assert len(trades) >= 2 and all(t["entry_alert"].startswith("ma_cross.topstep-50k-1.backtest-") for t in trades)


def test_bars_on_the_christmas_holiday_and_outside_the_sessions_are_counted_and_never_traded(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from at_core.events import FillEvent

    bars = DATA / "mes_60m_christmas_2026.csv"  # hourly, Wed 23rd 00:00 UTC to Mon 28th 23:00 (CME_Equity)
    args = [EXE, str(bars), "--symbol", "CME_MINI:MES1!", *RULES, "--runs", "0", "--json", str(tmp_path / "r.json")]
    args += [
        "--signals",
        "agents:ma_cross:fast=2,slow=5",
        "--committees",
        str(DATA / "committees_signal_follower.yaml"),
    ]
    args += ["--recording", str(tmp_path / "rec.jsonl"), "--account", "paper-1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    i = report["inputs"]
    # the 24th closes early (18:00 UTC), the 25th is a holiday, the market reopens on the 27th at 23:00 UTC
    assert (i["calendar"], i["bars"], i["bars_traded"]) == ("CME_Equity", 144, 65)
    assert (i["bars_on_holidays"], i["holidays"], i["bars_outside_session"]) == (24, ["2026-12-25"], 55)
    assert "24 on holidays (2026-12-25) not traded" in " ".join(done.stdout.split())
    inputs, outputs = split(load_jsonl(str(tmp_path / "rec.jsonl")))
    assert sum(e.event_type == "market_data" for e in inputs) == 65, "only the bars in session were published"
    fills = [e for e in outputs if isinstance(e, FillEvent)]
    closed_from, open_again = datetime(2026, 12, 24, 18, tzinfo=UTC), datetime(2026, 12, 27, 23, tzinfo=UTC)
    assert fills and not [
        f for f in fills if closed_from.timestamp() * 1e9 < f.ts_event <= open_again.timestamp() * 1e9
    ]
    assert {d["date"] for d in report["daily"]}.isdisjoint({"2026-12-25", "2026-12-26", "2026-12-27"})
