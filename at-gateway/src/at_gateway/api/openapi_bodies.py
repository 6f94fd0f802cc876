"""Request bodies for ``/docs``: the POST routes read their bodies themselves (bounded before
parsing), so FastAPI cannot infer them; each route declares its body here, with examples that
work as they are against a fresh clone (the dev webhook secret, the dev trader key, paper-1).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from at_gateway.config import DEV_WEBHOOK_SECRET

JSON = "application/json"

#: The TradingView alert fields the gateway reads (``domain/alerts.py``), for the schema.
_ALERT_FIELDS: dict[str, Any] = {
    "ticker": {"type": "string", "description": "TradingView {{ticker}}: ES1!, CME_MINI:MES1!, OANDA:EURUSD"},
    "exchange": {"type": "string", "description": "{{exchange}}"},
    "action": {"type": "string", "description": "buy, sell, exit (close, flat), target, none"},
    "quantity": {"type": "string", "description": "contracts / quantity / qty"},
    "close": {"type": "string", "description": "{{close}}: the price exec-sim marks paper orders at without quotes"},
    "price": {"type": "string", "description": "the order's price ({{strategy.order.price}})"},
    "order_type": {"type": "string", "description": "market (default), limit, stop, stop_limit"},
    "limit_price": {"type": "string"},
    "stop_price": {"type": "string"},
    "time": {
        "type": "string",
        "description": "{{timenow}}: ISO-8601 or epoch ms; older than stale_after_s is 422 stale",
    },
    "alert_id": {"type": "string", "description": "de-duplicates a resend (200 duplicate)"},
    "strategy_id": {"type": "string"},
    "interval": {"type": "string"},
    "comment": {"type": "string"},
    "passphrase": {"type": "string", "description": "the webhook secret, when the URL does not end with it"},
    "strategy": {"type": "object", "description": "TradingView's strategy.order.* and strategy.position_size"},
}


def _alert_examples(with_passphrase: bool) -> dict[str, Any]:
    secret = {"passphrase": DEV_WEBHOOK_SECRET} if with_passphrase else {}
    return {
        "indicator": {
            "summary": "An indicator alert: buy 1 MES (fills on paper at its close)",
            "value": {
                "ticker": "MES1!",
                "exchange": "CME_MINI",
                "action": "buy",
                "quantity": "1",
                "close": "6012.25",
                "interval": "5",
                "comment": "RSI oversold",
                **secret,
            },
        },
        "strategy": {
            "summary": "A strategy alert: TradingView's strategy.order.* fields, a target position",
            "value": {
                "ticker": "MES1!",
                "exchange": "CME_MINI",
                "interval": "5",
                "close": "6012.25",
                "strategy": {
                    "order": {"action": "buy", "contracts": "1", "price": "6012.25"},
                    "position_size": "1",
                    "market_position": "long",
                    "prev_market_position": "flat",
                },
                **secret,
            },
        },
    }


def alert_body(with_passphrase: bool) -> dict[str, Any]:
    """A TradingView alert body (JSON, or ``KEY=VALUE`` lines as text)."""
    how = (
        f"The secret is the body's passphrase (dev: {DEV_WEBHOOK_SECRET})."
        if with_passphrase
        else f"The secret is the path's last segment (dev: {DEV_WEBHOOK_SECRET})."
    )
    return {
        "requestBody": {
            "required": True,
            "description": f"A TradingView alert message. {how} Unknown fields are ignored; TradingView "
            "placeholders ({{close}}) are filled in by TradingView before it posts.",
            "content": {
                JSON: {
                    "schema": {"type": "object", "required": ["ticker"], "properties": _ALERT_FIELDS},
                    "examples": _alert_examples(with_passphrase),
                },
                "text/plain": {
                    "schema": {"type": "string"},
                    "example": "ticker=MES1!\naction=buy\nqty=1\nclose=6012.25"
                    + ("" if not with_passphrase else f"\npassphrase={DEV_WEBHOOK_SECRET}"),
                },
            },
        }
    }


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined (a request body's schema has no root to refer to)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def model_body(model: type[BaseModel], examples: dict[str, Any], description: str) -> dict[str, Any]:
    """A JSON request body of ``model`` with named examples."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {JSON: {"schema": inline_schema(model), "examples": examples}},
        }
    }


ORDER_EXAMPLES = {
    "market": {
        "summary": "Buy 1 MES at market on paper-1",
        "value": {"account_id": "paper-1", "symbol": "MES1!", "side": "buy", "quantity": "1"},
    },
    "limit": {
        "summary": "Sell 1 MES at a limit",
        "value": {
            "account_id": "paper-1",
            "symbol": "MES1!",
            "side": "sell",
            "quantity": "1",
            "order_type": "limit",
            "limit_price": "6100",
            "time_in_force": "day",
        },
    },
}
MARKET_DATA_EXAMPLES = {
    "quote": {
        "summary": "A quote for MES",
        "value": {
            "items": [
                {
                    "kind": "quote",
                    "symbol": "MES1!",
                    "bid": "6012.00",
                    "ask": "6012.25",
                    "bid_size": "20",
                    "ask_size": "18",
                }
            ]
        },
    },
    "bar": {
        "summary": "A 1-minute bar",
        "value": {
            "items": [
                {
                    "kind": "bar",
                    "symbol": "MES1!",
                    "interval": "1",
                    "open": "6010",
                    "high": "6013",
                    "low": "6009.5",
                    "close": "6012.25",
                    "volume": "840",
                }
            ]
        },
    },
}
