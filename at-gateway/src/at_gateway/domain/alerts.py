"""TradingView alert bodies: parse (JSON or KEY=VALUE lines), check, normalise. Pure.

Accepted fields (flat, or nested as TradingView's ``strategy.order.*`` placeholders produce):
``ticker`` (required), ``exchange``, ``action`` / ``strategy.order.action``, ``contracts`` /
``quantity`` / ``qty`` / ``strategy.order.contracts``, ``price`` / ``strategy.order.price``,
``close``, ``order_type``, ``limit_price``, ``stop_price``, ``position_size`` /
``strategy.position_size``, ``market_position``, ``prev_market_position``, ``alert_id``,
``strategy_id``, ``time`` / ``timenow`` (ISO-8601 or epoch ms), ``interval``, ``comment``,
``passphrase``; a bracket: ``stop_loss``, ``take_profit`` (prices) or ``stop_loss_ticks`` /
``_points`` / ``_percent`` (and the same for ``take_profit``), ``trailing_stop_ticks`` /
``_points`` / ``_percent`` (see :mod:`at_gateway.domain.brackets`).
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
from at_core.models.brackets import BracketSpec
from at_core.models.enums import AssetClass, OrderType, PositionSide, SignalAction
from at_gateway.domain.bounds import QuantityLimits, length_errors
from at_gateway.domain.brackets import parse_bracket
from at_gateway.domain.instruments import InstrumentResolver
from at_gateway.domain.json_shape import MAX_DEPTH, JsonShapeError, bounded_decimal, check_json_shape
from at_gateway.domain.redaction import SECRET_FIELDS
from at_gateway.errors import Reason, Rejection

PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")
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
    max_quantity: Decimal | None = None  # the largest quantity accepted for this instrument
    bracket: BracketSpec | None = None  # stop loss / take profit / trailing stop on the entry


def parse_body(raw: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """JSON object, or ``KEY=VALUE`` lines, flattened to lower-case dotted names.

    Raises:
        Rejection: ``malformed`` for anything else; ``too_deep`` / ``number_out_of_range`` for JSON
            whose shape is out of bounds (checked on the bytes, before the parser runs).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejection(Reason.MALFORMED, "body is not UTF-8") from exc
    stripped = text.strip()
    if not stripped:
        raise Rejection(Reason.MALFORMED, "empty body")
    if stripped.startswith("{"):
        return _flatten(_parse_json_object(stripped, max_depth, raw))
    pairs: dict[str, Any] = {}
    for number, line in enumerate(re.split(r"[\n;]+", stripped), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            # never echo the line: it may be a secret pasted in the wrong place
            raise Rejection(Reason.MALFORMED, f"expected JSON or KEY=VALUE lines (part {number} has no '=')")
        pairs[key.strip().lower()] = value.strip()
    return pairs


def _parse_json_object(text: str, max_depth: int, raw: bytes) -> dict[str, Any]:
    try:
        check_json_shape(raw, max_depth=max_depth)  # the bytes ``text`` was decoded from: not encoded again
    except JsonShapeError as exc:
        raise Rejection(Reason(exc.kind), exc.detail) from exc
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "unreadable value"
        raise Rejection(Reason.MALFORMED, f"invalid JSON: {detail}") from exc
    if not isinstance(data, dict):
        raise Rejection(Reason.MALFORMED, "JSON body must be an object")
    return data


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


def _text(fields: dict[str, Any], *names: str) -> str | None:
    value = _first(fields, *names)
    return str(value) if value is not None else None


def _decimal(fields: dict[str, Any], errors: list[dict[str, Any]], *names: str) -> Decimal | None:
    value = _first(fields, *names)
    if value is None:
        return None
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else None
    except (InvalidOperation, ValueError):
        number = None
    if number is None:
        errors.append({"loc": [names[0]], "msg": "not a number"})
    elif not bounded_decimal(number):
        errors.append({"loc": [names[0]], "msg": "must be finite and between 1e-30 and 1e30"})
        number = None
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


@dataclass(frozen=True, slots=True)
class AlertRules:
    """What an alert is checked against: the instruments, the time, staleness and size bounds."""

    catalog: InstrumentCatalog
    now_ns: int
    stale_after_s: float
    limits: QuantityLimits = field(default_factory=QuantityLimits)
    instruments: InstrumentResolver | None = None  # the catalog's answers kept per day (the service's)


def validate_alert(fields: dict[str, Any], rules: AlertRules) -> Alert:
    """Check and normalise parsed fields into an :class:`Alert`.

    Raises:
        Rejection: ``placeholder`` for unfilled ``{{...}}``; ``invalid`` with field paths;
            ``stale`` for an alert older than the bound.
    """
    holes = find_placeholders(fields)
    if holes:
        raise Rejection(Reason.PLACEHOLDER, f"unfilled TradingView placeholders: {', '.join(holes)[:300]}")
    if errors := length_errors(fields):
        raise Rejection(Reason.INVALID, "invalid alert fields", errors)
    errors = []
    instrument_id, asset_class, catalog_max = _instrument(fields, rules, errors)
    position_size = _decimal(fields, errors, "position_size", "strategy.position_size")
    action = _action(fields, position_size, errors)
    quantity = _decimal(fields, errors, "contracts", "quantity", "qty", "strategy.order.contracts")
    bound = rules.limits.max_for(instrument_id, catalog_max, asset_class)
    if quantity is not None and (e := rules.limits.error(quantity, bound, instrument_id, ["quantity"])):
        errors.append(e)
    if position_size is not None and abs(position_size) > bound:
        errors.append({"loc": ["position_size"], "msg": f"beyond the maximum of {bound} for {instrument_id}"})
    order_type = _order_type(fields, errors)
    positions = _positions(fields, errors)
    alert_time_ns = _alert_time(fields, errors)
    indicators = _indicators(fields, errors)
    prices = _prices(fields, errors)
    reference = prices["limit_price"] or prices["stop_price"] or prices["price"]
    bracket = parse_bracket(fields, action, reference, positions.get("market_position"), errors)
    if errors:
        raise Rejection(Reason.INVALID, "invalid alert fields", errors)
    if alert_time_ns is not None and (rules.now_ns - alert_time_ns) > rules.stale_after_s * 1_000_000_000:
        age = (rules.now_ns - alert_time_ns) / 1e9
        raise Rejection(Reason.STALE, f"alert is {age:.0f}s old (bound {rules.stale_after_s:.0f}s)")
    assert action is not None
    return Alert(
        instrument_id=instrument_id,
        asset_class=asset_class,
        ticker=str(_first(fields, "ticker", "symbol")),
        action=action,
        quantity=quantity,
        order_type=order_type,
        limit_price=prices["limit_price"],
        stop_price=prices["stop_price"],
        price=prices["price"],
        position_size=position_size,
        market_position=positions.get("market_position"),
        prev_market_position=positions.get("prev_market_position"),
        alert_id=_text(fields, "alert_id", "id"),
        strategy_id=_text(fields, "strategy_id"),
        interval=_text(fields, "interval"),
        comment=_text(fields, "comment", "strategy.order.comment"),
        alert_time_ns=alert_time_ns,
        passphrase=_text(fields, *SECRET_FIELDS),
        indicators=indicators,
        max_quantity=bound,
        bracket=bracket,
    )


def _instrument(
    fields: dict[str, Any], rules: AlertRules, errors: list[dict[str, Any]]
) -> tuple[str, AssetClass, Decimal | None]:
    """The instrument the alert names; a continuous future (``MES1!``) is the contract it means at
    ``now_ns`` (the gateway's clock), and an expired contract is refused."""
    ticker = _first(fields, "ticker", "symbol")
    exchange = _first(fields, "exchange")
    if not ticker:
        errors.append({"loc": ["ticker"], "msg": "field required"})
        return "", AssetClass.FUTURE, None
    full = f"{exchange}:{ticker}" if exchange and ":" not in str(ticker) else str(ticker)
    try:
        inst = (rules.instruments or InstrumentResolver(rules.catalog)).resolve(full, rules.now_ns)
    except (SymbolError, UnknownInstrumentError) as exc:
        errors.append({"loc": ["ticker"], "msg": str(exc)[:200]})
        return "", AssetClass.FUTURE, None
    return inst.instrument_id, inst.asset_class, inst.max_quantity


def _action(fields: dict[str, Any], position_size: Decimal | None, errors: list[dict[str, Any]]) -> SignalAction | None:
    action_text = str(_first(fields, "action", "strategy.order.action", "side") or "").lower()
    action = _ACTIONS.get(action_text)
    if action is not None:
        return action
    if action_text:
        errors.append({"loc": ["action"], "msg": "unknown action (buy, sell, exit, target)"})
    elif position_size is not None:
        return SignalAction.TARGET
    else:
        errors.append({"loc": ["action"], "msg": "field required (or position_size)"})
    return None


def _order_type(fields: dict[str, Any], errors: list[dict[str, Any]]) -> OrderType:
    if (ot := _first(fields, "order_type", "type")) is None:
        return OrderType.MARKET
    found = _ORDER_TYPES.get(str(ot).lower().replace("-", "_"))
    if found is None:
        errors.append({"loc": ["order_type"], "msg": f"unknown order type (one of {', '.join(sorted(_ORDER_TYPES))})"})
        return OrderType.MARKET
    return found


def _positions(fields: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, PositionSide | None]:
    positions: dict[str, PositionSide | None] = {}
    for name in ("market_position", "prev_market_position"):
        value = _first(fields, name, f"strategy.{name}")
        if value is not None:
            side = _POSITIONS.get(str(value).lower())
            if side is None:
                errors.append({"loc": [name], "msg": "expected long, short or flat"})
            positions[name] = side
    return positions


def _alert_time(fields: dict[str, Any], errors: list[dict[str, Any]]) -> int | None:
    if (t := _first(fields, "timenow", "time")) is None:
        return None
    try:
        return parse_time_ns(t)
    except (ValueError, OverflowError):
        errors.append({"loc": ["time"], "msg": "not a time (ISO-8601 or epoch seconds/milliseconds)"})
        return None


def _indicators(fields: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Decimal]:
    indicators: dict[str, Decimal] = {}
    raw_ind = fields.get("indicators")
    if isinstance(raw_ind, dict):
        for k, v in raw_ind.items():
            try:
                number = Decimal(str(v))
            except (InvalidOperation, ValueError):
                number = None
            if number is None or not bounded_decimal(number):
                errors.append({"loc": ["indicators", str(k)], "msg": "not a number in range"})
            else:
                indicators[str(k)] = number
    return indicators


def _prices(fields: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Decimal | None]:
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
    return prices
