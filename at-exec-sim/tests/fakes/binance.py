"""Binance's spot REST API, as much of it as the ccxt adapter uses, served on loopback.

It checks the HMAC-SHA256 signature of every private call with the test secret, keeps
balances, fills market orders at a configured price (commission in the coin received, as
Binance does without BNB), rests limit orders that do not cross and fills them as a maker at
their limit (in part when the volume traded there is smaller) when :meth:`FakeBinance.trade_at`
trades across them, refuses a repeated client order id, shows an order by
``origClientOrderId`` (``GET /api/v3/order``) and its trades (``GET /api/v3/myTrades?orderId=``),
and answers with Binance's JSON shapes and error codes.

OCO order lists (``POST /api/v3/orderList/oco``): a sell pair of a ``LIMIT_MAKER`` leg above the
last price and a ``STOP_LOSS`` leg below it, checked as Binance does (prices either side of the
last trade, the coins free), sharing one lock of the coins; a trade through the stop fills it at
the trade's price (a market order once triggered), a trade at the limit fills it as a maker, and
either execution expires the other leg (``EXPIRED``); canceling one leg (``DELETE order``)
cancels the whole list, as does ``DELETE orderList``. Resting sells lock their coins: a sell
larger than the coins free is refused (-2010).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

D = Decimal


def _filters(tick: str, step: str, min_qty: str, max_qty: str, min_notional: str) -> list[dict]:
    return [
        {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00", "tickSize": tick},
        {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": step},
        {"filterType": "NOTIONAL", "minNotional": min_notional, "applyMinToMarket": True, "maxNotional": "9000000"},
    ]


def _symbol(base: str, quote: str, filters: list[dict]) -> dict:
    return {
        "symbol": base + quote,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": filters,
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


@dataclass
class FakeBinance:
    api_key: str = "test-key"
    secret: str = "test-secret"
    prices: dict[str, Decimal] = field(default_factory=lambda: {"BTCUSDT": D("97000.10"), "ETHUSDT": D("3500.00")})
    balances: dict[str, Decimal] = field(default_factory=lambda: {"USDT": D("100000"), "BTC": D(0), "ETH": D(0)})
    commission: Decimal = Decimal("0.001")
    orders: dict[str, dict] = field(default_factory=dict)
    #: Every order the exchange took, in order (``orders`` holds the latest per client id).
    placed: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)
    down: bool = False  # answer every call with 503 (the exchange is unreachable behind its gateway)
    #: Per path ("orderList/oco"): how many of its next calls are done but answered 504 (the answer is lost).
    lose: dict[str, int] = field(default_factory=dict)
    market_fills: int = 1  # a market order fills in this many equal trades (it walks the book)
    _next_id: int = 1000
    _next_trade: int = 5000

    def trade_at(self, symbol: str, price: str, volume: str | None = None) -> None:
        """The market trades ``volume`` (unbounded if None) at ``price``: resting limits it crosses fill."""
        left = D(volume) if volume is not None else None
        self.prices[symbol] = D(price)
        for order in self.orders.values():
            if order["symbol"] != symbol or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                continue
            if order["type"] == "STOP_LOSS":  # triggered: a market order, filled at the price that passed
                if D(price) <= D(order["stopPrice"]):
                    self._execute(order, D(order["origQty"]) - D(order["executedQty"]), D(price), maker=False)
                    self._expire_siblings(order)
                continue
            limit = D(order["price"])
            if not (D(price) <= limit if order["side"] == "BUY" else D(price) >= limit):
                continue
            leaves = D(order["origQty"]) - D(order["executedQty"])
            qty = leaves if left is None else min(leaves, left)
            if qty <= 0:
                break
            self._execute(order, qty, limit, maker=True)
            self._expire_siblings(order)
            if left is not None:
                left -= qty

    def _expire_siblings(self, order: dict) -> None:
        """One leg of an OCO executed: the other expires."""
        if order["orderListId"] == -1:
            return
        for other in self.orders.values():
            if other["orderListId"] == order["orderListId"] and other is not order and other["status"] == "NEW":
                other["status"] = "EXPIRED"

    def free(self, asset: str) -> Decimal:
        """The asset's balance less what resting sells lock (an OCO's legs lock it once)."""
        locked, lists = D(0), set()
        for o in self.orders.values():
            if o["side"] != "SELL" or o["status"] not in ("NEW", "PARTIALLY_FILLED") or o["symbol"][:-4] != asset:
                continue
            if o["orderListId"] != -1:
                if o["orderListId"] in lists:
                    continue
                lists.add(o["orderListId"])
            locked += D(o["origQty"]) - D(o["executedQty"])
        return self.balances.get(asset, D(0)) - locked

    def open_lists(self) -> list[list[dict]]:
        """The OCO lists with a leg still resting, each as its legs."""
        ids = sorted({o["orderListId"] for o in self.orders.values() if o["orderListId"] != -1
                      and o["status"] in ("NEW", "PARTIALLY_FILLED")})  # fmt: skip
        return [[o for o in self.orders.values() if o["orderListId"] == i] for i in ids]

    def _execute(self, order: dict, qty: Decimal, price: Decimal, maker: bool) -> dict:
        symbol, side = order["symbol"], order["side"]
        base, quote = symbol[:-4], symbol[-4:]
        cost = qty * price
        fee_asset, fee = (base, qty * self.commission) if side == "BUY" else (quote, cost * self.commission)
        if side == "BUY":
            self.balances[quote] -= cost
            self.balances[base] += qty - fee
        else:
            self.balances[base] -= qty
            self.balances[quote] += cost - fee
        self._next_trade += 1
        executed = D(order["executedQty"]) + qty
        order.update(
            executedQty=str(executed),
            cummulativeQuoteQty=str(D(order["cummulativeQuoteQty"]) + cost),
            status="FILLED" if executed >= D(order["origQty"]) else "PARTIALLY_FILLED",
        )
        trade = {
            "symbol": symbol,
            "id": self._next_trade,
            "orderId": order["orderId"],
            "orderListId": -1,
            "price": str(price),
            "qty": str(qty),
            "quoteQty": str(cost),
            "commission": str(fee),
            "commissionAsset": fee_asset,
            "time": 1795050000000 + self._next_trade,
            "isBuyer": side == "BUY",
            "isMaker": maker,
            "isBestMatch": True,
        }
        self.trades.append(trade)
        return trade

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/v3/exchangeInfo")
        async def exchange_info() -> dict:
            return {
                "timezone": "UTC",
                "serverTime": 1795050000000,
                "rateLimits": [],
                "symbols": [
                    _symbol("BTC", "USDT", _filters("0.01", "0.00001", "0.00001", "9000.00000", "5.00")),
                    _symbol("ETH", "USDT", _filters("0.01", "0.0001", "0.0001", "9000.0000", "5.00")),
                ],
            }

        @app.middleware("http")
        async def unreachable(request: Request, call_next):
            if self.down:
                return JSONResponse({"code": -1001, "msg": "Service Unavailable."}, 503)
            return await call_next(request)

        @app.api_route("/api/v3/{path:path}", methods=["GET", "POST", "DELETE"])
        async def private(path: str, request: Request) -> JSONResponse:
            raw = (await request.body()).decode() if request.method == "POST" else request.url.query
            self.requests.append((request.method, path))
            payload, _, signature = raw.rpartition("&signature=")
            expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
            if request.headers.get("X-MBX-APIKEY") != self.api_key or not hmac.compare_digest(signature, expected):
                return JSONResponse({"code": -1022, "msg": "Signature for this request is not valid."}, 400)
            params = dict(parse_qsl(payload))
            if path == "account" and request.method == "GET":
                return JSONResponse(self._account())
            if path == "order" and request.method == "POST":
                answer = self._new_order(params)
                if self.lose.get(path, 0) > 0:  # done, but the answer never arrives
                    self.lose[path] -= 1
                    return JSONResponse(
                        {"code": -1007, "msg": "Timeout waiting for response from backend server."}, 504
                    )
                return answer
            if path == "orderList/oco" and request.method == "POST":
                answer = self._new_oco(params)
                if self.lose.get(path, 0) > 0:
                    self.lose[path] -= 1
                    return JSONResponse(
                        {"code": -1007, "msg": "Timeout waiting for response from backend server."}, 504
                    )
                return answer
            if path == "orderList" and request.method == "DELETE":
                return self._cancel_list(params)
            if path == "order" and request.method == "DELETE":
                return self._cancel(params)
            if path == "order" and request.method == "GET":
                return self._query(params)
            if path == "myTrades" and request.method == "GET":
                order_id = int(params["orderId"]) if "orderId" in params else None
                mine = [t for t in self.trades if t["symbol"] == params["symbol"] and order_id in (None, t["orderId"])]
                return JSONResponse(mine)
            return JSONResponse({"code": -1100, "msg": f"unsupported {request.method} {path}"}, 400)

        return app

    def _account(self) -> dict:
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": True,
            "accountType": "SPOT",
            "updateTime": 1795050000000,
            "balances": [
                {"asset": a, "free": str(self.free(a)), "locked": str(v - self.free(a))}
                for a, v in self.balances.items()
            ],
            "permissions": ["SPOT"],
        }

    def _new_order(self, p: dict) -> JSONResponse:
        cid = p.get("newClientOrderId", "")
        # Binance: newClientOrderId is unique among OPEN orders only; once the first has filled or
        # ended, the same id is accepted again as a new order (the API docs' wording).
        if any(o["clientOrderId"] == cid and o["status"] in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()):
            return JSONResponse({"code": -2010, "msg": "Duplicate order sent."}, 400)
        symbol, side, qty = p["symbol"], p["side"], D(p["quantity"])
        base, quote = symbol[:-4], symbol[-4:]
        market = self.prices[symbol]
        self._next_id += 1
        order = {
            "symbol": symbol,
            "orderId": self._next_id,
            "orderListId": -1,
            "clientOrderId": cid,
            "transactTime": 1795050000000,
            "price": p.get("price", "0.00000000"),
            "origQty": str(qty),
            "executedQty": "0.00000000",
            "cummulativeQuoteQty": "0.00000000",
            "status": "NEW",
            "timeInForce": p.get("timeInForce", "GTC"),
            "type": p["type"],
            "side": side,
            "fills": [],
        }
        if side == "SELL" and qty > self.free(base):
            return JSONResponse({"code": -2010, "msg": "Account has insufficient balance for requested action."}, 400)
        crosses = p["type"] == "MARKET" or (D(p["price"]) >= market if side == "BUY" else D(p["price"]) <= market)
        if crosses:
            cost = qty * market
            if (side == "BUY" and self.balances[quote] < cost) or (side == "SELL" and self.balances[base] < qty):
                return JSONResponse(
                    {"code": -2010, "msg": "Account has insufficient balance for requested action."}, 400
                )
            parts = self.market_fills if p["type"] == "MARKET" else 1
            trades = [self._execute(order, qty / parts, market, maker=False) for _ in range(parts)]
            order["fills"] = [
                {k: trade[k] for k in ("price", "qty", "commission", "commissionAsset")} | {"tradeId": trade["id"]}
                for trade in trades
            ]
        self.orders[cid] = order
        self.placed.append(order)
        return JSONResponse(order)

    def _query(self, p: dict) -> JSONResponse:
        if "origClientOrderId" in p:
            order = self.orders.get(p["origClientOrderId"])
        else:
            order = next((o for o in self.orders.values() if str(o["orderId"]) == p.get("orderId")), None)
        if order is None or order["symbol"] != p.get("symbol"):
            return JSONResponse({"code": -2013, "msg": "Order does not exist."}, 400)
        shown = {k: v for k, v in order.items() if k not in ("fills", "transactTime", "stopPrice")}
        return JSONResponse(
            shown
            | {
                "stopPrice": order.get("stopPrice", "0.00000000"),
                "icebergQty": "0.00000000",
                "time": order["transactTime"],
                "updateTime": order["transactTime"],
                "isWorking": True,
                "workingTime": order["transactTime"],
                "origQuoteOrderQty": "0.00000000",
                "selfTradePreventionMode": "EXPIRE_MAKER",
            }
        )

    def _new_oco(self, p: dict) -> JSONResponse:
        ids = (p["listClientOrderId"], p["aboveClientOrderId"], p["belowClientOrderId"])
        if any(o["clientOrderId"] in ids and o["status"] in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()):
            return JSONResponse({"code": -2010, "msg": "Duplicate order sent."}, 400)
        symbol, qty, last = p["symbol"], D(p["quantity"]), self.prices[p["symbol"]]
        if (p["side"], p["aboveType"], p["belowType"]) != ("SELL", "LIMIT_MAKER", "STOP_LOSS"):
            return JSONResponse({"code": -1100, "msg": "the fake speaks sell LIMIT_MAKER/STOP_LOSS lists only"}, 400)
        if not D(p["abovePrice"]) > last > D(p["belowStopPrice"]):
            return JSONResponse(
                {"code": -2010, "msg": "The relationship of the prices for the orders is not correct."}, 400
            )
        if qty > self.free(symbol[:-4]):
            return JSONResponse({"code": -2010, "msg": "Account has insufficient balance for requested action."}, 400)
        self._next_id += 1
        list_id = self._next_id
        legs = []
        for cid, kind, price, stop in (
            (p["belowClientOrderId"], "STOP_LOSS", "0.00000000", p["belowStopPrice"]),
            (p["aboveClientOrderId"], "LIMIT_MAKER", p["abovePrice"], None),
        ):
            self._next_id += 1
            leg = {
                "symbol": symbol, "orderId": self._next_id, "orderListId": list_id, "clientOrderId": cid,
                "transactTime": 1795050000000, "price": price, "origQty": str(qty), "executedQty": "0.00000000",
                "cummulativeQuoteQty": "0.00000000", "status": "NEW", "timeInForce": "GTC", "type": kind,
                "side": "SELL", "fills": [],
            }  # fmt: skip
            if stop is not None:
                leg["stopPrice"] = stop
            self.orders[cid] = leg
            legs.append(leg)
        return JSONResponse(self._list_answer(list_id, p["listClientOrderId"], legs, "EXEC_STARTED", "EXECUTING"))

    def _list_answer(self, list_id: int, list_cid: str, legs: list[dict], status: str, order_status: str) -> dict:
        return {
            "orderListId": list_id,
            "contingencyType": "OCO",
            "listStatusType": status,
            "listOrderStatus": order_status,
            "listClientOrderId": list_cid,
            "transactionTime": 1795050000000,
            "symbol": legs[0]["symbol"],
            "orders": [{k: leg[k] for k in ("symbol", "orderId", "clientOrderId")} for leg in legs],
            "orderReports": [{k: v for k, v in leg.items() if k != "fills"} for leg in legs],
        }

    def _cancel_list(self, p: dict) -> JSONResponse:
        legs = [
            o for o in self.orders.values() if o["orderListId"] != -1 and str(o["orderListId"]) == p.get("orderListId")
        ]
        if not legs or all(o["status"] not in ("NEW", "PARTIALLY_FILLED") for o in legs):
            return JSONResponse({"code": -2011, "msg": "Unknown order list sent."}, 400)
        for leg in legs:
            leg["status"] = "CANCELED" if leg["status"] in ("NEW", "PARTIALLY_FILLED") else leg["status"]
        return JSONResponse(self._list_answer(legs[0]["orderListId"], "", legs, "ALL_DONE", "ALL_DONE"))

    def _cancel(self, p: dict) -> JSONResponse:
        order = self.orders.get(p.get("origClientOrderId", ""))
        if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return JSONResponse({"code": -2011, "msg": "Unknown order sent."}, 400)
        if order["orderListId"] != -1:  # a leg canceled takes its list with it
            for leg in self.orders.values():
                if leg["orderListId"] == order["orderListId"] and leg["status"] in ("NEW", "PARTIALLY_FILLED"):
                    leg["status"] = "CANCELED"
        order["status"] = "CANCELED"
        return JSONResponse(
            {**{k: v for k, v in order.items() if k != "fills"}, "origClientOrderId": order["clientOrderId"]}
        )
