"""The execution engine: events in, events out. Pure (no I/O); time comes from an injected clock.

Every output's id is derived from the input event's id and a purpose, so a redelivered input
yields byte-identical outputs, which JetStream then drops as duplicates; and a replay with
the clock following the inputs' ``ts_event`` reproduces them exactly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from at_core.catalog import Instrument, InstrumentCatalog
from at_core.clock import Clock
from at_core.constants import SIM_VENUE
from at_core.errors import UnknownInstrumentError
from at_core.events import (
    AccountStateEvent,
    Event,
    EventFactory,
    ExecutionRequest,
    FillEvent,
    MarketDataEvent,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    PositionEvent,
    RiskDecisionEvent,
    RiskReason,
    TradeProposalEvent,
    TradingStateChangedEvent,
)
from at_core.events import RiskReasonCode as Code
from at_core.ids import derive_id
from at_core.models.enums import AssetClass, LiquiditySide, OrderSide, OrderType, TimeInForce, TradingState
from at_core.models.orders import OrderSpec
from at_exec_sim.domain import risk, sessions
from at_exec_sim.domain.accounts import AccountConfig
from at_exec_sim.domain.portfolio import Account, MissingRate, to_account
from at_exec_sim.domain.ports import ExecutionReport, ReportStatus, sim_report
from at_exec_sim.domain.rules import RuleState, day_end_ns, trading_day
from at_exec_sim.domain.venue import Execution, Market, RestingOrder, SimVenue, VenueUpdate
from at_exec_sim.domain.venue_models import Quote

VENUE = SIM_VENUE
NS_PER_MIN = 60_000_000_000
SESSION_CUTOFF = "session_cutoff"
SESSION_OPEN = "session_open"
OPEN_STATUSES = ("submitted", "accepted", "partially_filled")


@dataclass
class AccountRuntime:
    config: AccountConfig
    account: Account
    rules: RuleState
    state: TradingState = TradingState.ACTIVE
    locked_until_ns: int | None = None
    order_times: deque[int] = field(default_factory=deque)
    day: date | None = None  # the trading day the "today" counters belong to
    day_ends_ns: int = 0
    state_reason: str = ""  # why the account is in its state ("session_cutoff", "daily_loss", ...)
    session_check_ns: int = 0  # sessions: nothing opens or closes before this time
    cutoff_ns: int | None = None  # the end of the session whose cutoff was applied
    session_seen_ns: int | None = None  # when sessions were last looked at


@dataclass
class OrderRecord:
    client_order_id: str
    account_id: str
    strategy_id: str
    instrument_id: str
    spec: OrderSpec
    status: str
    filled: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    arrival_price: Decimal | None = None
    signal_ts_event: int | None = None
    submitted: OrderSubmitted | None = None
    venue: str = VENUE
    venue_order_id: str | None = None


@dataclass(frozen=True)
class Route:
    """An approved order bound for an external venue's adapter."""

    client_order_id: str
    instrument: Instrument
    spec: OrderSpec
    submitted: OrderSubmitted


