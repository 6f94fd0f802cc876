"""The order lifecycle component: an approved order submitted and placed at its venue (the
simulated one now, an external one as a route), and what the venue reported (now, on a market
event or a timer) turned into lifecycle events, fills and positions. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from at_core.catalog import Instrument
from at_core.events import (
    Event,
    FillEvent,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    PositionEvent,
    RiskDecisionEvent,
)
from at_core.models.enums import OrderStatus
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.ledger import Ledger
from at_exec_sim.domain.ports import ExecutionReport, ReportStatus, sim_report
from at_exec_sim.domain.records import VENUE, AccountRuntime, OrderRecord, Route, multiplier, position_change
from at_exec_sim.domain.venue import Execution, Market, SimVenue, VenueUpdate

#: Called after an order's executions are booked: the account's state and rule breaches, as events.
AfterFills = Callable[[Event, AccountRuntime], list[Event]]


class OrderLifecycle:
    """Submits approved orders and turns what venues did with them into events.

    Args:
        cache: the engine's state (orders, fills and routes are written here).
        ctx: the injected services.
        venue: the simulated venue.
        ledger: books the executions.
        after_fills: evaluates the account after its fills (the trading-state component).
    """

    def __init__(
        self, cache: EngineCache, ctx: EngineContext, venue: SimVenue, ledger: Ledger, after_fills: AfterFills
    ) -> None:
        self.cache, self.ctx, self.venue, self.ledger, self.after_fills = cache, ctx, venue, ledger, after_fills

    def take_routes(self) -> list[Route]:
        """Orders for external venues that the service must now send to their adapters."""
        routes, self.cache.routes = self.cache.routes, []
        return routes

    def submit(
        self,
        decision: RiskDecisionEvent,
        rt: AccountRuntime,
        inst: Instrument,
        strategy_id: str,
        spec: OrderSpec,
        market: Market,
    ) -> list[Event]:
        """An approved order's ``OrderSubmitted`` and what its venue did with it (if anything yet)."""
        submitted, record = self.open(decision, rt, inst, strategy_id, spec, market)
        return [submitted, *self.place(record, rt, inst, market, self.ledger.day(rt, self.ctx.clock.now_ns()))]

    def open(
        self,
        decision: RiskDecisionEvent,
        rt: AccountRuntime,
        inst: Instrument,
        strategy_id: str,
        spec: OrderSpec,
        market: Market,
    ) -> tuple[OrderSubmitted, OrderRecord]:
        """The approved order's ``OrderSubmitted`` and its record (not yet placed at its venue)."""
        coid, venue = decision.client_order_id, rt.config.venue
        submitted = self.ctx.factory.make(
            OrderSubmitted,
            cause=decision,
            derive_from="submitted",
            account_id=rt.account.account_id,
            instrument_id=inst.instrument_id,
            client_order_id=coid,
            venue=venue,
            order=spec,
            strategy_id=strategy_id,
            decision_event_id=decision.event_id,
            arrival_price=market.mid,
            price_source=decision.price_source,
        )
        record = OrderRecord(
            coid,
            rt.account.account_id,
            strategy_id,
            inst.instrument_id,
            spec,
            OrderStatus.SUBMITTED,
            arrival_price=market.mid,
            signal_ts_event=decision.ts_event,  # agents stamp a proposal with its signal's ts_event
            submitted=submitted,
            venue=venue,
        )
        self.cache.orders[coid] = record
        return submitted, record

    def place(
        self, record: OrderRecord, rt: AccountRuntime, inst: Instrument, market: Market, day: date
    ) -> list[Event]:
        """Send a submitted order to its venue: the simulated one now, an external one as a route."""
        coid, spec, submitted = record.client_order_id, record.spec, record.submitted
        assert submitted is not None
        if record.venue != VENUE:
            self.cache.routes.append(Route(coid, inst, spec, submitted))  # the service sends it to the adapter
            return []
        execs, outcome = self.venue.submit(coid, inst, spec, market, self.ctx.clock.now_ns(), day)
        if outcome == "pending":
            return []  # in flight: it reaches the venue on a later market event
        return self.apply_report(submitted, record, sim_report(coid, execs, outcome))

    def on_report(self, client_order_id: str, report: ExecutionReport, purpose: str = "submit") -> list[Event]:
        """Apply what an external venue reported for an order (its first answer, or a later fill)."""
        record = self.cache.orders.get(client_order_id)
        if record is None or record.submitted is None:
            return []
        return self.apply_report(record.submitted, record, report, purpose)

    def apply_report(
        self, submitted: OrderSubmitted, record: OrderRecord, report: ExecutionReport, purpose: str = "submit"
    ) -> list[Event]:
        """What a venue reported for ``record`` as lifecycle events, fills and positions."""
        # when the venue answered (an arrival comes later than its order)
        common = {**_ids(record, with_venue_order_id=False), "ts_event": self.ctx.clock.now_ns()}
        if report.venue_order_id:
            record.venue_order_id = report.venue_order_id
        if report.status in (ReportStatus.PENDING, ReportStatus.PENDING_CANCEL):
            return []  # nothing happened at the venue yet: its outcome comes with a later report or market event
        make = self.ctx.factory.make
        if report.status is ReportStatus.REJECTED:
            record.status = OrderStatus.REJECTED
            reason = report.reason or "rejected"
            return [
                make(
                    OrderRejected,
                    cause=submitted,
                    derive_from="rejected",
                    **common,
                    reason=reason,
                    message=report.message,
                )
            ]
        if report.status is ReportStatus.CANCELED and not report.executions and purpose == "submit":
            self.cache.cancel(record)
            reason = report.reason or "fok_not_fillable"
            return [make(OrderCanceled, cause=submitted, derive_from="canceled", **common, reason=reason)]
        out: list[Event] = []
        if purpose == "submit":
            record.status = OrderStatus.ACCEPTED
            vid = record.venue_order_id
            out.append(make(OrderAccepted, cause=submitted, derive_from="accepted", **common, venue_order_id=vid))
        if report.executions:
            out += self.executions(submitted, record, list(report.executions), purpose)
        if report.status is ReportStatus.CANCELED and record.filled < record.spec.quantity:
            self.cache.cancel(record)
            reason = report.reason or "unfilled remainder (IOC/market)"
            vid = record.venue_order_id
            out.append(
                make(
                    OrderCanceled, cause=submitted, derive_from="canceled", **common, venue_order_id=vid, reason=reason
                )
            )
        return out

    def executions(self, cause: Event, record: OrderRecord, execs: list[Execution], purpose: str) -> list[Event]:
        """Book ``execs`` of ``record``: per execution a fill and the position, then the order's
        progress (filled or partially filled), then the account after its fills."""
        rt = self.cache.accounts[record.account_id]
        inst = self.ctx.instrument(record.instrument_id) or self.ctx.catalog.get(record.instrument_id)
        out: list[Event] = []
        root = record.submitted or cause
        for i, ex in enumerate(execs):
            before = rt.account.position(inst).quantity
            fill = self._fill(root, record, rt, inst, ex, purpose, i)
            self.cache.fills.append(fill)
            pos = rt.account.position(inst)
            position = rt.account.snapshot(pos, self.cache.rates)
            change = position_change(before, pos.quantity)
            out += [
                fill,
                self.ctx.factory.make(
                    PositionEvent, cause=fill, derive_from="position", change=change, position=position
                ),
            ]
        progress = self._progress(out[-2], record, purpose) if execs or record.filled >= record.spec.quantity else None
        if progress is not None:
            out.append(progress)
        return out + self.after_fills(out[-1], rt)

    def _fill(
        self,
        root: Event,
        record: OrderRecord,
        rt: AccountRuntime,
        inst: Instrument,
        ex: Execution,
        purpose: str,
        i: int,
    ) -> FillEvent:
        """Book one execution and return its fill (slippage against the arrival price)."""
        self.ledger.book(rt, inst, record.spec.side, ex.quantity, ex.price, ex.fee)
        total_value = (record.avg_price or Decimal(0)) * record.filled + ex.price * ex.quantity
        record.filled += ex.quantity
        record.avg_price = total_value / record.filled
        slip_ticks = slip_amt = None
        if record.arrival_price is not None:
            moved = (ex.price - record.arrival_price) * record.spec.side.sign
            slip_ticks = moved / inst.price_increment
            slip_amt = self.ledger.convert(moved * ex.quantity * multiplier(inst), inst, rt)
        return self.ctx.factory.make(
            FillEvent,
            cause=root,
            ts_event=self.ctx.clock.now_ns(),  # when it filled, not when it was submitted
            derive_from=f"fill:{purpose}:{i}",
            account_id=record.account_id,
            strategy_id=record.strategy_id,
            instrument_id=record.instrument_id,
            client_order_id=record.client_order_id,
            venue=record.venue,
            venue_order_id=record.venue_order_id,
            trade_id=f"T-{record.client_order_id}-{purpose}-{i}",
            side=record.spec.side,
            quantity=ex.quantity,
            price=ex.price,
            fee=ex.fee,
            fee_currency=rt.account.currency,
            liquidity=ex.liquidity,
            arrival_price=record.arrival_price,
            slippage_ticks=slip_ticks,
            slippage_amount=slip_amt,
            leaves_quantity=max(record.spec.quantity - record.filled, Decimal(0)),
            signal_ts_event=record.signal_ts_event,
            # the alert's price priced only what filled on arrival; later fills are on market data
            price_source=record.submitted.price_source if record.submitted and purpose == "submit" else None,
            parent_client_order_id=record.parent_client_order_id,
            bracket_role=record.bracket_role,
        )

    def _progress(self, last_fill: Event, record: OrderRecord, purpose: str) -> Event:
        """``OrderFilled`` when nothing is left, else ``OrderPartiallyFilled``, caused by the last fill."""
        make = self.ctx.factory.make
        if record.filled >= record.spec.quantity:
            record.status = OrderStatus.FILLED
            return make(
                OrderFilled,
                cause=last_fill,
                derive_from="filled",
                **_ids(record),
                filled_quantity=record.filled,
                avg_price=record.avg_price,
            )
        record.status = OrderStatus.PARTIALLY_FILLED
        return make(
            OrderPartiallyFilled,
            cause=last_fill,
            derive_from=f"partial:{purpose}",
            **_ids(record),
            filled_quantity=record.filled,
            leaves_quantity=record.spec.quantity - record.filled,
            avg_price=record.avg_price,
        )

    def venue_updates(self, cause: Event, updates: list[VenueUpdate]) -> list[Event]:
        """Turn what the simulated venue did on a market event or a timer into lifecycle events and fills."""
        out: list[Event] = []
        for update in updates:
            record = self.cache.orders.get(update.order.client_order_id)
            if record is None or record.submitted is None:
                continue  # not an order this engine placed (cannot happen unless state was lost)
            submitted, coid = record.submitted, record.client_order_id
            if update.kind == "arrived":
                out += self.apply_report(submitted, record, sim_report(coid, list(update.executions), update.outcome))
            elif update.kind == "fill":
                # one purpose per market event: an order that fills over several events gets distinct ids
                out += self.executions(cause, record, list(update.executions), purpose=f"md:{cause.event_id}")
            elif update.kind in ("canceled", "expired"):
                out.append(self.ended(submitted, record, OrderStatus(update.kind)))
        return out

    def ended(
        self, submitted: OrderSubmitted, record: OrderRecord, kind: OrderStatus, reason: str = "canceled"
    ) -> Event:
        """An order's end at the venue without a fill: a due cancel, a DAY/GTD expiry, a flatten's cancel."""
        if kind is OrderStatus.CANCELED:
            self.cache.cancel(record)
        else:
            record.status = kind
        common = {**_ids(record), "ts_event": self.ctx.clock.now_ns()}
        if kind is OrderStatus.EXPIRED:
            return self.ctx.factory.make(OrderExpired, cause=submitted, derive_from="expired", **common)
        return self.ctx.factory.make(OrderCanceled, cause=submitted, derive_from="canceled", **common, reason=reason)


def _ids(record: OrderRecord, with_venue_order_id: bool = True) -> dict[str, Any]:
    """The fields that name an order in its lifecycle events."""
    ids: dict[str, Any] = {
        "account_id": record.account_id,
        "instrument_id": record.instrument_id,
        "client_order_id": record.client_order_id,
        "venue": record.venue,
    }
    if with_venue_order_id:
        ids["venue_order_id"] = record.venue_order_id
    if record.parent_client_order_id is not None:  # a bracket child: its events name its entry and role
        ids["parent_client_order_id"] = record.parent_client_order_id
        ids["bracket_role"] = record.bracket_role
    return ids
