"""The simulated venue: deterministic fills on quotes, bars or trades. Pure: time is passed in.

* Market orders fill at the touch (buy at ask, sell at bid); a quantity beyond the displayed
  size walks one tick per displayed size (a residual walks a tick). On bars they fill at the
  close, on trades at the trade price. No price: the order is rejected, never filled at an
  invented one.
* Limit orders fill when marketable (at the touch, or at their limit on a bar that trades
  through it); stop orders trigger when the price reaches the stop, and a bar that gaps past
  the stop fills at the open.
* IOC fills what it can now and cancels the rest; FOK fills all now or nothing.
* Slippage: none or fixed ticks against the taker; fees per contract, or in basis points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.models.enums import AssetClass, LiquiditySide, OrderSide, OrderType, TimeInForce
from at_core.models.orders import OrderSpec


@dataclass(frozen=True)
class Market:
    """What the venue last saw for an instrument."""

    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: Decimal = Decimal(0)
    ask_size: Decimal = Decimal(0)
    last: Decimal | None = None
    bar_open: Decimal | None = None
    bar_high: Decimal | None = None
    bar_low: Decimal | None = None

    @property
    def mid(self) -> Decimal | None:
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.last

    def touch(self, side: OrderSide) -> Decimal | None:
        price = self.ask if side is OrderSide.BUY else self.bid
        return price if price is not None else self.last


@dataclass(frozen=True)
class FeeModel:
    per_contract: Decimal = Decimal("0.62")  # futures, per side
    fx_bps: Decimal = Decimal(0)
    crypto_taker_bps: Decimal = Decimal("4")
    crypto_maker_bps: Decimal = Decimal("2")

    def fee(self, inst: Instrument, qty: Decimal, price: Decimal, liquidity: LiquiditySide) -> Decimal:
        if inst.asset_class is AssetClass.FUTURE:
            return (qty * self.per_contract).quantize(Decimal("0.01"))
        bps = (
            self.fx_bps
            if inst.asset_class is AssetClass.FX
            else (self.crypto_taker_bps if liquidity is LiquiditySide.TAKER else self.crypto_maker_bps)
        )
        return (inst.notional(qty, price) * bps / Decimal(10_000)).quantize(Decimal("0.00000001"))


@dataclass(frozen=True)
class Execution:
    quantity: Decimal
    price: Decimal
    fee: Decimal
    liquidity: LiquiditySide


@dataclass
class RestingOrder:
    client_order_id: str
    instrument: Instrument
    spec: OrderSpec
    leaves: Decimal
    triggered: bool = False


@dataclass
class SimVenue:
    fees: FeeModel = field(default_factory=FeeModel)
    slippage_ticks: Decimal = Decimal(0)
    resting: dict[str, RestingOrder] = field(default_factory=dict)

    def submit(
        self, client_order_id: str, inst: Instrument, spec: OrderSpec, market: Market
    ) -> tuple[list[Execution], str | None]:
        """Returns (executions now, outcome) where outcome is None (resting), 'filled', 'canceled' or a rejection reason."""
        if spec.order_type is OrderType.MARKET and market.touch(spec.side) is None:
            return [], "no_market_price"
        order = RestingOrder(client_order_id, inst, spec, spec.quantity)
        execs = self._try_fill(order, market)
        filled = sum((e.quantity for e in execs), Decimal(0))
        if spec.time_in_force is TimeInForce.FOK and filled < spec.quantity:
            return [], "canceled"
        order.leaves -= filled
        if order.leaves == 0:
            return execs, "filled"
        if spec.time_in_force is TimeInForce.IOC or spec.order_type is OrderType.MARKET:
            return execs, "canceled"
        self.resting[client_order_id] = order
        return execs, None

    def cancel(self, client_order_id: str) -> RestingOrder | None:
        return self.resting.pop(client_order_id, None)

    def on_market(self, instrument_id: str, market: Market) -> list[tuple[RestingOrder, list[Execution]]]:
        """Fill resting orders of one instrument against new market data."""
        out = []
        for order in [o for o in self.resting.values() if o.instrument.instrument_id == instrument_id]:
            execs = self._try_fill(order, market)
            if execs:
                order.leaves -= sum((e.quantity for e in execs), Decimal(0))
                if order.leaves <= 0:
                    del self.resting[order.client_order_id]
                out.append((order, execs))
        return out

    def _slip(self, inst: Instrument, side: OrderSide, price: Decimal) -> Decimal:
        return price + inst.price_increment * self.slippage_ticks * side.sign

    def _try_fill(self, order: RestingOrder, market: Market) -> list[Execution]:
        spec, inst = order.spec, order.instrument
        if spec.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) and not order.triggered:
            trigger = _stop_trigger(spec, market)
            if trigger is None:
                return []
            order.triggered = True
            if spec.order_type is OrderType.STOP_MARKET:
                return [
                    self._execute(
                        inst, spec.side, order.leaves, self._slip(inst, spec.side, trigger), LiquiditySide.TAKER
                    )
                ]
        touch = market.touch(spec.side)
        if touch is None:
            return []
        limit = spec.limit_price
        if spec.order_type is OrderType.MARKET or (spec.order_type is OrderType.STOP_MARKET and order.triggered):
            return self._walk(inst, spec.side, order.leaves, touch, market)
        assert limit is not None
        marketable = touch <= limit if spec.side is OrderSide.BUY else touch >= limit
        if marketable:
            return [self._execute(inst, spec.side, order.leaves, touch, LiquiditySide.TAKER)]
        through = (
            (market.bar_low is not None and market.bar_low < limit)
            if spec.side is OrderSide.BUY
            else (market.bar_high is not None and market.bar_high > limit)
        )
        if through:
            return [self._execute(inst, spec.side, order.leaves, limit, LiquiditySide.MAKER)]
        return []

    def _walk(self, inst: Instrument, side: OrderSide, qty: Decimal, touch: Decimal, market: Market) -> list[Execution]:
        size = market.ask_size if side is OrderSide.BUY else market.bid_size
        if size <= 0 or qty <= size:
            return [self._execute(inst, side, qty, self._slip(inst, side, touch), LiquiditySide.TAKER)]
        execs, price, left = [], touch, qty
        while left > 0:
            take = min(left, size)
            execs.append(self._execute(inst, side, take, self._slip(inst, side, price), LiquiditySide.TAKER))
            left -= take
            price += inst.price_increment * side.sign
        return execs

    def _execute(
        self, inst: Instrument, side: OrderSide, qty: Decimal, price: Decimal, liquidity: LiquiditySide
    ) -> Execution:
        price = inst.round_price(price)
        return Execution(qty, price, self.fees.fee(inst, qty, price, liquidity), liquidity)


def _stop_trigger(spec: OrderSpec, market: Market) -> Decimal | None:
    """Price at which a stop triggers now, or None. A bar that gaps through the stop fills at its open."""
    stop = spec.stop_price
    assert stop is not None
    if market.bar_open is not None:
        if spec.side is OrderSide.BUY:
            if market.bar_open >= stop:
                return market.bar_open
            if market.bar_high is not None and market.bar_high >= stop:
                return stop
        else:
            if market.bar_open <= stop:
                return market.bar_open
            if market.bar_low is not None and market.bar_low <= stop:
                return stop
        return None
    price = market.touch(spec.side)
    if price is None:
        return None
    reached = price >= stop if spec.side is OrderSide.BUY else price <= stop
    return price if reached else None
