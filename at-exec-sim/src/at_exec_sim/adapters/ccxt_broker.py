"""A crypto exchange behind the :class:`BrokerAdapter` port, through ccxt (async).

Instruments (tick, step, min/max quantity, min notional) are read from ccxt's unified
market structure after ``load_markets``, so the risk engine rounds and limits orders the
way the exchange will. The client order id is sent as the exchange's client id, so a
resubmission after a crash is refused by the exchange as a duplicate rather than doubled, and
an order's state is asked by it (``fetch_order`` with ``origClientOrderId``, the name Binance and
ccxt's other unified exchanges read), with the order's trades (``fetch_order_trades``, else
``fetch_my_trades`` filtered by order id) as executions whose ids are the exchange's trade ids.

Brackets, on a spot market: the stop and the target are two sells of the same coins, and an
exchange locks the coins of each resting sell (Binance answers the second with -2010), so they are
sent together as one exchange OCO list (:meth:`CcxtBroker.submit_oco`, ``adapters/ccxt_oco.py``:
a STOP_LOSS leg and a LIMIT_MAKER leg sharing one lock; the exchange runs the one-cancels-other).
A list cannot be amended and cancel-then-new-list leaves nothing resting between, so
:meth:`CcxtBroker.modify` refuses a resize, and :meth:`CcxtBroker.bracket_unsupported` refuses,
before it is sent, every entry that could need one (a limit entry, which fills in parts) or that
an OCO cannot protect (a sell, a symbol without OCO lists). On a perpetual, a reduce-only stop
(ccxt's ``triggerPrice`` with ``reduceOnly``) can rest, but a resize after a partial fill would be
a cancel and a new order with nothing resting between them, which is not built (and at Binance
USD-M, ccxt 4.5 sends conditional orders to the separate algo-order endpoints,
``/fapi/v1/algoOrder``, queried and canceled by their own ids, which this adapter does not speak
yet): every bracketed perpetual entry is refused ``bracket_unsupported``, never traded without its
stop.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async

from at_core.catalog import Instrument
from at_core.models.enums import LiquiditySide, OrderType, TimeInForce
from at_core.models.instruments import CryptoPerpetual, CryptoSpot
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.ccxt_oco import floor_step, leg_reports, oco_request, spot_oco_refusal
from at_exec_sim.adapters.health import NO_HEALTH, BrokerHealth
from at_exec_sim.domain.ports import UNKNOWN_ORDER, Balance, BrokerPosition, ExecutionReport, ReportStatus
from at_exec_sim.domain.venue import Execution
from at_exec_sim.errors import VenueUnavailableError

_STATUS = {
    "closed": ReportStatus.FILLED,
    "canceled": ReportStatus.CANCELED,
    "expired": ReportStatus.CANCELED,
    "rejected": ReportStatus.REJECTED,
}
MAX_CLIENT_ID = 36  # Binance's limit; the tightest of the exchanges we target


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def exchange_client_id(client_order_id: str) -> str:
    """The id sent to the exchange: ours when it fits, else a stable hash of it."""
    if len(client_order_id) <= MAX_CLIENT_ID:
        return client_order_id
    return "x" + hashlib.sha256(client_order_id.encode()).hexdigest()[: MAX_CLIENT_ID - 1]


def point_at(exchange: Any, base_url: str) -> None:
    """Send every REST call of ``exchange`` to ``base_url`` (scheme and host), keeping paths."""
    api = exchange.urls["api"]
    for key, url in list(api.items()):
        if isinstance(url, str):
            parts = urlsplit(url)
            api[key] = base_url.rstrip("/") + parts.path


class CcxtBroker:
    """Orders, cancels, balances and positions on one ccxt exchange."""

    def __init__(self, exchange: Any, venue: str) -> None:
        self.exchange = exchange
        self.venue = venue
        self._by_id: dict[str, Instrument] = {}
        self.health: BrokerHealth = NO_HEALTH

    def set_health(self, health: BrokerHealth) -> None:
        """Where this connection reports rate limits and failed requests (bootstrap wires the metrics)."""
        self.health = health

    def _unavailable(self, exc: Exception) -> VenueUnavailableError:
        """The exchange gave no usable answer: counted (a rate limit, or a failed request), and raised
        as unavailable (the caller leaves what it asked in doubt)."""
        if isinstance(exc, ccxt_async.DDoSProtection):  # RateLimitExceeded is one: HTTP 429/418
            self.health.rate_limited("http_429")
        else:
            unanswered = isinstance(exc, ccxt_async.NetworkError) and not isinstance(
                exc, ccxt_async.ExchangeNotAvailable
            )
            self.health.request_failed("transport" if unanswered else "http_5xx")
        return VenueUnavailableError(self.venue, str(exc)[:500])

    @classmethod
    def create(
        cls,
        exchange_id: str,
        *,
        venue: str,
        api_key: str,
        secret: str,
        base_url: str | None = None,
        market_types: tuple[str, ...] = ("spot",),
    ) -> CcxtBroker:
        """Build the ccxt client (no network yet). ``base_url`` replaces the exchange's hosts."""
        klass = getattr(ccxt_async, exchange_id)
        exchange = klass(
            {
                "apiKey": api_key,
                "secret": secret,
                "enableRateLimit": True,
                "options": {"fetchMarkets": list(market_types), "fetchCurrencies": False, "fetchMargins": False},
            }
        )
        if base_url:
            point_at(exchange, base_url)
        return cls(exchange, venue)

    async def connect(self) -> list[Instrument]:
        """Load the exchange's markets; return them as at-core instruments."""
        try:
            markets = await self.exchange.load_markets()
        except ccxt_async.OperationFailed as exc:
            raise self._unavailable(exc) from exc
        out: list[Instrument] = []
        for market in markets.values():
            inst = self.instrument_from_market(market)
            if inst is not None:
                self._by_id[inst.instrument_id] = inst
                out.append(inst)
        return out

    def instrument_from_market(self, m: dict[str, Any]) -> Instrument | None:
        """An instrument from ccxt's market structure (TICK_SIZE precision mode), or None if unsupported."""
        if not m.get("active", True) or m.get("precision", {}).get("price") is None:
            return None
        limits = m.get("limits", {})
        amount = limits.get("amount", {})
        step = _d(m["precision"].get("amount")) or Decimal(1)
        common = {
            "instrument_id": f"{m['symbol']}.{self.venue}",
            "symbol": m["symbol"],
            "venue": self.venue,
            "base": m["base"],
            "quote": m["quote"],
            "price_increment": _d(m["precision"]["price"]),
            "size_increment": step,
            "min_quantity": _d(amount.get("min")) or step,
            "max_quantity": _d(amount.get("max")),
            "min_notional": _d(limits.get("cost", {}).get("min")),
        }
        if m.get("spot"):
            return CryptoSpot(currency=m["quote"], **common)
        if m.get("swap"):
            return CryptoPerpetual(
                currency=m["settle"],
                settle=m["settle"],
                contract_size=_d(m.get("contractSize")) or Decimal(1),
                linear=bool(m.get("linear", True)),
                **common,
            )
        return None

    def bracket_unsupported(self, instrument: Instrument, spec: OrderSpec | None = None) -> str | None:
        """Why an entry with a bracket cannot go to this exchange for ``instrument`` (see the module)."""
        if isinstance(instrument, CryptoSpot):
            market = self.exchange.markets.get(instrument.symbol) if self.exchange.markets else None
            why = spot_oco_refusal(market.get("info") if market else None, instrument, spec)
            if why is None:
                return None
            return f"{self.venue} spot: {why}; the entry is not sent without its stop"
        return (
            f"{self.venue} {instrument.symbol}: resizing a resting reduce-only stop after a partial fill "
            "needs a cancel and replace, which is not supported: the entry is not sent without a stop it can keep"
        )

    async def submit_oco(
        self, stop: tuple[str, OrderSpec], target: tuple[str, OrderSpec], instrument: Instrument
    ) -> tuple[ExecutionReport, ExecutionReport]:
        """Place a bracket's stop and target as one exchange OCO list (``adapters/ccxt_oco.py``).

        Returns:
            The stop's report and the target's, each under its own client order id.

        Raises:
            VenueUnavailableError: the answer was lost or ambiguous: the list may rest there.
        """
        (stop_coid, stop_spec), (target_coid, target_spec) = stop, target
        try:
            free = (await self.balances()).get(getattr(instrument, "base", ""))
        except ccxt_async.BaseError as exc:
            raise VenueUnavailableError(self.venue, f"balance before the OCO: {exc}"[:500]) from exc
        quantity = stop_spec.quantity
        if free is not None and free.free < quantity:  # the buy's fee was taken in the coin bought
            quantity = floor_step(free.free, instrument.size_increment)
        ids = (exchange_client_id(stop_coid), exchange_client_id(target_coid))
        request = oco_request(
            self.exchange,
            instrument.symbol,
            quantity=quantity,
            stop=(ids[0], stop_spec),
            target=(ids[1], target_spec),
            list_id=exchange_client_id(stop_coid + ":oco"),
        )
        try:
            answer = await self.exchange.privatePostOrderListOco(request)
        except ccxt_async.OperationFailed as exc:
            raise self._unavailable(exc) from exc
        except ccxt_async.BaseError as exc:
            refused = (type(exc).__name__, str(exc)[:500])
            return tuple(  # type: ignore[return-value]
                ExecutionReport(coid, ReportStatus.REJECTED, None, (), *refused) for coid in (stop_coid, target_coid)
            )
        legs = leg_reports(self.exchange, instrument.symbol, answer)
        reports = []
        for coid, exchange_id in zip((stop_coid, target_coid), ids, strict=True):
            leg = legs.get(exchange_id)
            if leg is None:  # a list answered without this leg: nothing is known of it
                raise VenueUnavailableError(self.venue, f"OCO answer without the leg {exchange_id}")
            reports.append(self._report(coid, instrument, leg))
        return reports[0], reports[1]

    async def modify(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """Refused: an OCO leg cannot be amended, and a cancel and new list leaves no stop between them."""
        return ExecutionReport(
            client_order_id,
            ReportStatus.REJECTED,
            None,
            (),
            "resize_unsupported",
            f"{self.venue}: an OCO list is not resized (nothing would rest between cancel and new list)",
        )

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        if spec.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            return ExecutionReport(
                client_order_id, ReportStatus.REJECTED, None, (), "unsupported_order_type", str(spec.order_type)
            )
        params: dict[str, Any] = {"clientOrderId": exchange_client_id(client_order_id)}
        if spec.order_type is OrderType.LIMIT and spec.time_in_force is not TimeInForce.DAY:
            params["timeInForce"] = spec.time_in_force.value.upper()
        if spec.reduce_only and isinstance(instrument, CryptoPerpetual):
            params["reduceOnly"] = True
        try:
            order = await self.exchange.create_order(
                instrument.symbol,
                spec.order_type.value,
                spec.side.value,
                float(spec.quantity),
                float(spec.limit_price) if spec.limit_price is not None else None,
                params,
            )
        except ccxt_async.OperationFailed as exc:
            # Ambiguous (network, 5xx, Binance's -1001 "unable to process"): the order may or may not
            # be at the exchange. ccxt files these under OperationFailed, rejections under ExchangeError.
            raise self._unavailable(exc) from exc
        except ccxt_async.BaseError as exc:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), type(exc).__name__, str(exc)[:500])
        return self._report(client_order_id, instrument, order)

    def _report(self, client_order_id: str, inst: Instrument, order: dict[str, Any]) -> ExecutionReport:
        execs = tuple(self._executions(inst, order))
        filled = sum((e.quantity for e in execs), Decimal(0))
        status = _STATUS.get(order.get("status") or "", ReportStatus.ACCEPTED)
        if status is ReportStatus.ACCEPTED and filled > 0:
            status = ReportStatus.PARTIALLY_FILLED
        trades = order.get("trades") or []
        ids = tuple(str(t["id"]) for t in trades) if trades and all(t.get("id") for t in trades) else ()
        return ExecutionReport(client_order_id, status, str(order.get("id")), execs, trade_ids=ids)

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """The order named by our client id, with its trades when the exchange lists them.

        Raises:
            VenueUnavailableError: the exchange could not be asked, or refused to answer.
        """
        try:
            order = await self.exchange.fetch_order(
                None, instrument.symbol, {"origClientOrderId": exchange_client_id(client_order_id)}
            )
            if not order.get("trades") and (_d(order.get("filled")) or Decimal(0)) > 0:
                trades = await self._order_trades(instrument, str(order.get("id")))
                if sum((_d(t.get("amount")) or Decimal(0) for t in trades), Decimal(0)) == _d(order.get("filled")):
                    order = {**order, "trades": trades}  # else the aggregate: the trade list lags the order
        except ccxt_async.OrderNotFound as exc:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, str(exc)[:500])
        except ccxt_async.OperationFailed as exc:  # network, 5xx, rate limit: nothing is known
            raise self._unavailable(exc) from exc
        except ccxt_async.BaseError as exc:  # auth and the like: nothing is known either
            raise VenueUnavailableError(self.venue, f"{type(exc).__name__}: {exc}"[:500]) from exc
        return self._report(client_order_id, instrument, order)

    async def _order_trades(self, instrument: Instrument, order_id: str) -> list[dict[str, Any]]:
        if self.exchange.has.get("fetchOrderTrades"):
            return list(await self.exchange.fetch_order_trades(order_id, instrument.symbol))
        if self.exchange.has.get("fetchMyTrades"):
            return [
                t for t in await self.exchange.fetch_my_trades(instrument.symbol) if str(t.get("order")) == order_id
            ]
        return []

    def _executions(self, inst: Instrument, order: dict[str, Any]) -> list[Execution]:
        trades = order.get("trades") or []
        if trades:
            return [
                Execution(
                    _d(t["amount"]) or Decimal(0),
                    _d(t["price"]) or Decimal(0),
                    self._fee_in_quote(inst, t.get("fee"), _d(t["price"])),
                    LiquiditySide.MAKER if t.get("takerOrMaker") == "maker" else LiquiditySide.TAKER,
                )
                for t in trades
            ]
        filled = _d(order.get("filled")) or Decimal(0)
        if filled <= 0:
            return []
        price = _d(order.get("average") or order.get("price"))
        assert price is not None
        return [Execution(filled, price, self._fee_in_quote(inst, order.get("fee"), price), LiquiditySide.TAKER)]

    @staticmethod
    def _fee_in_quote(inst: Instrument, fee: dict[str, Any] | None, price: Decimal | None) -> Decimal:
        """Fees in the instrument's currency. Spot buys pay in the base coin: convert at the fill price."""
        if not fee or fee.get("cost") is None:
            return Decimal(0)
        cost = _d(fee["cost"]) or Decimal(0)
        if fee.get("currency") == getattr(inst, "base", None) and price is not None:
            return cost * price
        if fee.get("currency") in (None, inst.currency):
            return cost
        raise ValueError(f"fee in {fee.get('currency')} cannot be valued in {inst.currency}")

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        try:
            order = await self.exchange.cancel_order(
                None, instrument.symbol, {"origClientOrderId": exchange_client_id(client_order_id)}
            )
        except ccxt_async.OrderNotFound as exc:
            return await self._not_resting(client_order_id, instrument, exc)
        except ccxt_async.OperationFailed as exc:  # it may still rest there
            raise self._unavailable(exc) from exc
        report = self._report(client_order_id, instrument, order)
        return ExecutionReport(client_order_id, ReportStatus.CANCELED, report.venue_order_id, report.executions)

    async def _not_resting(self, client_order_id: str, instrument: Instrument, exc: Exception) -> ExecutionReport:
        """A cancel the exchange refused as unknown: canceled already (an OCO leg goes with its list's
        other leg, or expired when that leg executed) is a cancel; anything else is the refusal."""
        refused = ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, str(exc)[:500])
        try:
            state = await self.order_status(client_order_id, instrument)
        except VenueUnavailableError:
            return refused
        if state.status is ReportStatus.CANCELED:
            return ExecutionReport(client_order_id, ReportStatus.CANCELED, state.venue_order_id, state.executions)
        return refused

    async def balances(self) -> dict[str, Balance]:
        raw = await self.exchange.fetch_balance()
        out = {}
        for ccy, total in (raw.get("total") or {}).items():
            if total is None:
                continue
            out[ccy] = Balance(
                ccy, _d(raw["free"].get(ccy)) or Decimal(0), _d(raw["used"].get(ccy)) or Decimal(0), _d(total)
            )
        return out

    async def positions(self) -> list[BrokerPosition]:
        """Perpetual positions from the exchange; for spot, the non-zero holdings of listed base coins."""
        out: list[BrokerPosition] = []
        if any(isinstance(i, CryptoPerpetual) for i in self._by_id.values()):
            for p in await self.exchange.fetch_positions():
                qty = _d(p.get("contracts")) or Decimal(0)
                if qty:
                    sign = -1 if p.get("side") == "short" else 1
                    out.append(BrokerPosition(f"{p['symbol']}.{self.venue}", qty * sign, _d(p.get("entryPrice"))))
        balances = await self.balances()
        for inst in self._by_id.values():
            if isinstance(inst, CryptoSpot) and (b := balances.get(inst.base)) is not None and b.total:
                out.append(BrokerPosition(inst.instrument_id, b.total))
        return sorted(out, key=lambda p: p.instrument_id)

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        """The exchange fills on its own book: exec-sim's market data fills nothing there."""
        return []

    async def close(self) -> None:
        await self.exchange.close()
