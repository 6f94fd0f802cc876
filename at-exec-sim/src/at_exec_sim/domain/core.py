"""What every part of the execution engine shares: its state and the small helpers over it.

:class:`ExecutionEngine` (``engine.py``) is composed of the parts in ``decisions.py``,
``lifecycle.py``, ``trading_state.py``, ``housekeeping.py`` and ``recovery.py``; each is a
class over this state, so a method of one may call a method of another through ``self``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from at_core.catalog import Instrument, InstrumentCatalog
from at_core.clock import Clock
from at_core.errors import UnknownInstrumentError
from at_core.events import EventFactory, FillEvent, RiskDecisionEvent
from at_core.models.enums import AssetClass, OrderSide
from at_exec_sim.domain.held_pnl import book_held, hold
from at_exec_sim.domain.portfolio import MissingRate, to_account
from at_exec_sim.domain.records import AccountRuntime, OrderRecord, Route, pnl_currency
from at_exec_sim.domain.rules import trading_day
from at_exec_sim.domain.venue import Market, SimVenue


class EngineCore:
    """The engine's state (set by :class:`ExecutionEngine`) and helpers every part uses."""

    accounts: dict[str, AccountRuntime]
    catalog: InstrumentCatalog
    factory: EventFactory
    clock: Clock
    venue: SimVenue
    markets: dict[str, Market]
    rates: dict[str, Decimal]
    decided: dict[str, RiskDecisionEvent]  # by request (proposal, request) id: redelivery
    approved: dict[str, RiskDecisionEvent]  # approved decisions by client order id
    orders: dict[str, OrderRecord]
    fills: list[FillEvent]
    routes: list[Route]
    stops: dict[str, str]  # accounts locked or halted since the last take_stops, with why
    recovered_until_ns: int | None  # the last recovered event's time: the service ran until then

    def _instrument(self, instrument_id: str) -> Instrument | None:
        try:
            return self.catalog.get(instrument_id)
        except UnknownInstrumentError:
            return None

    def _update_rate(self, instrument_id: str, market: Market) -> None:
        inst = self._instrument(instrument_id)
        if inst is not None and inst.asset_class is AssetClass.FX and market.mid is not None:
            self.rates[inst.symbol] = market.mid
            for rt in self.accounts.values():
                if rt.account.unbooked:
                    book_held(rt.account, self.rates)  # P&L held for want of a rate is booked now

    def _equity(self, rt: AccountRuntime) -> Decimal | MissingRate:
        try:
            return rt.account.equity(self.rates)
        except MissingRate as exc:
            return exc

    def _convert(self, amount: Decimal, inst: Instrument, rt: AccountRuntime) -> Decimal | None:
        try:
            return to_account(amount, pnl_currency(inst), rt.account.currency, self.rates)
        except MissingRate:
            return None

    def _book(
        self, rt: AccountRuntime, inst: Instrument, side: OrderSide, qty: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        pos = rt.account.position(inst)
        realized = pos.apply(side, qty, price)
        converted = self._convert(realized, inst, rt)
        if converted is None:  # no rate: held in its own currency, never booked as zero
            hold(rt.account, pnl_currency(inst), realized)
            converted = Decimal(0)
        rt.account.balance += converted - fee
        rt.account.realized_today += converted
        rt.account.fees_today += fee
        pos.fees += fee

    def _day(self, rt: AccountRuntime, now_ns: int) -> date:
        """The account's trading day at ``now_ns`` (its daily-loss reset time and zone)."""
        if rt.day is not None and now_ns < rt.day_ends_ns:
            return rt.day  # the clock only moves forward: the cached day still holds
        reset, tz = rt.rules.reset_spec()
        return trading_day(now_ns, reset, tz)
