"""What the engine's components share, passed to each through its constructor (nautilus-style).

* :class:`EngineContext`: the injected services (instrument catalog, event factory, clock);
  immutable.
* :class:`EngineCache`: the state every component reads and the one that owns each part
  writes: accounts, last markets and FX rates, decisions, orders, fills, routes and stops.

No component reaches another's state through ``self``; each gets the cache and the components
it calls as constructor arguments (see ``engine.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from at_core.catalog import Instrument, InstrumentCatalog
from at_core.clock import Clock
from at_core.errors import UnknownInstrumentError
from at_core.events import EventFactory, FillEvent, MarketDataEvent, RiskDecisionEvent
from at_core.models.enums import AssetClass, OrderStatus
from at_exec_sim.domain.accounts import AccountConfig
from at_exec_sim.domain.held_pnl import book_held
from at_exec_sim.domain.portfolio import Account
from at_exec_sim.domain.records import OPEN_STATUSES, AccountRuntime, OrderRecord, Route
from at_exec_sim.domain.rules import RuleState
from at_exec_sim.domain.venue import Market

_NONE: list[AccountRuntime] = []
_NO_MARKET = Market()


@dataclass(frozen=True, slots=True)
class EngineContext:
    """The services every component is given: where instruments, events and time come from."""

    catalog: InstrumentCatalog
    factory: EventFactory
    clock: Clock

    def instrument(self, instrument_id: str) -> Instrument | None:
        """The instrument, or None when the catalog does not know it (the risk check denies it).

        The catalog keeps what it built (bounded) and forgets it on ``add``: no cache of its own here."""
        try:
            return self.catalog.get(instrument_id)
        except UnknownInstrumentError:
            return None

    def add_instrument(self, instrument: Instrument) -> None:
        """A venue's instrument into the catalog (it replaces one with the same id)."""
        self.catalog.add(instrument)


@dataclass
class EngineCache:
    """The engine's state. Each field is written by one component and read by the others."""

    accounts: dict[str, AccountRuntime]
    markets: dict[str, Market] = field(default_factory=dict)  # market data (the engine)
    market_ts: dict[str, int] = field(default_factory=dict)  # ts_event of each instrument's market data (the engine)
    alert_marks: dict[str, Decimal] = field(default_factory=dict)  # alert prices used as marks (risk; paper reads)
    rates: dict[str, Decimal] = field(default_factory=dict)  # FX mids by symbol (the engine)
    decided: dict[str, RiskDecisionEvent] = field(default_factory=dict)  # by request id: redelivery (risk)
    approved: dict[str, RiskDecisionEvent] = field(default_factory=dict)  # by client order id (risk, trading)
    orders: dict[str, OrderRecord] = field(default_factory=dict)  # by client order id (lifecycle)
    fills: list[FillEvent] = field(default_factory=list)  # (lifecycle, recovery)
    routes: list[Route] = field(default_factory=list)  # orders for external venues, not yet sent (lifecycle)
    # every order as it was canceled, oldest first (lifecycle, recovery): the venue router reads
    # what was added since it last looked, instead of scanning every order on every input
    canceled: list[OrderRecord] = field(default_factory=list)
    stops: dict[str, str] = field(default_factory=dict)  # accounts locked or halted, with why (trading)
    recovered_until_ns: int | None = None  # the last recovered event's time: the service ran until then
    # accounts with a position (open or flat) in each instrument, in account order; rebuilt when an
    # account is added or any position is opened, so a quote walks its holders, not every account
    _holders: dict[str, list[AccountRuntime]] = field(default_factory=dict, repr=False)
    _holders_key: tuple[int, int] = (-1, -1)

    @classmethod
    def for_accounts(cls, accounts: dict[str, AccountConfig]) -> EngineCache:
        """A cache with every configured account at its profile's starting balance."""
        runtimes = {}
        for account_id, cfg in accounts.items():
            start = cfg.profile.starting_balance
            runtimes[account_id] = AccountRuntime(
                cfg, Account(account_id, cfg.profile.currency, start, start), RuleState(cfg.profile)
            )
        return cls(runtimes)

    def store_market(self, event: MarketDataEvent, inst: Instrument | None) -> Market:
        """Remember the instrument's market after ``event`` (and an FX pair's rate)."""
        data, instrument_id = event.data, event.instrument_id
        prev = self.markets.get(instrument_id) or _NO_MARKET  # no Market built per event for the default
        if data.kind == "quote":
            market = Market.of_quote(data.bid, data.ask, data.bid_size, data.ask_size, prev.last)
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
        self.markets[instrument_id] = market
        self.market_ts[instrument_id] = event.ts_event
        if self.alert_marks:
            self.alert_marks.pop(instrument_id, None)  # market data supersedes an alert's price
        if inst is not None and inst.asset_class is AssetClass.FX and market.mid is not None:
            self.rates[inst.symbol] = market.mid
            for rt in self.accounts.values():
                if rt.account.unbooked:
                    book_held(rt.account, self.rates)  # P&L held for want of a rate is booked now
        return market

    def holders(self, instrument_id: str) -> list[AccountRuntime]:
        """The accounts with a position in the instrument (open or flat), in account order."""
        key = (len(self.accounts), Account.opened)
        if key != self._holders_key:
            index: dict[str, list[AccountRuntime]] = {}
            for rt in self.accounts.values():
                for iid in rt.account.positions:
                    index.setdefault(iid, []).append(rt)
            self._holders, self._holders_key = index, key
        return self._holders.get(instrument_id, _NONE)

    def last_price(self, instrument_id: str) -> Decimal | None:
        """The instrument's mid, else its last trade; None before any market data."""
        market = self.markets.get(instrument_id)
        return None if market is None else (market.mid if market.mid is not None else market.last)

    def cancel(self, record: OrderRecord) -> None:
        """``record`` is canceled (its end is also told to the venue router: ``canceled``)."""
        record.status = OrderStatus.CANCELED
        self.canceled.append(record)

    def open_orders(self, account_id: str) -> Iterator[OrderRecord]:
        """The account's orders that may still fill, in submission order."""
        return (r for r in self.orders.values() if r.account_id == account_id and r.status in OPEN_STATUSES)
