"""Size bounds on what an alert may carry: string lengths, field counts, quantities. Pure.

Every bound answers with a field path, so a sender sees which field to fix; nothing is ever
capped or replaced silently (an order for more than the maximum is refused, not shrunk).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from at_core.errors import SymbolError
from at_core.symbols import parse_instrument_id

#: Longest text accepted per alert field (characters); fields not named here get DEFAULT_MAX_CHARS.
MAX_CHARS: dict[str, int] = {
    "ticker": 64,
    "symbol": 64,
    "exchange": 64,
    "action": 32,
    "side": 32,
    "strategy.order.action": 32,
    "order_type": 32,
    "type": 32,
    "market_position": 16,
    "prev_market_position": 16,
    "strategy.market_position": 16,
    "strategy.prev_market_position": 16,
    "alert_id": 128,
    "id": 128,
    "strategy_id": 128,
    "interval": 16,
    "time": 64,
    "timenow": 64,
    "comment": 500,
    "strategy.order.comment": 500,
    "passphrase": 256,
    "secret": 256,
    "token": 256,
}
DEFAULT_MAX_CHARS = 1000
MAX_FIELDS = 200
MAX_INDICATORS = 64
MAX_INDICATOR_NAME_CHARS = 64


def length_errors(fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Field-path errors for too many fields, or any field's text longer than its bound."""
    if len(fields) > MAX_FIELDS:
        return [{"loc": [], "msg": f"more than {MAX_FIELDS} fields"}]
    errors = []
    for name, value in fields.items():
        if name == "indicators" and isinstance(value, dict):
            errors.extend(_indicator_errors(value))
            continue
        if value is None or isinstance(value, bool | int):
            continue
        bound = MAX_CHARS.get(name, DEFAULT_MAX_CHARS)
        if len(str(value)) > bound:
            errors.append({"loc": name.split("."), "msg": f"at most {bound} characters"})
        if len(name) > MAX_INDICATOR_NAME_CHARS * 4:
            errors.append({"loc": [name[:64]], "msg": "field name too long"})
    return errors


def _indicator_errors(indicators: dict[str, Any]) -> list[dict[str, Any]]:
    if len(indicators) > MAX_INDICATORS:
        return [{"loc": ["indicators"], "msg": f"at most {MAX_INDICATORS} indicators"}]
    return [
        {
            "loc": ["indicators", str(k)[:MAX_INDICATOR_NAME_CHARS]],
            "msg": f"name at most {MAX_INDICATOR_NAME_CHARS} characters",
        }
        for k in indicators
        if len(str(k)) > MAX_INDICATOR_NAME_CHARS
    ]


#: Defaults in each asset class's own unit: contracts (futures), units of base currency (FX), coins.
DEFAULT_MAX_BY_ASSET_CLASS: dict[str, Decimal] = {
    "future": Decimal(100),
    "fx": Decimal(10_000_000),
    "crypto_spot": Decimal(1_000),
    "crypto_perp": Decimal(1_000),
}


@dataclass(frozen=True, slots=True)
class QuantityLimits:
    """The largest quantity accepted per instrument: by instrument id, else by asset class, else a
    default; never above the catalog's own bound for the instrument."""

    default_max: Decimal = Decimal(100)
    per_instrument: Mapping[str, Decimal] = field(default_factory=dict)
    per_asset_class: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_MAX_BY_ASSET_CLASS))

    def max_for(
        self, instrument_id: str, catalog_max: Decimal | None = None, asset_class: str | None = None
    ) -> Decimal:
        configured = self.per_instrument.get(instrument_id)
        if configured is None and self.per_instrument:
            configured = self.per_instrument.get(_product_id(instrument_id) or "")
        if configured is None:
            configured = self.per_asset_class.get(str(asset_class), self.default_max)
        return min(configured, catalog_max) if catalog_max is not None else configured

    @staticmethod
    def error(quantity: Decimal, bound: Decimal, instrument_id: str, loc: list[Any]) -> dict[str, Any] | None:
        """A field-path error if ``quantity`` is not positive or above ``bound``, else None."""
        if quantity <= 0:
            return {"loc": loc, "msg": "must be positive"}
        if quantity > bound:
            return {"loc": loc, "msg": f"above the maximum of {bound} for {instrument_id}"}
        return None


@functools.lru_cache(maxsize=1024)
def _product_id(instrument_id: str) -> str | None:
    """A dated future's product id (``MESZ2026.CME`` -> ``MES.CME``): a limit set for the product
    covers every month the continuous symbol resolves to."""
    try:
        ref = parse_instrument_id(instrument_id)
    except SymbolError:
        return None
    return f"{ref.root}.{ref.venue}" if ref.root is not None and ref.contract_month is not None else None
