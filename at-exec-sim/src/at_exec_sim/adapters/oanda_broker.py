"""An FX broker behind the :class:`BrokerAdapter` port: OANDA's v20 REST API, over httpx.

The calls used: ``GET /v3/accounts/{id}/instruments`` (precision and limits),
``POST /v3/accounts/{id}/orders``, ``PUT /v3/accounts/{id}/orders/@{client id}/cancel``,
``PUT /v3/accounts/{id}/orders/@{client id}`` (replace: resize or re-price a resting order),
``GET /v3/accounts/{id}/orders/@{client id}`` with the ``GET /v3/accounts/{id}/transactions/{id}``
that filled or cancelled it (an order's state for reconciliation), ``GET /v3/accounts/{id}/summary``
and ``GET /v3/accounts/{id}/openPositions``, with a bearer token. Units are signed (a sell is negative). Our client order id travels as the order's
``clientExtensions.id``, so a resubmission after a crash is refused by the broker
(``CLIENT_ORDER_ID_ALREADY_EXISTS``) rather than doubled, and a cancel names the order by it.

Bracket children (exec-sim's emulated brackets, ``domain/brackets.py``) are a reduce-only STOP
and a reduce-only LIMIT (``positionFill: REDUCE_ONLY``) under the child's client id; a resize is a
v20 *replace*, which cancels the old order and creates its replacement in one transaction batch
(no moment without a stop at the broker), the replacement carrying the same client id. That v20
accepts the replaced order's client id on its replacement is read from the API's shape, not
checked against a live account: if it refuses it, the replace is rejected as a whole, the old
order keeps resting at its old size, and the router logs ``broker_modify_refused``.

What the broker says maps to reports: an ``orderFillTransaction`` is an execution (its
``commission`` is in the account currency and is converted to the pair's quote currency at
the fill price); an ``orderCancelTransaction`` (e.g. a market order the broker cancels for
``INSUFFICIENT_MARGIN``) is CANCELED with that reason; an ``orderRejectTransaction`` or an
error code is REJECTED. v20 fills an order in one ``ORDER_FILL`` transaction, named by the
order's ``fillingTransactionID``; that transaction's id is the execution's trade id. A network failure or a 5xx is ambiguous (the order may be there):
:class:`VenueUnavailableError`, never a guess.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from at_core.catalog import Instrument
from at_core.models.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from at_core.models.instruments import FxPair
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.health import NO_HEALTH, BrokerHealth
from at_exec_sim.domain.ports import UNKNOWN_ORDER, Balance, BrokerPosition, ExecutionReport, ReportStatus
from at_exec_sim.domain.venue import Execution
from at_exec_sim.errors import VenueUnavailableError

PRACTICE_URL = "https://api-fxpractice.oanda.com"
_TIF = {
    TimeInForce.GTC: "GTC",
    TimeInForce.DAY: "GFD",
    TimeInForce.GTD: "GTD",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
}
#: v20 order states; TRIGGERED is an order that triggered and waits for its fill.
_STATE = {
    "PENDING": ReportStatus.ACCEPTED,
    "TRIGGERED": ReportStatus.ACCEPTED,
    "FILLED": ReportStatus.FILLED,
    "CANCELLED": ReportStatus.CANCELED,
}


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def oanda_name(instrument: Instrument) -> str:
    """OANDA's instrument name for a pair: ``EUR_USD``."""
    if not isinstance(instrument, FxPair):
        raise ValueError(f"{instrument.instrument_id} is not an FX pair")
    return f"{instrument.base}_{instrument.quote}"


def order_body(client_order_id: str, instrument: Instrument, spec: OrderSpec) -> dict[str, Any]:
    """The v20 order request for ``spec`` (pure: what is sent is testable without a broker)."""
    units = spec.quantity if spec.side is OrderSide.BUY else -spec.quantity
    order: dict[str, Any] = {
        "instrument": oanda_name(instrument),
        "units": str(units),
        "positionFill": "REDUCE_ONLY" if spec.reduce_only else "DEFAULT",
        "clientExtensions": {"id": client_order_id},
    }
    if spec.order_type is OrderType.MARKET:
        order |= {"type": "MARKET", "timeInForce": "IOC" if spec.time_in_force is TimeInForce.IOC else "FOK"}
    elif spec.order_type is OrderType.LIMIT:
        order |= {"type": "LIMIT", "price": str(spec.limit_price), "timeInForce": _TIF[spec.time_in_force]}
    else:  # STOP_MARKET, STOP_LIMIT: a stop order; a stop limit bounds the worst fill price
        order |= {"type": "STOP", "price": str(spec.stop_price), "timeInForce": _TIF[spec.time_in_force]}
        if spec.order_type is OrderType.STOP_LIMIT:
            order["priceBound"] = str(spec.limit_price)
    if spec.time_in_force is TimeInForce.GTD and spec.expire_time_ns is not None:
        order["gtdTime"] = f"{spec.expire_time_ns // 1_000_000_000}.{spec.expire_time_ns % 1_000_000_000:09d}"
    return {"order": order}


