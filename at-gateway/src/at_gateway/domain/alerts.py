"""TradingView alert bodies: parse (JSON or KEY=VALUE lines), check, normalise. Pure.

Accepted fields (flat, or nested as TradingView's ``strategy.order.*`` placeholders produce):
``ticker`` (required), ``exchange``, ``action`` / ``strategy.order.action``, ``contracts`` /
``quantity`` / ``qty`` / ``strategy.order.contracts``, ``price`` / ``strategy.order.price``,
``close``, ``order_type``, ``limit_price``, ``stop_price``, ``position_size`` /
``strategy.position_size``, ``market_position``, ``prev_market_position``, ``alert_id``,
``strategy_id``, ``time`` / ``timenow`` (ISO-8601 or epoch ms), ``interval``, ``comment``,
``passphrase``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from at_core.catalog import InstrumentCatalog
from at_core.errors import SymbolError, UnknownInstrumentError
from at_core.models.enums import AssetClass, OrderType, PositionSide, SignalAction
from at_gateway.domain.errors import Rejection

PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")
SECRET_FIELDS = ("passphrase", "secret", "token")
_ACTIONS = {
    "buy": SignalAction.BUY,
    "long": SignalAction.BUY,
    "sell": SignalAction.SELL,
    "short": SignalAction.SELL,
    "exit": SignalAction.EXIT,
    "close": SignalAction.EXIT,
    "flat": SignalAction.EXIT,
    "flatten": SignalAction.EXIT,
    "target": SignalAction.TARGET,
    "none": SignalAction.NONE,
}
_POSITIONS = {"long": PositionSide.LONG, "short": PositionSide.SHORT, "flat": PositionSide.FLAT}
_ORDER_TYPES = {t.value: t for t in OrderType} | {"stop": OrderType.STOP_MARKET, "stoplimit": OrderType.STOP_LIMIT}


@dataclass(frozen=True, slots=True)
class Alert:
    """A validated alert, before routing."""

    instrument_id: str
    asset_class: AssetClass
    ticker: str
    action: SignalAction
    quantity: Decimal | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    price: Decimal | None = None
    position_size: Decimal | None = None
    market_position: PositionSide | None = None
    prev_market_position: PositionSide | None = None
    alert_id: str | None = None
    strategy_id: str | None = None
    interval: str | None = None
    comment: str | None = None
    alert_time_ns: int | None = None
    passphrase: str | None = None
    indicators: dict[str, Decimal] = field(default_factory=dict)


def parse_body(raw: bytes) -> dict[str, Any]:
    """JSON object, or ``KEY=VALUE`` lines. Raises Rejection(400) for anything else."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejection(400, "malformed", "body is not UTF-8") from exc
    stripped = text.strip()
    if not stripped:
        raise Rejection(400, "malformed", "empty body")
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped, parse_float=Decimal)
        except ValueError as exc:
            raise Rejection(400, "malformed", f"invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise Rejection(400, "malformed", "JSON body must be an object")
        return _flatten(data)
    pairs: dict[str, Any] = {}
    for line in re.split(r"[\n;]+", stripped):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise Rejection(400, "malformed", f"expected JSON or KEY=VALUE lines, got {line.strip()[:60]!r}")
        pairs[key.strip().lower()] = value.strip()
    return pairs


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}".lower()
        if isinstance(value, dict) and key != "indicators":
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def find_placeholders(fields: dict[str, Any]) -> list[str]:
    return sorted({m for v in fields.values() if isinstance(v, str) for m in PLACEHOLDER.findall(v)})


def _first(fields: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = fields.get(name)
        if value not in (None, ""):
            return value
    return None


def _decimal(fields: dict[str, Any], errors: list[dict], *names: str) -> Decimal | None:
    value = _first(fields, *names)
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.append({"loc": [names[0]], "msg": f"not a number: {value!r}"})
        return None
    if not number.is_finite():
        errors.append({"loc": [names[0]], "msg": "must be finite"})
        return None
    return number


def parse_time_ns(value: Any) -> int:
    """ISO-8601 (``2026-11-24T21:00:00Z``) or epoch seconds/milliseconds to UTC ns."""
    text = str(value).strip()
    if re.fullmatch(r"\d{9,13}", text):
        number = int(text)
        return number * 1_000_000 if len(text) == 13 else number * 1_000_000_000
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000) * 1_000


