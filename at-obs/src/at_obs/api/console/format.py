"""Jinja filters: how numbers and times read on a page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi.templating import Jinja2Templates


def ts(value: Any) -> str:
    """Nanoseconds since the epoch as ``YYYY-MM-DD HH:MM:SS.mmm`` UTC."""
    try:
        return datetime.fromtimestamp(int(value) / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    except (TypeError, ValueError, OverflowError):
        return ""


def money(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def ms(value: Any) -> str:
    return "" if value is None else f"{float(value):,.1f} ms"


def pct(part: Any, whole: Any) -> float:
    """``part / whole`` as a percentage clamped to 0..100, for bars."""
    try:
        p, w = Decimal(str(part)), Decimal(str(whole))
    except (InvalidOperation, ValueError):
        return 0.0
    if w <= 0:
        return 0.0
    return float(max(Decimal(0), min(Decimal(100), p / w * 100)))


def register_filters(templates: Jinja2Templates) -> Jinja2Templates:
    templates.env.filters.update(ts=ts, money=money, ms=ms)
    templates.env.globals.update(pct=pct)
    return templates
