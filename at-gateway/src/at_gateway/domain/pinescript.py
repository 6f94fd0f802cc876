"""The PineScript JSON schema: an alert plus indicator values and the bar's OHLCV.

```json
{"ticker": "MES1!", "exchange": "CME_MINI", "interval": "5", "time": "2026-11-24T21:00:00Z",
 "action": "buy", "contracts": 1,
 "bar": {"open": 6010, "high": 6013, "low": 6008.5, "close": 6012.25, "volume": 18234},
 "indicators": {"ema_fast": 6009.1, "ema_slow": 6001.7, "atr": 6.25, "rsi": 61.2},
 "strategy": {"position_size": 1, "market_position": "long", "prev_market_position": "flat"}}
```
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from at_core.events import BarData
from at_gateway.domain.json_shape import bounded_decimal
from at_gateway.errors import Reason, Rejection


def pinescript_extras(fields: dict[str, Any]) -> dict[str, Any]:
    """The ``bar`` as a BarData for the signal, when the body has one.

    Raises:
        Rejection: ``invalid`` (path ``bar``) for a bar that is not numeric, out of range or inconsistent.
    """
    keys = ("open", "high", "low", "close")
    if not any(f"bar.{k}" in fields for k in keys):
        return {}
    try:
        values = {k: Decimal(str(fields[f"bar.{k}"])) for k in keys}
        volume = Decimal(str(fields.get("bar.volume", 0)))
    except (KeyError, InvalidOperation, ValueError) as exc:
        raise _bad("bar needs numeric open, high, low, close", "not numeric") from exc
    if not all(bounded_decimal(v) for v in (*values.values(), volume)):
        raise _bad("bar values out of range", "must be finite and between 1e-30 and 1e30")
    if not (
        values["low"] <= min(values["open"], values["close"]) and values["high"] >= max(values["open"], values["close"])
    ):
        raise _bad("bar is not consistent (low <= open, close <= high)", "inconsistent")
    try:
        bar = BarData(interval=str(fields.get("interval") or "1"), volume=volume, **values)
    except ValueError as exc:
        raise _bad("invalid bar", "open, high, low, close must be positive; volume not negative") from exc
    return {"bar": bar}


def _bad(detail: str, msg: str) -> Rejection:
    return Rejection(Reason.INVALID, detail, [{"loc": ["bar"], "msg": msg}])
