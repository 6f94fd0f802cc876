"""The portfolio component: fills booked into accounts, accounts valued (equity in the account's
currency, fail closed without a rate), and an account's state as an event. Pure.

The account-state event is the one made per holder per quote: it is built from values the
engine made itself (validated where they came in) by :func:`trusted`, with the envelope
:meth:`EventFactory.make` would stamp (``tests/unit/test_trusted_models.py`` holds the two to the
same bytes); a balance or equity that is not finite goes through ``make`` and fails as before.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.clock import NANOS_PER_MILLI
from at_core.events import AccountStateEvent, Event
from at_core.ids import derive_id, ulid_timestamp_ms
from at_core.models.enums import OrderSide
from at_core.models.portfolio import RuleHeadroom
from at_core.models.trusted import check_trusted, trusted
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.held_pnl import hold
from at_exec_sim.domain.portfolio import MissingRate, to_account
from at_exec_sim.domain.records import AccountRuntime, pnl_currency
from at_exec_sim.domain.rules import trading_day

_ACCOUNT_STATE = AccountStateEvent.type_name()
_ACCOUNT_STATE_VERSION = AccountStateEvent.SCHEMA_VERSION
check_trusted(AccountStateEvent)
_ACCOUNT_STATE_FIELDS = set(AccountStateEvent.model_fields)  # every field is given: shared by each event made


class Ledger:
    """Books fills, values accounts and reports their state.

    Args:
        cache: the engine's state (accounts and FX rates are read here; balances written).
        ctx: the injected services (the event factory).
    """

    def __init__(self, cache: EngineCache, ctx: EngineContext) -> None:
        self.cache, self.ctx = cache, ctx
        self._cause_ms: tuple[str, int] = ("", 0)  # the last cause's id and its ULID time (as ns): its holders share it
        self._purposes: dict[str, str] = {}  # "account:<id>" per account: made once, not per mark

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
        self,
        cause: Event,
        rt: AccountRuntime,
        equity: Decimal,
        headroom: list[RuleHeadroom] | None = None,
        now_ns: int | None = None,
    ) -> AccountStateEvent:
        """The account's balances, P&L, trading state and rule headroom (computed here unless
        given), caused by ``cause``; ``now_ns``: the clock's time, when the caller read it already."""
        acc = rt.account
        account_id, balance = acc.account_id, acc.balance
        if headroom is None:
            headroom = rt.rules.headroom(balance, equity)
        purpose = self._purposes.get(account_id)  # one market event marks many accounts
        if purpose is None:
            purpose = self._purposes[account_id] = f"account:{account_id}"
        if not (equity.is_finite() and balance.is_finite()):
            return self.ctx.factory.make(
                AccountStateEvent,
                cause=cause,
                derive_from=purpose,
                account_id=acc.account_id,
                currency=acc.currency,
                balance=acc.balance,
                equity=equity,
                realized_pnl_today=acc.realized_today,
                unrealized_pnl=equity - acc.balance,
                fees_today=acc.fees_today,
                trading_state=rt.state,
                profile_id=rt.config.profile.profile_id,
                headroom=headroom,
            )
        factory, cause_id = self.ctx.factory, cause.event_id
        cause_ms = self._cause_ms
        if cause_ms[0] != cause_id:
            cause_ms = self._cause_ms = (cause_id, ulid_timestamp_ms(cause_id) * NANOS_PER_MILLI)
        return trusted(  # the fields in their declared order, as EventFactory.make stamps them
            AccountStateEvent,
            {
                "event_id": derive_id(cause_id, purpose, cause_ms[1]),
                "event_type": _ACCOUNT_STATE,
                "schema_version": _ACCOUNT_STATE_VERSION,
                "ts_event": cause.ts_event,
                "ts_init": factory.clock.now_ns() if now_ns is None else now_ns,
                "source": factory.source,
                "correlation_id": cause.correlation_id,
                "causation_id": cause_id,
                "account_id": account_id,
                "currency": acc.currency,
                "balance": balance,
                "equity": equity,
                "realized_pnl_today": acc.realized_today,
                "unrealized_pnl": equity - balance,
                "fees_today": acc.fees_today,
                "trading_state": rt.state,
                "profile_id": rt.config.profile.profile_id,
                "headroom": headroom,
            },
            _ACCOUNT_STATE_FIELDS,
        )
