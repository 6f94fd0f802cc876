"""Volatility-aware sizer: caps size so an ATR-multiple stop risks a fixed fraction of equity."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from at_agents.domain.analysis import Analysis
from at_agents.domain.context import Bar, MarketContext
from at_agents.domain.sizing import risk_size
from at_core.catalog import InstrumentCatalog
from at_core.errors import UnknownInstrumentError
from at_core.events import SignalEvent
from at_core.markets.money import MissingRateError
from at_core.models.enums import SignalAction, Stance


def atr(bars: list[Bar], n: int) -> Decimal:
    ranges = []
    for prev, bar in zip(bars[-n - 1 : -1], bars[-n:], strict=False):
        ranges.append(max(bar.high - bar.low, abs(bar.high - prev.close), abs(bar.low - prev.close)))
    return sum(ranges, Decimal(0)) / len(ranges)


@dataclass
class VolatilitySizer:
    catalog: InstrumentCatalog
    agent_id: str = "volatility_sizer"
    kind: str = "rule"
    inline: ClassVar[bool] = True  # pure and bounded (bars kept): run on the loop, no thread
    period: int = 14
    atr_multiple: Decimal = Decimal(2)
    risk_fraction: Decimal = Decimal("0.01")
    default_equity: Decimal = Decimal(50000)

    def analyze(self, signal: SignalEvent, ctx: MarketContext, now_ns: int) -> Analysis:
        bars = ctx.bars_until(signal.instrument_id, now_ns)
        if len(bars) <= self.period:
            return Analysis.abstain(f"{len(bars)} bars seen, {self.period + 1} needed for ATR{self.period}")
        direction = {SignalAction.BUY: 1, SignalAction.SELL: -1}.get(signal.action)
        if direction is None:
            return Analysis.abstain("sizes entries only")
        try:
            inst = self.catalog.get(signal.instrument_id)
        except UnknownInstrumentError:
            return Analysis.abstain("unknown instrument")
        value = atr(bars, self.period)
        entry = bars[-1].close
        stop = inst.round_price(entry - direction * value * self.atr_multiple)
        equity = ctx.equity_at(signal.account_id, now_ns) or self.default_equity
        currency = ctx.currency_of(signal.account_id)
        try:
            qty = risk_size(inst, equity, self.risk_fraction, entry, stop, currency, ctx.rates_at(now_ns))
        except MissingRateError as exc:
            return Analysis.abstain(f"cannot size in {currency}: {exc}")
        if qty == 0:
            return Analysis.abstain(f"ATR {value:.4f} too wide for {self.risk_fraction:%} risk")
        return Analysis(
            stance=Stance.LONG if direction > 0 else Stance.SHORT,
            conviction=Decimal("0.3") * direction,
            quantity=qty,
            stop_price=stop if stop > 0 else None,
            rationale=f"ATR{self.period} {value:.4f}: at most {qty} with a {self.atr_multiple}xATR stop at {stop}",
        )
