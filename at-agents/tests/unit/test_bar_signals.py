"""Bar-driven strategies on hand-worked closes: crossovers, breakouts, warm-up, duplicates, events."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from pydantic import ValidationError

from at_agents.bootstrap import bar_sources
from at_agents.config import AgentsSettings, BarSignalConfig
from at_agents.errors import ConfigError
from at_core.catalog import InstrumentCatalog
from at_core.clock import ManualClock
from at_core.events import BarData, EventFactory, MarketDataEvent
from at_core.ids import IdGenerator, derive_id
from at_core.models.enums import AssetClass, IngestSource, PositionSide, SignalAction
from at_core.strategies.bar_signal_event import SignalTarget, bar_signal
from at_core.strategies.bar_signals import (
    BarSignalConfigError,
    BarSignalGenerator,
    Breakout,
    ClosedBar,
    DirectionChange,
    MaCross,
    make_strategy,
)

MIN = 60 * 10**9


def bars(closes: list[str], start: int = 0) -> list[ClosedBar]:
    """Bars one minute apart whose high and low are their close (the ranges of a breakout are the closes)."""
    return [ClosedBar(start + i * MIN, Decimal(c), Decimal(c), Decimal(c)) for i, c in enumerate(closes)]


def directions(generator: BarSignalGenerator, closes: list[str]) -> list[tuple[int, int, int]]:
    """(bar index, previous, new direction) of every signal the closes give."""
    out = []
    for i, bar in enumerate(bars(closes)):
        change = generator.on_bar(bar)
        if change is not None:
            out.append((i, change.previous, change.direction))
    return out


def test_ma_cross_signals_each_strict_crossing_after_warm_up_and_not_the_side_it_started_on() -> None:
    # fast=2, slow=3. Bar 2: fast 11.5 > slow 11 (the starting side: no signal). Bar 4: closes
    # 12,10,8: fast 9 < slow 10 (cross down: short). Bar 6: 8,12,14: fast 13 > slow 11.33 (cross up: long).
    closes = ["10", "11", "12", "10", "8", "12", "14", "15"]
    assert directions(BarSignalGenerator(MaCross(fast=2, slow=3)), closes) == [(4, 0, -1), (6, -1, 1)]


def test_ma_cross_equal_averages_keep_the_side_a_touch_is_not_a_crossing() -> None:
    # fast=1, slow=2: above (11 > 10.5), equal (11 = 11), above again: no crossing at all
    closes = ["10", "11", "11", "12"]
    assert directions(BarSignalGenerator(MaCross(fast=1, slow=2)), closes) == []
    # ... but above, equal, below is one crossing (down), on the bar that went below
    assert directions(BarSignalGenerator(MaCross(fast=1, slow=2)), ["10", "11", "11", "10"]) == [(3, 0, -1)]


def test_ma_cross_compares_the_averages_exactly_in_decimal() -> None:
    # in floats (0.3 + 0.1 + 0.2) / 3 is 0.20000000000000004, above the fast average 0.2: exact, they are equal
    strategy = MaCross(fast=1, slow=3)
    assert [strategy.on_bar(b) for b in bars(["0.3", "0.1", "0.2"])] == [None] * 3
    assert strategy.indicators() == {"fast_ma": Decimal("0.2"), "slow_ma": Decimal("0.2")}
    assert BarSignalGenerator(MaCross(fast=1, slow=3)).on_bar(bars(["0.3", "0.1", "0.2"])[-1]) is None


def test_long_only_turns_the_short_into_flat_and_the_long_back_in() -> None:
    closes = ["10", "11", "12", "10", "8", "12", "14", "15"]
    generator = BarSignalGenerator(MaCross(fast=2, slow=3), long_only=True)
    # the cross down wants short: from flat that is no change; the cross up goes long
    assert directions(generator, closes) == [(6, 0, 1)]
    generator = BarSignalGenerator(MaCross(fast=2, slow=3), long_only=True)
    assert directions(generator, [*closes, "9", "7"]) == [(6, 0, 1), (8, 1, 0)]


def test_breakout_goes_long_above_the_lookback_high_short_below_its_low_and_holds_between() -> None:
    # lookback 3: bar 3 (13 > 12) long; bar 4 inside 11-13, bar 5 level with the high 13 (not above):
    # hold; bar 6 (11 below the low 12.5 of 13, 12.5, 13) short
    closes = ["10", "11", "12", "13", "12.5", "13", "11", "10"]
    assert directions(BarSignalGenerator(Breakout(lookback=3)), closes) == [(3, 0, 1), (6, 1, -1)]


def test_a_bar_not_after_the_last_one_is_ignored_so_a_redelivery_cannot_move_the_window_twice() -> None:
    generator = BarSignalGenerator(MaCross(fast=2, slow=3))
    series = bars(["10", "11", "12", "10", "8"])
    seen = [generator.on_bar(b) for b in series[:4]]
    assert generator.on_bar(series[3]) is None, "the same bar again"
    assert generator.on_bar(series[1]) is None, "an older bar"
    assert seen == [None] * 4 and generator.on_bar(series[4]) == DirectionChange(-1, 0, generator.strategy.indicators())


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("ma_cross", {"fast": 30, "slow": 10}, "fast < slow"),
        ("ma_cross", {"fast": 3}, "missing slow"),
        ("ma_cross", {"fast": 3, "slow": 9, "lookback": 2}, "unknown lookback"),
        ("breakout", {"lookback": 0}, "lookback >= 1"),
        ("rsi", {}, "unknown bar strategy 'rsi'"),
    ],
)
def test_a_bad_strategy_is_refused_naming_what_is_wrong(kind: str, params: dict[str, int], message: str) -> None:
    with pytest.raises(BarSignalConfigError, match=message):
        make_strategy(kind, params)
    with pytest.raises(ValidationError, match=message):
        BarSignalConfig(account_id="a", strategy_id="s", instrument_id="MES.CME", kind=kind, params=params)


def test_bar_signals_are_off_by_default_and_set_per_account_and_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AgentsSettings().bar_signals == []
    monkeypatch.setenv(
        "AT_AGENTS_BAR_SIGNALS",
        '[{"account_id":"paper-1","strategy_id":"ma","instrument_id":"MES.CME","kind":"ma_cross",'
        '"params":{"fast":10,"slow":30},"quantity":"2"}]',
    )
    (cfg,) = AgentsSettings().bar_signals
    assert (cfg.account_id, cfg.strategy_id, cfg.quantity, cfg.params) == ("paper-1", "ma", 2, {"fast": 10, "slow": 30})
    (source,) = bar_sources([cfg], InstrumentCatalog())["MES.CME"]
    assert source.target == SignalTarget("ma_cross.paper-1.ma", "paper-1", "ma", Decimal(2), AssetClass.FUTURE)
    unknown = cfg.model_copy(update={"instrument_id": "NOPE.XX"})
    with pytest.raises(ConfigError, match=r"bar_signals\[0\].instrument_id"):
        bar_sources([unknown], InstrumentCatalog())


def _bar_event(ts: int, close: str) -> MarketDataEvent:
    clock = ManualClock(ts)
    f = EventFactory("gateway", clock, IdGenerator(clock, random.Random(1)))
    c = Decimal(close)
    data = BarData(interval="1", open=c, high=c, low=c, close=c, ts_open=ts - MIN)
    return f.make(MarketDataEvent, instrument_id="MES.CME", venue="CME", data=data)


def test_the_signal_is_tradingview_shaped_at_the_bar_time_with_an_id_derived_from_the_bar() -> None:
    bar_event = _bar_event(10 * MIN, "5000.25")
    target = SignalTarget("ma_cross.paper-1.ma", "paper-1", "ma", Decimal(2), AssetClass.FUTURE)
    clock = ManualClock(10 * MIN)
    factory = EventFactory("agents", clock, IdGenerator(clock, random.Random(9)))
    short = bar_signal(factory, bar_event, DirectionChange(-1, 1, {"fast_ma": Decimal(1)}), target)
    assert short.event_id == derive_id(bar_event.event_id, "bar-signal:ma_cross.paper-1.ma")
    assert (short.ts_event, short.causation_id, short.origin) == (
        bar_event.ts_event,
        bar_event.event_id,
        IngestSource.AGENT,
    )
    assert (short.action, short.position_size, short.quantity, short.price) == (
        SignalAction.SELL, Decimal(-2), Decimal(2), Decimal("5000.25"),
    )  # fmt: skip
    assert (short.market_position, short.prev_market_position) == (PositionSide.SHORT, PositionSide.LONG)
    assert short.indicators == {"fast_ma": Decimal(1)} and short.interval == "1"
    # another seed, another process: the same id (a redelivered bar is a JetStream duplicate)
    other = EventFactory("agents", clock, IdGenerator(clock, random.Random(1234)))
    assert bar_signal(other, bar_event, DirectionChange(-1, 1, {}), target).event_id == short.event_id
    flat = bar_signal(factory, bar_event, DirectionChange(0, -1, {}), target)
    assert (flat.action, flat.position_size, flat.market_position) == (SignalAction.BUY, 0, PositionSide.FLAT)


async def test_the_service_turns_a_crossing_bar_into_one_published_signal_and_other_bars_into_none() -> None:
    from at_agents.bootstrap import build

    cfg = BarSignalConfig(
        account_id="paper-1", strategy_id="ma", instrument_id="MES.CME", kind="ma_cross", params={"fast": 1, "slow": 2}
    )
    svc = build(AgentsSettings(replay_mode=True, bar_signals=[cfg]))
    out = [await svc.handle(_bar_event((i + 1) * MIN, c)) for i, c in enumerate(["10", "11", "12", "10"])]
    assert out[:3] == [[], [], []], "warm-up, then the side it starts on (up)"
    (signal,) = out[3]
    assert (signal.origin, signal.account_id, signal.strategy_id, signal.position_size) == (
        IngestSource.AGENT, "paper-1", "ma", Decimal(-1),
    )  # fmt: skip
    assert svc.clock.now_ns() == signal.ts_init == signal.ts_event == 4 * MIN, "the event clock, not the wall"
    assert svc.metrics.counter("bar_signals_total").labels("ma_cross.paper-1.ma")._value.get() == 1
    off = build(AgentsSettings(replay_mode=True))
    assert [await off.handle(_bar_event((i + 1) * MIN, c)) for i, c in enumerate(["10", "11", "12", "10"])] == [[]] * 4


async def test_a_signal_the_bus_refused_comes_again_with_the_redelivered_bar_not_lost() -> None:
    from at_agents.bootstrap import build

    class RefusingOnce:
        def __init__(self) -> None:
            self.published: list[object] = []
            self.refused = False

        async def publish_many(self, events: list[object]) -> None:
            if not self.refused:
                self.refused = True
                raise ConnectionError("JetStream unavailable")
            self.published.extend(events)

    cfg = BarSignalConfig(
        account_id="paper-1", strategy_id="ma", instrument_id="MES.CME", kind="ma_cross", params={"fast": 1, "slow": 2}
    )
    svc = build(AgentsSettings(replay_mode=True, bar_signals=[cfg]))
    bus = RefusingOnce()
    svc.bus = bus  # type: ignore[assignment]
    bars = [_bar_event((i + 1) * MIN, c) for i, c in enumerate(["10", "11", "12", "10"])]
    for bar in bars[:3]:
        assert await svc.handle(bar) == []
    with pytest.raises(ConnectionError):
        await svc.handle(bars[3])  # the consumer naks the bar: it comes again
    (again,) = await svc.handle(bars[3])
    assert bus.published == [again] and again.position_size == -1
    assert svc.metrics.counter("bar_signals_total").labels("ma_cross.paper-1.ma")._value.get() == 1


async def test_a_batch_of_bars_is_its_members_one_by_one_the_same_signals_and_context() -> None:
    from at_agents.bootstrap import build
    from at_core.events import MarketDataBatchEvent
    from at_core.serialization import encode_event

    cfg = BarSignalConfig(
        account_id="paper-1", strategy_id="ma", instrument_id="MES.CME", kind="ma_cross", params={"fast": 1, "slow": 2}
    )
    members = [_bar_event((i + 1) * MIN, c) for i, c in enumerate(["10", "11", "12", "10", "13"])]
    alone, together = (build(AgentsSettings(replay_mode=True, bar_signals=[cfg])) for _ in range(2))
    one_by_one = [e for bar in members for e in await alone.handle(bar)]
    batch = MarketDataBatchEvent(
        event_id=derive_id(members[0].event_id, "md-batch"), ts_event=members[-1].ts_event,
        ts_init=members[-1].ts_init, source="gateway", correlation_id="batch", instrument_id="MES.CME", venue="CME",
        events=members,
    )  # fmt: skip
    batched = await together.handle(batch)
    assert len(one_by_one) == 2 and [encode_event(e) for e in batched] == [encode_event(e) for e in one_by_one]
    assert {e.causation_id for e in batched} <= {bar.event_id for bar in members}, "caused by a member, never the batch"
    assert list(together.ctx.bars["MES.CME"]) == list(alone.ctx.bars["MES.CME"]) and together.clock.now_ns() == 5 * MIN
