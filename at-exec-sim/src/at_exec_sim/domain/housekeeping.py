"""The housekeeping component: time passing. Trading-day rolls, DAY/GTD expiries and due
cancels, session cutoffs and the sessions reopening. Pure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from at_core.events import ContractExpiryWarningEvent, Event
from at_core.models.enums import TradingState
from at_exec_sim.domain import sessions
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.expiry import expiring, utc_date, warning_message
from at_exec_sim.domain.ledger import Ledger
from at_exec_sim.domain.lifecycle import OrderLifecycle
from at_exec_sim.domain.portfolio import Account, Position
from at_exec_sim.domain.records import SESSION_CUTOFF, SESSION_OPEN, AccountRuntime
from at_exec_sim.domain.rules import day_end_ns, trading_day
from at_exec_sim.domain.trading_state import TradingControl
from at_exec_sim.domain.venue import RestingOrder, SimVenue

NEVER = 2**63
NS_PER_DAY = 86_400 * 10**9


class Housekeeping:
    """Apply the time that passed: day rolls, expiries, due cancels, session cutoffs and reopenings.

    Every input asks; with many accounts, walking them all each time cost more than the decision
    itself, so each walk remembers when the next account is due and the next input before that
    returns at once.

    Args:
        cache: the engine's state (accounts' days and session marks are written here).
        ctx: the injected services (the clock).
        venue: the simulated venue (its expiries and due cancels).
        ledger: values the accounts at a day roll.
        orders: turns the venue's expiries and cancels into events.
        trading: locks and flattens at a cutoff, unlocks at the reopening.
    """

    def __init__(
        self,
        cache: EngineCache,
        ctx: EngineContext,
        venue: SimVenue,
        ledger: Ledger,
        orders: OrderLifecycle,
        trading: TradingControl,
    ) -> None:
        self.cache, self.ctx, self.venue, self.ledger = cache, ctx, venue, ledger
        self.orders, self.trading = orders, trading
        self._days_due_ns = 0  # no account's trading day ends before this
        self._sessions_due_ns = 0  # no account's session opens or closes before this
        self._expiry_warned: tuple[date, set[tuple[str, str]]] | None = None  # today's warnings, once a day each
        # what the last walk for expiring contracts saw (the day, the accounts, positions opened and
        # fills applied): while none of it moves, every position it could warn about has been warned
        self._expiry_seen: tuple[date, int, int, int] | None = None
        self._utc_day: tuple[int, int, date] = (0, 0, date(1970, 1, 1))  # [start, end) ns of the UTC day, and the day

    def roll_days(self) -> None:
        """Start a new trading day for each account whose day ended: today's P&L and fees restart,
        and the rules take the day's starting balance and equity (and move an end-of-day peak)."""
        now = self.ctx.clock.now_ns()
        if now < self._days_due_ns:
            return
        due = NEVER
        for rt in self.cache.accounts.values():
            if now < rt.day_ends_ns:
                due = min(due, rt.day_ends_ns)
                continue
            reset, tz = rt.rules.reset_spec()
            today = trading_day(now, reset, tz)
            if rt.day is not None and today != rt.day:
                rt.account.realized_today = rt.account.fees_today = Decimal(0)
                equity = self.ledger.equity(rt)
                if rt.rules.day is not None and isinstance(equity, Decimal):
                    rt.rules.update(now, rt.account.balance, equity)  # else the rules roll on their next update
            rt.day, rt.day_ends_ns = today, day_end_ns(today, reset, tz)
            due = min(due, rt.day_ends_ns)
        self._days_due_ns = due

    def expire(self, cause: Event) -> list[Event]:
        """Expire DAY orders whose trading day ended and GTD orders past their expiry; apply due cancels;
        warn about held contracts near their last trade date."""
        now = self.ctx.clock.now_ns()
        out: list[Event] = []
        if self.venue.resting:  # else nothing can expire nor be canceled (most inputs)
            out = self.orders.venue_updates(cause, self.venue.expire(now, lambda order: self._order_day(order, now)))
        if (
            self._utc_day[0] <= now < self._utc_day[1]
            and self._expiry_seen is not None
            and self._expiry_seen[0] == self._utc_day[2]
            and self._expiry_seen[1] == len(self.cache.accounts)
            and self._expiry_seen[2] == Account.opened
            and self._expiry_seen[3] == Position.applied
        ):
            return out  # the same UTC day, and nothing held changed since the last walk: nothing new to warn about
        return out + self._expiry_warnings(cause)

    def _expiry_warnings(self, cause: Event) -> list[Event]:
        now = self.ctx.clock.now_ns()
        if not self._utc_day[0] <= now < self._utc_day[1]:  # the UTC day, computed once a day
            start = now - now % NS_PER_DAY
            self._utc_day = (start, start + NS_PER_DAY, utc_date(now))
        today = self._utc_day[2]
        if self._expiry_warned is None or self._expiry_warned[0] != today:
            self._expiry_warned = (today, set())
        seen = (today, len(self.cache.accounts), Account.opened, Position.applied)
        if seen == self._expiry_seen:
            return []  # nothing held changed since the last walk, nor the day: it would warn about nothing new
        self._expiry_seen = seen
        warned, out = self._expiry_warned[1], []
        for rt in self.cache.accounts.values():
            for e in expiring(rt.account, today, rt.config.profile.limits.expiry_warning_days):
                key = (rt.account.account_id, e.position.instrument.instrument_id)
                if key in warned:
                    continue
                warned.add(key)
                out.append(
                    self.ctx.factory.make(
                        ContractExpiryWarningEvent,
                        cause=cause,
                        derive_from=f"expiry:{key[0]}:{key[1]}:{today.isoformat()}",
                        account_id=key[0],
                        instrument_id=key[1],
                        last_trade=e.last_trade,
                        days_left=e.days_left,
                        quantity=e.position.quantity,
                        message=warning_message(key[1], e.last_trade, e.days_left),
                    )
                )
        return out

    def _order_day(self, order: RestingOrder, now_ns: int) -> date | None:
        record = self.cache.orders.get(order.client_order_id)
        rt = self.cache.accounts.get(record.account_id) if record is not None else None
        return self.ledger.day(rt, now_ns) if rt is not None else None

    def session_changes(self, cause: Event) -> list[Event]:
        """Session cutoffs of profiles whose windows flatten at their end, and their reopening.

        At the first input, tick or market event after such a window's end: cancel the account's
        working orders, flatten its positions and lock it until the next window opens (an account
        halted by a breach or an operator stays halted, flattened too). When a window opens, the
        lock lifts. A close that passed unseen (no event between the close and the reopening, or
        the service down) is applied at the first event after it, if there is anything to flatten.
        """
        now = self.ctx.clock.now_ns()
        out: list[Event] = self.trading.lift_soft_locks(cause)  # a soft breach's lock ends when the day opens
        if now < self._sessions_due_ns:
            return out
        due = NEVER
        for rt in self.cache.accounts.values():
            windows = rt.config.profile.limits.sessions
            if not any(w.flatten_at_end for w in windows):
                continue
            if now < rt.session_check_ns:
                due = min(due, rt.session_check_ns)
                continue
            status = sessions.status(windows, now)
            seen = rt.session_seen_ns if rt.session_seen_ns is not None else self.cache.recovered_until_ns
            rt.session_check_ns = status.next_change_ns if status.next_change_ns is not None else NEVER
            due = min(due, rt.session_check_ns)
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
                out += self.trading.set_state(cause, rt, TradingState.ACTIVE, SESSION_OPEN, "the session opened", False)
        self._sessions_due_ns = due
        return out

    def _cutoff(self, cause: Event, rt: AccountRuntime, close: sessions.Session, reopen_ns: int | None) -> list[Event]:
        if rt.state is TradingState.HALTED:  # only an operator lifts a halt; flat by the cutoff all the same
            return self.trading.flatten_account(cause, rt, SESSION_CUTOFF)
        w = close.window
        message = f"session closed at {w.end} {w.timezone}: flat, no new positions until it reopens"
        return self.trading.set_state(cause, rt, TradingState.LOCKED_UNTIL, SESSION_CUTOFF, message, True, reopen_ns)

    def _exposed(self, rt: AccountRuntime) -> bool:
        """The account holds a position or has an order working at the simulated venue."""
        return any(p.quantity != 0 for p in rt.account.positions.values()) or any(
            self.venue.holds(r.client_order_id) for r in self.cache.open_orders(rt.account.account_id)
        )
