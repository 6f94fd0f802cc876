"""The simulated venue: deterministic fills on quotes, bars or trades. Pure: time is passed in.

* Market orders fill at the touch (buy at ask, sell at bid); a quantity beyond the displayed
  size walks one tick per displayed size (a residual walks a tick), at most ``MAX_WALK_LEVELS``
  ticks and never to a price of 0 or below: the rest of a market order is canceled. On bars they fill at the
  close, on trades at the trade price. No price: the order is rejected, never filled at an
  invented one.
* Limit orders fill when marketable, taking the displayed size at each tick up to their limit
  (the rest rests: a partial fill), or at their limit on a bar that trades through it; stop
  orders trigger when the price reaches the stop, and a bar that gaps past the stop fills at
  the open.
* IOC fills what it can now and cancels the rest; FOK fills all now or nothing; DAY expires at
  the trading day's end; GTD at its expiry time.
* Latency (submit and cancel) delays an order's or a cancel's arrival: it takes effect on the
  first market event at or after its arrival time, against that market.
* Slippage and fees come from :mod:`at_exec_sim.domain.venue_models`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.models.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from at_core.models.orders import OrderSpec
from at_core.models.precision import Rounding
from at_exec_sim.domain.venue_models import FeeModel, LatencyModel, NoSlippage, Quote, SlippageModel

#: The most ticks one order walks through the displayed size in one market event (an order of a
#: million against a displayed 3 must neither stall the engine nor fill at a price of 0).
MAX_WALK_LEVELS = 1_000
_ZERO_VOLUME = Decimal(0)

__all__ = ["Execution", "FeeModel", "Market", "RestingOrder", "SimVenue", "VenueUpdate"]


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
    volume: Decimal = Decimal(0)  # bar volume or trade size

    @classmethod
    def of_quote(cls, bid: Decimal, ask: Decimal, bid_size: Decimal, ask_size: Decimal, last: Decimal | None) -> Market:
        """A quote's market (the last trade kept), as ``Market(bid=..., ...)`` makes it: one per
        quote, so its fields go into the instance as one dict, not one frozen setattr each."""
        market = object.__new__(cls)
        _set_dict(
            market,
            {
                "bid": bid,
                "ask": ask,
                "bid_size": bid_size,
                "ask_size": ask_size,
                "last": last,
                "bar_open": None,
                "bar_high": None,
                "bar_low": None,
                "volume": _ZERO_VOLUME,
            },
        )
        return market

    @property
    def mid(self) -> Decimal | None:
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.last

    def touch(self, side: OrderSide) -> Decimal | None:
        price = self.ask if side is OrderSide.BUY else self.bid
        return price if price is not None else self.last

    def displayed(self, side: OrderSide) -> Decimal:
        size = self.ask_size if side is OrderSide.BUY else self.bid_size
        return size if size > 0 else self.volume


#: sets a Market's dict whole (a third cheaper than ``__dict__.update`` with keywords)
_set_dict = Market.__dict__["__dict__"].__set__


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
    day: date | None = None  # trading day a DAY order belongs to
    arrives_at: int = 0  # ns; > now while in flight
    cancel_at: int | None = None  # ns a requested cancel takes effect


@dataclass(frozen=True)
class VenueUpdate:
    """Something that happened to one order on a market event or a timer."""

    order: RestingOrder
    kind: str  # "arrived" (outcome as from submit), "fill", "canceled", "expired"
    executions: tuple[Execution, ...] = ()
    outcome: str | None = None


@dataclass
class SimVenue:
    fees: FeeModel = field(default_factory=FeeModel)
    slippage: SlippageModel = field(default_factory=NoSlippage)
    latency: LatencyModel = field(default_factory=LatencyModel)
    resting: dict[str, RestingOrder] = field(default_factory=dict)
    inflight: dict[str, RestingOrder] = field(default_factory=dict)

    def submit(
        self,
        client_order_id: str,
        inst: Instrument,
        spec: OrderSpec,
        market: Market,
        now_ns: int = 0,
        day: date | None = None,
    ) -> tuple[list[Execution], str | None]:
        """Returns (executions now, outcome): None (resting), 'filled', 'canceled', 'pending'
        (in flight: see :meth:`on_market`) or a rejection reason."""
        order = RestingOrder(client_order_id, inst, spec, spec.quantity, day=day)
        delay = self.latency.submit_delay()
        if delay > 0:
            order.arrives_at = now_ns + delay
            self.inflight[client_order_id] = order
            return [], "pending"
        return self._arrive(order, market)

    def _arrive(self, order: RestingOrder, market: Market) -> tuple[list[Execution], str | None]:
        spec = order.spec
        if spec.order_type is OrderType.MARKET and market.touch(spec.side) is None:
            return [], "no_market_price"
        execs = self._try_fill(order, market)
        filled = sum((e.quantity for e in execs), Decimal(0))
        if spec.time_in_force is TimeInForce.FOK and filled < spec.quantity:
            return [], "canceled"
        order.leaves -= filled
        if order.leaves == 0:
            return execs, "filled"
        if spec.time_in_force is TimeInForce.IOC or spec.order_type is OrderType.MARKET:
            return execs, "canceled"
        self.resting[order.client_order_id] = order
        return execs, None

    def cancel(self, client_order_id: str, now_ns: int = 0) -> RestingOrder | None:
        """Cancel now (no cancel latency), or schedule it; returns the order if it was known."""
        order = self.resting.get(client_order_id) or self.inflight.get(client_order_id)
        if order is None:
            return None
        delay = self.latency.cancel_delay()
        if delay > 0:
            due = now_ns + delay
            order.cancel_at = due if order.cancel_at is None else min(order.cancel_at, due)  # the first cancel wins
            return order
        self.resting.pop(client_order_id, None)
        self.inflight.pop(client_order_id, None)
        return order

    def remove(self, client_order_id: str) -> RestingOrder | None:
        """Take an order off the venue now, resting or in flight (the venue's own cancel: a
        liquidation at a session cutoff or a breach); returns it if it was there."""
        return self.resting.pop(client_order_id, None) or self.inflight.pop(client_order_id, None)

    def holds(self, client_order_id: str) -> bool:
        """The order rests or is in flight here."""
        return client_order_id in self.resting or client_order_id in self.inflight

    def on_market(self, instrument_id: str, market: Market, now_ns: int = 0) -> list[VenueUpdate]:
        """For one instrument: orders arriving, cancels that landed by now, then resting orders filling."""
        out: list[VenueUpdate] = []
        if not self.resting and not self.inflight:
            return out  # nothing working anywhere: most quotes
        # orders arriving now met this market on arrival: they must not take its liquidity twice
        resting = [o for o in self.resting.values() if o.instrument.instrument_id == instrument_id]
        for order in [o for o in self.inflight.values() if o.instrument.instrument_id == instrument_id]:
            if order.arrives_at <= now_ns:
                del self.inflight[order.client_order_id]
                if order.cancel_at is not None and order.cancel_at <= order.arrives_at:
                    out.append(VenueUpdate(order, "canceled"))
                    continue
                execs, outcome = self._arrive(order, market)
                out.append(VenueUpdate(order, "arrived", tuple(execs), outcome))
        out += self._due_cancels(now_ns)  # a cancel that landed before this market event: no fill on it
        for order in resting:
            if order.client_order_id not in self.resting:
                continue
            execs = self._try_fill(order, market)
            if execs:
                order.leaves -= sum((e.quantity for e in execs), Decimal(0))
                if order.leaves <= 0:
                    del self.resting[order.client_order_id]
                out.append(VenueUpdate(order, "fill", tuple(execs)))
        return out

    def _due_cancels(self, now_ns: int) -> list[VenueUpdate]:
        out = []
        for order in list(self.resting.values()):
            if order.cancel_at is not None and order.cancel_at <= now_ns:
                del self.resting[order.client_order_id]
                out.append(VenueUpdate(order, "canceled"))
        return out

    def expire(self, now_ns: int, day_of: Callable[[RestingOrder], date | None]) -> list[VenueUpdate]:
        """Expire DAY orders whose trading day is over and GTD orders past their expiry; apply due cancels."""
        if not self.resting:
            return []
        out = self._due_cancels(now_ns)
        for order in list(self.resting.values()):
            spec = order.spec
            gtd_over = spec.time_in_force is TimeInForce.GTD and (spec.expire_time_ns or 0) <= now_ns
            day_over = spec.time_in_force is TimeInForce.DAY and order.day is not None and day_of(order) != order.day
            if gtd_over or day_over:
                del self.resting[order.client_order_id]
                out.append(VenueUpdate(order, "expired"))
        return out

    def _taker_price(self, inst: Instrument, side: OrderSide, qty: Decimal, price: Decimal, market: Market) -> Decimal:
        slip = self.slippage.slippage(inst, qty, price, Quote(market.bid, market.ask, market.displayed(side)))
        rounding = Rounding.CEILING if side is OrderSide.BUY else Rounding.FLOOR
        return inst.round_price(price + slip * side.sign, rounding)

    def _try_fill(self, order: RestingOrder, market: Market) -> list[Execution]:
        spec, inst = order.spec, order.instrument
        if spec.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) and not order.triggered:
            trigger = _stop_trigger(spec, market)
            if trigger is None:
                return []
            order.triggered = True
            if spec.order_type is OrderType.STOP_MARKET:
                price = self._taker_price(inst, spec.side, order.leaves, trigger, market)
                return [self._execute(inst, order.leaves, price, LiquiditySide.TAKER)]
        touch = market.touch(spec.side)
        if touch is None:
            return []
        if spec.order_type in (OrderType.MARKET, OrderType.STOP_MARKET):
            return self._walk(inst, spec.side, order.leaves, touch, market, None)
        limit = spec.limit_price
        assert limit is not None
        marketable = touch <= limit if spec.side is OrderSide.BUY else touch >= limit
        if marketable:
            return self._walk(inst, spec.side, order.leaves, touch, market, limit)
        through = (
            (market.bar_low is not None and market.bar_low < limit)
            if spec.side is OrderSide.BUY
            else (market.bar_high is not None and market.bar_high > limit)
        )
        if through:
            return [self._execute(inst, order.leaves, limit, LiquiditySide.MAKER)]
        return []

    def _walk(
        self, inst: Instrument, side: OrderSide, qty: Decimal, touch: Decimal, market: Market, limit: Decimal | None
    ) -> list[Execution]:
        """Take the displayed size at each tick from the touch (up to ``limit``); unknown size takes all."""
        size = market.ask_size if side is OrderSide.BUY else market.bid_size
        if size <= 0 or qty <= size:
            price = self._taker_price(inst, side, qty, touch, market)
            if limit is not None:
                price = min(price, limit) if side is OrderSide.BUY else max(price, limit)
            return [self._execute(inst, qty, price, LiquiditySide.TAKER)] if price > 0 else []
        execs, level, left = [], touch, qty
        while left > 0 and (limit is None or (level <= limit if side is OrderSide.BUY else level >= limit)):
            if len(execs) >= MAX_WALK_LEVELS:  # the rest waits (a limit) or is canceled (a market order)
                break
            take = min(left, size)
            price = self._taker_price(inst, side, take, level, market)
            if limit is not None:
                price = min(price, limit) if side is OrderSide.BUY else max(price, limit)
            if price <= 0:  # a sell that walked the book down to nothing: no fill at a price of 0
                break
            execs.append(self._execute(inst, take, price, LiquiditySide.TAKER))
            left -= take
            level += inst.price_increment * side.sign
        return execs

    def _execute(self, inst: Instrument, qty: Decimal, price: Decimal, liquidity: LiquiditySide) -> Execution:
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
