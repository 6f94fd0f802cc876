"""Rule agents on hand-worked fixtures; sizing examples; combination rules including veto."""

from __future__ import annotations

import pytest
from tests.helpers import T0, D, factory, signal

from at_agents.domain.agents.session_guard import Blackout, SessionGuard
from at_agents.domain.agents.signal_follower import SignalFollower
from at_agents.domain.agents.trend_filter import TrendFilter
from at_agents.domain.agents.volatility_sizer import VolatilitySizer, atr
from at_agents.domain.analysis import Analysis
from at_agents.domain.committee import CommitteeConfig, Member, combine, gate
from at_agents.domain.context import Bar, MarketContext
from at_agents.domain.sizing import risk_size
from at_core.catalog import InstrumentCatalog
from at_core.models.enums import AssetClass, SignalAction

CAT = InstrumentCatalog()


@pytest.mark.parametrize(
    ("inst", "equity", "entry", "stop", "expected"),
    [
        # ES: 1% of 50,000 = 500; 10 points x 50 = 500 per contract -> 1
        ("ES.CME", "50000", "5000", "4990", "1"),
        # MES: 500 / (10 x 5 = 50) -> 10 micros
        ("MES.CME", "50000", "5000", "4990", "10"),
        # EURUSD: 1,000 risk (1% of 100k) / 0.0020 -> 500,000 units
        ("EUR/USD.FX", "100000", "1.0850", "1.0830", "500000"),
        # BTCUSDT: 1,000 / 2,000 -> 0.5 BTC
        ("BTC/USDT.BINANCE", "100000", "97000", "95000", "0.5"),
        # ES with 2,000 equity: 20 risk < 500 per contract -> 0 (no trade)
        ("ES.CME", "2000", "5000", "4990", "0"),
    ],
)
def test_risk_sizing_examples(inst: str, equity: str, entry: str, stop: str, expected: str) -> None:
    assert risk_size(CAT.get(inst), D(equity), D("0.01"), D(entry), D(stop)) == D(expected)


def test_the_follower_acts_on_target_position_not_on_buy_one() -> None:
    f, ctx = factory(), MarketContext()
    ctx.positions[("paper-1", "MES.CME")] = (T0 - 1, D(1))
    view = SignalFollower(CAT).analyze(signal(f, quantity="1", position_size="3"), ctx, T0)
    assert (view.target_quantity, view.quantity, view.stance) == (D(3), D(2), "long")


def test_the_follower_sizes_by_risk_when_the_alert_has_no_quantity() -> None:
    f = factory()
    view = SignalFollower(CAT, default_stop_ticks=D(40)).analyze(signal(f, quantity=None), MarketContext(), T0)
    # 40 ticks of MES = 10 points = 50 per micro; 1% of 50,000 = 500 -> 10 micros
    assert view.quantity == D(10) and view.stop_price == D(4990)


def test_the_follower_abstains_when_already_at_target() -> None:
    f, ctx = factory(), MarketContext()
    ctx.positions[("paper-1", "MES.CME")] = (T0 - 1, D(2))
    view = SignalFollower(CAT).analyze(signal(f, position_size="2"), ctx, T0)
    assert view.abstained and "already at target" in view.abstain_reason


def test_a_position_newer_than_the_signal_is_the_position_to_trade_from_not_flat() -> None:
    # Signals queued behind fills: the account is long 5 now, whatever the signal's time.
    f, ctx = factory(), MarketContext()
    ctx.positions[("paper-1", "MES.CME")] = (T0 + 1, D(5))
    ctx.equity["paper-1"] = (T0 + 1, D(80000))
    view = SignalFollower(CAT).analyze(signal(f, action=SignalAction.SELL, quantity=None, position_size="2"), ctx, T0)
    assert (view.target_quantity, view.quantity, view.conviction) == (D(2), D(3), D("-0.8"))
    assert ctx.equity_at("paper-1", T0) == D(80000)


def test_market_data_stays_point_in_time() -> None:
    ctx = _bars([5000, 5001])
    ctx.add_bar("MES.CME", Bar(T0 + 60_000_000_000, D(6000), D(6000), D(6000), D(6000)))  # after the decision
    assert [b.close for b in ctx.bars_until("MES.CME", T0)] == [D(5000), D(5001)]
    assert ctx.price_at("MES.CME", T0) is None  # the last price is from after T0: not used


def test_a_snapshot_does_not_change_when_later_events_arrive() -> None:
    ctx = _bars([5000])
    ctx.positions[("paper-1", "MES.CME")] = (T0 - 1, D(3))
    frozen = ctx.snapshot()
    ctx.positions[("paper-1", "MES.CME")] = (T0 - 1, D(1))
    ctx.add_bar("MES.CME", Bar(T0 - 1, D(5005), D(5005), D(5005), D(5005)))
    assert frozen.position_at("paper-1", "MES.CME", T0) == D(3)
    assert [b.close for b in frozen.bars_until("MES.CME", T0)] == [D(5000)]


def _bars(closes: list[int]) -> MarketContext:
    ctx = MarketContext()
    for i, c in enumerate(closes):
        ctx.add_bar("MES.CME", Bar(T0 - (len(closes) - i) * 60_000_000_000, D(c), D(c + 2), D(c - 2), D(c)))
    return ctx


def test_the_trend_filter_needs_enough_bars_and_reads_moving_averages() -> None:
    f = factory()
    assert TrendFilter().analyze(signal(f), _bars([5000] * 10), T0).abstained
    up = TrendFilter().analyze(signal(f), _bars(list(range(5000, 5025))), T0)
    down = TrendFilter().analyze(signal(f), _bars(list(range(5025, 5000, -1))), T0)
    assert (up.stance, down.stance) == ("long", "short")
    assert up.conviction > 0 > down.conviction


