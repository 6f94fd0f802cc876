"""The bracket component: an entry's stop and target placed once it fills, one-cancels-other. Pure.

An approved entry whose order carries a ``bracket`` gets its children when it fills (in part or
in full): a reduce-only stop market (role ``stop_loss``) and a reduce-only limit (role
``take_profit``), on the opposite side, at prices resolved against the entry's average fill
(:func:`at_core.models.brackets.resolve_bracket`). After every fill the children are brought
back in line with what is left to protect (:meth:`Brackets.after`):

* protect = what the entry filled, less what the children filled, and never more than the
  position held in the entry's direction;
* a child is resized to protect (``order_updated``, reason ``entry_fill`` or ``position``);
* protect 0: the children left are canceled, reason ``oco`` when a child's fill closed it, else
  ``orphan`` (the position was closed by another order); the entry's unfilled rest is canceled too
  (``bracket_exited``), so a late fill of the entry is never left without its stop.

A trailing stop is re-priced on market data (``order_updated``, reason ``trailing``), never
loosened. The state is rebuilt on restart from the published order events alone
(:meth:`Brackets.recover`): the children are orders like any other (the recovery component
puts them back to rest), their ``parent_client_order_id`` and ``bracket_role`` tie them to their
entry, and ``order_updated`` carries each resize and move.

Children are placed at the entry's venue. At the simulated venue the OCO is emulated here;
resizing and trailing act on the simulated venue's resting order. Every id is derived from the
event that caused it, so a redelivery or a replay yields the same outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.errors import BracketError
from at_core.events import Event, FillEvent, MarketDataEvent, OrderSubmitted, OrderUpdated
from at_core.models.brackets import BracketRole, BracketSpec, ResolvedBracket, resolve_bracket, trail_stop
from at_core.models.enums import OrderSide, OrderStatus, OrderType
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.lifecycle import OrderLifecycle
from at_exec_sim.domain.records import OPEN_STATUSES, VENUE, OrderRecord
from at_exec_sim.domain.rules import trading_day
from at_exec_sim.domain.venue import Market, SimVenue

#: A child's client order id is its entry's with this suffix.
SUFFIX = {BracketRole.STOP_LOSS: ":sl", BracketRole.TAKE_PROFIT: ":tp"}
OCO = "oco"
ORPHAN = "orphan"
EXITED = "bracket_exited"


@dataclass
class BracketGroup:
    """One entry and its children."""

    parent_id: str
    spec: BracketSpec
    side: OrderSide  # the entry's
    resolved: ResolvedBracket | None = None
    children: dict[BracketRole, str] = field(default_factory=dict)
    best_price: Decimal | None = None  # the best price since entry (a trailing stop's anchor)
    done: bool = False


class Brackets:
    """Places, resizes, trails and cancels bracket children.

    Args:
        cache: the engine's state (the children are orders in ``cache.orders``).
        ctx: the injected services.
        venue: the simulated venue (children rest there; resized and re-priced in place).
        orders: the lifecycle component (places children, ends canceled ones).
    """

    def __init__(self, cache: EngineCache, ctx: EngineContext, venue: SimVenue, orders: OrderLifecycle) -> None:
        self.cache, self.ctx, self.venue, self.orders = cache, ctx, venue, orders
        self.groups: dict[str, BracketGroup] = {}
        self.closed: set[str] = set()  # entries whose bracket is over (their groups dropped)

    # -- after fills

    def after(self, events: list[Event]) -> list[Event]:
        """The bracket work the fills among ``events`` call for (and the fills that work causes)."""
        pending = [e for e in events if isinstance(e, FillEvent)]
        if not pending or not (self.groups or any(self._entry(e) for e in pending)):
            return []
        out: list[Event] = []
        while pending:
            fill = pending.pop(0)
            produced = self._on_fill(fill)
            out += produced
            pending += [e for e in produced if isinstance(e, FillEvent)]
        return out

    def _entry(self, fill: FillEvent) -> bool:
        record = self.cache.orders.get(fill.client_order_id)
        return record is not None and record.spec.bracket is not None

    def _on_fill(self, fill: FillEvent) -> list[Event]:
        record = self.cache.orders.get(fill.client_order_id)
        coid = fill.client_order_id
        if (
            record is not None
            and record.spec.bracket is not None
            and coid not in self.groups
            and coid not in self.closed
        ):
            self.groups[record.client_order_id] = BracketGroup(
                record.client_order_id, record.spec.bracket, record.spec.side
            )
        out: list[Event] = []
        # the position is shared by every bracket on it: each protects at most what the ones before left
        budget: dict[tuple[str, str, OrderSide], Decimal] = {}
        for group in list(self.groups.values()):
            parent = self.cache.orders.get(group.parent_id)
            if group.done or parent is None or (parent.venue != VENUE and not self._managed(parent)):
                continue  # a broker's bracket is its own (risk denies a bracket for a venue that has none)
            if parent.account_id == fill.account_id and parent.instrument_id == fill.instrument_id:
                out += self._sync(group, parent, fill, budget)
        return out

    def _sync(
        self,
        group: BracketGroup,
        parent: OrderRecord,
        cause: FillEvent,
        budget: dict[tuple[str, str, OrderSide], Decimal],
    ) -> list[Event]:
        """Bring the children in line with what is left to protect (see the module's docstring)."""
        inst = self.ctx.instrument(parent.instrument_id)
        if inst is None or parent.filled <= 0 or parent.avg_price is None:
            return []
        if group.resolved is None:
            try:
                group.resolved = resolve_bracket(  # a level the fill passed is kept: that stop triggers at once
                    group.spec,
                    side=group.side,
                    entry_price=parent.avg_price,
                    tick_size=inst.price_increment,
                    check_sides=False,
                )
            except (BracketError, ValueError):
                group.resolved = ResolvedBracket()  # a level past zero: no child for it (risk denies these)
            group.best_price = parent.avg_price
        children = {role: self.cache.orders.get(coid) for role, coid in group.children.items()}
        exited = sum((c.filled for c in children.values() if c is not None), Decimal(0))
        rt = self.cache.accounts[parent.account_id]
        key = (parent.account_id, parent.instrument_id, group.side)
        held = budget.get(key, rt.account.position(inst).quantity * group.side.sign)  # in the entry's direction
        protect = max(min(parent.filled - exited, held), Decimal(0))
        budget[key] = held - protect
        out: list[Event] = []
        if protect == 0:
            reason = OCO if exited > 0 and cause.client_order_id in group.children.values() else ORPHAN
            out += self._close(group, parent, reason)
            return out
        for role, price in self._levels(group):
            child = children.get(role)
            if child is None:
                out += self._open_child(group, parent, inst, role, price, protect, cause)
            elif child.status in OPEN_STATUSES and child.spec.quantity - child.filled != protect:
                reason = "entry_fill" if cause.client_order_id == parent.client_order_id else "position"
                out.append(
                    self._update(child, cause, f"size:{cause.event_id}", reason, quantity=child.filled + protect)
                )
        return out

    def _levels(self, group: BracketGroup) -> list[tuple[BracketRole, Decimal]]:
        resolved = group.resolved
        assert resolved is not None
        levels = []
        if resolved.stop_price is not None:
            levels.append((BracketRole.STOP_LOSS, resolved.stop_price))
        if resolved.take_profit_price is not None:
            levels.append((BracketRole.TAKE_PROFIT, resolved.take_profit_price))
        return levels

    def _open_child(
        self,
        group: BracketGroup,
        parent: OrderRecord,
        inst: Instrument,
        role: BracketRole,
        price: Decimal,
        quantity: Decimal,
        cause: FillEvent,
    ) -> list[Event]:
        coid = parent.client_order_id + SUFFIX[role]
        side = group.side.opposite()
        if role is BracketRole.STOP_LOSS:
            spec = OrderSpec(
                side=side, quantity=quantity, order_type=OrderType.STOP_MARKET, stop_price=price, reduce_only=True
            )
        else:
            spec = OrderSpec(
                side=side, quantity=quantity, order_type=OrderType.LIMIT, limit_price=price, reduce_only=True
            )
        spec = spec.model_copy(update={"client_order_id": coid})
        parent_submitted = parent.submitted
        assert parent_submitted is not None
        market = self.cache.markets.get(parent.instrument_id, Market())
        submitted = self.ctx.factory.make(
            OrderSubmitted,
            cause=cause,
            derive_from=f"bracket:{role.value}",
            account_id=parent.account_id,
            instrument_id=parent.instrument_id,
            client_order_id=coid,
            venue=parent.venue,
            order=spec,
            strategy_id=parent.strategy_id,
            decision_event_id=parent_submitted.decision_event_id,
            arrival_price=market.mid,
            parent_client_order_id=parent.client_order_id,
            bracket_role=role,
        )
        record = OrderRecord(
            coid,
            parent.account_id,
            parent.strategy_id,
            parent.instrument_id,
            spec,
            OrderStatus.SUBMITTED,
            arrival_price=market.mid,
            signal_ts_event=parent.signal_ts_event,
            submitted=submitted,
            venue=parent.venue,
            parent_client_order_id=parent.client_order_id,
            bracket_role=role,
        )
        self.cache.orders[coid] = record
        group.children[role] = coid
        rt = self.cache.accounts[parent.account_id]
        reset, tz = rt.rules.reset_spec()
        day = trading_day(self.ctx.clock.now_ns(), reset, tz)
        return [submitted, *self.orders.place(record, rt, inst, market, day)]

    def _managed(self, parent: OrderRecord) -> bool:
        """The entry's account is at a broker where exec-sim manages the children (ProjectX, Tradovate:
        the router cancels and modifies them there)."""
        rt = self.cache.accounts.get(parent.account_id)
        return rt is not None and rt.config.brackets_at_venue

    def _close(self, group: BracketGroup, parent: OrderRecord, reason: str) -> list[Event]:
        """Nothing left to protect: cancel the children still working, and the entry's unfilled rest."""
        group.done = True
        self.groups.pop(group.parent_id, None)
        self.closed.add(group.parent_id)
        out: list[Event] = []
        for coid in group.children.values():
            child = self.cache.orders.get(coid)
            if child is not None and child.status in OPEN_STATUSES:
                out += self._cancel(child, reason)
        if parent.status in OPEN_STATUSES and parent.filled < parent.spec.quantity:
            out += self._cancel(parent, EXITED)
        return out

    def _cancel(self, record: OrderRecord, reason: str) -> list[Event]:
        if record.submitted is None:
            return []
        if record.venue == VENUE:
            self.venue.remove(record.client_order_id)
        return [self.orders.ended(record.submitted, record, OrderStatus.CANCELED, reason)]

    def _update(self, child: OrderRecord, cause: Event, purpose: str, reason: str, **change: Decimal) -> OrderUpdated:
        """Change a working child (its size or its stop) here and at the simulated venue."""
        child.spec = child.spec.model_copy(update=change)
        resting = self.venue.resting.get(child.client_order_id) or self.venue.inflight.get(child.client_order_id)
        if resting is not None:
            resting.spec = child.spec
            resting.leaves = child.spec.quantity - child.filled
        root = child.submitted
        return self.ctx.factory.make(
            OrderUpdated,
            cause=cause,
            # a trailing move is caused by a market event but belongs to the trade's story
            correlation_id=root.correlation_id if root is not None else None,
            derive_from=f"bracket:{child.client_order_id}:{purpose}",
            account_id=child.account_id,
            instrument_id=child.instrument_id,
            client_order_id=child.client_order_id,
            venue=child.venue,
            venue_order_id=child.venue_order_id,
            status=child.status,
            quantity=child.spec.quantity,
            stop_price=child.spec.stop_price,
            limit_price=child.spec.limit_price,
            reason=reason,
            parent_client_order_id=child.parent_client_order_id,
            bracket_role=child.bracket_role,
        )

    # -- trailing

    def on_market(self, event: MarketDataEvent, market: Market) -> list[Event]:
        """Trailing stops of the instrument follow the best price since their entry."""
        out: list[Event] = []
        for group in self.groups.values():
            resolved = group.resolved
            if group.done or resolved is None or group.spec.trailing_stop is None:
                continue
            coid = group.children.get(BracketRole.STOP_LOSS)
            child = self.cache.orders.get(coid) if coid else None
            if child is None or child.instrument_id != event.instrument_id or child.status not in OPEN_STATUSES:
                continue
            best = _best(market, group.side)
            distance = self._trail_distance(group)
            if best is None or child.spec.stop_price is None or distance is None:
                continue
            if group.best_price is None:  # recovered: the stop sits ``distance`` from the best price so far
                group.best_price = child.spec.stop_price + group.side.sign * distance
            if (best - group.best_price) * group.side.sign > 0:
                group.best_price = best
            inst = self.ctx.instrument(child.instrument_id)
            tick = inst.price_increment if inst is not None else None
            stop = trail_stop(
                child.spec.stop_price, side=group.side, best_price=group.best_price, distance=distance, tick_size=tick
            )
            if stop != child.spec.stop_price:
                out.append(self._update(child, event, f"trail:{event.event_id}", "trailing", stop_price=stop))
        return out

    def _trail_distance(self, group: BracketGroup) -> Decimal | None:
        resolved, trailing = group.resolved, group.spec.trailing_stop
        if resolved is not None and resolved.trail_distance is not None:
            return resolved.trail_distance
        parent = self.cache.orders.get(group.parent_id)
        if trailing is None or parent is None or parent.avg_price is None:
            return None
        inst = self.ctx.instrument(parent.instrument_id)
        tick = inst.price_increment if inst is not None else None
        alone = BracketSpec(trailing_stop=trailing)  # rounded as when the children were placed
        distance = resolve_bracket(
            alone, side=group.side, entry_price=parent.avg_price, tick_size=tick, check_sides=False
        ).trail_distance
        group.resolved = (resolved or ResolvedBracket()).model_copy(update={"trail_distance": distance})
        return distance

    # -- restart

    def recover(self, event: Event) -> None:
        """Rebuild the groups from a published event (after the recovery component saw it)."""
        if isinstance(event, OrderSubmitted):
            if event.parent_client_order_id is not None and event.bracket_role is not None:
                record = self.cache.orders.get(event.client_order_id)
                if record is not None:
                    record.parent_client_order_id = event.parent_client_order_id
                    record.bracket_role = event.bracket_role
                group = self.groups.get(event.parent_client_order_id)
                if group is not None:
                    group.children[event.bracket_role] = event.client_order_id
                    group.resolved = _resolved_with(group.resolved, event.bracket_role, event.order)
            elif event.order.bracket is not None:
                self.groups[event.client_order_id] = BracketGroup(
                    event.client_order_id, event.order.bracket, event.order.side
                )
        elif isinstance(event, OrderUpdated):
            record = self.cache.orders.get(event.client_order_id)
            if record is None:
                return
            record.spec = record.spec.model_copy(
                update={"quantity": event.quantity, "stop_price": event.stop_price, "limit_price": event.limit_price}
            )
            if (resting := self.venue.resting.get(record.client_order_id)) is not None:
                resting.spec = record.spec
                resting.leaves = record.spec.quantity - record.filled


def _resolved_with(resolved: ResolvedBracket | None, role: BracketRole, order: OrderSpec) -> ResolvedBracket:
    base = resolved or ResolvedBracket()
    if role is BracketRole.STOP_LOSS:
        return base.model_copy(update={"stop_price": order.stop_price})
    return base.model_copy(update={"take_profit_price": order.limit_price})


def _best(market: Market, side: OrderSide) -> Decimal | None:
    """The most favourable price of this market event for a position entered on ``side``."""
    if side is OrderSide.BUY:
        return (
            market.bar_high if market.bar_high is not None else (market.bid if market.bid is not None else market.last)
        )
    return market.bar_low if market.bar_low is not None else (market.ask if market.ask is not None else market.last)
