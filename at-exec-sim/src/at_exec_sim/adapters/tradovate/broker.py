"""A futures prop account on Tradovate behind the :class:`BrokerAdapter` port.

Calls used: ``account/list``; ``contract/find``, ``contractMaturity/item`` and ``product/item``
(each configured symbol's tick size and point value); ``order/placeorder`` with ``clOrdId`` =
our client order id and ``isAutomated: true``; ``command/list`` (the command that placed an
order names its ``clOrdId``: how a lost answer is found); ``order/item``, ``orderVersion/deps``
``fill/deps`` and ``fillFee/deps`` (an order's state, size, executions and their fees); ``order/cancelorder``;
``order/modifyorder`` (a bracket child resized, a trailing stop moved); ``position/list``;
``cashBalance/getcashbalancesnapshot``.

Native brackets (``native_brackets``, on unless ``AT_EXEC_SIM_TRADOVATE_NATIVE_BRACKETS=false``):
an entry with a bracket goes as one ``order/placeoso`` (``native.py``); its children, found by the
answer's ``oso1Id``/``oso2Id`` or by their ``parentId`` in ``order/list``, are adopted under
exec-sim's child ids.

Tradovate does not document refusing a repeated ``clOrdId``, so :meth:`TradovateBroker.submit`
looks the key up before placing: an order placed before (a lost answer, a restart of exec-sim
mid-order) is answered with its state and never placed twice. Each execution carries the fees
Tradovate charged for it (``fillFee/deps`` of the fill: commission plus clearing, exchange, NFA,
brokerage, IP and routing fees), not the profile's estimate.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from at_core.catalog import Instrument
from at_core.models.brackets import BracketRole
from at_core.models.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from at_core.models.instruments import FutureContract
from at_core.models.orders import OrderSpec
from at_core.runtime.logging import get_logger
from at_exec_sim.adapters.health import BrokerHealth
from at_exec_sim.adapters.native_brackets import child_of, levels
from at_exec_sim.adapters.status_cache import StatusCache
from at_exec_sim.adapters.tradovate.client import TradovateClient
from at_exec_sim.adapters.tradovate.native import differs, oso_brackets, role_of
from at_exec_sim.adapters.tradovate.socket import TradovateSocket
from at_exec_sim.domain.brackets import SUFFIX
from at_exec_sim.domain.ports import UNKNOWN_ORDER, Balance, BrokerPosition, ExecutionReport, ReportStatus
from at_exec_sim.domain.venue import Execution
from at_exec_sim.errors import VenueUnavailableError

log = get_logger("at_exec_sim.tradovate")

STATUS = {
    "PendingNew": ReportStatus.PENDING,
    "Working": ReportStatus.ACCEPTED,
    "PendingReplace": ReportStatus.ACCEPTED,
    "PendingCancel": ReportStatus.ACCEPTED,
    "Suspended": ReportStatus.ACCEPTED,
    "Filled": ReportStatus.FILLED,
    "Completed": ReportStatus.FILLED,
    "Canceled": ReportStatus.CANCELED,
    "Expired": ReportStatus.CANCELED,
    "Rejected": ReportStatus.REJECTED,
}
#: The FillFee fields that add up to what a fill cost (each with its own currency id: USD here).
FEE_FIELDS = ("commission", "clearingFee", "exchangeFee", "nfaFee", "brokerageFee", "ipFee", "orderRoutingFee")
_TIF = {TimeInForce.GTC: "GTC", TimeInForce.DAY: "Day", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def order_body(
    account: dict[str, Any], client_order_id: str, instrument: Instrument, spec: OrderSpec
) -> dict[str, Any]:
    """The ``order/placeorder`` request (pure)."""
    if spec.quantity != spec.quantity.to_integral_value() or spec.quantity <= 0:
        raise ValueError(f"Tradovate takes whole contracts, not {spec.quantity}")
    body: dict[str, Any] = {
        "accountSpec": account["name"],
        "accountId": account["id"],
        "clOrdId": client_order_id,
        "action": "Buy" if spec.side is OrderSide.BUY else "Sell",
        "symbol": instrument.symbol,
        "orderQty": int(spec.quantity),
        "isAutomated": True,  # Tradovate requires it on every order not placed by a person
    }
    if spec.order_type is OrderType.MARKET:
        body["orderType"] = "Market"
    elif spec.order_type is OrderType.LIMIT:
        body |= {"orderType": "Limit", "price": float(spec.limit_price or 0)}
    elif spec.order_type is OrderType.STOP_MARKET:
        body |= {"orderType": "Stop", "stopPrice": float(spec.stop_price or 0)}
    elif spec.order_type is OrderType.STOP_LIMIT:
        body |= {
            "orderType": "StopLimit",
            "price": float(spec.limit_price or 0),
            "stopPrice": float(spec.stop_price or 0),
        }
    else:
        raise ValueError(f"Tradovate adapter has no {spec.order_type} order")
    if spec.order_type is not OrderType.MARKET and spec.time_in_force in _TIF:
        body["timeInForce"] = _TIF[spec.time_in_force]
    return body


class TradovateBroker:
    """Orders, cancels, balances and positions of one Tradovate account."""

    def __init__(
        self,
        client: TradovateClient,
        account: str,
        symbols: tuple[str, ...],
        *,
        venue: str = "TRADOVATE",
        socket: TradovateSocket | None = None,
        native_brackets: bool = True,
    ) -> None:
        self.client = client
        self.account = account
        self.symbols = symbols
        self.venue = venue
        self.socket = socket
        self.raw_account: dict[str, Any] | None = None
        self._contracts: dict[int, str] = {}  # contract id -> our instrument id
        self._order_ids: dict[str, int] = {}
        self._fees: dict[int, Decimal] = {}  # fill id -> what Tradovate charged for it (reported once)
        self._listening = False
        self.native_brackets = native_brackets
        self._managed: set[str] = set()  # entries placed without a native bracket: children go separately
        self._adopting: dict[str, OrderSpec] = {}  # children not found yet, with the spec to bring them to
        self.statuses = StatusCache(
            lambda: self._listening and self.socket is not None and self.socket.connected.is_set()
        )

    def set_listener(self, listener: Any) -> None:
        self._listening = True
        if self.socket is not None:

            def told(reason: str) -> None:
                self.statuses.forget(reason)  # something changed at the broker: ask again
                listener(reason)

            self.socket.listener = told

    def set_health(self, health: BrokerHealth) -> None:
        """Where this connection tells its rate limits, budget waits, tokens, connects and failed requests."""
        self.client.health = health
        self.client.budget.on_wait = health.budget_waited
        if self.socket is not None:
            self.socket.health = health

    async def connect(self) -> list[Instrument]:
        await self.client.login()
        accounts = await self.client.request("GET", "/account/list")
        match = [a for a in accounts or [] if self.account in (str(a.get("id")), str(a.get("name")))]
        if not match or not match[0].get("active", True):
            raise VenueUnavailableError(self.venue, f"no active account {self.account} for this login")
        self.raw_account = dict(match[0])
        out: list[Instrument] = []
        for symbol in self.symbols:
            out.append(await self._instrument(symbol))
        if self.socket is not None:
            await self.socket.start()
        return out

    async def _instrument(self, symbol: str) -> FutureContract:
        contract = await self.client.request("GET", "/contract/find", {"name": symbol})
        if not isinstance(contract, dict) or "id" not in contract:
            raise VenueUnavailableError(self.venue, f"Tradovate has no contract {symbol}")
        maturity = await self.client.request("GET", "/contractMaturity/item", {"id": contract["contractMaturityId"]})
        product = await self.client.request("GET", "/product/item", {"id": maturity["productId"]})
        tick, point = _d(product["tickSize"]), _d(product["valuePerPoint"])
        inst = FutureContract(
            instrument_id=f"{contract['name']}.{self.venue}",
            symbol=str(contract["name"]),
            venue=self.venue,
            currency="USD",
            root=str(product["name"]),
            exchange=self.venue,
            price_increment=tick,
            size_increment=Decimal(1),
            min_quantity=Decimal(1),
            multiplier=point,
            tick_value=tick * point,
        )
        self._contracts[int(contract["id"])] = inst.instrument_id
        return inst

    async def _find(self, client_order_id: str) -> int | None:
        if client_order_id in self._order_ids:
            return self._order_ids[client_order_id]
        for command in await self.client.request("GET", "/command/list") or []:
            if command.get("clOrdId") == client_order_id and command.get("orderId") is not None:
                self._order_ids[client_order_id] = int(command["orderId"])
                return self._order_ids[client_order_id]
        if (child := child_of(client_order_id)) is not None and child[0] not in self._managed:
            return await self._find_child(client_order_id, *child)
        return None

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        return await self._place(client_order_id, instrument, spec, [])

    async def _place(
        self,
        client_order_id: str,
        instrument: Instrument,
        spec: OrderSpec,
        brackets: list[tuple[BracketRole, dict[str, Any]]],
    ) -> ExecutionReport:
        """One ``order/placeorder``, or one ``order/placeoso`` when ``brackets`` are given; an order
        found by its ``clOrdId`` (placed before an answer was lost) is never placed a second time."""
        self.statuses.forget()
        assert self.raw_account is not None, "connect first"
        try:
            body = order_body(self.raw_account, client_order_id, instrument, spec)
        except ValueError as exc:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "unsupported_order", str(exc))
        if await self._find(client_order_id) is not None:  # placed before: its state, never a second order
            log.warning("tradovate_order_exists", venue=self.venue, client_order_id=client_order_id)
            return await self.order_status(client_order_id, instrument)
        body |= {f"bracket{i}": item for i, (_, item) in enumerate(brackets, start=1)}
        answer = await self.client.request("POST", "/order/placeoso" if brackets else "/order/placeorder", body)
        if not isinstance(answer, dict) or answer.get("orderId") is None:
            answer = answer if isinstance(answer, dict) else {}
            reason = str(answer.get("failureReason") or "rejected")
            return ExecutionReport(
                client_order_id, ReportStatus.REJECTED, None, (), reason, str(answer.get("failureText") or "")[:300]
            )
        self._order_ids[client_order_id] = int(answer["orderId"])
        for i, (role, _) in enumerate(brackets, start=1):
            if answer.get(f"oso{i}Id") is not None:
                self._order_ids[f"{client_order_id}{SUFFIX[role]}"] = int(answer[f"oso{i}Id"])
        try:
            return await self.order_status(client_order_id, instrument)
        except VenueUnavailableError:
            return ExecutionReport(client_order_id, ReportStatus.ACCEPTED, str(answer["orderId"]))

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """The order as the broker holds it: asked by REST, unless the real-time connection vouches
        that nothing changed since the last answer (``StatusCache``).

        Raises:
            VenueUnavailableError: the broker could not be asked.
        """
        return await self.statuses.status(client_order_id, lambda coid: self._status(coid, instrument))

    async def _status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        order_id = await self._find(client_order_id)
        if order_id is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, "no such clOrdId")
        order = await self.client.request("GET", "/order/item", {"id": order_id})
        status = STATUS.get(str(order.get("ordStatus")))
        if status is None:
            raise VenueUnavailableError(self.venue, f"order {order_id} in an unknown state {order.get('ordStatus')}")
        versions = await self.client.request("GET", "/orderVersion/deps", {"masterid": order_id})
        wanted = self._adopting.pop(client_order_id, None)
        if wanted is not None and versions and differs(order, versions[-1], wanted):
            await self.modify(client_order_id, instrument, wanted)  # an adopted child brought to exec-sim's spec
            versions = await self.client.request("GET", "/orderVersion/deps", {"masterid": order_id})
        size = _d(versions[-1]["orderQty"]) if versions else None
        fills = await self.client.request("GET", "/fill/deps", {"masterid": order_id})
        mine = sorted((f for f in fills or [] if f.get("active", True)), key=lambda f: (str(f["timestamp"]), f["id"]))
        fees = [await self._fill_fee(int(f["id"])) for f in mine]  # the venue's, not the profile's estimate
        execs = tuple(
            Execution(_d(f["qty"]), _d(f["price"]), fee, LiquiditySide.TAKER) for f, fee in zip(mine, fees, strict=True)
        )
        filled = sum((e.quantity for e in execs), Decimal(0))
        if status is ReportStatus.FILLED and size is not None and filled < size:
            status = ReportStatus.PARTIALLY_FILLED  # its fills are not all listed yet
        elif status is ReportStatus.ACCEPTED and filled > 0:
            status = ReportStatus.PARTIALLY_FILLED
        reason = {"Expired": "expired", "Rejected": "tradovate_rejected"}.get(str(order.get("ordStatus")), "")
        return ExecutionReport(
            client_order_id, status, str(order_id), execs, reason, trade_ids=tuple(str(f["id"]) for f in mine)
        )

    async def _fill_fee(self, fill_id: int) -> Decimal:
        """What Tradovate charged for one fill (``fillFee/deps``: its commission and clearing,
        exchange, NFA, brokerage, IP and routing fees), asked once per fill; zero, logged, while
        Tradovate reports none for it (the balance check then shows what was charged)."""
        if fill_id in self._fees:
            return self._fees[fill_id]
        rows = await self.client.request("GET", "/fillFee/deps", {"masterid": fill_id}) or []
        if not rows:
            log.warning("tradovate_fill_fee_missing", venue=self.venue, fill_id=fill_id)
            return Decimal(0)
        fee = sum((_d(row.get(k) or 0) for row in rows for k in FEE_FIELDS), Decimal(0))
        self._fees[fill_id] = abs(fee)
        return self._fees[fill_id]

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        self.statuses.forget()
        order_id = await self._find(client_order_id)
        if order_id is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, "no such clOrdId")
        answer = await self.client.request("POST", "/order/cancelorder", {"orderId": order_id})
        if not isinstance(answer, dict) or answer.get("failureReason"):
            answer = answer if isinstance(answer, dict) else {}
            reason = str(answer.get("failureReason") or "cancel_refused")
            return ExecutionReport(
                client_order_id, ReportStatus.REJECTED, str(order_id), (), reason, str(answer.get("failureText") or "")
            )
        return ExecutionReport(client_order_id, ReportStatus.CANCELED, str(order_id))

    async def modify(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """``order/modifyorder`` a working order to ``spec``'s size and prices."""
        self.statuses.forget()
        order_id = await self._find(client_order_id)
        if order_id is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, "no such clOrdId")
        assert self.raw_account is not None
        placed = order_body(self.raw_account, client_order_id, instrument, spec)
        body = {k: placed[k] for k in ("orderQty", "orderType", "price", "stopPrice", "timeInForce") if k in placed}
        answer = await self.client.request(
            "POST", "/order/modifyorder", {"orderId": order_id, **body, "isAutomated": True}
        )
        if not isinstance(answer, dict) or answer.get("failureReason"):
            answer = answer if isinstance(answer, dict) else {}
            reason = str(answer.get("failureReason") or "modify_refused")
            text = str(answer.get("failureText") or "")[:300]
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, str(order_id), (), reason, text)
        return ExecutionReport(client_order_id, ReportStatus.ACCEPTED, str(order_id))

    async def submit_bracketed(
        self, client_order_id: str, instrument: Instrument, spec: OrderSpec, reference: Decimal | None
    ) -> ExecutionReport:
        """The entry and its bracket in one ``order/placeoso`` (the levels' prices from ``reference``);
        a plain order, its children placed by exec-sim, when the levels cannot be priced."""
        resolved = levels(spec, instrument, reference)
        brackets = oso_brackets(resolved, spec.side) if resolved is not None else []
        if not brackets:
            self._managed.add(client_order_id)
        return await self._place(client_order_id, instrument, spec, brackets)

    async def _find_child(self, client_order_id: str, parent: str, role: BracketRole) -> int | None:
        """The entry's child of ``role`` by its ``parentId`` (after a lost answer or a restart)."""
        parent_id = await self._find(parent)
        if parent_id is None:
            return None
        for order in await self.client.request("GET", "/order/list") or []:
            if order.get("parentId") != parent_id:
                continue
            versions = await self.client.request("GET", "/orderVersion/deps", {"masterid": order["id"]})
            if versions and role_of(versions[-1]) is role:
                self._order_ids[client_order_id] = int(order["id"])
                log.info("tradovate_bracket_child_adopted", client_order_id=client_order_id, order_id=order["id"])
                return int(order["id"])
        return None

    async def adopt(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """Tradovate's child of the entry, under exec-sim's child id, brought to ``spec``; PENDING
        while none shows yet; placed as a separate order when the entry went without a native bracket."""
        child = child_of(client_order_id)
        if child is None or child[0] in self._managed:
            return await self.submit(client_order_id, instrument, spec)
        self._adopting[client_order_id] = spec
        self.statuses.forget()
        report = await self.order_status(client_order_id, instrument)
        if report.reason == UNKNOWN_ORDER:
            return ExecutionReport(
                client_order_id, ReportStatus.PENDING, None, (), "", "no bracket child at Tradovate yet"
            )
        return report

    def remember(self, client_order_id: str, venue_order_id: str) -> None:
        """A child adopted before a restart (its id as exec-sim persisted it)."""
        if venue_order_id.isdigit():
            self._order_ids.setdefault(client_order_id, int(venue_order_id))

    async def balances(self) -> dict[str, Balance]:
        """The account's cash (``totalCashValue``: realized P&L and fees in, open P&L not) and margin.

        Raises:
            VenueUnavailableError: the snapshot came back with an ``errorText`` or without a cash value.
        """
        assert self.raw_account is not None
        snap = await self.client.request(
            "POST", "/cashBalance/getcashbalancesnapshot", {"accountId": self.raw_account["id"]}
        )
        if not isinstance(snap, dict) or snap.get("errorText") or snap.get("totalCashValue") is None:
            text = str(snap.get("errorText") if isinstance(snap, dict) else snap)[:200]
            raise VenueUnavailableError(
                self.venue, f"cashBalance/getcashbalancesnapshot: {text or 'no totalCashValue'}"
            )
        total = _d(snap["totalCashValue"])
        used = _d(snap.get("initialMargin") or 0)
        return {"USD": Balance("USD", total - used, used, total)}

    async def positions(self) -> list[BrokerPosition]:
        assert self.raw_account is not None
        out = []
        for p in await self.client.request("GET", "/position/list") or []:
            if p.get("accountId") != self.raw_account["id"] or not p.get("netPos"):
                continue
            name = self._contracts.get(int(p["contractId"]), str(p["contractId"]))
            avg = _d(p["netPrice"]) if p.get("netPrice") is not None else None
            out.append(BrokerPosition(name, _d(p["netPos"]), avg))
        return sorted(out, key=lambda p: p.instrument_id)

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        return []

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.stop()
        await self.client.http.aclose()
