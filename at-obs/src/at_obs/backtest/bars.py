"""OHLCV bars from a file: TradingView's chart-data export, a generic OHLCV CSV, or Parquet.

TradingView's export ("Export chart data..."): ``time,open,high,low,close,Volume`` plus one
column per indicator on the chart (ignored); ``time`` is the bar's *open* time, in unix seconds
or ISO 8601 depending on the export option. A generic file may name its time column ``time``,
``timestamp``, ``date``, ``datetime`` or ``ts`` (times without an offset are read in ``tz``),
and its volume column may be missing. Every bar is checked (positive prices, low <= open,
close <= high, strictly increasing times) and a bad one is reported by line and column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

from at_obs.backtest.csvread import Row, decode, rows
from at_obs.backtest.errors import InputFileError

COLUMNS: dict[str, tuple[str, ...]] = {
    "time": ("time", "timestamp", "datetime", "date", "ts", "open time", "date/time"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c", "last"),
    "volume?": ("volume", "vol", "v"),
}
MINUTE_NS = 60 * 10**9
DAY_NS = 1440 * MINUTE_NS


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar; ``ts_open_ns`` is its open time (UTC ns), ``line`` where it was read."""

    ts_open_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    line: int = 0


@dataclass(frozen=True, slots=True)
class BarSeries:
    """Bars in time order with their size: ``interval`` in TradingView's notation ('1', '60', 'D')."""

    bars: tuple[Bar, ...]
    interval: str
    interval_ns: int

    def close_ns(self, bar: Bar) -> int:
        """When the bar's close was known: its open plus the bar size."""
        return bar.ts_open_ns + self.interval_ns


def _bar(row: Row, cols: dict[str, str], tz: tzinfo) -> Bar:
    o, h, low, c = (row.decimal(cols[k], positive=True) for k in ("open", "high", "low", "close"))
    vol_key = cols.get("volume?")
    volume = row.decimal(vol_key, default=Decimal(0)) if vol_key else Decimal(0)
    if volume < 0:
        raise row.error(vol_key, f"volume {volume} is negative")
    if h < max(o, c, low):
        raise row.error(cols["high"], f"high {h} is below the open, close or low of the bar")
    if low > min(o, c):
        raise row.error(cols["low"], f"low {low} is above the open or close of the bar")
    return Bar(row.timestamp_ns(cols["time"], tz), o, h, low, c, volume, row.line)


def interval_of(spacing_ns: int) -> str:
    """TradingView's name of a bar size: minutes below a day ('1', '60'), then 'D', 'W', 'M'."""
    if spacing_ns < MINUTE_NS:
        return f"{max(1, spacing_ns // 10**9)}S"
    if spacing_ns < DAY_NS:
        return str(spacing_ns // MINUTE_NS)
    if spacing_ns < 7 * DAY_NS:
        return "D" if spacing_ns == DAY_NS else f"{spacing_ns // DAY_NS}D"
    return "W" if spacing_ns < 28 * DAY_NS else "M"


def series(bars: Iterable[Bar], path: str) -> BarSeries:
    """Check the bars are in strictly increasing time and infer their size (the smallest spacing).

    Raises:
        InputFileError: fewer than two bars, or a bar not after the one before it (its line).
    """
    ordered = tuple(bars)
    if len(ordered) < 2:
        raise InputFileError(path, f"{len(ordered)} bar(s): a backtest needs at least two")
    for a, b in pairwise(ordered):
        if b.ts_open_ns <= a.ts_open_ns:
            raise InputFileError(
                path, f"bar time is not after the bar before it (line {a.line})", line=b.line, column="time"
            )
    spacing = min(b.ts_open_ns - a.ts_open_ns for a, b in pairwise(ordered))
    return BarSeries(ordered, interval_of(spacing), spacing)


def parse_bars_csv(data: bytes, path: str, tz: tzinfo = UTC) -> BarSeries:
    """Bars from TradingView's chart-data export or a generic OHLCV CSV.

    Raises:
        InputFileError: a missing column, a bad cell, a bar that contradicts itself, or bars out of order.
    """
    cols, data_rows = rows(decode(data, path), path, COLUMNS)
    return series((_bar(row, cols, tz) for row in data_rows), path)


def parse_bars_parquet(path: str, tz: tzinfo = UTC) -> BarSeries:
    """Bars from a Parquet file with the same columns (needs pyarrow; rows are numbered from 1).

    Raises:
        InputFileError: pyarrow is missing, the file is not Parquet, or a row is bad.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputFileError(path, "reading Parquet needs pyarrow (pip install pyarrow), or export CSV") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...: the trader needs the message
        raise InputFileError(path, f"not a readable Parquet file: {exc}") from None
    keys = [n.strip().lower() for n in table.column_names]
    names = dict(zip(keys, table.column_names, strict=True))
    cols = {}
    for canonical, spellings in COLUMNS.items():
        found = next((s for s in spellings if s in keys), None)
        if found is None and not canonical.endswith("?"):
            raise InputFileError(path, f"no {canonical!r} column (found: {', '.join(table.column_names)})")
        if found is not None:
            cols[canonical] = found
    records = table.to_pylist()
    out = []
    for number, record in enumerate(records, start=1):
        cells = {k.strip().lower(): _cell(v) for k, v in record.items()}
        out.append(_bar(Row(path, number, cells, names), cols, tz))
    return series(out, path)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value)


def load_bars(path: Path, tz: tzinfo = UTC) -> BarSeries:
    """Bars from ``path`` (``.parquet`` / ``.pq`` as Parquet, anything else as CSV).

    Raises:
        InputFileError: the file is missing or unreadable, or its content is bad.
    """
    if not path.is_file():
        raise InputFileError(str(path), "no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return parse_bars_parquet(str(path), tz)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(str(path), exc.strerror or str(exc)) from None
    return parse_bars_csv(data, str(path), tz)
