"""OANDA's v20 REST API, as much of it as the OANDA adapter uses, served on loopback.

It checks the bearer token, prices at a configured bid/ask, fills market orders (FOK or IOC)
at the touch, cancels a market order whose margin the account cannot carry with
``INSUFFICIENT_MARGIN`` (as OANDA does: 201 with an ``orderCancelTransaction``), rests
limit orders that do not cross and fills them (in full, as v20 does, at the touch) when
:meth:`FakeOanda.set_quote` moves the price across them, rests STOP orders and fills them at the
touch once it reaches their price, fills a ``REDUCE_ONLY`` order only up to the position it
reduces (and cancels it ``REDUCE_ONLY_NOTHING_TO_REDUCE`` when there is none, the fake's stand-in
for v20's reduce-only refusals), replaces an order (``PUT /orders/{specifier}``: the old one
cancelled ``CLIENT_REQUEST_REPLACED`` and the new one created in the same answer, as v20 does,
the client id carried over when the replacement names it again), refuses a repeated client id
among orders not cancelled, cancels by
``@clientID``, shows an order by ``@clientID`` (its ``state`` and the ``fillingTransactionID`` /
``cancellingTransactionID`` that ended it) and a transaction by id, and answers with v20's JSON
shapes and error codes. Commission is charged per million units in the account currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

D = Decimal

INSTRUMENTS = [
    {
        "name": "EUR_USD",
        "type": "CURRENCY",
        "displayName": "EUR/USD",
        "pipLocation": -4,
        "displayPrecision": 5,
        "tradeUnitsPrecision": 0,
        "minimumTradeSize": "1",
        "maximumOrderUnits": "100000000",
        "marginRate": "0.0333",
    },
    {
        "name": "USD_JPY",
        "type": "CURRENCY",
        "displayName": "USD/JPY",
        "pipLocation": -2,
        "displayPrecision": 3,
        "tradeUnitsPrecision": 0,
        "minimumTradeSize": "1",
        "maximumOrderUnits": "100000000",
        "marginRate": "0.04",
    },
    {
        "name": "XAU_USD",
        "type": "METAL",
        "displayName": "Gold",
        "pipLocation": -2,
        "displayPrecision": 3,
        "tradeUnitsPrecision": 0,
        "minimumTradeSize": "1",
        "maximumOrderUnits": "500000",
        "marginRate": "0.05",
    },
]


@dataclass
class FakeOanda:
    token: str = "test-token"
    account_id: str = "101-001-1234567-001"
    currency: str = "USD"
    balance: Decimal = Decimal("100000")
    quotes: dict[str, tuple[Decimal, Decimal]] = field(
        default_factory=lambda: {"EUR_USD": (D("1.08010"), D("1.08022")), "USD_JPY": (D("150.120"), D("150.135"))}
    )
    commission_per_million: Decimal = Decimal("50")  # account currency per 1,000,000 units
    margin_used: Decimal = Decimal(0)
    orders: dict[str, dict] = field(default_factory=dict)  # client id -> order
    positions: dict[str, list[tuple[Decimal, Decimal]]] = field(default_factory=dict)  # name -> [(units, price)]
    transactions: dict[str, dict] = field(default_factory=dict)  # id -> transaction
    down: bool = False  # answer every call with 503 (OANDA unreachable behind its load balancer)
    replaced: list[str] = field(default_factory=list)  # client ids replaced, in order
    _txn: int = 1000

    def _next(self) -> str:
        self._txn += 1
        return str(self._txn)

    def _margin(self, name: str, units: Decimal, price: Decimal) -> Decimal:
        rate = D(next(i["marginRate"] for i in INSTRUMENTS if i["name"] == name))
        base, _quote = name.split("_")
        in_account = abs(units) if base == self.currency else abs(units) * price
        return in_account * rate

    def _fill(self, name: str, units: Decimal, price: Decimal, order: dict) -> dict:
        commission = (abs(units) * self.commission_per_million / D(1_000_000)).quantize(D("0.0001"))
        self.balance -= commission
        self.margin_used += self._margin(name, units, price)
        self.positions.setdefault(name, []).append((units, price))
        txn_id = self._next()
        fill = {
            "id": txn_id,
            "type": "ORDER_FILL",
            "orderID": order["id"],
            "clientOrderID": order.get("clientExtensions", {}).get("id"),
            "instrument": name,
            "units": str(units),
            "price": str(price),
            "commission": str(-commission),
            "reason": f"{order['type']}_ORDER",
            "tradeOpened": {"tradeID": txn_id, "units": str(units), "price": str(price)},
        }
        self.transactions[txn_id] = fill
        order.update(
            state="FILLED", fillingTransactionID=txn_id, filledTime="1795050000.000000000", tradeOpenedID=txn_id
        )
        return fill

    def _cancel(self, order: dict, reason: str) -> dict:
        txn = {"id": self._next(), "type": "ORDER_CANCEL", "orderID": order["id"], "reason": reason}
        if (client_id := order.get("clientExtensions", {}).get("id")) is not None:
            txn["clientOrderID"] = client_id
        self.transactions[txn["id"]] = txn
        order.update(state="CANCELLED", cancellingTransactionID=txn["id"], cancelledTime="1795050000.000000000")
        return txn

    def net(self, name: str) -> Decimal:
        """The net position in units (long positive)."""
        return sum((u for u, _ in self.positions.get(name, [])), D(0))

    def _execute(self, name: str, units: Decimal, price: Decimal, order: dict) -> dict:
        """Fill ``order``; a REDUCE_ONLY one only up to the position it reduces (none: cancelled)."""
        if order.get("positionFill") == "REDUCE_ONLY":
            held = self.net(name)
            if held == 0 or (held > 0) == (units > 0):
                return self._cancel(order, "REDUCE_ONLY_NOTHING_TO_REDUCE")
            units = max(units, -held) if units < 0 else min(units, -held)
        return self._fill(name, units, price, order)

    def set_quote(self, name: str, bid: str, ask: str) -> None:
        """Move the price; pending limit orders it crosses and stop orders it reaches fill (in full, at the touch)."""
        self.quotes[name] = (D(bid), D(ask))
        for order in list(self.orders.values()):
            if order["state"] != "PENDING" or order["instrument"] != name or order["type"] not in ("LIMIT", "STOP"):
                continue
            units, level = D(order["units"]), D(order["price"])
            touch = D(ask) if units > 0 else D(bid)
            if order["type"] == "LIMIT":
                crossed = (units > 0 and touch <= level) or (units < 0 and touch >= level)
            else:  # a stop: a buy stop at or above its price, a sell stop at or below
                crossed = (units > 0 and touch >= level) or (units < 0 and touch <= level)
            if crossed:
                self._execute(name, units, touch, order)

    def app(self) -> FastAPI:
        app = FastAPI()
        prefix = f"/v3/accounts/{self.account_id}"

        @app.middleware("http")
        async def auth(request: Request, call_next):
            if self.down:
                return JSONResponse({"errorMessage": "Service Unavailable"}, 503)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"errorMessage": "Insufficient authorization to perform request."}, 401)
            if not request.url.path.startswith(prefix):
                return JSONResponse({"errorMessage": "Invalid value specified for 'accountID'"}, 400)
            return await call_next(request)

        @app.get(prefix + "/instruments")
        async def instruments() -> dict:
            return {"instruments": INSTRUMENTS, "lastTransactionID": str(self._txn)}

        @app.get(prefix + "/summary")
        async def summary() -> dict:
            return {
                "account": {
                    "id": self.account_id,
                    "currency": self.currency,
                    "balance": str(self.balance),
                    "marginUsed": str(self.margin_used),
                    "marginAvailable": str(self.balance - self.margin_used),
                    "NAV": str(self.balance),
                },
                "lastTransactionID": str(self._txn),
            }

        @app.get(prefix + "/openPositions")
        async def open_positions() -> dict:
            out = []
            for name, lots in self.positions.items():
                longs = [(u, p) for u, p in lots if u > 0]
                shorts = [(u, p) for u, p in lots if u < 0]

                def side(ls: list[tuple[Decimal, Decimal]]) -> dict:
                    units = sum((u for u, _ in ls), D(0))
                    if not units:
                        return {"units": "0"}
                    avg = sum((u * p for u, p in ls), D(0)) / units
                    return {"units": str(units), "averagePrice": str(avg.quantize(D("0.00001")))}

                out.append({"instrument": name, "long": side(longs), "short": side(shorts)})
            return {"positions": out, "lastTransactionID": str(self._txn)}

        @app.post(prefix + "/orders")
        async def create_order(request: Request) -> JSONResponse:
            order = (await request.json())["order"]
            client_id = order.get("clientExtensions", {}).get("id")
            if client_id in self.orders and self.orders[client_id]["state"] != "CANCELLED":
                return JSONResponse(
                    {
                        "orderRejectTransaction": {
                            "type": "MARKET_ORDER_REJECT",
                            "rejectReason": "CLIENT_ORDER_ID_ALREADY_EXISTS",
                        },
                        "errorCode": "CLIENT_ORDER_ID_ALREADY_EXISTS",
                        "errorMessage": "The client Order ID specified is already assigned",
                    },
                    400,
                )
            name = order["instrument"]
            if name not in self.quotes:
                return JSONResponse(
                    {
                        "errorCode": "INVALID_INSTRUMENT",
                        "errorMessage": f"Invalid value specified for 'instrument': {name}",
                    },
                    400,
                )
            units = D(order["units"])
            bid, ask = self.quotes[name]
            touch = ask if units > 0 else bid
            order_id = self._next()
            created = {"id": order_id, "type": f"{order['type']}_ORDER", **order}
            self.transactions[order_id] = created
            held = self.orders[client_id] = {
                "id": order_id,
                "createTime": "1795050000.000000000",
                "state": "PENDING",
                **order,
            }
            answer: dict = {"orderCreateTransaction": created}
            if order["type"] == "MARKET":
                if order.get("positionFill") != "REDUCE_ONLY" and (
                    self._margin(name, units, touch) > self.balance - self.margin_used
                ):
                    answer["orderCancelTransaction"] = self._cancel(held, "INSUFFICIENT_MARGIN")
                else:
                    done = self._execute(name, units, touch, held)
                    answer["orderFillTransaction" if done["type"] == "ORDER_FILL" else "orderCancelTransaction"] = done
            elif order["type"] == "LIMIT":
                limit = D(order["price"])
                if (units > 0 and touch <= limit) or (units < 0 and touch >= limit):
                    answer["orderFillTransaction"] = self._fill(name, units, touch, held)
            answer["lastTransactionID"] = str(self._txn)
            return JSONResponse(answer, 201)

        @app.put(prefix + "/orders/{specifier}")
        async def replace(specifier: str, request: Request) -> JSONResponse:
            old = self.orders.get(specifier.removeprefix("@")) if specifier.startswith("@") else None
            if old is None or old["state"] != "PENDING":
                return JSONResponse(
                    {"errorCode": "ORDER_DOESNT_EXIST", "errorMessage": "The Order specified does not exist"}, 404
                )
            order = (await request.json())["order"]
            cancelled = self._cancel(old, "CLIENT_REQUEST_REPLACED")
            order_id = self._next()
            created = {"id": order_id, "type": f"{order['type']}_ORDER", "replacesOrderID": old["id"], **order}
            self.transactions[order_id] = created
            client_id = order.get("clientExtensions", {}).get("id") or specifier.removeprefix("@")
            self.replaced.append(client_id)
            self.orders[client_id] = {"id": order_id, "createTime": "1795050000.000000000", "state": "PENDING",
                                      "replacesOrderID": old["id"], **order}  # fmt: skip
            answer = {"orderCancelTransaction": cancelled, "orderCreateTransaction": created,
                      "lastTransactionID": str(self._txn)}  # fmt: skip
            return JSONResponse(answer, 201)

        @app.get(prefix + "/orders/{specifier}")
        async def get_order(specifier: str) -> JSONResponse:
            order = self.orders.get(specifier.removeprefix("@")) if specifier.startswith("@") else None
            if order is None:
                return JSONResponse({"errorMessage": "The order ID specified does not exist"}, 404)
            return JSONResponse({"order": order, "lastTransactionID": str(self._txn)})

        @app.get(prefix + "/transactions/{txn_id}")
        async def get_transaction(txn_id: str) -> JSONResponse:
            if txn_id not in self.transactions:
                return JSONResponse({"errorMessage": "The transaction ID specified does not exist"}, 404)
            return JSONResponse({"transaction": self.transactions[txn_id], "lastTransactionID": str(self._txn)})

        @app.put(prefix + "/orders/{specifier}/cancel")
        async def cancel(specifier: str) -> JSONResponse:
            client_id = specifier.removeprefix("@")
            order = self.orders.get(client_id)
            if order is None or order["state"] != "PENDING":
                return JSONResponse(
                    {
                        "orderCancelRejectTransaction": {
                            "type": "ORDER_CANCEL_REJECT",
                            "rejectReason": "ORDER_DOESNT_EXIST",
                        },
                        "errorCode": "ORDER_DOESNT_EXIST",
                        "errorMessage": "The Order specified does not exist",
                    },
                    404,
                )
            return JSONResponse(
                {"orderCancelTransaction": self._cancel(order, "CLIENT_REQUEST"), "lastTransactionID": str(self._txn)},
                200,
            )

        return app
