"""Binance's spot REST API, as much of it as the ccxt adapter uses, served on loopback.

It checks the HMAC-SHA256 signature of every private call with the test secret, keeps
balances, fills market orders at a configured price (commission in the coin received, as
Binance does without BNB), rests limit orders that do not cross and fills them as a maker at
their limit (in part when the volume traded there is smaller) when :meth:`FakeBinance.trade_at`
trades across them, refuses a repeated client order id, shows an order by
``origClientOrderId`` (``GET /api/v3/order``) and its trades (``GET /api/v3/myTrades?orderId=``),
and answers with Binance's JSON shapes and error codes.
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
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
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
    requests: list[tuple[str, str]] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)
    down: bool = False  # answer every call with 503 (the exchange is unreachable behind its gateway)
    _next_id: int = 1000
    _next_trade: int = 5000

    def trade_at(self, symbol: str, price: str, volume: str | None = None) -> None:
        """The market trades ``volume`` (unbounded if None) at ``price``: resting limits it crosses fill."""
        left = D(volume) if volume is not None else None
        self.prices[symbol] = D(price)
        for order in self.orders.values():
            if order["symbol"] != symbol or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                continue
            limit = D(order["price"])
            if not (D(price) <= limit if order["side"] == "BUY" else D(price) >= limit):
                continue
            leaves = D(order["origQty"]) - D(order["executedQty"])
            qty = leaves if left is None else min(leaves, left)
            if qty <= 0:
                break
            self._execute(order, qty, limit, maker=True)
            if left is not None:
                left -= qty

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
                return self._new_order(params)
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
            "balances": [{"asset": a, "free": str(v), "locked": "0.00000000"} for a, v in self.balances.items()],
            "permissions": ["SPOT"],
        }

    def _new_order(self, p: dict) -> JSONResponse:
        cid = p.get("newClientOrderId", "")
        if any(o["clientOrderId"] == cid for o in self.orders.values()):
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
        crosses = p["type"] == "MARKET" or (D(p["price"]) >= market if side == "BUY" else D(p["price"]) <= market)
        if crosses:
            cost = qty * market
            if (side == "BUY" and self.balances[quote] < cost) or (side == "SELL" and self.balances[base] < qty):
                return JSONResponse(
                    {"code": -2010, "msg": "Account has insufficient balance for requested action."}, 400
                )
            trade = self._execute(order, qty, market, maker=False)
            order["fills"] = [
                {k: trade[k] for k in ("price", "qty", "commission", "commissionAsset")} | {"tradeId": trade["id"]}
            ]
        self.orders[cid] = order
        return JSONResponse(order)

    def _query(self, p: dict) -> JSONResponse:
        if "origClientOrderId" in p:
            order = self.orders.get(p["origClientOrderId"])
        else:
            order = next((o for o in self.orders.values() if str(o["orderId"]) == p.get("orderId")), None)
        if order is None or order["symbol"] != p.get("symbol"):
            return JSONResponse({"code": -2013, "msg": "Order does not exist."}, 400)
        shown = {k: v for k, v in order.items() if k not in ("fills", "transactTime")}
        return JSONResponse(
            shown
            | {
                "stopPrice": "0.00000000",
                "icebergQty": "0.00000000",
                "time": order["transactTime"],
                "updateTime": order["transactTime"],
                "isWorking": True,
                "workingTime": order["transactTime"],
                "origQuoteOrderQty": "0.00000000",
                "selfTradePreventionMode": "EXPIRE_MAKER",
            }
        )

    def _cancel(self, p: dict) -> JSONResponse:
        order = self.orders.get(p.get("origClientOrderId", ""))
        if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return JSONResponse({"code": -2011, "msg": "Unknown order sent."}, 400)
        order["status"] = "CANCELED"
        return JSONResponse(
            {**{k: v for k, v in order.items() if k != "fills"}, "origClientOrderId": order["clientOrderId"]}
        )
