"""The execution engine: events in, events out. Pure (no I/O); time comes from an injected clock.

Every output's id is derived from the input event's id and a purpose, so a redelivered input
yields byte-identical outputs, which JetStream then drops as duplicates; and a replay with
the clock following the inputs' ``ts_event`` reproduces them exactly.
"""

from __future__ import annotations

from decimal import Decimal

from at_core.catalog import InstrumentCatalog
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
from at_exec_sim.domain.accounts import AccountConfig
from at_exec_sim.domain.decisions import Decisions
from at_exec_sim.domain.housekeeping import Housekeeping
from at_exec_sim.domain.lifecycle import Lifecycle
from at_exec_sim.domain.portfolio import Account
from at_exec_sim.domain.records import AccountRuntime, OrderRecord, Route
from at_exec_sim.domain.recovery import Recovery
from at_exec_sim.domain.rules import RuleState
from at_exec_sim.domain.trading_state import TradingControl
from at_exec_sim.domain.venue import Market, SimVenue

__all__ = ["AccountRuntime", "ExecutionEngine", "OrderRecord", "Route"]


class ExecutionEngine(Recovery, Housekeeping, TradingControl, Lifecycle, Decisions):
    """Events in, events out: decisions, orders, fills, positions, account and trading state.

    Its parts live in modules named for what they hold (see ``core.py``); this class holds the
    inputs.
    """

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
        self.stops: dict[str, str] = {}  # account id -> why it was locked or halted (not yet taken)
        self.recovered_until_ns: int | None = None  # the last recovered event's time: the service ran until then

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
        """A quote, trade or bar: day rolls and session cutoffs, the venue's arrivals, cancels and
        fills on it, marks of the accounts holding the instrument, expiries."""
        self._roll_days()
        market = self._store_market(event)
        now = self.clock.now_ns()
        out = self._sessions(event)  # a cutoff first: nothing of a flattened account fills after it
        out += self._venue_updates(event, self.venue.on_market(event.instrument_id, market, now))
        for rt in self.accounts.values():
            pos = rt.account.positions.get(event.instrument_id)  # keyed by instrument id
            if pos is None:
                continue
            if market.mid is not None:
                pos.last_price = market.mid
            if pos.quantity != 0:
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
        """An agents' proposal: decided, and if approved submitted (its stop prices the projected loss)."""
        return self._decide(
            event, event.account_id, event.strategy_id, event.instrument_id, event.order, event.stop_price
        )

    def on_execution_request(self, event: ExecutionRequest) -> list[Event]:
        """A manual order from the gateway: decided, and if approved submitted."""
        return self._decide(event, event.account_id, event.strategy_id, event.instrument_id, event.order, None)
