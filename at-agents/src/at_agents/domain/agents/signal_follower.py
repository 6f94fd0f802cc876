"""Follows the TradingView strategy: maps its target-position fields to a desired position, sized by risk."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from at_agents.domain.analysis import Analysis
from at_agents.domain.context import MarketContext
from at_agents.domain.sizing import risk_size
from at_core.catalog import InstrumentCatalog
from at_core.errors import UnknownInstrumentError
from at_core.events import SignalEvent
from at_core.markets.money import MissingRateError
from at_core.models.brackets import BracketSpec, resolve_bracket
from at_core.models.enums import OrderSide, SignalAction, Stance


@dataclass
class SignalFollower:
    """Target = the strategy's ``position_size`` when given, else current +/- quantity, or 0 on exit.

    Without a quantity, sizes by risk: ``risk_fraction`` of equity lost at the stop (the
    alert's bracket stop, else the signal's stop, else ``default_stop_ticks`` ticks away).
    """

    catalog: InstrumentCatalog
    agent_id: str = "signal_follower"
    kind: str = "rule"
    inline: ClassVar[bool] = True  # pure and bounded (bars kept): run on the loop, no thread
    risk_fraction: Decimal = Decimal("0.01")
    default_stop_ticks: Decimal = Decimal(40)
    default_equity: Decimal = Decimal(50000)

    def analyze(self, signal: SignalEvent, ctx: MarketContext, now_ns: int) -> Analysis:
        try:
            inst = self.catalog.get(signal.instrument_id)
        except UnknownInstrumentError:
            return Analysis.abstain(f"unknown instrument {signal.instrument_id}")
        current = ctx.position_at(signal.account_id, signal.instrument_id, now_ns)
        entry = signal.price or ctx.price_at(signal.instrument_id, now_ns)
        direction = {SignalAction.BUY: 1, SignalAction.SELL: -1}.get(signal.action, 0)
        stop = signal.stop_price
        if signal.bracket is not None and entry is not None and direction:
            stop = _bracket_stop(signal.bracket, direction, entry, inst.price_increment) or stop
        if stop is None and entry is not None and direction:
            stop = inst.round_price(entry - direction * self.default_stop_ticks * inst.price_increment)
        if signal.position_size is not None:
            target = signal.position_size
            why = f"strategy position_size {target}"
        elif signal.action is SignalAction.EXIT:
            target, why = Decimal(0), "exit signal"
        elif direction:
            qty = signal.quantity
            if qty is None:
                if entry is None or stop is None:
                    return Analysis.abstain("no quantity and no price to size from")
                equity = ctx.equity_at(signal.account_id, now_ns) or self.default_equity
                currency = ctx.currency_of(signal.account_id)
                try:
                    qty = risk_size(inst, equity, self.risk_fraction, entry, stop, currency, ctx.rates_at(now_ns))
                except MissingRateError as exc:
                    return Analysis.abstain(f"cannot size in {currency}: {exc}")
                if qty == 0:
                    return Analysis.abstain(
                        f"risk of {self.risk_fraction:%} of {equity} is below one unit at this stop"
                    )
                why = f"sized {qty} at {self.risk_fraction:%} risk of {equity} {currency} to stop {stop}"
            else:
                why = f"{signal.action} {qty}"
            target = current + direction * qty
        else:
            return Analysis.abstain(f"action {signal.action} carries no target")
        if target == current:
            return Analysis.abstain(f"already at target {target}")
        stance = Stance.LONG if target > 0 else Stance.SHORT if target < 0 else Stance.FLAT
        conviction = Decimal("0.8") if target > current else Decimal("-0.8")
        return Analysis(
            stance=stance,
            conviction=conviction,
            target_quantity=target,
            quantity=abs(target - current),
            stop_price=stop if stop and stop > 0 else None,
            rationale=f"{why}; from {current} to {target}",
            evidence_ids=[signal.event_id],
        )


def _bracket_stop(bracket: BracketSpec, direction: int, entry: Decimal, tick: Decimal) -> Decimal | None:
    """The alert's own stop (a bracket's stop loss or trailing stop) at ``entry``: sizing risks to it."""
    side = OrderSide.BUY if direction > 0 else OrderSide.SELL
    try:
        return resolve_bracket(bracket, side=side, entry_price=entry, tick_size=tick).stop_price
    except ValueError:  # a stop on the wrong side: exec-sim's risk check denies it with bracket_invalid
        return None
