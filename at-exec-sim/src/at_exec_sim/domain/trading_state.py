"""The trading-state component: account state events and rule breaches, the kill switch and
resume, halts and locks that flatten (cancel the account's working orders, close its positions). Pure."""

from __future__ import annotations

from decimal import Decimal

from at_core.catalog import Instrument
from at_core.events import Event, RiskDecisionEvent, TradingStateChangedEvent
from at_core.ids import derive_id
from at_core.models.enums import OrderSide, OrderStatus, OrderType, TradingState
from at_core.models.orders import OrderSpec
from at_core.models.risk import BreachKind
from at_exec_sim.domain.breaches import SOFT_BREACH_LIFTED, soft_lock_expired
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.ledger import Ledger
from at_exec_sim.domain.lifecycle import OrderLifecycle
from at_exec_sim.domain.portfolio import MissingRate
from at_exec_sim.domain.records import AccountRuntime
from at_exec_sim.domain.venue import Market, SimVenue


class TradingControl:
    """Account state and rule breaches; halts, locks and resumes; flattening an account.

    Args:
        cache: the engine's state (accounts' trading states and the stops are written here).
        ctx: the injected services.
        venue: the simulated venue (a flatten takes the account's resting orders off it).
        ledger: values the accounts.
        orders: submits the flatten orders and ends the canceled ones.
    """

    def __init__(
        self, cache: EngineCache, ctx: EngineContext, venue: SimVenue, ledger: Ledger, orders: OrderLifecycle
    ) -> None:
        self.cache, self.ctx, self.venue, self.ledger, self.orders = cache, ctx, venue, ledger, orders
        self._soft_due_ns = 0  # no soft-breach lock lifts before this (0: walk once, e.g. after recovery)

    def take_stops(self) -> dict[str, str]:
        """Accounts locked or halted (a session cutoff, a rule breach, the kill switch) since the last
        call, with the reason: the service must cancel their orders resting at external venues
        before it sends their flatten orders (the engine cancels those at the simulated venue itself)."""
        stops, self.cache.stops = self.cache.stops, {}
        return stops

    def kill_switch(
        self, cause: Event | None, account_id: str | None, flatten: bool, reason: str = "kill_switch"
    ) -> list[Event]:
        """Halt one account (or all, ``account_id`` None); with ``flatten``, cancel its working
        orders at the simulated venue and close its positions."""
        out: list[Event] = []
        for rt in self.cache.accounts.values():
            if account_id is None or rt.account.account_id == account_id:
                out += self.set_state(cause, rt, TradingState.HALTED, reason, "operator kill switch", flatten)
        return out

    def resume(self, cause: Event | None, account_id: str) -> list[Event]:
        """Lift a halt or a lock on one account (an operator's decision)."""
        rt = self.cache.accounts.get(account_id)
        if rt is None or rt.state is TradingState.ACTIVE:
            return []
        return self.set_state(cause, rt, TradingState.ACTIVE, "resume", "operator resumed trading", False)

    def lift_soft_locks(self, cause: Event) -> list[Event]:
        """Soft-breach locks whose time came: the account trades again, nobody has to resume it."""
        now = self.ctx.clock.now_ns()
        if now < self._soft_due_ns:
            return []
        out: list[Event] = []
        due = 2**63
        for rt in self.cache.accounts.values():
            if soft_lock_expired(rt, now):
                out += self.set_state(
                    cause, rt, TradingState.ACTIVE, SOFT_BREACH_LIFTED, "the trading day opened", False
                )
            elif rt.state is TradingState.LOCKED_UNTIL and rt.locked_until_ns is not None:
                due = min(due, rt.locked_until_ns)
        self._soft_due_ns = due
        return out

    def evaluate_rules(self, cause: Event, rt: AccountRuntime) -> list[Event]:
        """The account's state after a mark or a fill; a breached rule halts and flattens it."""
        equity = self.ledger.equity(rt)
        if isinstance(equity, MissingRate):
            return []
        balance, rules, now = rt.account.balance, rt.rules, self.ctx.clock.now_ns()
        rules.update(now, balance, equity)
        headroom = rules.headroom(balance, equity)  # once: the event and the breaches read it
        out: list[Event] = [self.ledger.account_event(cause, rt, equity, headroom, now)]
        if not headroom or rt.state is not TradingState.ACTIVE:
            return out  # no rule to breach, or not trading: most marks
        breaches = [h.rule for h in headroom if h.headroom <= 0]  # as RuleState.breaches, without recomputing
        if breaches:
            rule = breaches[0]
            message = f"{rule.replace('_', ' ')} breached at equity {equity}"
            if rt.rules.breach_kind(rule) is BreachKind.SOFT:  # locked until the next trading day opens
                until = rt.rules.soft_lock_until_ns(self.ctx.clock.now_ns())
                self._soft_due_ns = min(self._soft_due_ns, until)
                out += self.set_state(cause, rt, TradingState.LOCKED_UNTIL, rule, f"{message}: soft", True, until)
            else:
                out += self.set_state(cause, rt, TradingState.HALTED, rule, message, True)
        return out

    def set_state(
        self,
        cause: Event | None,
        rt: AccountRuntime,
        state: TradingState,
        reason: str,
        message: str,
        flatten: bool,
        locked_until_ns: int | None = None,
    ) -> list[Event]:
        """Move the account to ``state`` (a stop is remembered for the brokers); flatten it if asked."""
        previous, rt.state, rt.state_reason = rt.state, state, reason
        rt.locked_until_ns, rt.state_message = locked_until_ns, message
        rt.state_since_ns = self.ctx.clock.now_ns()
        if state is not TradingState.ACTIVE:
            self.cache.stops[rt.account.account_id] = reason  # its orders resting at brokers must go too
        purpose = f"state:{rt.account.account_id}:{state}:{reason}"  # one cause can change many accounts
        kwargs = {"cause": cause, "derive_from": purpose} if cause is not None else {}
        changed = self.ctx.factory.make(
            TradingStateChangedEvent,
            **kwargs,
            ts_event=self.ctx.clock.now_ns(),  # when it changed (a market event's own time may be earlier)
            account_id=rt.account.account_id,
            state=state,
            previous_state=previous,
            locked_until_ns=locked_until_ns,
            reason=reason,
            message=message,
            flatten=flatten,
        )
        return [changed, *self.flatten_account(changed, rt, reason)] if flatten else [changed]

    def flatten_account(self, cause: Event, rt: AccountRuntime, reason: str) -> list[Event]:
        """Cancel the account's working orders at the simulated venue (a resting order must not
        reopen what is closed), then close every open position with a reduce-only market order."""
        out: list[Event] = []
        for record in list(self.cache.open_orders(rt.account.account_id)):
            if record.submitted is not None and self.venue.remove(record.client_order_id) is not None:
                out.append(self.orders.ended(record.submitted, record, OrderStatus.CANCELED, reason))
        for pos in list(rt.account.positions.values()):
            if pos.quantity != 0:
                out += self._flatten(cause, rt, pos.instrument, pos.quantity)
        return out

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
        decision = self.ctx.factory.make(
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
        self.cache.approved[decision.client_order_id] = decision
        market = self.cache.markets.get(inst.instrument_id, Market())
        return [decision, *self.orders.submit(decision, rt, inst, "flatten", spec, market)]
