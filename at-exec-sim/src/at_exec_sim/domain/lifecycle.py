"""The order lifecycle: what a venue reported (now, on a market event or a timer) turned into
lifecycle events, fills, positions and account state; routes for external venues."""

from __future__ import annotations

from decimal import Decimal

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
)
from at_exec_sim.domain.core import EngineCore
from at_exec_sim.domain.ports import ExecutionReport, ReportStatus, sim_report
from at_exec_sim.domain.records import OrderRecord, Route, multiplier, position_change
from at_exec_sim.domain.venue import Execution, VenueUpdate


class Lifecycle(EngineCore):
    """Turn what a venue did with an order into lifecycle events, fills, positions and account state."""

    def take_routes(self) -> list[Route]:
        """Orders for external venues that the service must now send to their adapters."""
        routes, self.routes = self.routes, []
        return routes

    def take_stops(self) -> dict[str, str]:
        """Accounts locked or halted (a session cutoff, a rule breach, the kill switch) since the last
        call, with the reason: the service must cancel their orders resting at external venues
        before it sends their flatten orders (the engine cancels those at the simulated venue itself)."""
        stops, self.stops = self.stops, {}
        return stops

    def on_report(self, client_order_id: str, report: ExecutionReport, purpose: str = "submit") -> list[Event]:
        """Apply what an external venue reported for an order (its first answer, or a later fill)."""
        record = self.orders.get(client_order_id)
        if record is None or record.submitted is None:
            return []
        return self._apply_report(record.submitted, record, report, purpose)

    def _apply_report(
        self, submitted: OrderSubmitted, record: OrderRecord, report: ExecutionReport, purpose: str = "submit"
    ) -> list[Event]:
        common = {
            "account_id": record.account_id,
            "instrument_id": record.instrument_id,
            "client_order_id": record.client_order_id,
            "venue": record.venue,
            "ts_event": self.clock.now_ns(),  # when the venue answered (an arrival comes later than its order)
        }
        if report.venue_order_id:
            record.venue_order_id = report.venue_order_id
        if report.status in (ReportStatus.PENDING, ReportStatus.PENDING_CANCEL):
            return []  # nothing happened at the venue yet: its outcome comes with a later report or market event
        if report.status is ReportStatus.REJECTED:
            record.status = "rejected"
            reason = report.reason or "rejected"
            rejected = self.factory.make(
                OrderRejected, cause=submitted, derive_from="rejected", **common, reason=reason, message=report.message
            )
            return [rejected]
        if report.status is ReportStatus.CANCELED and not report.executions and purpose == "submit":
            record.status = "canceled"
            reason = report.reason or "fok_not_fillable"
            return [self.factory.make(OrderCanceled, cause=submitted, derive_from="canceled", **common, reason=reason)]
        out: list[Event] = []
        if purpose == "submit":
            record.status = "accepted"
            out.append(
                self.factory.make(
                    OrderAccepted,
                    cause=submitted,
                    derive_from="accepted",
                    **common,
                    venue_order_id=record.venue_order_id,
                )
            )
        if report.executions:
            final = report.status in (ReportStatus.FILLED, ReportStatus.CANCELED)
            out += self._executions(submitted, record, list(report.executions), final=final, purpose=purpose)
        if report.status is ReportStatus.CANCELED and record.filled < record.spec.quantity:
            record.status = "canceled"
            out.append(
                self.factory.make(
                    OrderCanceled,
                    cause=submitted,
                    derive_from="canceled",
                    **common,
                    venue_order_id=record.venue_order_id,
                    reason=report.reason or "unfilled remainder (IOC/market)",
                )
            )
        return out

    def _executions(
        self, cause: Event, record: OrderRecord, execs: list[Execution], final: bool, purpose: str
    ) -> list[Event]:
        rt = self.accounts[record.account_id]
        inst = self.catalog.get(record.instrument_id)
        common = {
            "account_id": record.account_id,
            "instrument_id": record.instrument_id,
            "client_order_id": record.client_order_id,
            "venue": record.venue,
            "venue_order_id": record.venue_order_id,
        }
        out: list[Event] = []
        root = record.submitted or cause
        for i, ex in enumerate(execs):
            before = rt.account.position(inst).quantity
            self._book(rt, inst, record.spec.side, ex.quantity, ex.price, ex.fee)
            total_value = (record.avg_price or Decimal(0)) * record.filled + ex.price * ex.quantity
            record.filled += ex.quantity
            record.avg_price = total_value / record.filled
            slip_ticks = slip_amt = None
            if record.arrival_price is not None:
                slip_ticks = (ex.price - record.arrival_price) * record.spec.side.sign / inst.price_increment
                slip_amt = self._convert(
                    (ex.price - record.arrival_price) * record.spec.side.sign * ex.quantity * multiplier(inst),
                    inst,
                    rt,
                )
            fill = self.factory.make(
                FillEvent,
                cause=root,
                ts_event=self.clock.now_ns(),  # when it filled, not when it was submitted
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
            )
            self.fills.append(fill)
            out.append(fill)
            pos = rt.account.position(inst)
            change = position_change(before, pos.quantity)
            out.append(
                self.factory.make(
                    PositionEvent,
                    cause=fill,
                    derive_from="position",
                    change=change,
                    position=rt.account.snapshot(pos, self.rates),
                )
            )
        if record.filled >= record.spec.quantity:
            record.status = "filled"
            out.append(
                self.factory.make(
                    OrderFilled,
                    cause=out[-2],
                    derive_from="filled",
                    **common,
                    filled_quantity=record.filled,
                    avg_price=record.avg_price,
                )
            )
        elif execs:
            record.status = "partially_filled"
            out.append(
                self.factory.make(
                    OrderPartiallyFilled,
                    cause=out[-2],
                    derive_from=f"partial:{purpose}",
                    **common,
                    filled_quantity=record.filled,
                    leaves_quantity=record.spec.quantity - record.filled,
                    avg_price=record.avg_price,
                )
            )
        out += self._evaluate_rules(out[-1], rt)
        return out

    def _venue_updates(self, cause: Event, updates: list[VenueUpdate]) -> list[Event]:
        """Turn what the simulated venue did on a market event or a timer into lifecycle events and fills."""
        out: list[Event] = []
        for update in updates:
            record = self.orders.get(update.order.client_order_id)
            if record is None or record.submitted is None:
                continue  # not an order this engine placed (cannot happen unless state was lost)
            submitted, coid = record.submitted, record.client_order_id
            if update.kind == "arrived":
                report = sim_report(coid, list(update.executions), update.outcome)
                out += self._apply_report(submitted, record, report)
            elif update.kind == "fill":
                # one purpose per market event: an order that fills over several events gets distinct ids
                execs = list(update.executions)
                out += self._executions(
                    cause, record, execs, final=update.order.leaves <= 0, purpose=f"md:{cause.event_id}"
                )
            elif update.kind in ("canceled", "expired"):
                out.append(self._ended(submitted, record, update.kind))
        return out

    def _ended(self, submitted: OrderSubmitted, record: OrderRecord, kind: str, reason: str = "canceled") -> Event:
        """An order's end at the venue without a fill: a due cancel, or a DAY/GTD expiry."""
        record.status = kind
        common = {
            "account_id": record.account_id,
            "instrument_id": record.instrument_id,
            "client_order_id": record.client_order_id,
            "venue": record.venue,
            "venue_order_id": record.venue_order_id,
            "ts_event": self.clock.now_ns(),
        }
        if kind == "expired":
            return self.factory.make(OrderExpired, cause=submitted, derive_from="expired", **common)
        return self.factory.make(OrderCanceled, cause=submitted, derive_from="canceled", **common, reason=reason)