def test_atr_and_the_volatility_sizer() -> None:
    ctx = _bars([5000 + (i % 2) for i in range(20)])
    bars = ctx.bars_until("MES.CME", T0)
    assert atr(bars, 14) == D(4)  # high-low = 4 dominates every bar
    view = VolatilitySizer(CAT).analyze(signal(factory()), ctx, T0)
    # stop 2 x ATR = 8 points = 40 per micro; 500 / 40 -> 12
    assert view.quantity == D(12)


def test_the_session_guard_vetoes_entries_in_a_blackout_but_not_exits() -> None:
    guard = SessionGuard(blackouts=[Blackout(T0 - 1, T0 + 1, "FOMC")])
    assert guard.analyze(signal(factory()), MarketContext(), T0).veto
    assert not guard.analyze(signal(factory(), action=SignalAction.EXIT, quantity=None), MarketContext(), T0).veto


def _config(rule: str = "weighted_mean", **kw) -> CommitteeConfig:
    return CommitteeConfig(
        "c", (Member("a", D(1)), Member("b", D("0.5")), Member("g", D(0), veto=True)), rule=rule, **kw
    )


def view(conviction: str | None, veto: bool = False) -> Analysis:
    if conviction is None:
        return Analysis.abstain("timeout")
    c = D(conviction)
    return Analysis(stance="long" if c > 0 else "short" if c < 0 else "flat", conviction=c, veto=veto)


@pytest.mark.parametrize(
    ("rule", "views", "direction"),
    [
        ("weighted_mean", {"a": view("0.8"), "b": view("-0.4")}, 1),  # (0.8 - 0.2) / 1.5 = 0.4
        ("weighted_mean", {"a": view("0.2"), "b": view("-0.4")}, 0),  # 0 below threshold
        ("weighted_mean", {"a": view("0.8"), "b": view(None)}, 1),  # abstention ignored
        ("vote", {"a": view("0.8"), "b": view("-0.4")}, 0),  # tied
        ("unanimity", {"a": view("0.8"), "b": view("0.3")}, 1),
        ("unanimity", {"a": view("0.8"), "b": view("-0.3")}, 0),
    ],
)
def test_combination_rules(rule: str, views: dict, direction: int) -> None:
    assert combine(_config(rule), views).direction == direction


def test_a_veto_wins_over_any_conviction() -> None:
    outcome = combine(_config(), {"a": view("1"), "b": view("1"), "g": view("0", veto=True)})
    assert outcome.direction == 0 and outcome.reason.startswith("vetoed by g")


def test_only_abstentions_give_no_direction_never_a_default() -> None:
    assert combine(_config(), {"a": view(None), "b": view(None)}).conviction is None


def test_the_gate_clamps_and_says_so() -> None:
    qty, clamps = gate(D(25), "future", _config(max_quantity={"future": D(10)}), D(12))
    assert qty == D(10) and len(clamps) == 2


def test_the_fx_asset_class_name_matches_the_gate_keys() -> None:
    assert str(AssetClass.FX) == "fx"


def _ns(y: int, m: int, d: int, h: int) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return int(datetime(y, m, d, h, tzinfo=ZoneInfo("America/Chicago")).timestamp()) * 10**9


def test_the_session_guard_vetoes_a_futures_entry_on_a_cme_holiday_but_not_an_exit() -> None:
    guard = SessionGuard(calendars={"future": "CME_Equity"})
    christmas, monday = _ns(2026, 12, 25, 10), _ns(2026, 12, 28, 10)
    vetoed = guard.analyze(signal(factory()), MarketContext(), christmas)
    assert vetoed.veto and "CME_Equity is closed" in vetoed.rationale
    assert not guard.analyze(signal(factory()), MarketContext(), monday).veto
    assert not guard.analyze(
        signal(factory(), action=SignalAction.EXIT, quantity=None), MarketContext(), christmas
    ).veto


def test_the_session_guard_vetoes_after_an_early_close() -> None:
    guard = SessionGuard(calendars={"future": "CME_Equity"})
    assert not guard.analyze(signal(factory()), MarketContext(), _ns(2026, 11, 27, 11)).veto
    assert guard.analyze(signal(factory()), MarketContext(), _ns(2026, 11, 27, 13)).veto


def test_the_shipped_settings_give_the_session_guard_hours() -> None:
    from at_agents.bootstrap import rule_agents
    from at_agents.config import AgentsSettings

    guard = rule_agents(AgentsSettings(), InstrumentCatalog())["session_guard"]
    assert isinstance(guard, SessionGuard) and guard.calendars["future"] == "CME_Equity"
    assert guard.analyze(signal(factory()), MarketContext(), _ns(2027, 1, 1, 10)).veto  # New Year's Day


def test_the_follower_and_the_sizer_share_one_catalog_that_builds_each_instrument_once() -> None:
    from at_agents.bootstrap import rule_agents
    from at_agents.config import AgentsSettings

    catalog = InstrumentCatalog()
    agents = rule_agents(AgentsSettings(), catalog)
    follower, sizer = agents["signal_follower"], agents["volatility_sizer"]
    assert isinstance(follower, SignalFollower) and isinstance(sizer, VolatilitySizer)
    assert follower.catalog is catalog and sizer.catalog is catalog
    kept = catalog.get("MES.CME")
    assert catalog.get("MES.CME") is kept and kept == CAT.get("MES.CME")
