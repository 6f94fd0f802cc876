"""The recovery component, on restart: state rebuilt from AT_EXECUTION (decisions, orders, fills, trading
states, the venue's resting orders) and orders a crash interrupted finished with the same ids."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.events import (
    Event,
    FillEvent,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    RiskDecisionEvent,
    TradingStateChangedEvent,
)
from at_core.models.enums import OrderStatus, OrderType, TimeInForce, TradingState
from at_exec_sim.domain import sessions
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.ledger import Ledger
from at_exec_sim.domain.lifecycle import OrderLifecycle
from at_exec_sim.domain.ports import ExecutionReport, ReportStatus
from at_exec_sim.domain.records import SESSION_CUTOFF, VENUE, AccountRuntime, OrderRecord
from at_exec_sim.domain.rules import trading_day
from at_exec_sim.domain.venue import Market, RestingOrder, SimVenue

#: Why an order decided before a crash, never sent, and too old to send at restart is rejected.
STALE = "stale_after_restart"


class Recovery:
    """Rebuild state from the published stream; finish what a crash interrupted.

    Args:
        cache: the engine's state (rebuilt here).
        ctx: the injected services.
        venue: the simulated venue (its resting orders are put back).
        ledger: books the recovered fills.
        orders: places the interrupted orders again.
    """

    def __init__(
        self, cache: EngineCache, ctx: EngineContext, venue: SimVenue, ledger: Ledger, orders: OrderLifecycle
    ) -> None:
        self.cache, self.ctx, self.venue, self.ledger, self.orders = cache, ctx, venue, ledger, orders

    def recover(self, event: Event) -> None:
        """Rebuild state from a published event (on restart): nothing is emitted."""
        cache = self.cache
        cache.recovered_until_ns = max(cache.recovered_until_ns or 0, event.ts_event)
        if isinstance(event, RiskDecisionEvent):
            cache.decided.setdefault(event.request_event_id, event)
            if event.approved:
                # one state change can flatten several instruments: each decision has its own order
                cache.approved[event.client_order_id] = event
        elif isinstance(event, OrderSubmitted):
            decision = cache.approved.get(event.client_order_id)
            cache.orders[event.client_order_id] = OrderRecord(
                event.client_order_id,
                event.account_id,
                event.strategy_id,
                event.instrument_id,
                event.order,
                OrderStatus.SUBMITTED,
                submitted=event,
                arrival_price=event.arrival_price,
                signal_ts_event=decision.ts_event if decision is not None else None,
                venue=event.venue,
            )
        elif isinstance(event, OrderAccepted) and (rec := cache.orders.get(event.client_order_id)) is not None:
            rec.status = OrderStatus.ACCEPTED if rec.filled == 0 else rec.status
            rec.venue_order_id = event.venue_order_id or rec.venue_order_id
            self._rest_again(rec)
        elif (
            isinstance(event, OrderRejected | OrderCanceled | OrderExpired | OrderFilled)
            and (rec := cache.orders.get(event.client_order_id)) is not None
        ):
            if event.status == OrderStatus.CANCELED:
                cache.cancel(rec)
            else:
                rec.status = event.status
            self.venue.remove(event.client_order_id)  # ended: never fills again
        elif isinstance(event, FillEvent):
            self._recover_fill(event)
        elif isinstance(event, TradingStateChangedEvent):
            self._recover_state(event)

    def _recover_fill(self, event: FillEvent) -> None:
        rt = self.cache.accounts.get(event.account_id)
        if rt is None:
            return
        inst = self.ctx.catalog.get(event.instrument_id)
        self.ledger.book(rt, inst, event.side, event.quantity, event.price, event.fee)
        self.cache.fills.append(event)
        if (rec := self.cache.orders.get(event.client_order_id)) is None:
            return
        value = (rec.avg_price or Decimal(0)) * rec.filled + event.price * event.quantity
        rec.filled += event.quantity
        rec.avg_price = value / rec.filled
        rec.status = OrderStatus.FILLED if rec.filled >= rec.spec.quantity else OrderStatus.PARTIALLY_FILLED
        if (resting := self.venue.resting.get(rec.client_order_id)) is not None:
            resting.leaves = rec.spec.quantity - rec.filled
            resting.triggered = True  # a stop that filled has triggered
            if resting.leaves <= 0:
                self.venue.remove(rec.client_order_id)

    def _recover_state(self, event: TradingStateChangedEvent) -> None:
        rt = self.cache.accounts.get(event.account_id)
        if rt is None:
            return
        rt.state, rt.locked_until_ns, rt.state_reason = event.state, event.locked_until_ns, event.reason
        rt.state_message, rt.state_since_ns = event.message, event.ts_event
        # Still stopped at the end of recovery: its orders at brokers are canceled (again) at
        # start, in case the crash came between the lock and the broker's cancel.
        if event.state is TradingState.ACTIVE:
            self.cache.stops.pop(event.account_id, None)
        else:
            self.cache.stops[event.account_id] = event.reason
        if event.reason == SESSION_CUTOFF:  # applied already: not again after a restart
            at = event.locked_until_ns - 1 if event.locked_until_ns else event.ts_event
            close = sessions.status(rt.config.profile.limits.sessions, at).last_close
            rt.cutoff_ns = close.end_ns if close is not None else None

    def _rest_again(self, record: OrderRecord) -> None:
        """An order the simulated venue accepted rests there again (recovery), with its leaves."""
        spec, submitted = record.spec, record.submitted
        rt = self.cache.accounts.get(record.account_id)
        inst = self.ctx.instrument(record.instrument_id)
        if record.venue != VENUE or spec.order_type is OrderType.MARKET or rt is None or inst is None:
            return  # a market order does not rest; a broker keeps its own book
        if spec.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) or submitted is None:
            return  # never rests: what it did not fill at once was canceled
        leaves = spec.quantity - record.filled
        if leaves > 0:
            reset, tz = rt.rules.reset_spec()
            day = trading_day(submitted.ts_event, reset, tz)  # a DAY order's day is its submission's
            self.venue.resting[record.client_order_id] = RestingOrder(
                record.client_order_id, inst, spec, leaves, triggered=record.filled > 0, day=day
            )

    def _interrupted(self) -> Iterator[tuple[RiskDecisionEvent, OrderRecord | None, AccountRuntime, Instrument]]:
        """Approved orders a crash interrupted before their venue answered, in decision order."""
        for decision in sorted(self.cache.approved.values(), key=lambda d: d.event_id):
            record = self.cache.orders.get(decision.client_order_id)
            rt = self.cache.accounts.get(decision.account_id)
            inst = self.ctx.instrument(decision.instrument_id)
            if rt is None or inst is None:
                continue
            is_market = decision.order.order_type is OrderType.MARKET
            unplaced = (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED) if is_market else (OrderStatus.SUBMITTED,)
            if not is_market and rt.config.venue != VENUE:
                continue  # a broker may hold it: never resent blindly
            if record is not None and (record.filled > 0 or record.status not in unplaced):
                continue
            yield decision, record, rt, inst

    def stale_in_flight(self, max_age_ns: int) -> list[tuple[OrderRecord, int]]:
        """Market orders for external venues a crash interrupted that were submitted more than
        ``max_age_ns`` ago (by the clock), with their age: too old to send again at today's price.

        :meth:`resume_unfinished` with the same age leaves them alone; the service holds them as
        unknown, for its broker poll to find (or not) at the broker.
        """
        now = self.ctx.clock.now_ns()
        out: list[tuple[OrderRecord, int]] = []
        for _, record, _, _ in self._interrupted():
            if record is None or record.submitted is None or record.venue == VENUE:
                continue  # never submitted: nothing was sent; the simulated venue always resumes
            age_ns = now - record.submitted.ts_event
            if age_ns > max_age_ns:
                out.append((record, age_ns))
        return out

    def resume_unfinished(self, resend_max_age_ns: int | None = None) -> list[Event]:
        """After recovery: finish approved orders a crash interrupted before they reached the venue.

        Market orders (any venue) with no fill, and orders for the simulated venue that were
        submitted but never accepted (in flight, or the crash came first), are placed again;
        orders the venue accepted were put back to rest by :meth:`recover`. Ids are derived, so
        outputs that were already published come out identical (and JetStream drops them as
        duplicates); nothing that was filled is executed again.

        Args:
            resend_max_age_ns: market orders for external venues submitted longer ago than this
                are not sent again (see :meth:`stale_in_flight`); None sends every one.
        """
        stale: set[str] = set()
        if resend_max_age_ns is not None:
            stale = {record.client_order_id for record, _ in self.stale_in_flight(resend_max_age_ns)}
        out: list[Event] = []
        for decision, record, rt, inst in self._interrupted():
            if decision.client_order_id in stale:
                continue
            market = self.cache.markets.get(decision.instrument_id, Market())
            if record is not None and record.submitted is not None:
                # its OrderSubmitted is in the stream: place it as it was (its arrival price, its day)
                reset, tz = rt.rules.reset_spec()
                day = trading_day(record.submitted.ts_event, reset, tz)
                out += self.orders.place(record, rt, inst, market, day)
            else:
                age_ns = self.ctx.clock.now_ns() - decision.ts_event
                if rt.config.venue == VENUE or resend_max_age_ns is None or age_ns <= resend_max_age_ns:
                    out += self.orders.submit(decision, rt, inst, "recovered", decision.order, market)
                    continue
                # decided, never sent: a market order hours late at today's price is not the trade asked for
                submitted, record = self.orders.open(decision, rt, inst, "recovered", decision.order, market)
                message = f"decided {age_ns // 10**9} s ago, never sent before a crash: not sent now"
                report = ExecutionReport(decision.client_order_id, ReportStatus.REJECTED, None, (), STALE, message)
                out += [submitted, *self.orders.apply_report(submitted, record, report)]
        return out
