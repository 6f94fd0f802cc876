"""The execution engine: events in, events out. Pure (no I/O); time comes from an injected clock.

Every output's id is derived from the input event's id and a purpose, so a redelivered input
yields byte-identical outputs, which JetStream then drops as duplicates; and a replay with
the clock following the inputs' ``ts_event`` reproduces them exactly.

The engine composes its components (nautilus_trader-style): each gets the shared
:class:`EngineCache`, the :class:`EngineContext` (catalog, event factory, clock) and the
components it calls through its constructor; none inherits another or reaches into its state.

* :class:`PreTradeRisk` (``decisions.py``): a proposal or request decided;
* :class:`OrderLifecycle` (``lifecycle.py``): orders submitted, venues' reports as events;
* :class:`Ledger` (``ledger.py``): the portfolio: fills booked, accounts valued;
* :class:`TradingControl` (``trading_state.py``): account state, breaches, halts and flattening;
* :class:`Housekeeping` (``housekeeping.py``): day rolls, expiries, session cutoffs;
* :class:`Recovery` (``recovery.py``): state rebuilt on restart, interrupted orders finished;
* :class:`Brackets` (``brackets.py``): an entry's stop and target placed, resized, trailed, OCO.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from at_core.catalog import Instrument, InstrumentCatalog
from at_core.clock import Clock
from at_core.events import (
    Event,
    EventFactory,
    ExecutionRequest,
    FillEvent,
    MarketDataEvent,
    RiskDecisionEvent,
    TradeProposalEvent,
)
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.accounts import AccountConfig
from at_exec_sim.domain.alert_mark import AlertMarkPolicy
from at_exec_sim.domain.brackets import Brackets
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.decisions import PreTradeRisk
from at_exec_sim.domain.housekeeping import Housekeeping
from at_exec_sim.domain.ledger import Ledger
from at_exec_sim.domain.lifecycle import OrderLifecycle
from at_exec_sim.domain.ports import ExecutionReport
from at_exec_sim.domain.query import EngineQuery
from at_exec_sim.domain.records import AccountRuntime, OrderRecord, Route
from at_exec_sim.domain.recovery import Recovery
from at_exec_sim.domain.trading_state import TradingControl
from at_exec_sim.domain.venue import Market, SimVenue

__all__ = ["AccountRuntime", "ExecutionEngine", "OrderRecord", "Route"]


class ExecutionEngine:
    """Events in, events out: decisions, orders, fills, positions, account and trading state.

    Args:
        accounts: the configured accounts (each starts at its profile's starting balance).
        catalog: the instruments (the brokers' are added when they connect).
        factory: makes every output event (ids derived from the input).
        clock: the engine's only source of time.
        venue: the simulated venue.
        alert_marks: when a proposal's alert price may serve as the mark on paper and simulated
            venues (``alert_mark.py``); None: never, every order needs market data.
    """

    def __init__(
        self,
        accounts: dict[str, AccountConfig],
        catalog: InstrumentCatalog,
        factory: EventFactory,
        clock: Clock,
        venue: SimVenue,
        alert_marks: AlertMarkPolicy | None = None,
    ) -> None:
        self.ctx = EngineContext(catalog, factory, clock)
        self.cache = EngineCache.for_accounts(accounts)
        self.venue = venue
        self.ledger = Ledger(self.cache, self.ctx)
        self.lifecycle = OrderLifecycle(
            self.cache,
            self.ctx,
            venue,
            self.ledger,
            after_fills=lambda cause, rt: self.trading.evaluate_rules(cause, rt),
        )
        self.trading = TradingControl(self.cache, self.ctx, venue, self.ledger, self.lifecycle)
        self.risk = PreTradeRisk(self.cache, self.ctx, venue, self.ledger, alert_marks)
        self.housekeeping = Housekeeping(self.cache, self.ctx, venue, self.ledger, self.lifecycle, self.trading)
        self.recovery = Recovery(self.cache, self.ctx, venue, self.ledger, self.lifecycle)
        self.query = EngineQuery(self.cache, self.ledger)
        self.brackets = Brackets(self.cache, self.ctx, venue, self.lifecycle)

    # -- the injected services and the state, for the service layer and tests (read them, never assign)

    @property
    def catalog(self) -> InstrumentCatalog:
        return self.ctx.catalog

    @property
    def factory(self) -> EventFactory:
        return self.ctx.factory

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def accounts(self) -> dict[str, AccountRuntime]:
        return self.cache.accounts

    @property
    def markets(self) -> dict[str, Market]:
        return self.cache.markets

    @property
    def rates(self) -> dict[str, Decimal]:
        return self.cache.rates

    @property
    def orders(self) -> dict[str, OrderRecord]:
        return self.cache.orders

    @property
    def fills(self) -> list[FillEvent]:
        return self.cache.fills

    @property
    def approved(self) -> dict[str, RiskDecisionEvent]:
        return self.cache.approved

    # -- inputs

    def prime_market(self, event: MarketDataEvent) -> None:
        """Remember the last price of an instrument without acting on it (restart recovery)."""
        self.cache.store_market(event, self.ctx.instrument(event.instrument_id))

    def on_market_data(self, event: MarketDataEvent) -> list[Event]:
        """A quote, trade or bar: day rolls and session cutoffs, the venue's arrivals, cancels and
        fills on it, marks of the accounts holding the instrument, expiries."""
        # most quotes find nothing working and no bracket: each step below is skipped when it has
        # nothing to look at (the same outputs, in the same order, as when every step runs)
        housekeeping, venue, instrument_id = self.housekeeping, self.venue, event.instrument_id
        housekeeping.roll_days()
        market = self.cache.store_market(event, self.ctx.instrument(instrument_id))
        out = housekeeping.session_changes(event)  # a cutoff first: nothing of a flattened account fills after it
        if venue.resting or venue.inflight:
            out += self.lifecycle.venue_updates(event, venue.on_market(instrument_id, market, self.ctx.clock.now_ns()))
        if out:
            out += self.brackets.after(out)  # children placed, resized or canceled (OCO) on those fills
        if self.brackets.groups:
            out += self.brackets.on_market(event, market)  # trailing stops follow the price
        holders = self.cache.holders(instrument_id)  # the accounts holding it, not every account
        if holders:
            mid, evaluate = market.mid, self.trading.evaluate_rules
            for rt in holders:
                pos = rt.account.positions[instrument_id]
                if mid is not None:
                    pos.last_price = mid
                if pos.quantity != 0:
                    out += evaluate(event, rt)
        out += housekeeping.expire(event)
        return out

    def on_timer(self, cause: Event) -> list[Event]:
        """Time passing without market data (live mode): day rolls, session cutoffs and reopenings,
        expiries and due cancels.

        Args:
            cause: the timer's tick (expiries and cancels are caused by their order's submission;
                a cutoff's state change by the tick).
        """
        self.housekeeping.roll_days()
        return self.housekeeping.session_changes(cause) + self.housekeeping.expire(cause)

    def on_proposal(self, event: TradeProposalEvent) -> list[Event]:
        """An agents' proposal: decided, and if approved submitted (its stop prices the projected loss)."""
        return self._decide(
            event, event.account_id, event.strategy_id, event.instrument_id, event.order, event.stop_price
        )

    def on_execution_request(self, event: ExecutionRequest) -> list[Event]:
        """A manual order from the gateway: decided, and if approved submitted."""
        return self._decide(event, event.account_id, event.strategy_id, event.instrument_id, event.order, None)

    def on_report(self, client_order_id: str, report: ExecutionReport, purpose: str = "submit") -> list[Event]:
        """Apply what an external venue reported for an order (its first answer, or a later fill)."""
        out = self.lifecycle.on_report(client_order_id, report, purpose)
        return out + self.brackets.after(out)

    def kill_switch(
        self, cause: Event | None, account_id: str | None, flatten: bool, reason: str = "kill_switch"
    ) -> list[Event]:
        """Halt one account (or all); with ``flatten``, cancel its working orders and close its positions."""
        return self.trading.kill_switch(cause, account_id, flatten, reason)

    def resume(self, cause: Event | None, account_id: str) -> list[Event]:
        """Lift a halt or a lock on one account (an operator's decision)."""
        return self.trading.resume(cause, account_id)

    # -- the OrderBook port (domain/ports.py): what the venue router asks of the engine

    def take_routes(self) -> list[Route]:
        """Orders for external venues that the service must now send to their adapters."""
        return self.lifecycle.take_routes()

    def unsent(self) -> frozenset[str]:
        """Client order ids of the routes not taken yet (flatten orders about to be sent)."""
        return frozenset(route.client_order_id for route in self.cache.routes)

    def order(self, client_order_id: str) -> OrderRecord | None:
        """The order, or None if the engine never had it."""
        return self.cache.orders.get(client_order_id)

    def orders_at(self, venues: Collection[str]) -> list[OrderRecord]:
        """The orders placed at these venues, in submission order."""
        return [r for r in self.cache.orders.values() if r.venue in venues]

    def canceled_from(self, start: int) -> list[OrderRecord]:
        """The orders canceled since the ``start``-th cancel (0: all), in the order they were canceled."""
        return self.cache.canceled[start:]

    def fills_at(self, venues: Collection[str]) -> list[FillEvent]:
        """The fills booked at these venues, in the order they were booked."""
        return [f for f in self.cache.fills if f.venue in venues]

    def instrument(self, instrument_id: str) -> Instrument:
        """The instrument (raises ``UnknownInstrumentError``)."""
        inst = self.ctx.instrument(instrument_id)
        return inst if inst is not None else self.ctx.catalog.get(instrument_id)

    def add_instrument(self, instrument: Instrument) -> None:
        """A venue's instrument, with the precision and limits the risk check must use."""
        self.ctx.add_instrument(instrument)

    def last_price(self, instrument_id: str) -> Decimal | None:
        """The instrument's mid, else its last trade; None before any market data."""
        return self.cache.last_price(instrument_id)

    def paper_price(self, instrument_id: str) -> Decimal | None:
        """What the paper broker fills at: the market data, else an alert's price a decision used."""
        last = self.cache.last_price(instrument_id)
        return last if last is not None else self.cache.alert_marks.get(instrument_id)

    def take_stops(self) -> dict[str, str]:
        """Accounts locked or halted since the last call, with why (see :meth:`TradingControl.take_stops`)."""
        return self.trading.take_stops()

    def recover(self, event: Event) -> None:
        """Rebuild state from a published event (on restart): nothing is emitted."""
        self.recovery.recover(event)
        self.brackets.recover(event)

    def stale_in_flight(self, max_age_ns: int) -> list[tuple[OrderRecord, int]]:
        """Interrupted market orders for external venues too old to send again (see :class:`Recovery`)."""
        return self.recovery.stale_in_flight(max_age_ns)

    def resume_unfinished(self, resend_max_age_ns: int | None = None) -> list[Event]:
        """After recovery: finish approved orders a crash interrupted (see :class:`Recovery`)."""
        out = self.recovery.resume_unfinished(resend_max_age_ns)
        return out + self.brackets.after(out)

    def _decide(
        self,
        cause: Event,
        account_id: str,
        strategy_id: str,
        instrument_id: str,
        order: OrderSpec,
        stop_price: Decimal | None,
    ) -> list[Event]:
        if self.risk.decided(cause):
            return []  # redelivery: already decided (the outputs were published then)
        self.housekeeping.roll_days()  # the risk check must see today's daily-loss floor
        state_changes = self.housekeeping.session_changes(cause)  # and a cutoff that is due, though no tick came yet
        decision, approval = self.risk.decide(cause, account_id, instrument_id, order, stop_price)
        if approval is None:
            return [*state_changes, decision]
        submitted = self.lifecycle.submit(
            decision, approval.rt, approval.instrument, strategy_id, approval.spec, approval.market
        )
        return [*state_changes, decision, *submitted, *self.brackets.after(submitted)]