def validate_alert(fields: dict[str, Any], catalog: InstrumentCatalog, now_ns: int, stale_after_s: float) -> Alert:
    """Check and normalise parsed fields into an :class:`Alert`.

    Raises:
        Rejection: 422 with field paths for invalid fields, stale or placeholder-bearing alerts.
    """
    holes = find_placeholders(fields)
    if holes:
        raise Rejection(422, "placeholder", f"unfilled TradingView placeholders: {', '.join(holes)}")
    errors: list[dict] = []
    ticker = _first(fields, "ticker", "symbol")
    exchange = _first(fields, "exchange")
    instrument_id, asset_class = "", AssetClass.FUTURE
    if not ticker:
        errors.append({"loc": ["ticker"], "msg": "field required"})
    else:
        full = f"{exchange}:{ticker}" if exchange and ":" not in str(ticker) else str(ticker)
        try:
            inst = catalog.resolve(full)
            instrument_id, asset_class = inst.instrument_id, inst.asset_class
        except (SymbolError, UnknownInstrumentError) as exc:
            errors.append({"loc": ["ticker"], "msg": str(exc)})
    action_text = str(_first(fields, "action", "strategy.order.action", "side") or "").lower()
    action = _ACTIONS.get(action_text)
    position_size = _decimal(fields, errors, "position_size", "strategy.position_size")
    if action is None:
        if action_text:
            errors.append({"loc": ["action"], "msg": f"unknown action {action_text!r} (buy, sell, exit, target)"})
        elif position_size is not None:
            action = SignalAction.TARGET
        else:
            errors.append({"loc": ["action"], "msg": "field required (or position_size)"})
    quantity = _decimal(fields, errors, "contracts", "quantity", "qty", "strategy.order.contracts")
    if quantity is not None and quantity <= 0:
        if action is SignalAction.EXIT or quantity == 0:
            quantity = None
        else:
            errors.append({"loc": ["quantity"], "msg": "must be positive"})
    order_type = OrderType.MARKET
    if (ot := _first(fields, "order_type", "type")) is not None:
        order_type = _ORDER_TYPES.get(str(ot).lower().replace("-", "_"), None) or OrderType.MARKET
        if str(ot).lower().replace("-", "_") not in _ORDER_TYPES:
            errors.append({"loc": ["order_type"], "msg": f"unknown order type {ot!r}"})
    positions = {}
    for name in ("market_position", "prev_market_position"):
        value = _first(fields, name, f"strategy.{name}")
        if value is not None:
            side = _POSITIONS.get(str(value).lower())
            if side is None:
                errors.append({"loc": [name], "msg": f"expected long, short or flat, got {value!r}"})
            positions[name] = side
    alert_time_ns = None
    if (t := _first(fields, "timenow", "time")) is not None:
        try:
            alert_time_ns = parse_time_ns(t)
        except ValueError:
            errors.append({"loc": ["time"], "msg": f"not a time: {t!r}"})
    indicators = {}
    raw_ind = fields.get("indicators")
    if isinstance(raw_ind, dict):
        for k, v in raw_ind.items():
            try:
                indicators[str(k)] = Decimal(str(v))
            except InvalidOperation:
                errors.append({"loc": ["indicators", k], "msg": "not a number"})
    prices = {
        n: _decimal(fields, errors, *names)
        for n, names in (
            ("price", ("price", "strategy.order.price", "close")),
            ("limit_price", ("limit_price",)),
            ("stop_price", ("stop_price",)),
        )
    }
    for name, value in prices.items():
        if value is not None and value <= 0:
            errors.append({"loc": [name], "msg": "must be positive"})
    if errors:
        raise Rejection(422, "invalid", "invalid alert fields", errors)
    if alert_time_ns is not None and (now_ns - alert_time_ns) > stale_after_s * 1_000_000_000:
        age = (now_ns - alert_time_ns) / 1e9
        raise Rejection(422, "stale", f"alert is {age:.0f}s old (bound {stale_after_s:.0f}s)")
    assert action is not None
    return Alert(
        instrument_id=instrument_id,
        asset_class=asset_class,
        ticker=str(ticker),
        action=action,
        quantity=quantity,
        order_type=order_type,
        limit_price=prices["limit_price"],
        stop_price=prices["stop_price"],
        price=prices["price"],
        position_size=position_size,
        market_position=positions.get("market_position"),
        prev_market_position=positions.get("prev_market_position"),
        alert_id=str(a) if (a := _first(fields, "alert_id", "id")) is not None else None,
        strategy_id=str(s) if (s := _first(fields, "strategy_id")) is not None else None,
        interval=str(i) if (i := _first(fields, "interval")) is not None else None,
        comment=str(c) if (c := _first(fields, "comment", "strategy.order.comment")) is not None else None,
        alert_time_ns=alert_time_ns,
        passphrase=str(p) if (p := _first(fields, *SECRET_FIELDS)) is not None else None,
        indicators=indicators,
    )


_SECRET_NAMES = "|".join(SECRET_FIELDS)
_SECRET_JSON = re.compile(rf'("(?:{_SECRET_NAMES})"\s*:\s*)"[^"]*"', re.I)
_SECRET_KV = re.compile(rf"(^|\n|;)(\s*(?:{_SECRET_NAMES})\s*=)[^\n;]*", re.I)


def redact(raw: bytes, secrets: list[str]) -> str:
    """The body as text with secret fields and known secrets replaced."""
    text = raw.decode("utf-8", errors="replace")
    text = _SECRET_KV.sub(r"\1\2***", _SECRET_JSON.sub(r'\1"***"', text))
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text[:8192]
