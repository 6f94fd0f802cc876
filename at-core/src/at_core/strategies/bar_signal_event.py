"""A bar strategy's direction change as the signal the gateway would publish for an alert (pure).

The signal is TradingView-shaped (target position: "be long / short / flat ``quantity``"), so
the committee, the risk engine and the venue treat it exactly as a TradingView strategy's. It
is stamped at the bar event's time and its id is *derived* from the bar event's id and the
generator's name: the same bars give the same signal ids (replay hashes hold), and a bar
redelivered after a crash gives the same id again (a JetStream duplicate, not a second trade).
at-agents publishes it live; at-obs's backtest builds the very same event from the same bars
(with an ``agents`` factory on the bars' clock) and publishes it after its bar, as it does a
trade list's alert, so the venue always fills it against that bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from at_core.events import BarData, EventFactory, MarketDataEvent, SignalEvent
from at_core.models.enums import AssetClass, IngestSource, PositionSide, SignalAction
from at_core.strategies.bar_signals import DirectionChange

_SIDE = {1: PositionSide.LONG, -1: PositionSide.SHORT, 0: PositionSide.FLAT}


def generator_name(kind: str, account_id: str, strategy_id: str) -> str:
    """A generator's name (in its signals' ids and ``alert_id``): one per kind, account and strategy."""
    return f"{kind}.{account_id}.{strategy_id}"


@dataclass(frozen=True, slots=True)
class SignalTarget:
    """Who a generator's signals are for: its name (in the id and ``alert_id``), account, strategy, size."""

    name: str
    account_id: str
    strategy_id: str
    quantity: Decimal
    asset_class: AssetClass


def bar_signal(
    factory: EventFactory, bar_event: MarketDataEvent, change: DirectionChange, target: SignalTarget
) -> SignalEvent:
    """The signal for ``change`` on the bar of ``bar_event`` (caused by it, id derived from it)."""
    data = bar_event.data
    assert isinstance(data, BarData)
    buying = change.direction > change.previous
    return factory.make(
        SignalEvent,
        cause=bar_event,
        derive_from=f"bar-signal:{target.name}",
        origin=IngestSource.AGENT,
        account_id=target.account_id,
        strategy_id=target.strategy_id,
        instrument_id=bar_event.instrument_id,
        asset_class=target.asset_class,
        ticker=bar_event.instrument_id,
        action=SignalAction.BUY if buying else SignalAction.SELL,
        quantity=target.quantity,
        price=data.close,
        position_size=target.quantity * change.direction,
        market_position=_SIDE[change.direction],
        prev_market_position=_SIDE[change.previous],
        alert_id=f"{target.name}-{bar_event.event_id}",
        interval=data.interval,
        comment=f"{target.name}: {_SIDE[change.previous]} -> {_SIDE[change.direction]}",
        indicators=change.indicators,
    )