class OandaBroker:
    """Orders, cancels, balances and positions on one OANDA v20 account."""

    def __init__(self, client: httpx.AsyncClient, account_id: str, venue: str = "OANDA") -> None:
        self.client = client
        self.account_id = account_id
        self.venue = venue
        self.account_currency: str | None = None
        self._by_name: dict[str, FxPair] = {}
        self.health: BrokerHealth = NO_HEALTH

    @classmethod
    def create(
        cls, *, account_id: str, token: str, base_url: str = PRACTICE_URL, venue: str = "OANDA", timeout_s: float = 10.0
    ) -> OandaBroker:
        """Build the HTTP client (no network yet)."""
        client = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {token}", "Accept-Datetime-Format": "UNIX"},
        )
        return cls(client, account_id, venue)

    async def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        try:
            resp = await self.client.request(method, f"/v3/accounts/{self.account_id}{path}", json=json)
        except httpx.TransportError as exc:
            self.health.request_failed("transport")
            raise VenueUnavailableError(self.venue, f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 500:
            self.health.request_failed("http_5xx")
            raise VenueUnavailableError(self.venue, f"HTTP {resp.status_code}: {resp.text[:300]}")
        if resp.status_code == 429:  # OANDA's per-connection rate limit (answered as any other refusal)
            self.health.rate_limited("http_429")
        try:
            body = resp.json()
        except ValueError:
            self.health.request_failed("bad_answer")
            body = {"errorMessage": resp.text[:300]}
        return resp.status_code, body

    def set_health(self, health: BrokerHealth) -> None:
        """Where this connection reports rate limits and failed requests (bootstrap wires the metrics)."""
        self.health = health

    async def _get(self, path: str) -> dict[str, Any]:
        status, body = await self._call("GET", path)
        if status != 200:
            raise VenueUnavailableError(self.venue, f"HTTP {status}: {body.get('errorMessage', '')}")
        return body

    async def connect(self) -> list[Instrument]:
        """Read the account's currency and its tradeable currency pairs, as at-core instruments."""
        self.account_currency = (await self._get("/summary"))["account"]["currency"]
        out: list[Instrument] = []
        for raw in (await self._get("/instruments"))["instruments"]:
            if raw.get("type") != "CURRENCY":
                continue  # CFDs and metals are not modelled as FX pairs
            pair = self.instrument_from(raw)
            self._by_name[raw["name"]] = pair
            out.append(pair)
        return out

    def instrument_from(self, raw: dict[str, Any]) -> FxPair:
        """An FX pair from OANDA's instrument record (pip location, display and units precision)."""
        base, quote = raw["name"].split("_")
        step = Decimal(1).scaleb(-int(raw.get("tradeUnitsPrecision", 0)))
        return FxPair(
            instrument_id=f"{base}/{quote}.{self.venue}",
            symbol=f"{base}/{quote}",
            venue=self.venue,
            currency=quote,
            base=base,
            quote=quote,
            pip_size=Decimal(1).scaleb(int(raw["pipLocation"])),
            price_increment=Decimal(1).scaleb(-int(raw["displayPrecision"])),
            size_increment=step,
            min_quantity=max(_d(raw.get("minimumTradeSize", step)), step),
            max_quantity=_d(raw["maximumOrderUnits"]) if raw.get("maximumOrderUnits") else None,
        )

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        try:
            body = order_body(client_order_id, instrument, spec)
        except ValueError as exc:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "unsupported_instrument", str(exc))
        status, answer = await self._call("POST", "/orders", json=body)
        if status != 201:
            return self._rejected(client_order_id, answer)
        created = answer.get("orderCreateTransaction", {})
        venue_order_id = str(created.get("id")) if created.get("id") is not None else None
        fill = answer.get("orderFillTransaction")
        execs = (self._execution(instrument, fill),) if fill else ()
        ids = (str(fill["id"]),) if fill and fill.get("id") is not None else ()
        if (cancel := answer.get("orderCancelTransaction")) is not None:
            return ExecutionReport(
                client_order_id,
                ReportStatus.CANCELED,
                venue_order_id,
                execs,
                cancel.get("reason", "canceled"),
                trade_ids=ids,
            )
        filled = sum((e.quantity for e in execs), Decimal(0))
        if filled >= spec.quantity:
            status_ = ReportStatus.FILLED
        else:
            status_ = ReportStatus.PARTIALLY_FILLED if filled > 0 else ReportStatus.ACCEPTED
        return ExecutionReport(client_order_id, status_, venue_order_id, execs, trade_ids=ids)

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """The order named by our client id, with the fill transaction its ``fillingTransactionID`` names.

        Raises:
            VenueUnavailableError: OANDA could not be asked, or answered with a state v20 does not define.
        """
        status, answer = await self._call("GET", f"/orders/@{client_order_id}")
        if status == 404:
            message = str(answer.get("errorMessage", ""))[:500]
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, message)
        if status != 200:
            raise VenueUnavailableError(self.venue, f"HTTP {status}: {answer.get('errorMessage', '')}")
        order = answer["order"]
        state = _STATE.get(order.get("state", ""))
        if state is None:
            raise VenueUnavailableError(self.venue, f"order {order.get('id')} in an unknown state {order.get('state')}")
        execs: tuple[Execution, ...] = ()
        ids: tuple[str, ...] = ()
        if (fill_id := order.get("fillingTransactionID")) is not None:
            fill = (await self._get(f"/transactions/{fill_id}"))["transaction"]
            execs, ids = (self._execution(instrument, fill),), (str(fill["id"]),)
        reason = ""
        if state is ReportStatus.CANCELED and (cancel_id := order.get("cancellingTransactionID")) is not None:
            reason = str((await self._get(f"/transactions/{cancel_id}"))["transaction"].get("reason", "canceled"))
        if state is ReportStatus.ACCEPTED and execs:
            state = ReportStatus.PARTIALLY_FILLED
        return ExecutionReport(client_order_id, state, str(order["id"]), execs, reason, trade_ids=ids)

    def _rejected(self, client_order_id: str, answer: dict[str, Any]) -> ExecutionReport:
        reject = answer.get("orderRejectTransaction") or {}
        reason = reject.get("rejectReason") or answer.get("errorCode") or "rejected"
        return ExecutionReport(
            client_order_id, ReportStatus.REJECTED, None, (), str(reason), str(answer.get("errorMessage", ""))[:500]
        )

    def _execution(self, inst: Instrument, fill: dict[str, Any]) -> Execution:
        price = _d(fill["price"])
        commission = abs(_d(fill.get("commission", "0")))
        return Execution(abs(_d(fill["units"])), price, self._in_quote(inst, commission, price), LiquiditySide.TAKER)

    def _in_quote(self, inst: Instrument, amount: Decimal, price: Decimal) -> Decimal:
        """An account-currency amount in the pair's quote currency (the fill's price converts base to quote)."""
        if amount == 0 or self.account_currency in (None, inst.currency):
            return amount
        if isinstance(inst, FxPair) and self.account_currency == inst.base:
            return amount * price
        raise ValueError(f"commission in {self.account_currency} cannot be valued in {inst.currency}")

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        status, answer = await self._call("PUT", f"/orders/@{client_order_id}/cancel")
        if status == 404:
            return ExecutionReport(
                client_order_id,
                ReportStatus.REJECTED,
                None,
                (),
                UNKNOWN_ORDER,
                str(answer.get("errorMessage", ""))[:500],
            )
        if status != 200:
            return self._rejected(client_order_id, answer)
        order_id = answer.get("orderCancelTransaction", {}).get("orderID")
        return ExecutionReport(client_order_id, ReportStatus.CANCELED, str(order_id) if order_id else None)

    async def modify(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """Bring a resting order to ``spec`` (size, price) with v20's replace: the old order is
        cancelled and the replacement, under the same client id, created in one batch.

        ACCEPTED with the replacement's order id; REJECTED (``unknown_order`` when OANDA no longer
        holds it pending: filled or cancelled meanwhile) with the broker's reason otherwise.
        """
        try:
            body = order_body(client_order_id, instrument, spec)
        except ValueError as exc:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "unsupported_instrument", str(exc))
        status, answer = await self._call("PUT", f"/orders/@{client_order_id}", json=body)
        if status == 404:
            message = str(answer.get("errorMessage", ""))[:500]
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, message)
        if status != 201:
            return self._rejected(client_order_id, answer)
        created = answer.get("orderCreateTransaction", {})
        return ExecutionReport(
            client_order_id, ReportStatus.ACCEPTED, str(created["id"]) if created.get("id") is not None else None
        )

    async def balances(self) -> dict[str, Balance]:
        account = (await self._get("/summary"))["account"]
        ccy = account["currency"]
        return {ccy: Balance(ccy, _d(account["marginAvailable"]), _d(account["marginUsed"]), _d(account["balance"]))}

    async def positions(self) -> list[BrokerPosition]:
        """Net open positions (long units minus short units) with the side's average price."""
        out = []
        for p in (await self._get("/openPositions"))["positions"]:
            long_units, short_units = _d(p["long"]["units"]), _d(p["short"]["units"])  # short units are negative
            net = long_units + short_units
            if net == 0:
                continue
            side = p["long"] if net > 0 else p["short"]
            avg = _d(side["averagePrice"]) if side.get("averagePrice") else None
            base, quote = p["instrument"].split("_")
            out.append(BrokerPosition(f"{base}/{quote}.{self.venue}", net, avg))
        return sorted(out, key=lambda p: p.instrument_id)

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        """OANDA fills on its own prices: exec-sim's market data fills nothing there."""
        return []

    async def close(self) -> None:
        await self.client.aclose()
