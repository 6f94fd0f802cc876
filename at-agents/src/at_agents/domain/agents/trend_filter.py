"""Trend/momentum filter: fast and slow simple moving averages over the bars seen so far."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from at_agents.domain.analysis import Analysis
from at_agents.domain.context import MarketContext
from at_core.events import SignalEvent
from at_core.models.enums import Stance


def sma(values: list[Decimal], n: int) -> Decimal:
    return sum(values[-n:], Decimal(0)) / n


@dataclass
class TrendFilter:
    agent_id: str = "trend_filter"
    kind: str = "rule"
    inline: ClassVar[bool] = True  # pure and bounded (bars kept): run on the loop, no thread
    fast: int = 5
    slow: int = 20

    def analyze(self, signal: SignalEvent, ctx: MarketContext, now_ns: int) -> Analysis:
        closes = [b.close for b in ctx.bars_until(signal.instrument_id, now_ns)]
        if len(closes) < self.slow:
            return Analysis.abstain(f"{len(closes)} bars seen, {self.slow} needed")
        fast, slow = sma(closes, self.fast), sma(closes, self.slow)
        if fast == slow:
            return Analysis(
                stance=Stance.FLAT, conviction=Decimal(0), rationale=f"SMA{self.fast} = SMA{self.slow} = {slow:.4f}"
            )
        up = fast > slow
        strength = min(abs(fast - slow) / slow * 100, Decimal(1)).quantize(Decimal("0.01"))
        conviction = max(strength, Decimal("0.3")) * (1 if up else -1)
        return Analysis(
            stance=Stance.LONG if up else Stance.SHORT,
            conviction=conviction,
            rationale=f"SMA{self.fast} {fast:.4f} {'>' if up else '<'} SMA{self.slow} {slow:.4f}",
        )
