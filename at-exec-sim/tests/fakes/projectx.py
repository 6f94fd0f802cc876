"""The ProjectX Gateway API, as much as the adapter uses, served on loopback, with its user hub.

Every call is a POST with a JSON body answering ``{..., success, errorCode, errorMessage}``; a
missing or expired token is an HTTP 401; the next ``throttle_next`` requests are answered 429
with ``Retry-After``. Market orders fill at :attr:`FakeProjectX.price` (in the parts of
:attr:`fill_parts` when set: a partial fill, the rest open); limits rest until
:meth:`FakeProjectX.fill`. A ``customTag`` already used on the account is refused. Every
change is pushed on the user hub to the connections that subscribed to it.

``stopLossBracket``/``takeProfitBracket`` ``{ticks, type}`` on ``Order/place``: when the entry
first fills, the gateway places the children itself (no ``customTag``, the entry's size, ``ticks``
from the fill price) and when one of them fills it cancels the other (OCO).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.fakes.signalr_hub import Hub

D = Decimal
CONTRACTS = [
    {"id": "CON.F.US.MES.Z26", "name": "MESZ6", "description": "Micro E-mini S&P 500: December 2026",
     "tickSize": 0.25, "tickValue": 1.25, "activeContract": True, "symbolId": "F.US.MES"},
    {"id": "CON.F.US.MNQ.Z26", "name": "MNQZ6", "description": "Micro E-mini Nasdaq-100: December 2026",
     "tickSize": 0.25, "tickValue": 0.5, "activeContract": True, "symbolId": "F.US.MNQ"},
]  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FakeProjectX:
    user_name: str = "trader@example.com"
    api_key: str = field(default_factory=lambda: "pxk-" + secrets.token_hex(12))
    account: dict[str, Any] = field(
        default_factory=lambda: {
            "id": 7001,
            "name": "50KTC-V2-7001",
            "balance": 50000.0,
            "canTrade": True,
            "isVisible": True,
            "simulated": True,
        }
    )
    price: Decimal = field(default_factory=lambda: D("6000.25"))
    fee_per_contract: Decimal = field(default_factory=lambda: D("0.37"))
    fill_parts: list[int] | None = None  # the next market order fills only these sizes (then stays open)
    reject_next: str | None = None  # the next Order/place is refused with this message (errorCode 2)
    lose_next_places: int = 0  # Order/place calls whose answers are lost (placed, then a 502)
    hang_places: bool = False  # Order/place calls are placed, then their answers wait for ``release``
    hung: asyncio.Event = field(default_factory=asyncio.Event)  # set when a place's answer started waiting
    release: asyncio.Event = field(default_factory=asyncio.Event)
    throttle_next: int = 0  # the next requests answered with HTTP 429 (and Retry-After)
    retry_after_s: float = 0.0
    tokens: set[str] = field(default_factory=set)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, tuple[int, Decimal]] = field(default_factory=dict)  # contractId -> (signed size, avg)
    calls: list[str] = field(default_factory=list)
    places: int = 0
    logins: int = 0
    validations: int = 0
    limited: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(9001)
        self._trade_ids = itertools.count(50001)
        self.hub = Hub("/hubs/user", lambda token: token in self.tokens)
        self._brackets: dict[int, dict[str, Any]] = {}  # entry id -> its bracket fields, until it fills
        self._children: dict[int, dict[str, int]] = {}  # entry id -> {"sl": id, "tp": id}

    # -- test switches ---------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every token stops working (revoked, or expired early)."""
        self.tokens.clear()

    def by_tag(self, tag: str) -> dict[str, Any]:
        return next(o for o in self.orders.values() if o["customTag"] == tag)

    def children(self, tag: str) -> dict[str, dict[str, Any]]:
        """The gateway's bracket children of the entry with this tag: ``{"sl": ..., "tp": ...}``."""
        parent = self.by_tag(tag)["id"]
        return {role: self.orders[oid] for role, oid in self._children.get(parent, {}).items()}

    async def fill(self, order_id: int, size: int, price: Decimal | None = None) -> None:
        """Fill ``size`` more of an open order (a resting limit trading, the rest of a partial)."""
        self._fill(self.orders[order_id], size, price or D(str(self.orders[order_id]["limitPrice"] or self.price)))
        await self._push(order_id)

    async def cancel_at_broker(self, order_id: int) -> None:
        """The broker cancels an order (e.g. while the socket is down)."""
        self.orders[order_id]["status"] = 3
        await self._push(order_id)

    # -- the wire ------------------------------------------------------------------------------
    def app(self) -> Starlette:
        routes = [Route(f"/api/{name}", self._route(name), methods=["POST"]) for name in self._handlers()]
        return Starlette(routes=routes + self.hub.routes())

    def _handlers(self) -> dict[str, Any]:
        return {
            "Auth/loginKey": self._login,
            "Auth/validate": self._validate,
            "Account/search": self._accounts,
            "Contract/available": lambda b: {"contracts": CONTRACTS},
            "Order/place": self._place,
            "Order/search": self._search,
            "Order/cancel": self._cancel,
            "Order/modify": self._modify,
            "Trade/search": lambda b: {"trades": list(self.trades)},
            "Position/searchOpen": self._positions,
        }

    def _route(self, name: str) -> Any:
        handler = self._handlers()[name]

        async def endpoint(request: Request) -> Response:
            self.calls.append(name)
            if self.throttle_next > 0:
                self.throttle_next -= 1
                self.limited += 1
                return Response(status_code=429, headers={"Retry-After": str(self.retry_after_s)})
            token = request.headers.get("authorization", "")[7:]
            if name != "Auth/loginKey" and token not in self.tokens:
                return Response(status_code=401)
            body = await request.json()
            answer = handler(body)
            if name == "Order/place" and self.hang_places:
                await self._push_all()
                self.hung.set()
                await self.release.wait()  # the client is killed meanwhile: nobody reads this answer
            if name == "Order/place" and self.lose_next_places > 0:
                self.lose_next_places -= 1
                await self._push_all()
                return Response("Bad Gateway", status_code=502)  # placed, the answer lost
            if name in ("Order/place", "Order/cancel", "Order/modify"):
                await self._push_all()
            return JSONResponse({"success": True, "errorCode": 0, "errorMessage": None} | answer)

        return endpoint

    def _login(self, b: dict[str, Any]) -> dict[str, Any]:
        self.logins += 1
        if (b.get("userName"), b.get("apiKey")) != (self.user_name, self.api_key):
            return {"token": None, "success": False, "errorCode": 3, "errorMessage": "Invalid credentials"}
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return {"token": token}

    def _validate(self, b: dict[str, Any]) -> dict[str, Any]:
        self.validations += 1
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return {"newToken": token}

    def _accounts(self, b: dict[str, Any]) -> dict[str, Any]:
        return {"accounts": [dict(self.account)]}

    def _place(self, b: dict[str, Any]) -> dict[str, Any]:
        self.places += 1
        tag = b.get("customTag")
        if tag is not None and any(o["customTag"] == tag for o in self.orders.values()):
            return {"orderId": None, "success": False, "errorCode": 2,
                    "errorMessage": f"customTag '{tag}' is already in use: it must be unique across the account"}  # fmt: skip
        if self.reject_next is not None:
            message, self.reject_next = self.reject_next, None
            return {"orderId": None, "success": False, "errorCode": 2, "errorMessage": message}
        if b["accountId"] != self.account["id"] or b["contractId"] not in {c["id"] for c in CONTRACTS}:
            return {"orderId": None, "success": False, "errorCode": 8, "errorMessage": "Contract not found"}
        oid = next(self._ids)
        order = {"id": oid, "accountId": b["accountId"], "contractId": b["contractId"], "symbolId": "F.US.MES",
                 "creationTimestamp": _now(), "updateTimestamp": _now(), "status": 1, "type": b["type"],
                 "side": b["side"], "size": b["size"], "limitPrice": b.get("limitPrice"),
                 "stopPrice": b.get("stopPrice"), "fillVolume": 0, "filledPrice": None, "customTag": tag}  # fmt: skip
        self.orders[oid] = order
        brackets = {k: b[k] for k in ("stopLossBracket", "takeProfitBracket") if b.get(k)}
        if brackets:
            self._brackets[oid] = brackets
        if b["type"] == 2:
            parts, self.fill_parts = self.fill_parts or [b["size"]], None
            for part in parts:
                self._fill(order, part, self.price)
        return {"orderId": oid}

    def _fill(self, order: dict[str, Any], size: int, price: Decimal) -> None:
        sign = 1 if order["side"] == 0 else -1
        self.trades.append({"id": next(self._trade_ids), "accountId": order["accountId"],
                            "contractId": order["contractId"], "creationTimestamp": _now(), "price": float(price),
                            "profitAndLoss": None, "fees": float(self.fee_per_contract * size), "side": order["side"],
                            "size": size, "voided": False, "orderId": order["id"]})  # fmt: skip
        order["fillVolume"] += size
        order["filledPrice"] = float(price)
        order["status"] = 2 if order["fillVolume"] >= order["size"] else 1
        qty, avg = self.positions.get(order["contractId"], (0, D(0)))
        new = qty + sign * size
        if qty and (qty > 0) != (sign > 0):  # a reducing trade realizes P&L into the balance
            contract = next(c for c in CONTRACTS if c["id"] == order["contractId"])
            per_point = D(str(contract["tickValue"])) / D(str(contract["tickSize"]))
            closed = min(abs(qty), size)
            self.account["balance"] = round(
                self.account["balance"] + float((price - avg) * closed * (1 if qty > 0 else -1) * per_point), 2
            )
        avg = price if qty == 0 or (qty > 0) != (sign > 0) else (avg * abs(qty) + price * size) / abs(new)
        if new == 0:
            self.positions.pop(order["contractId"], None)
        else:
            self.positions[order["contractId"]] = (new, avg)
        self.account["balance"] = round(self.account["balance"] - float(self.fee_per_contract * size), 2)  # cents
        if (brackets := self._brackets.pop(order["id"], None)) is not None:
            self._open_children(order, brackets, price)
        for siblings in self._children.values():  # a child filled: the gateway cancels the other (OCO)
            if order["id"] in siblings.values():
                for other in siblings.values():
                    if other != order["id"] and self.orders[other]["status"] == 1:
                        self.orders[other]["status"] = 3

    def _open_children(self, entry: dict[str, Any], brackets: dict[str, Any], price: Decimal) -> None:
        tick = D(str(next(c["tickSize"] for c in CONTRACTS if c["id"] == entry["contractId"])))
        sign = 1 if entry["side"] == 0 else -1
        for key, role, direction in (("stopLossBracket", "sl", -1), ("takeProfitBracket", "tp", 1)):
            if key not in brackets:
                continue
            level = float(price + direction * sign * tick * brackets[key]["ticks"])
            oid = next(self._ids)
            kind = brackets[key]["type"]
            self.orders[oid] = {"id": oid, "accountId": entry["accountId"], "contractId": entry["contractId"],
                                "symbolId": entry["symbolId"], "creationTimestamp": _now(),
                                "updateTimestamp": _now(), "status": 1, "type": kind, "side": 1 - entry["side"],
                                "size": entry["size"], "limitPrice": level if kind == 1 else None,
                                "stopPrice": level if kind in (4, 5) else None, "fillVolume": 0,
                                "filledPrice": None, "customTag": None}  # fmt: skip
            self._children.setdefault(entry["id"], {})[role] = oid

    def _search(self, b: dict[str, Any]) -> dict[str, Any]:
        return {"orders": [dict(o) for o in self.orders.values() if o["accountId"] == b["accountId"]]}

    def _cancel(self, b: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(b.get("orderId"))
        if order is None or order["status"] != 1:
            return {"success": False, "errorCode": 2, "errorMessage": "Order not found or not open"}
        order["status"] = 3
        return {}

    def _modify(self, b: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(b.get("orderId"))
        if order is None or order["status"] != 1:
            return {"success": False, "errorCode": 2, "errorMessage": "Order not found or not open"}
        for key in ("size", "limitPrice", "stopPrice"):
            if b.get(key) is not None:
                order[key] = b[key]
        return {}

    def _positions(self, b: dict[str, Any]) -> dict[str, Any]:
        return {"positions": [{"id": i, "accountId": self.account["id"], "contractId": c, "creationTimestamp": _now(),
                               "type": 1 if q > 0 else 2, "size": abs(q), "averagePrice": float(a)}
                              for i, (c, (q, a)) in enumerate(self.positions.items())]}  # fmt: skip

    async def _push(self, order_id: int) -> None:
        await self.hub.push("GatewayUserOrder", {"action": 1, "data": self.orders[order_id]})

    async def _push_all(self) -> None:
        if self.orders:
            await self._push(max(self.orders))

    async def fill_child(self, tag: str, role: str, size: int, price: Decimal) -> None:
        """A bracket child of the entry tagged ``tag`` trades (the other is canceled by the gateway)."""
        child = self.children(tag)[role]
        self._fill(child, size, price)
        for other in self.children(tag).values():
            await self._push(other["id"])
