"""Bar-driven rule strategies: a signal source that reads bars, not alerts (pure).

Each strategy turns a stream of closed bars into a *desired direction* (+1 long, -1 short,
0 flat, ``None``: no view yet). A :class:`BarSignalGenerator` wraps one strategy for one
account, strategy id and instrument, and says when that direction changes: that change is the
signal (at-agents' ``service.py`` makes it the same :class:`~at_core.events.SignalEvent` the
gateway publishes for a TradingView alert, a target-position "be long / short / flat qty").
It lives in at-core because two services run it: at-agents generates the signals, and
at-obs's backtest runs it on the same bars to know, before publishing them, which bars will
signal (and so where the driver must wait): the same code, so the same answer.

* ``ma_cross`` (``fast``, ``slow``): the simple moving averages of the last ``fast`` and ``slow``
  closes. Once both are full, the side the fast average is on is recorded without a signal
  (entering mid-trend is not a crossover); each later *strict* crossing (fast from below to
  above slow, or above to below) is one. Touching (equal averages) keeps the previous side.
* ``breakout`` (``lookback``): the close above the highest high of the ``lookback`` bars before
  it: long; below their lowest low: short; otherwise the direction stays.

Arithmetic is exact (``Decimal``, averages compared as cross-multiplied sums: no division), so
the same bars give the same signals on every machine. A bar that is not after the last one
seen (a redelivery after a crash, a duplicate) is ignored: it cannot move a window twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from at_core.events import BarData, MarketDataEvent

KINDS = ("ma_cross", "breakout")


class BarSignalConfigError(ValueError):
    """A strategy kind or parameter that cannot be used (named in the message)."""


@dataclass(frozen=True, slots=True)
class ClosedBar:
    """What a strategy reads of a bar: its open time (the order key) and its prices."""

    ts_open_ns: int
    high: Decimal
    low: Decimal
    close: Decimal


def closed_bar(event: MarketDataEvent, interval: str | None = None) -> ClosedBar | None:
    """What a strategy reads of a market-data event: a bar (of ``interval`` when given), else None."""
    data = event.data
    if not isinstance(data, BarData) or (interval is not None and data.interval != interval):
        return None
    return ClosedBar(data.ts_open if data.ts_open is not None else event.ts_event, data.high, data.low, data.close)


class BarStrategy(Protocol):
    """One strategy's state machine: a closed bar in, the desired direction out."""

    def on_bar(self, bar: ClosedBar) -> int | None: ...

    def indicators(self) -> dict[str, Decimal]: ...


@dataclass
class MaCross:
    """Fast / slow simple moving average crossover."""

    fast: int
    slow: int
    _closes: deque[Decimal] = field(default_factory=deque, init=False)
    _side: int = field(default=0, init=False)
    _crossed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise BarSignalConfigError(f"ma_cross needs 1 <= fast < slow (got fast={self.fast}, slow={self.slow})")

    def on_bar(self, bar: ClosedBar) -> int | None:
        self._closes.append(bar.close)
        if len(self._closes) > self.slow:
            self._closes.popleft()
        if len(self._closes) < self.slow:
            return None
        fast_sum = sum(list(self._closes)[-self.fast :], Decimal(0))
        slow_sum = sum(self._closes, Decimal(0))
        diff = fast_sum * self.slow - slow_sum * self.fast  # sign of fast_ma - slow_ma, exactly
        side = 1 if diff > 0 else -1 if diff < 0 else 0
        if side != 0 and side != self._side:
            self._crossed = self._side != 0  # the first side seen is where it stood, not a crossing
            self._side = side
        return self._side if self._crossed else None

    def indicators(self) -> dict[str, Decimal]:
        if len(self._closes) < self.slow:
            return {}
        closes = list(self._closes)
        return {
            "fast_ma": sum(closes[-self.fast :], Decimal(0)) / self.fast,
            "slow_ma": sum(closes, Decimal(0)) / self.slow,
        }


@dataclass
class Breakout:
    """Close beyond the range of the ``lookback`` bars before it."""

    lookback: int
    _bars: deque[ClosedBar] = field(default_factory=deque, init=False)
    _direction: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.lookback < 1:
            raise BarSignalConfigError(f"breakout needs lookback >= 1 (got {self.lookback})")

    def on_bar(self, bar: ClosedBar) -> int | None:
        if len(self._bars) == self.lookback:
            if bar.close > max(b.high for b in self._bars):
                self._direction = 1
            elif bar.close < min(b.low for b in self._bars):
                self._direction = -1
        self._bars.append(bar)
        if len(self._bars) > self.lookback:
            self._bars.popleft()
        return self._direction

    def indicators(self) -> dict[str, Decimal]:
        if not self._bars:
            return {}
        return {"range_high": max(b.high for b in self._bars), "range_low": min(b.low for b in self._bars)}


_PARAMS: dict[str, tuple[str, ...]] = {"ma_cross": ("fast", "slow"), "breakout": ("lookback",)}


def make_strategy(kind: str, params: Mapping[str, int]) -> BarStrategy:
    """A fresh strategy of ``kind`` with ``params``.

    Raises:
        BarSignalConfigError: an unknown kind, a missing or unknown parameter, or a bad value.
    """
    if kind not in _PARAMS:
        raise BarSignalConfigError(f"unknown bar strategy {kind!r} (known: {', '.join(KINDS)})")
    wanted = _PARAMS[kind]
    missing, unknown = [p for p in wanted if p not in params], sorted(set(params) - set(wanted))
    if missing or unknown:
        raise BarSignalConfigError(
            f"{kind} takes {', '.join(wanted)}" + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
        )  # fmt: skip
    if kind == "ma_cross":
        return MaCross(fast=int(params["fast"]), slow=int(params["slow"]))
    return Breakout(lookback=int(params["lookback"]))


@dataclass(frozen=True, slots=True)
class DirectionChange:
    """A signal: the desired direction moved from ``previous`` to ``direction`` on this bar."""

    direction: int
    previous: int
    indicators: dict[str, Decimal]


@dataclass
class BarSignalGenerator:
    """One strategy on one instrument's bars; ``long_only`` turns every short into flat."""

    strategy: BarStrategy
    long_only: bool = False
    direction: int = 0
    last_ts_open_ns: int | None = None

    def on_bar(self, bar: ClosedBar) -> DirectionChange | None:
        """The signal this bar gives, if any (a bar not after the last one: ignored, None)."""
        if self.last_ts_open_ns is not None and bar.ts_open_ns <= self.last_ts_open_ns:
            return None
        self.last_ts_open_ns = bar.ts_open_ns
        wanted = self.strategy.on_bar(bar)
        if wanted is None:
            return None
        if self.long_only:
            wanted = max(wanted, 0)
        if wanted == self.direction:
            return None
        change = DirectionChange(wanted, self.direction, self.strategy.indicators())
        self.direction = wanted
        return change
