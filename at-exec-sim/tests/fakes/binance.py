"""Binance's spot REST API, as much of it as the ccxt adapter uses, served on loopback.

It checks the HMAC-SHA256 signature of every private call with the test secret, keeps
balances, fills market orders at a configured price (commission in the coin received, as
Binance does without BNB), rests limit orders that do not cross, refuses a repeated client
order id, and answers with Binance's JSON shapes and error codes.
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
    _next_id: int = 1000

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
            fee_asset, fee = (base, qty * self.commission) if side == "BUY" else (quote, cost * self.commission)
            if side == "BUY":
                self.balances[quote] -= cost
                self.balances[base] += qty - fee
            else:
                self.balances[base] -= qty
                self.balances[quote] += cost - fee
            order.update(
                executedQty=str(qty),
                cummulativeQuoteQty=str(cost),
                status="FILLED",
                fills=[
                    {
                        "price": str(market),
                        "qty": str(qty),
                        "commission": str(fee),
                        "commissionAsset": fee_asset,
                        "tradeId": self._next_id,
                    }
                ],
            )
        self.orders[cid] = order
        return JSONResponse(order)

    def _cancel(self, p: dict) -> JSONResponse:
        order = self.orders.get(p.get("origClientOrderId", ""))
        if order is None or order["status"] != "NEW":
            return JSONResponse({"code": -2011, "msg": "Unknown order sent."}, 400)
        order["status"] = "CANCELED"
        return JSONResponse(
            {**{k: v for k, v in order.items() if k != "fills"}, "origClientOrderId": order["clientOrderId"]}
        )
