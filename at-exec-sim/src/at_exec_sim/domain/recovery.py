"""Recovery on restart: state rebuilt from AT_EXECUTION (decisions, orders, fills, trading
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
from at_core.models.enums import OrderType, TimeInForce, TradingState
from at_exec_sim.domain import sessions
from at_exec_sim.domain.core import EngineCore
from at_exec_sim.domain.ports import ExecutionReport, ReportStatus
from at_exec_sim.domain.records import SESSION_CUTOFF, VENUE, AccountRuntime, OrderRecord
from at_exec_sim.domain.rules import trading_day
from at_exec_sim.domain.venue import Market, RestingOrder

#: Why an order decided before a crash, never sent, and too old to send at restart is rejected.
STALE = "stale_after_restart"


class Recovery(EngineCore):
    """Rebuild state from the published stream; finish what a crash interrupted."""

    def recover(self, event: Event) -> None:
        """Rebuild state from a published event (on restart): nothing is emitted."""
        self.recovered_until_ns = max(self.recovered_until_ns or 0, event.ts_event)
        if isinstance(event, RiskDecisionEvent):
            self.decided.setdefault(event.request_event_id, event)
            if event.approved:
                # one state change can flatten several instruments: each decision has its own order
                self.approved[event.client_order_id] = event
        elif isinstance(event, OrderSubmitted):
            decision = self.approved.get(event.client_order_id)
            self.orders[event.client_order_id] = OrderRecord(
                event.client_order_id,
                event.account_id,
                event.strategy_id,
                event.instrument_id,
                event.order,
                "submitted",
                submitted=event,
                arrival_price=event.arrival_price,
                signal_ts_event=decision.ts_event if decision is not None else None,
                venue=event.venue,
            )
        elif isinstance(event, OrderAccepted) and (rec := self.orders.get(event.client_order_id)) is not None:
            rec.status = "accepted" if rec.filled == 0 else rec.status
            rec.venue_order_id = event.venue_order_id or rec.venue_order_id
            self._rest_again(rec)
        elif (
            isinstance(event, OrderRejected | OrderCanceled | OrderExpired | OrderFilled)
            and (rec := self.orders.get(event.client_order_id)) is not None
        ):
            rec.status = event.status
            self.venue.remove(event.client_order_id)  # ended: never fills again
        elif isinstance(event, FillEvent):
            rt = self.accounts.get(event.account_id)
            if rt is not None:
                inst = self.catalog.get(event.instrument_id)
                self._book(rt, inst, event.side, event.quantity, event.price, event.fee)
                self.fills.append(event)
                if (rec := self.orders.get(event.client_order_id)) is not None:
                    value = (rec.avg_price or Decimal(0)) * rec.filled + event.price * event.quantity
                    rec.filled += event.quantity
                    rec.avg_price = value / rec.filled
                    rec.status = "filled" if rec.filled >= rec.spec.quantity else "partially_filled"
                    if (resting := self.venue.resting.get(rec.client_order_id)) is not None:
                        resting.leaves = rec.spec.quantity - rec.filled
                        resting.triggered = True  # a stop that filled has triggered
                        if resting.leaves <= 0:
                            self.venue.remove(rec.client_order_id)
        elif isinstance(event, TradingStateChangedEvent):
            rt = self.accounts.get(event.account_id)
            if rt is not None:
                rt.state, rt.locked_until_ns, rt.state_reason = event.state, event.locked_until_ns, event.reason
                # Still stopped at the end of recovery: its orders at brokers are canceled (again) at
                # start, in case the crash came between the lock and the broker's cancel.
                if event.state is TradingState.ACTIVE:
                    self.stops.pop(event.account_id, None)
                else:
                    self.stops[event.account_id] = event.reason
                if event.reason == SESSION_CUTOFF:  # applied already: not again after a restart
                    at = event.locked_until_ns - 1 if event.locked_until_ns else event.ts_event
                    close = sessions.status(rt.config.profile.limits.sessions, at).last_close
                    rt.cutoff_ns = close.end_ns if close is not None else None

    def _rest_again(self, record: OrderRecord) -> None:
        """An order the simulated venue accepted rests there again (recovery), with its leaves."""
        spec, submitted = record.spec, record.submitted
        rt = self.accounts.get(record.account_id)
        inst = self._instrument(record.instrument_id)
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
        for decision in sorted(self.approved.values(), key=lambda d: d.event_id):
            record = self.orders.get(decision.client_order_id)
            rt = self.accounts.get(decision.account_id)
            inst = self._instrument(decision.instrument_id)
            if rt is None or inst is None:
                continue
            is_market = decision.order.order_type is OrderType.MARKET
            unplaced = ("submitted", "accepted") if is_market else ("submitted",)
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
        now = self.clock.now_ns()
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
            market = self.markets.get(decision.instrument_id, Market())
            if record is not None and record.submitted is not None:
                # its OrderSubmitted is in the stream: place it as it was (its arrival price, its day)
                reset, tz = rt.rules.reset_spec()
                day = trading_day(record.submitted.ts_event, reset, tz)
                out += self._place(record, rt, inst, market, day)
            else:
                age_ns = self.clock.now_ns() - decision.ts_event
                if rt.config.venue == VENUE or resend_max_age_ns is None or age_ns <= resend_max_age_ns:
                    out += self._submit(decision, rt, inst, "recovered", decision.order, market)
                    continue
                # decided, never sent: a market order hours late at today's price is not the trade asked for
                submitted, record = self._open(decision, rt, inst, "recovered", decision.order, market)
                message = f"decided {age_ns // 10**9} s ago, never sent before a crash: not sent now"
                report = ExecutionReport(decision.client_order_id, ReportStatus.REJECTED, None, (), STALE, message)
                out += [submitted, *self._apply_report(submitted, record, report)]
        return out
