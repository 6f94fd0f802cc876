"""The risk component: a proposal or request decided, approved or denied with reason codes
(the checks themselves are ``risk.py``'s). Pure; time comes from the injected clock."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.events import Event, RiskDecisionEvent, RiskReason, RiskReasonCode, TradeProposalEvent
from at_core.models.enums import LiquiditySide, TradingState
from at_core.models.orders import OrderSpec
from at_exec_sim.domain import risk
from at_exec_sim.domain.alert_mark import AlertMarkPolicy, Mark, choose_mark
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.ledger import Ledger
from at_exec_sim.domain.portfolio import MissingRate
from at_exec_sim.domain.records import NS_PER_MIN, AccountRuntime
from at_exec_sim.domain.venue import Market, SimVenue
from at_exec_sim.domain.venue_models import Quote


@dataclass(frozen=True, slots=True)
class Approval:
    """What an approved order is submitted with: its account, instrument, order and the market."""

    rt: AccountRuntime
    instrument: Instrument
    spec: OrderSpec
    market: Market


class PreTradeRisk:
    """Decide on a proposal or request; remember every decision (a redelivery is not decided again).

    Args:
        cache: the engine's state (decisions are written here; accounts' order times too).
        ctx: the injected services.
        venue: the simulated venue (its slippage and fee models price the projected cost).
        ledger: values the account.
        alert_marks: when a proposal's alert price may serve as the mark (None: never).
    """

    def __init__(
        self,
        cache: EngineCache,
        ctx: EngineContext,
        venue: SimVenue,
        ledger: Ledger,
        alert_marks: AlertMarkPolicy | None = None,
    ) -> None:
        self.cache, self.ctx, self.venue, self.ledger = cache, ctx, venue, ledger
        self.alert_marks = alert_marks

    def decided(self, request: Event) -> bool:
        """``request`` was decided already (a redelivery: its outputs were published then)."""
        return request.event_id in self.cache.decided

    def decide(
        self, cause: Event, account_id: str, instrument_id: str, order: OrderSpec, stop_price: Decimal | None
    ) -> tuple[RiskDecisionEvent, Approval | None]:
        """The decision on ``order``, and what to submit it with when it is approved."""
        cache = self.cache
        rt = cache.accounts.get(account_id)
        inst = self.ctx.instrument(instrument_id)
        now = self.ctx.clock.now_ns()
        mark = self._mark(cause, rt, instrument_id, now)
        market = mark.market
        last = market.mid if market else None
        equity = self.ledger.equity(rt) if rt else None
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
            rates=cache.rates,
            missing_rate=str(equity) if isinstance(equity, MissingRate) else None,
            automated=automated(cause),
            venue=rt.config.venue if rt else None,
            brackets_at_venue=rt.config.brackets_at_venue if rt else False,
        )
        if order.client_order_id != client_order_id:
            # named before the check: its rounding copies the order once, with the id (not twice)
            order = order.model_copy(update={"client_order_id": client_order_id})
        try:
            rounded, reasons = risk.check(order, ctx)
        except Exception as exc:  # fail closed and visible: a denial, never an input dropped after N tries
            rounded, reasons = order, [RiskReason(code=RiskReasonCode.INTERNAL_ERROR, message=_internal(exc))]
        reasons = [_explained(r, mark) for r in reasons]
        decision = self._decision(cause, rt, account_id, instrument_id, rounded, reasons, mark)
        cache.decided[cause.event_id] = decision
        if reasons or rt is None or inst is None:
            return decision, None
        rt.order_times.append(now)
        if mark.price is not None:
            cache.alert_marks[instrument_id] = mark.price  # the paper broker fills at it
        cache.approved[client_order_id] = decision
        return decision, Approval(rt, inst, rounded, market or Market())

    def _decision(
        self,
        cause: Event,
        rt: AccountRuntime | None,
        account_id: str,
        instrument_id: str,
        rounded: OrderSpec,
        reasons: list[RiskReason],
        mark: Mark,
    ) -> RiskDecisionEvent:
        profile = rt.config.profile if rt else None
        return self.ctx.factory.make(
            RiskDecisionEvent,
            cause=cause,
            derive_from="risk",
            account_id=account_id,
            instrument_id=instrument_id,
            request_event_id=cause.event_id,
            approved=not reasons,
            order=rounded,
            client_order_id=rounded.client_order_id or "",
            reasons=reasons,
            profile_id=profile.profile_id if profile else None,
            profile_version=profile.version if profile else None,
            price_source=mark.source,
            mark_price=mark.price,
        )

    def _mark(self, cause: Event, rt: AccountRuntime | None, instrument_id: str, now: int) -> Mark:
        """The market data, or the proposal's alert price when it is fresher and allowed (``alert_mark.py``)."""
        market = self.cache.markets.get(instrument_id)
        reference = cause.reference_price if isinstance(cause, TradeProposalEvent) else None
        venue = rt.config.venue if rt else ""
        return choose_mark(
            market,
            self.cache.market_ts.get(instrument_id),
            reference,
            cause.ts_event,
            now,
            venue,
            self.alert_marks,
        )

    def _slippage_per_unit(self, inst: Instrument | None, last: Decimal | None) -> Decimal:
        """Expected slippage of one unit, one side, in price units."""
        if inst is None or last is None:
            return Decimal(0)
        market = self.cache.markets.get(inst.instrument_id, Market())
        return self.venue.slippage.slippage(inst, Decimal(1), last, Quote(market.bid, market.ask, market.volume))

    def _fee_per_unit(self, inst: Instrument | None, last: Decimal | None) -> Decimal:
        """The fee of one unit, one side."""
        if inst is None or last is None:
            return Decimal(0)
        return self.venue.fees.fee(inst, Decimal(1), last, LiquiditySide.TAKER)


def automated(cause: Event) -> bool:
    """Whether no person placed this order: an agents' (or MCP) proposal as it says (True unless
    marked otherwise); an operator's execution request is a person's."""
    return cause.automated if isinstance(cause, TradeProposalEvent) else False


def _explained(reason: RiskReason, mark: Mark) -> RiskReason:
    """A ``no_market_price`` denial says what would have priced the order, and how to get a price."""
    if reason.code is not RiskReasonCode.NO_MARKET_PRICE:
        return reason
    why = f"; {mark.refused}" if mark.refused else ""
    message = f"{reason.message}{why}: send quotes, trades or bars to the gateway's /ingest/market-data"
    return reason.model_copy(update={"message": message[:500]})


def _internal(exc: Exception) -> str:
    """What a denial says of a risk check that raised: the error's type and its first line, bounded."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"risk check failed: {type(exc).__name__}: {first}"[:200]
