"""The Tradovate API, as much as the adapter uses, served on loopback, with its WebSocket.

REST under ``/v1``: ``auth/accesstokenrequest`` (tokens with an ``expirationTime``),
``auth/renewaccesstoken``, entity reads (``account/list``, ``contract/find``, ``order/item``,
``fill/deps`` ...), ``order/placeorder`` (market orders fill at :attr:`FakeTradovate.price`,
in :attr:`fill_parts` when set; limits work until :meth:`FakeTradovate.fill`),
``fillFee/deps`` (each fill's fees, charged to the cash balance: :attr:`fee_parts` per contract),
``order/cancelorder``, ``order/placeoso`` (the entry and ``bracket1``/``bracket2`` in one
request, answered ``{orderId, oso1Id, oso2Id}``: the brackets are orders whose ``parentId`` is
the entry, ``Suspended`` until it fills, then working at its size, linked OCO by an ``ocoId``: one
filling cancels the other; canceling the entry cancels them), ``order/list``. A missing or expired token is a 401; :attr:`penalize_next` answers the
next requests with a time penalty (``p-ticket``, ``p-time`` in an HTTP 200, the request not
executed); :attr:`throttle_next` with an HTTP 429.

The socket (``/v1/websocket``) opens with ``o``, takes ``authorize`` first, answers requests as
``a[{"i": id, "s": status, "d": ...}]``, counts the client's ``[]`` heartbeats, pushes ``props``
after every change, and :meth:`FakeTradovate.drop` closes every socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

D = Decimal


def _ts() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeTradovate:
    credentials: dict[str, Any] = field(
        default_factory=lambda: {
            "name": "apexdemo",
            "password": secrets.token_hex(8),
            "appId": "at-exec-sim",
            "appVersion": "0.1",
            "cid": 8,
            "sec": secrets.token_hex(12),
            "deviceId": "test",
        }
    )
    account: dict[str, Any] = field(
        default_factory=lambda: {
            "id": 31001,
            "name": "APEX-25K-01",
            "userId": 4401,
            "accountType": "Customer",
            "active": True,
            "legalStatus": "Individual",
        }
    )
    price: Decimal = field(default_factory=lambda: D("6000.25"))
    token_minutes: float = 85.0
    fill_parts: list[int] | None = None
    reject_next: str | None = None
    lose_next_places: int = 0
    hang_places: bool = False  # place calls are placed, then their answers wait for ``release``
    hung: asyncio.Event = field(default_factory=asyncio.Event)  # set when a place's answer started waiting
    release: asyncio.Event = field(default_factory=asyncio.Event)
    penalize_next: int = 0
    penalty_s: float = 0.05
    throttle_next: int = 0
    tokens: dict[str, datetime] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[int, dict[str, Any]] = field(default_factory=dict)
    cash: Decimal = field(default_factory=lambda: D(25000))
    #: Per contract, by FillFee field: what Tradovate charges on each fill (the balance pays it).
    fee_parts: dict[str, Decimal] = field(
        default_factory=lambda: {
            "commission": D("0.09"),
            "clearingFee": D("0.19"),
            "exchangeFee": D("0.20"),
            "nfaFee": D("0.02"),
            "orderRoutingFee": D("0.00"),
        }
    )
    fees_reported: bool = True  # False: fillFee/deps answers [] (not reported yet)
    fill_fees: dict[int, dict[str, Any]] = field(default_factory=dict)
    snapshot_error: str | None = None  # cashBalance/getcashbalancesnapshot answers this errorText
    places: int = 0
    logins: int = 0
    renewals: int = 0
    penalties_sent: int = 0
    tickets_seen: int = 0
    heartbeats: int = 0
    socket_connections: int = 0
    authorized: int = 0
    synced: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(700001)
        self._fill_ids = itertools.count(800001)
        self._holding = False
        self.sockets: list[WebSocket] = []
        self.changed = asyncio.Event()
        self.contract = {"id": 2665, "name": "MESZ6", "contractMaturityId": 51001}
        self.maturity = {"id": 51001, "productId": 301, "productName": "MES", "expirationMonth": 202612}
        self.product = {"id": 301, "name": "MES", "currencyId": 1, "valuePerPoint": 5, "tickSize": 0.25}

    # -- test switches ---------------------------------------------------------------------
    def expire_tokens(self) -> None:
        self.tokens.clear()

    def by_tag(self, tag: str) -> dict[str, Any]:
        oid = next(c["orderId"] for c in self.commands if c.get("clOrdId") == tag)
        return self.orders[oid] | {"orderQty": self.versions[oid]["orderQty"]}

    async def fill(self, order_id: int, qty: int, price: Decimal | None = None) -> None:
        self._fill(order_id, qty, price or D(str(self.versions[order_id].get("price") or self.price)))
        await self._props("order", self.orders[order_id])

    async def drop(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1011)

    async def until(self, done: Any, timeout_s: float = 10.0) -> None:
        async def wait() -> None:
            while not done():
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout_s)

    def _changed(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    # -- the wire ------------------------------------------------------------------------------
    def app(self) -> Starlette:
        gets = {
            "auth/renewaccesstoken": self._renew,
            "account/list": lambda q: [dict(self.account)],
            "contract/find": lambda q: dict(self.contract) if q.get("name") == self.contract["name"] else None,
            "contractMaturity/item": lambda q: dict(self.maturity),
            "product/item": lambda q: dict(self.product),
            "command/list": lambda q: list(self.commands),
            "order/item": lambda q: self.orders.get(int(q["id"])),
            "order/list": lambda q: list(self.orders.values()),
            "orderVersion/deps": lambda q: [self.versions[int(q["masterid"])]] if int(q["masterid"]) in self.versions else [],
            "fill/deps": lambda q: [f for f in self.fills if f["orderId"] == int(q["masterid"])],
            "position/list": lambda q: list(self.positions.values()),
            "fillFee/deps": lambda q: [self.fill_fees[int(q["masterid"])]]
            if self.fees_reported and int(q["masterid"]) in self.fill_fees else [],
        }  # fmt: skip
        posts = {
            "auth/accesstokenrequest": self._login,
            "order/placeorder": self._place,
            "order/placeoso": self._place_oso,
            "order/cancelorder": self._cancel,
            "order/modifyorder": self._modify,
            "cashBalance/getcashbalancesnapshot": self._snapshot,
        }  # fmt: skip
        routes = [Route(f"/v1/{p}", self._endpoint(p, h, "GET"), methods=["GET"]) for p, h in gets.items()]
        routes += [Route(f"/v1/{p}", self._endpoint(p, h, "POST"), methods=["POST"]) for p, h in posts.items()]
        return Starlette(routes=[*routes, WebSocketRoute("/v1/websocket", self._ws)])

    def _snapshot(self, b: dict[str, Any]) -> dict[str, Any]:
        if self.snapshot_error is not None:
            return {"errorText": self.snapshot_error}
        return {"accountId": b["accountId"], "totalCashValue": float(self.cash), "initialMargin": 0,
                "realizedPnL": 0, "openPnL": 0, "errorText": None}  # fmt: skip

    def _valid(self, token: str | None) -> bool:
        return token is not None and token in self.tokens and self.tokens[token] > datetime.now(UTC)

    def _endpoint(self, path: str, handler: Any, method: str) -> Any:
        async def endpoint(request: Request) -> Response:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return Response(status_code=429)
            body = dict(request.query_params) if method == "GET" else await request.json()
            if body.get("p-ticket"):
                self.tickets_seen += 1
            if self.penalize_next > 0:
                self.penalize_next -= 1
                self.penalties_sent += 1
                return JSONResponse({"p-ticket": secrets.token_hex(6), "p-time": self.penalty_s, "p-captcha": False})
            token = request.headers.get("authorization", "")[7:] or None
            if path != "auth/accesstokenrequest" and not self._valid(token):
                return Response(status_code=401)
            answer = handler(body if method == "POST" else body | {"_token": token})
            if path in ("order/placeorder", "order/placeoso") and self.hang_places:
                self.hung.set()
                await self.release.wait()  # the client is killed meanwhile: nobody reads this answer
            if path in ("order/placeorder", "order/placeoso") and self.lose_next_places > 0:
                self.lose_next_places -= 1
                return Response("Bad Gateway", status_code=502)
            return JSONResponse(answer)

        return endpoint

    def _issue(self) -> dict[str, Any]:
        token = secrets.token_hex(16)
        expires = datetime.now(UTC) + timedelta(minutes=self.token_minutes)
        self.tokens[token] = expires
        return {"accessToken": token, "expirationTime": expires.isoformat().replace("+00:00", "Z"),
                "userId": self.account["userId"], "userStatus": "Active", "name": self.credentials["name"]}  # fmt: skip

    def _login(self, b: dict[str, Any]) -> dict[str, Any]:
        self.logins += 1
        if any(b.get(k) != v for k, v in self.credentials.items()):
            return {"errorText": "Incorrect username or password. Please try again."}
        return self._issue()

    def _renew(self, q: dict[str, Any]) -> dict[str, Any]:
        self.renewals += 1
        return self._issue()

    def _place(self, b: dict[str, Any]) -> dict[str, Any]:
        self.places += 1
        if b.get("isAutomated") is not True:
            return {"failureReason": "UnknownReason", "failureText": "isAutomated must be set by automated systems"}
        if self.reject_next is not None:
            text, self.reject_next = self.reject_next, None
            return {"failureReason": "RiskCheck", "failureText": text}
        if b.get("symbol") != self.contract["name"] or b.get("accountId") != self.account["id"]:
            return {"failureReason": "UnknownReason", "failureText": "Unknown symbol or account"}
        oid = next(self._ids)
        self.orders[oid] = {"id": oid, "accountId": b["accountId"], "contractId": self.contract["id"],
                            "timestamp": _ts(), "action": b["action"], "ordStatus": "Working", "admin": False}  # fmt: skip
        self.versions[oid] = {"id": oid, "orderId": oid, "orderQty": b["orderQty"], "orderType": b["orderType"],
                              "price": b.get("price"), "stopPrice": b.get("stopPrice")}  # fmt: skip
        self.commands.append({"id": oid + 1, "orderId": oid, "timestamp": _ts(), "clOrdId": b.get("clOrdId"),
                              "commandType": "New", "commandStatus": "OK", "isAutomated": True})  # fmt: skip
        if b["orderType"] == "Market" and not self._holding:
            parts, self.fill_parts = self.fill_parts or [b["orderQty"]], None
            for part in parts:
                self._fill(oid, part, self.price)
        asyncio.get_running_loop().create_task(self._props("order", self.orders[oid]))
        return {"orderId": oid}

    def _place_oso(self, b: dict[str, Any]) -> dict[str, Any]:
        brackets = [b.pop(k) for k in ("bracket1", "bracket2") if b.get(k)]
        self._holding = True  # the entry fills after its brackets exist
        try:
            answer = self._place(b)
        finally:
            self._holding = False
        if "orderId" not in answer:
            return answer
        oid = answer["orderId"]
        oco = next(self._ids) if len(brackets) == 2 else None
        for i, item in enumerate(brackets, start=1):
            cid = next(self._ids)
            self.orders[cid] = {"id": cid, "accountId": b["accountId"], "contractId": self.contract["id"],
                                "timestamp": _ts(), "action": item["action"], "ordStatus": "Suspended",
                                "admin": False, "parentId": oid, "ocoId": oco}  # fmt: skip
            self.versions[cid] = {"id": cid, "orderId": cid, "orderQty": b["orderQty"], "orderType": item["orderType"],
                                  "price": item.get("price"), "stopPrice": item.get("stopPrice")}  # fmt: skip
            answer[f"oso{i}Id"] = cid
        self.commands[-1]["commandType"] = "PlaceOSO"
        if b["orderType"] == "Market":
            parts, self.fill_parts = self.fill_parts or [b["orderQty"]], None
            for part in parts:
                self._fill(oid, part, self.price)
        return answer

    def children(self, tag: str) -> dict[str, dict[str, Any]]:
        """The OSO brackets of the entry with this ``clOrdId``: ``{"sl": ..., "tp": ...}`` (with ``orderQty``)."""
        parent = self.by_tag(tag)["id"]
        out = {}
        for order in self.orders.values():
            if order.get("parentId") == parent:
                role = "sl" if self.versions[order["id"]]["orderType"] == "Stop" else "tp"
                out[role] = order | {"orderQty": self.versions[order["id"]]["orderQty"]}
        return out

    def _fill(self, oid: int, qty: int, price: Decimal) -> None:
        order = self.orders[oid]
        for child in self.orders.values():  # the entry traded: its brackets start working
            if child.get("parentId") == oid and child["ordStatus"] == "Suspended":
                child["ordStatus"] = "Working"
        if order.get("ocoId") is not None:  # a bracket traded: its OCO sibling is canceled
            for other in self.orders.values():
                if other.get("ocoId") == order["ocoId"] and other["id"] != oid and other["ordStatus"] == "Working":
                    other["ordStatus"] = "Canceled"
        fill_id = next(self._fill_ids)
        parts = {k: float(v * qty) for k, v in self.fee_parts.items()}
        self.fill_fees[fill_id] = {"id": fill_id, **parts, "clearingCurrencyId": 1, "commissionCurrencyId": 1}
        self.cash -= sum((v * qty for v in self.fee_parts.values()), D(0))
        self.fills.append({"id": fill_id, "orderId": oid, "contractId": order["contractId"],
                           "timestamp": _ts(), "tradeDate": {"year": 2026, "month": 12, "day": 2},
                           "action": order["action"], "qty": qty, "price": float(price), "active": True,
                           "finallyPaired": 0})  # fmt: skip
        done = sum(f["qty"] for f in self.fills if f["orderId"] == oid)
        order["ordStatus"] = "Filled" if done >= self.versions[oid]["orderQty"] else "Working"
        sign = 1 if order["action"] == "Buy" else -1
        pos = self.positions.setdefault(order["contractId"], {"id": 1, "accountId": order["accountId"],
                                        "contractId": order["contractId"], "netPos": 0, "netPrice": None})  # fmt: skip
        net = pos["netPos"] + sign * qty
        if pos["netPos"] and (pos["netPos"] > 0) != (sign > 0):  # a reducing fill realizes P&L into the cash
            closed = min(abs(pos["netPos"]), qty)
            side = 1 if pos["netPos"] > 0 else -1
            self.cash += (price - D(str(pos["netPrice"]))) * closed * side * D(str(self.product["valuePerPoint"]))
        if pos["netPos"] == 0 or (pos["netPos"] > 0) == (sign > 0):
            old = D(str(pos["netPrice"] or 0)) * abs(pos["netPos"])
            pos["netPrice"] = float((old + price * qty) / abs(net)) if net else None
        pos["netPos"] = net

    def _cancel(self, b: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(int(b.get("orderId", 0)))
        if order is None or order["ordStatus"] != "Working":
            return {"failureReason": "UnknownReason", "failureText": "Order is not working"}
        order["ordStatus"] = "Canceled"
        for child in self.orders.values():  # an entry canceled: its held brackets go with it
            if child.get("parentId") == order["id"] and child["ordStatus"] == "Suspended":
                child["ordStatus"] = "Canceled"
        asyncio.get_running_loop().create_task(self._props("order", order))
        return {"commandId": order["id"] + 2}

    def _modify(self, b: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(int(b.get("orderId", 0)))
        if order is None or order["ordStatus"] != "Working":
            return {"failureReason": "UnknownReason", "failureText": "Order is not working"}
        for key in ("orderQty", "price", "stopPrice"):
            if b.get(key) is not None:
                self.versions[order["id"]][key] = b[key]
        return {"commandId": order["id"] + 3}

    async def _props(self, entity_type: str, entity: dict[str, Any]) -> None:
        frame = "a" + json.dumps(
            [{"e": "props", "d": {"entityType": entity_type, "eventType": "Updated", "entity": entity}}]
        )
        for ws in list(self.sockets):
            with contextlib.suppress(RuntimeError):
                await ws.send_text(frame)

    async def _ws(self, ws: WebSocket) -> None:
        await ws.accept()
        self.socket_connections += 1
        await ws.send_text("o")
        authorized = False
        try:
            while True:
                raw = await ws.receive_text()
                if raw == "[]":
                    self.heartbeats += 1
                    self._changed()
                    continue
                endpoint, rid, _query, body = ([*raw.split("\n", 3), "", "", ""])[:4]
                if endpoint == "authorize":
                    authorized = self._valid(body)
                    self.authorized += authorized
                    await ws.send_text("a" + json.dumps([{"i": int(rid), "s": 200 if authorized else 401}]))
                    if authorized:
                        self.sockets.append(ws)
                elif not authorized:
                    await ws.send_text("a" + json.dumps([{"i": int(rid), "s": 401, "d": "Access is denied"}]))
                elif endpoint == "user/syncrequest":
                    self.synced += 1
                    await ws.send_text(
                        "a"
                        + json.dumps(
                            [{"i": int(rid), "s": 200, "d": {"users": [], "orders": list(self.orders.values())}}]
                        )
                    )
                else:
                    await ws.send_text("a" + json.dumps([{"i": int(rid), "s": 404, "d": f"no {endpoint}"}]))
                self._changed()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
            self._changed()
