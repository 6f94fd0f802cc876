"""The portfolio component: fills booked into accounts, accounts valued (equity in the account's
currency, fail closed without a rate), and an account's state as an event. Pure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.events import AccountStateEvent, Event
from at_core.models.enums import OrderSide
from at_core.models.portfolio import RuleHeadroom
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.held_pnl import hold
from at_exec_sim.domain.portfolio import MissingRate, to_account
from at_exec_sim.domain.records import AccountRuntime, pnl_currency
from at_exec_sim.domain.rules import trading_day


class Ledger:
    """Books fills, values accounts and reports their state.

    Args:
        cache: the engine's state (accounts and FX rates are read here; balances written).
        ctx: the injected services (the event factory).
    """

    def __init__(self, cache: EngineCache, ctx: EngineContext) -> None:
        self.cache, self.ctx = cache, ctx

    def equity(self, rt: AccountRuntime) -> Decimal | MissingRate:
        """The account's equity at the last marks, or the missing FX rate that prevents it."""
        try:
            return rt.account.equity(self.cache.rates)
        except MissingRate as exc:
            return exc

    def convert(self, amount: Decimal, inst: Instrument, rt: AccountRuntime) -> Decimal | None:
        """``amount`` in ``inst``'s P&L currency, in the account's currency (None without a rate)."""
        try:
            return to_account(amount, pnl_currency(inst), rt.account.currency, self.cache.rates)
        except MissingRate:
            return None

    def book(
        self, rt: AccountRuntime, inst: Instrument, side: OrderSide, qty: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        """One execution into the account: the position, the realised P&L (converted) and the fee."""
        pos = rt.account.position(inst)
        realized = pos.apply(side, qty, price)
        converted = self.convert(realized, inst, rt)
        if converted is None:  # no rate: held in its own currency, never booked as zero
            hold(rt.account, pnl_currency(inst), realized)
            converted = Decimal(0)
        rt.account.balance += converted - fee
        rt.account.realized_today += converted
        rt.account.fees_today += fee
        pos.fees += fee

    def day(self, rt: AccountRuntime, now_ns: int) -> date:
        """The account's trading day at ``now_ns`` (its daily-loss reset time and zone)."""
        if rt.day is not None and now_ns < rt.day_ends_ns:
            return rt.day  # the clock only moves forward: the cached day still holds
        reset, tz = rt.rules.reset_spec()
        return trading_day(now_ns, reset, tz)

    def account_event(
        self, cause: Event, rt: AccountRuntime, equity: Decimal, headroom: list[RuleHeadroom] | None = None
    ) -> AccountStateEvent:
        """The account's balances, P&L, trading state and rule headroom (computed here unless
        given), caused by ``cause``."""
        unrealized = equity - rt.account.balance
        return self.ctx.factory.make(
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
            headroom=rt.rules.headroom(rt.account.balance, equity) if headroom is None else headroom,
        )
