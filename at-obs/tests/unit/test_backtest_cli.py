"""``at-backtest``'s command line: help, unknown flags, missing and bad files fail clearly (exit 2)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from at_obs.cli.backtest import app

DATA = Path(__file__).resolve().parents[1] / "data" / "backtest"
BARS, TRADES = str(DATA / "mes_5m_tradingview.csv"), str(DATA / "mes_5m_list_of_trades.csv")
RULES = ["--symbol", "MES1!", "--starting-balance", "50000", "--profit-target", "3000"]
runner = CliRunner()


def test_help_names_the_inputs_and_the_options() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for words in ("BARS", "TRADES", "--symbol", "--profit-target", "--runs", "--report", "--json"):
        assert words in result.output


def test_an_unknown_flag_is_refused() -> None:
    result = runner.invoke(app, [BARS, TRADES, *RULES, "--fees-please"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_a_missing_bars_file_fails_before_any_service_starts() -> None:
    result = runner.invoke(app, [str(DATA / "nope.csv"), TRADES, *RULES])
    assert result.exit_code == 2
    assert "nope.csv: no such file" in result.output


def test_a_bad_cell_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bars.csv"
    bad.write_text("time,open,high,low,close\n1,2,3,1,2\n61,2,3,1,two\n")
    result = runner.invoke(app, [str(bad), TRADES, *RULES])
    assert result.exit_code == 2
    assert "line 3, column 'close': 'two' is not a number" in result.output.replace("\n", " ")


def test_missing_challenge_rules_unknown_symbols_and_time_zones_are_refused() -> None:
    no_target = runner.invoke(app, [BARS, TRADES, "--symbol", "MES1!", "--starting-balance", "50000"])
    assert no_target.exit_code == 2 and "profit_target is required" in no_target.output
    symbol = runner.invoke(app, [BARS, TRADES, *RULES[2:], "--symbol", "NYSE:???"])
    assert symbol.exit_code == 2 and "NYSE:???" in symbol.output
    zone = runner.invoke(app, [BARS, TRADES, *RULES, "--tz", "Mars/Olympus"])
    assert zone.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in zone.output


def test_rules_come_from_a_yaml_file_and_an_unknown_rule_is_named(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("starting_balance: 50000\nprofit_target: 3000\ndrawdown: 2000\n")
    result = runner.invoke(app, [BARS, TRADES, "--symbol", "MES1!", "--rules", str(rules)])
    assert result.exit_code == 2
    assert "unknown challenge rule(s): drawdown" in result.output


def test_without_trades_or_an_alert_log_nothing_runs() -> None:
    result = runner.invoke(app, [BARS, *RULES])
    assert result.exit_code == 2
    assert "give TRADES" in result.output and "--alerts" in result.output


def test_an_alert_log_without_a_signal_on_the_symbol_or_unreadable_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "log.jsonl"
    empty.write_text("\n")
    result = runner.invoke(app, [BARS, *RULES, "--alerts", str(empty)])
    assert result.exit_code == 2
    assert "no signal on MES.CME in it" in result.output.replace("\n", " ")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_type": "signal"}\n')
    result = runner.invoke(app, [BARS, *RULES, "--alerts", str(bad)])
    assert result.exit_code == 2 and "line 1 is not an event" in result.output.replace("\n", " ")
    missing = runner.invoke(app, [BARS, *RULES, "--alerts", str(tmp_path / "audit.sqlite3")])
    assert missing.exit_code == 2


def test_a_compared_profile_with_a_bad_rule_is_named_before_any_service_starts(tmp_path: Path) -> None:
    other = tmp_path / "apex.yaml"
    other.write_text("starting_balance: 50000\nprofit_target: 3000\ntrailing: 2500\n")
    result = runner.invoke(app, [BARS, TRADES, *RULES, "--compare", str(other)])
    assert result.exit_code == 2
    assert "unknown challenge rule(s): trailing" in result.output


def test_an_agent_signals_option_is_read_into_the_strategy_and_the_generators_own_keys() -> None:
    from at_obs.backtest.agent_signals import AgentSignals, parse_signal_source

    spec = parse_signal_source("agents:ma_cross:fast=10, slow=30,qty=2,long_only=1")
    assert spec == AgentSignals("ma_cross", {"fast": 10, "slow": 30}, Decimal(2), long_only=True)
    assert parse_signal_source("agents:breakout:lookback=20") == AgentSignals("breakout", {"lookback": 20})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ma_cross:fast=1", "expected agents:KIND"),
        ("agents:", "no strategy kind"),
        ("agents:ma_cross:fast", "'fast' is not name=value"),
        ("agents:ma_cross:fast=ten", "fast='ten' is not an integer"),
        ("agents:ma_cross:qty=-1", "qty='-1' is not a positive number"),
        ("agents:ma_cross:long_only=yes", "is not 0 or 1"),
        ("agents:ma_cross:fast=30,slow=10", "ma_cross needs 1 <= fast < slow"),
        ("agents:rsi:length=14", "unknown bar strategy 'rsi'"),
    ],
)
def test_a_bad_signals_option_is_refused_before_any_service_starts(value: str, message: str) -> None:
    result = runner.invoke(app, [BARS, *RULES, "--signals", value])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
