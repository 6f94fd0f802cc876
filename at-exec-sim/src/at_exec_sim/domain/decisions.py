"""The risk path: a proposal or request decided (approved or denied with reason codes) and an
approved order submitted to its venue. Pure; time comes from the injected clock."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.events import Event, OrderSubmitted, RiskDecisionEvent
from at_core.models.enums import LiquiditySide, TradingState
from at_core.models.orders import OrderSpec
from at_exec_sim.domain import risk
from at_exec_sim.domain.core import EngineCore
from at_exec_sim.domain.portfolio import MissingRate
from at_exec_sim.domain.ports import sim_report
from at_exec_sim.domain.records import NS_PER_MIN, VENUE, AccountRuntime, OrderRecord, Route
from at_exec_sim.domain.venue import Market
from at_exec_sim.domain.venue_models import Quote


class Decisions(EngineCore):
    """Decide on a proposal or request, and submit what is approved."""

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
            est_cost_per_unit=self._fee_per_unit(inst, last),
            bid=market.bid if market else None,
            ask=market.ask if market else None,
            slippage_per_unit=self._slippage_per_unit(inst, last),
            rates=self.rates,
            missing_rate=str(equity) if isinstance(equity, MissingRate) else None,
        )
        rounded, reasons = risk.check(order, ctx)
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
        submitted, record = self._open(decision, rt, inst, strategy_id, spec, market)
        return [submitted, *self._place(record, rt, inst, market, self._day(rt, self.clock.now_ns()))]

    def _open(
        self,
        decision: RiskDecisionEvent,
        rt: AccountRuntime,
        inst: Instrument,
        strategy_id: str,
        spec: OrderSpec,
        market: Market,
    ) -> tuple[OrderSubmitted, OrderRecord]:
        """The approved order's ``OrderSubmitted`` and its record (not yet placed at its venue)."""
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
        return submitted, record

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

    def _slippage_per_unit(self, inst: Instrument | None, last: Decimal | None) -> Decimal:
        """Expected slippage of one unit, one side, in price units."""
        if inst is None or last is None:
            return Decimal(0)
        market = self.markets.get(inst.instrument_id, Market())
        return self.venue.slippage.slippage(inst, Decimal(1), last, Quote(market.bid, market.ask, market.volume))

    def _fee_per_unit(self, inst: Instrument | None, last: Decimal | None) -> Decimal:
        """The fee of one unit, one side."""
        if inst is None or last is None:
            return Decimal(0)
        return self.venue.fees.fee(inst, Decimal(1), last, LiquiditySide.TAKER)