class ExecutionEngine:
    def __init__(
        self,
        accounts: dict[str, AccountConfig],
        catalog: InstrumentCatalog,
        factory: EventFactory,
        clock: Clock,
        venue: SimVenue,
    ) -> None:
        self.catalog, self.factory, self.clock, self.venue = catalog, factory, clock, venue
        self.accounts: dict[str, AccountRuntime] = {}
        for account_id, cfg in accounts.items():
            start = cfg.profile.starting_balance
            self.accounts[account_id] = AccountRuntime(
                cfg, Account(account_id, cfg.profile.currency, start, start), RuleState(cfg.profile)
            )
        self.markets: dict[str, Market] = {}
        self.rates: dict[str, Decimal] = {}
        self.decided: dict[str, RiskDecisionEvent] = {}  # by request (proposal, request) id: redelivery
        self.approved: dict[str, RiskDecisionEvent] = {}  # approved decisions by client order id
        self.orders: dict[str, OrderRecord] = {}
        self.fills: list[FillEvent] = []
        self.routes: list[Route] = []
        self.recovered_until_ns: int | None = None  # the last recovered event's time: the service ran until then

    # --- inputs ---------------------------------------------------------------------------

    def prime_market(self, event: MarketDataEvent) -> None:
        """Remember the last price of an instrument without acting on it (restart recovery)."""
        self._store_market(event)

    def _store_market(self, event: MarketDataEvent) -> Market:
        data = event.data
        prev = self.markets.get(event.instrument_id, Market())
        if data.kind == "quote":
            market = Market(bid=data.bid, ask=data.ask, bid_size=data.bid_size, ask_size=data.ask_size, last=prev.last)
        elif data.kind == "trade":
            market = Market(
                bid=prev.bid,
                ask=prev.ask,
                bid_size=prev.bid_size,
                ask_size=prev.ask_size,
                last=data.price,
                volume=data.size,
            )
        else:
            market = Market(
                last=data.close, bar_open=data.open, bar_high=data.high, bar_low=data.low, volume=data.volume
            )
        self.markets[event.instrument_id] = market
        self._update_rate(event.instrument_id, market)
        return market

    def on_market_data(self, event: MarketDataEvent) -> list[Event]:
        self._roll_days()
        market = self._store_market(event)
        now = self.clock.now_ns()
        out = self._sessions(event)  # a cutoff first: nothing of a flattened account fills after it
        out += self._venue_updates(event, self.venue.on_market(event.instrument_id, market, now))
        for rt in self.accounts.values():
            for pos in rt.account.positions.values():
                if pos.instrument.instrument_id == event.instrument_id and market.mid is not None:
                    pos.last_price = market.mid
            if any(
                p.instrument.instrument_id == event.instrument_id and p.quantity != 0
                for p in rt.account.positions.values()
            ):
                out += self._evaluate_rules(event, rt)
        out += self._housekeeping(event)
        return out

    def on_timer(self, cause: Event) -> list[Event]:
        """Time passing without market data (live mode): day rolls, session cutoffs and reopenings,
        expiries and due cancels.

        Args:
            cause: the timer's tick (expiries and cancels are caused by their order's submission;
                a cutoff's state change by the tick).
        """
        self._roll_days()
        return self._sessions(cause) + self._housekeeping(cause)

    def on_proposal(self, event: TradeProposalEvent) -> list[Event]:
        return self._decide(
            event, event.account_id, event.strategy_id, event.instrument_id, event.order, event.stop_price
        )

    def on_execution_request(self, event: ExecutionRequest) -> list[Event]:
        return self._decide(event, event.account_id, event.strategy_id, event.instrument_id, event.order, None)

    # --- operator commands ----------------------------------------------------------------

    def kill_switch(
        self, cause: Event | None, account_id: str | None, flatten: bool, reason: str = "kill_switch"
    ) -> list[Event]:
        out: list[Event] = []
        for rt in self.accounts.values():
            if account_id is None or rt.account.account_id == account_id:
                out += self._set_state(cause, rt, TradingState.HALTED, reason, "operator kill switch", flatten)
        return out

    def resume(self, cause: Event | None, account_id: str) -> list[Event]:
        rt = self.accounts.get(account_id)
        if rt is None or rt.state is TradingState.ACTIVE:
            return []
        return self._set_state(cause, rt, TradingState.ACTIVE, "resume", "operator resumed trading", False)

    # --- recovery ---------------------------------------------------------------------------

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

    def resume_unfinished(self) -> list[Event]:
        """After recovery: finish approved orders a crash interrupted before they reached the venue.

        Market orders (any venue) with no fill, and orders for the simulated venue that were
        submitted but never accepted (in flight, or the crash came first), are placed again;
        orders the venue accepted were put back to rest by :meth:`recover`. Ids are derived, so
        outputs that were already published come out identical (and JetStream drops them as
        duplicates); nothing that was filled is executed again.
        """
        out: list[Event] = []
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
            market = self.markets.get(decision.instrument_id, Market())
            if record is not None and record.submitted is not None:
                # its OrderSubmitted is in the stream: place it as it was (its arrival price, its day)
                reset, tz = rt.rules.reset_spec()
                day = trading_day(record.submitted.ts_event, reset, tz)
                out += self._place(record, rt, inst, market, day)
            else:
                out += self._submit(decision, rt, inst, "recovered", decision.order, market)
        return out

    # --- internals --------------------------------------------------------------------------

    def _decide(
        self,
        cause: Event,
        account_id: str,
        strategy_id: str,
        instrument_id: str,
        order: OrderSpec,
        stop_price: Decimal | None,
    ) -> list[Event]:
        if cause.event_id in self.decided:
            return []  # redelivery: already decided (the outputs were published then)
        self._roll_days()  # the risk check must see today's daily-loss floor
        state_changes = self._sessions(cause)  # and a cutoff that is due, though no tick came yet
        rt = self.accounts.get(account_id)
        inst = self._instrument(instrument_id)
        market = self.markets.get(instrument_id)
        last = market.mid if market else None
        now = self.clock.now_ns()
        equity = self._equity(rt) if rt else None
        client_order_id = order.client_order_id or f"O-{cause.event_id}"
        if rt is not None:
            while rt.order_times and rt.order_times[0] <= now - NS_PER_MIN:
                rt.order_times.popleft()
        ctx = risk.RiskContext(
            now_ns=now,
            account=rt.account if rt else None,
            profile=rt.config.profile if rt else None,
            instrument=inst,
            last_price=last,
            trading_state=rt.state if rt else TradingState.ACTIVE,
            locked_until_ns=rt.locked_until_ns if rt else None,
            orders_last_minute=len(rt.order_times) if rt else 0,
            rules=rt.rules if rt else None,
            equity=equity if isinstance(equity, Decimal) else None,
            stop_price=stop_price,
            est_cost_per_unit=self._cost_per_unit(inst, last),
        )
        rounded, reasons = risk.check(order, ctx)
        if rt is not None and isinstance(equity, MissingRate):
            reasons.append(RiskReason(code=Code.NO_MARKET_PRICE, message=f"cannot value the account: {equity}"))
        rounded = rounded.model_copy(update={"client_order_id": client_order_id})
        profile = rt.config.profile if rt else None
        decision = self.factory.make(
            RiskDecisionEvent,
            cause=cause,
            derive_from="risk",
            account_id=account_id,
            instrument_id=instrument_id,
            request_event_id=cause.event_id,
            approved=not reasons,
            order=rounded,
            client_order_id=client_order_id,
            reasons=reasons,
            profile_id=profile.profile_id if profile else None,
            profile_version=profile.version if profile else None,
        )
        self.decided[cause.event_id] = decision
        if reasons or rt is None or inst is None:
            return [*state_changes, decision]
        rt.order_times.append(now)
        self.approved[client_order_id] = decision
        return [*state_changes, decision, *self._submit(decision, rt, inst, strategy_id, rounded, market or Market())]

    def _submit(
        self,
        decision: RiskDecisionEvent,
        rt: AccountRuntime,
        inst: Instrument,
        strategy_id: str,
        spec: OrderSpec,
        market: Market,
    ) -> list[Event]:
        coid = decision.client_order_id
        venue = rt.config.venue
        common = {
            "account_id": rt.account.account_id,
            "instrument_id": inst.instrument_id,
            "client_order_id": coid,
            "venue": venue,
        }
        submitted = self.factory.make(
            OrderSubmitted,
            cause=decision,
            derive_from="submitted",
            **common,
            order=spec,
            strategy_id=strategy_id,
            decision_event_id=decision.event_id,
            arrival_price=market.mid,
        )
        record = OrderRecord(
            coid,
            rt.account.account_id,
            strategy_id,
            inst.instrument_id,
            spec,
            "submitted",
            arrival_price=market.mid,
            signal_ts_event=decision.ts_event,  # agents stamp a proposal with its signal's ts_event
            submitted=submitted,
            venue=venue,
        )
        self.orders[coid] = record
        now = self.clock.now_ns()
        return [submitted, *self._place(record, rt, inst, market, self._day(rt, now))]

    def _place(
        self, record: OrderRecord, rt: AccountRuntime, inst: Instrument, market: Market, day: date
    ) -> list[Event]:
        """Send a submitted order to its venue: the simulated one now, an external one as a route."""
        coid, spec, submitted = record.client_order_id, record.spec, record.submitted
        assert submitted is not None
        if record.venue != VENUE:
            self.routes.append(Route(coid, inst, spec, submitted))  # the service sends it to the adapter
            return []
        execs, outcome = self.venue.submit(coid, inst, spec, market, self.clock.now_ns(), day)
        if outcome == "pending":
            return []  # in flight: it reaches the venue on a later market event
        return self._apply_report(submitted, record, sim_report(coid, execs, outcome))

    # --- time: trading days, venue updates, expiries ---------------------------------------

    def _day(self, rt: AccountRuntime, now_ns: int) -> date:
        """The account's trading day at ``now_ns`` (its daily-loss reset time and zone)."""
        if rt.day is not None and now_ns < rt.day_ends_ns:
            return rt.day  # the clock only moves forward: the cached day still holds
        reset, tz = rt.rules.reset_spec()
        return trading_day(now_ns, reset, tz)

    def _roll_days(self) -> None:
        """Start a new trading day for each account whose day ended: today's P&L and fees restart,
        and the rules take the day's starting balance and equity (and move an end-of-day peak)."""
        now = self.clock.now_ns()
        for rt in self.accounts.values():
            if now < rt.day_ends_ns:
                continue
            reset, tz = rt.rules.reset_spec()
            today = trading_day(now, reset, tz)
            if rt.day is not None and today != rt.day:
                rt.account.realized_today = rt.account.fees_today = Decimal(0)
                equity = self._equity(rt)
                if rt.rules.day is not None and isinstance(equity, Decimal):
                    rt.rules.update(now, rt.account.balance, equity)  # else the rules roll on their next update
            rt.day, rt.day_ends_ns = today, day_end_ns(today, reset, tz)

    def _housekeeping(self, cause: Event) -> list[Event]:
        """Expire DAY orders whose trading day ended and GTD orders past their expiry; apply due cancels."""
        now = self.clock.now_ns()
        return self._venue_updates(cause, self.venue.expire(now, lambda order: self._order_day(order, now)))

    def _order_day(self, order: RestingOrder, now_ns: int) -> date | None:
        record = self.orders.get(order.client_order_id)
        rt = self.accounts.get(record.account_id) if record is not None else None
        return self._day(rt, now_ns) if rt is not None else None

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

    def take_routes(self) -> list[Route]:
        """Orders for external venues that the service must now send to their adapters."""
        routes, self.routes = self.routes, []
        return routes

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
                    (ex.price - record.arrival_price) * record.spec.side.sign * ex.quantity * _multiplier(inst),
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
            change = _change(before, pos.quantity)
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

    def _book(
        self, rt: AccountRuntime, inst: Instrument, side: OrderSide, qty: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        pos = rt.account.position(inst)
        realized = pos.apply(side, qty, price)
        converted = self._convert(realized, inst, rt) or Decimal(0)
        rt.account.balance += converted - fee
        rt.account.realized_today += converted
        rt.account.fees_today += fee
        pos.fees += fee

    def _convert(self, amount: Decimal, inst: Instrument, rt: AccountRuntime) -> Decimal | None:
        try:
            return to_account(amount, _pnl_currency(inst), rt.account.currency, self.rates)
        except MissingRate:
            return None

    def _equity(self, rt: AccountRuntime) -> Decimal | MissingRate:
        try:
            return rt.account.equity(self.rates)
        except MissingRate as exc:
            return exc

    def _evaluate_rules(self, cause: Event, rt: AccountRuntime) -> list[Event]:
        equity = self._equity(rt)
        if isinstance(equity, MissingRate):
            return []
        now = self.clock.now_ns()
        rt.rules.update(now, rt.account.balance, equity)
        out: list[Event] = [self._account_event(cause, rt, equity)]
        breaches = rt.rules.breaches(rt.account.balance, equity)
        if breaches and rt.state is TradingState.ACTIVE:
            rule = breaches[0]
            out += self._set_state(
                cause, rt, TradingState.HALTED, rule, f"{rule.replace('_', ' ')} breached at equity {equity}", True
            )
        return out

    def _account_event(self, cause: Event, rt: AccountRuntime, equity: Decimal) -> AccountStateEvent:
        unrealized = equity - rt.account.balance
        return self.factory.make(
            AccountStateEvent,
            cause=cause,
            derive_from=f"account:{rt.account.account_id}",  # one market event marks many accounts
            account_id=rt.account.account_id,
            currency=rt.account.currency,
            balance=rt.account.balance,
            equity=equity,
            realized_pnl_today=rt.account.realized_today,
            unrealized_pnl=unrealized,
            fees_today=rt.account.fees_today,
            trading_state=rt.state,
            profile_id=rt.config.profile.profile_id,
            headroom=rt.rules.headroom(rt.account.balance, equity),
        )

    def _set_state(
        self,
        cause: Event | None,
        rt: AccountRuntime,
        state: TradingState,
        reason: str,
        message: str,
        flatten: bool,
        locked_until_ns: int | None = None,
    ) -> list[Event]:
        previous, rt.state, rt.state_reason = rt.state, state, reason
        rt.locked_until_ns = locked_until_ns
        purpose = f"state:{rt.account.account_id}:{state}:{reason}"  # one cause can change many accounts
        kwargs = {"cause": cause, "derive_from": purpose} if cause is not None else {}
        changed = self.factory.make(
            TradingStateChangedEvent,
            **kwargs,
            ts_event=self.clock.now_ns(),  # when it changed (a market event's own time may be earlier)
            account_id=rt.account.account_id,
            state=state,
            previous_state=previous,
            locked_until_ns=locked_until_ns,
            reason=reason,
            message=message,
            flatten=flatten,
        )
        return [changed, *self._flatten_account(changed, rt, reason)] if flatten else [changed]

    def _flatten_account(self, cause: Event, rt: AccountRuntime, reason: str) -> list[Event]:
        """Cancel the account's working orders at the simulated venue (a resting order must not
        reopen what is closed), then close every open position with a reduce-only market order."""
        out: list[Event] = []
        for record in list(self.orders.values()):
            if (
                record.account_id == rt.account.account_id
                and record.status in OPEN_STATUSES
                and record.submitted is not None
                and self.venue.remove(record.client_order_id) is not None
            ):
                out.append(self._ended(record.submitted, record, "canceled", reason))
        for pos in list(rt.account.positions.values()):
            if pos.quantity != 0:
                out += self._flatten(cause, rt, pos.instrument, pos.quantity)
        return out

    def _sessions(self, cause: Event) -> list[Event]:
        """Session cutoffs of profiles whose windows flatten at their end, and their reopening.

        At the first input, tick or market event after such a window's end: cancel the account's
        working orders, flatten its positions and lock it until the next window opens (an account
        halted by a breach or an operator stays halted, flattened too). When a window opens, the
        lock lifts. A close that passed unseen (no event between the close and the reopening, or
        the service down) is applied at the first event after it, if there is anything to flatten.
        """
        now = self.clock.now_ns()
        out: list[Event] = []
        for rt in self.accounts.values():
            windows = rt.config.profile.limits.sessions
            if now < rt.session_check_ns or not any(w.flatten_at_end for w in windows):
                continue
            status = sessions.status(windows, now)
            seen = rt.session_seen_ns if rt.session_seen_ns is not None else self.recovered_until_ns
            rt.session_check_ns = status.next_change_ns if status.next_change_ns is not None else 2**63
            rt.session_seen_ns = now
            close = status.last_close
            if (
                close is not None
                and close.window.flatten_at_end
                and close.end_ns != rt.cutoff_ns
                and (not status.open or (seen is not None and seen < close.end_ns and self._exposed(rt)))
            ):
                rt.cutoff_ns = close.end_ns
                out += self._cutoff(cause, rt, close, status.reopen_ns)
            if status.open and rt.state is TradingState.LOCKED_UNTIL and rt.state_reason == SESSION_CUTOFF:
                out += self._set_state(cause, rt, TradingState.ACTIVE, SESSION_OPEN, "the session opened", False)
        return out

    def _cutoff(self, cause: Event, rt: AccountRuntime, close: sessions.Session, reopen_ns: int | None) -> list[Event]:
        if rt.state is TradingState.HALTED:  # only an operator lifts a halt; flat by the cutoff all the same
            return self._flatten_account(cause, rt, SESSION_CUTOFF)
        w = close.window
        message = f"session closed at {w.end} {w.timezone}: flat, no new positions until it reopens"
        return self._set_state(cause, rt, TradingState.LOCKED_UNTIL, SESSION_CUTOFF, message, True, reopen_ns)

    def _exposed(self, rt: AccountRuntime) -> bool:
        """The account holds a position or has an order working at the simulated venue."""
        return any(p.quantity != 0 for p in rt.account.positions.values()) or any(
            r.account_id == rt.account.account_id and r.status in OPEN_STATUSES and self.venue.holds(r.client_order_id)
            for r in self.orders.values()
        )

    def _flatten(self, cause: Event, rt: AccountRuntime, inst: Instrument, qty: Decimal) -> list[Event]:
        # the purpose names the account and the instrument: a cause shared by several accounts
        # (a market event, a timer tick) or instruments sharing a symbol never share an order
        purpose = f"flatten:{rt.account.account_id}:{inst.instrument_id}"
        decision_id = derive_id(cause.event_id, purpose)
        spec = OrderSpec(
            side=OrderSide.SELL if qty > 0 else OrderSide.BUY,
            quantity=abs(qty),
            order_type=OrderType.MARKET,
            reduce_only=True,
            client_order_id=f"F-{decision_id}-{inst.symbol}"[:64].replace("/", "_"),
        )
        decision = self.factory.make(
            RiskDecisionEvent,
            cause=cause,
            derive_from=purpose,
            account_id=rt.account.account_id,
            instrument_id=inst.instrument_id,
            request_event_id=cause.event_id,
            approved=True,
            order=spec,
            client_order_id=spec.client_order_id or "",
            profile_id=rt.config.profile.profile_id,
            profile_version=rt.config.profile.version,
        )
        self.approved[decision.client_order_id] = decision
        return [
            decision,
            *self._submit(decision, rt, inst, "flatten", spec, self.markets.get(inst.instrument_id, Market())),
        ]

    def _instrument(self, instrument_id: str) -> Instrument | None:
        try:
            return self.catalog.get(instrument_id)
        except UnknownInstrumentError:
            return None

    def _update_rate(self, instrument_id: str, market: Market) -> None:
        inst = self._instrument(instrument_id)
        if inst is not None and inst.asset_class is AssetClass.FX and market.mid is not None:
            self.rates[inst.symbol] = market.mid

    def _cost_per_unit(self, inst: Instrument | None, last: Decimal | None) -> Decimal:
        if inst is None or last is None:
            return Decimal(0)
        market = self.markets.get(inst.instrument_id, Market())
        quote = Quote(market.bid, market.ask, market.volume)
        slip = self.venue.slippage.slippage(inst, Decimal(1), last, quote) * _multiplier(inst)
        return slip + self.venue.fees.fee(inst, Decimal(1), last, LiquiditySide.TAKER)


def _multiplier(inst: Instrument) -> Decimal:
    return getattr(inst, "contract_size", None) or inst.multiplier


def _pnl_currency(inst: Instrument) -> str:
    return inst.currency


def _change(before: Decimal, after: Decimal) -> str:
    if before == 0 and after != 0:
        return "opened"
    if after == 0:
        return "closed"
    if (before > 0) != (after > 0):
        return "flipped"
    return "changed"
