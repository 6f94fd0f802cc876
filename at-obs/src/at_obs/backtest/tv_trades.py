"""TradingView Strategy Tester's "List of trades" export (CSV) as round-trip trades.

The export has two rows per trade, an entry and an exit, with the same ``Trade #`` (newer
exports list the exit first). Headers changed over the years; both spellings are read:
``Type,Signal,Date/Time,Price USD,Contracts,Profit USD`` and ``Type,Date/Time,Signal,Price
USD,Position size (qty),Net P&L USD`` (any currency). ``Date/Time`` is in the chart's time
zone, without an offset: give it as ``tz``. A trade still open at the end of the test (exit
signal ``Open``) is kept out of the list and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from decimal import Decimal
from pathlib import Path

from at_obs.backtest.csvread import Row, decode, rows
from at_obs.backtest.errors import InputFileError

COLUMNS: dict[str, tuple[str, ...]] = {
    "trade": ("trade #", "trade", "trade no", "#"),
    "type": ("type",),
    "signal?": ("signal",),
    "time": ("date/time", "date and time", "date", "time"),
    "price": ("price *", "price"),
    "qty": ("contracts", "quantity", "qty", "position size (qty)", "size (qty)", "shares"),
    "profit?": ("profit *", "net p&l *", "profit", "net p&l"),
}


@dataclass(frozen=True, slots=True)
class TvTrade:
    """One closed round trip as TradingView reported it."""

    number: int
    direction: str  # "long" | "short"
    qty: Decimal
    entry_ns: int
    entry_price: Decimal
    entry_signal: str
    exit_ns: int
    exit_price: Decimal
    exit_signal: str
    reported_pnl: Decimal | None  # TradingView's own figure, fees included (for comparison only)
    line: int  # the entry row's line


@dataclass(frozen=True, slots=True)
class TradeList:
    trades: tuple[TvTrade, ...]
    open_trades: int


@dataclass
class _Half:
    kind: str  # entry | exit
    direction: str
    row: Row
    ns: int
    price: Decimal
    qty: Decimal
    signal: str
    profit: Decimal | None


def _half(row: Row, cols: dict[str, str], tz: tzinfo) -> _Half:
    words = row.text(cols["type"]).lower().split()
    if len(words) != 2 or words[0] not in ("entry", "exit") or words[1] not in ("long", "short"):
        raise row.error(cols["type"], f"{row.text(cols['type'])!r} is not Entry/Exit Long/Short")
    profit_key = cols.get("profit?")
    profit = row.decimal(profit_key) if profit_key and row.text(profit_key) else None
    return _Half(
        words[0],
        words[1],
        row,
        row.timestamp_ns(cols["time"], tz),
        row.decimal(cols["price"], positive=True),
        row.decimal(cols["qty"], positive=True),
        row.text(cols["signal?"]) if "signal?" in cols else "",
        profit,
    )


def _pair(number: int, halves: list[_Half], cols: dict[str, str]) -> TvTrade | None:
    entries = [h for h in halves if h.kind == "entry"]
    exits = [h for h in halves if h.kind == "exit"]
    first = halves[0].row
    if len(entries) != 1 or len(exits) != 1:
        raise first.error(cols["trade"], f"trade {number} has {len(entries)} entry and {len(exits)} exit rows")
    entry, exit_ = entries[0], exits[0]
    if exit_.signal.lower() == "open":
        return None
    if entry.direction != exit_.direction:
        raise exit_.row.error(cols["type"], f"trade {number} enters {entry.direction} and exits {exit_.direction}")
    if exit_.ns < entry.ns:
        raise exit_.row.error(cols["time"], f"trade {number} exits before it enters (line {entry.row.line})")
    if exit_.qty != entry.qty:
        raise exit_.row.error(
            cols["qty"], f"trade {number} exits {exit_.qty} of {entry.qty} (partial exits unsupported)"
        )
    profit = exit_.profit if exit_.profit is not None else entry.profit
    return TvTrade(
        number, entry.direction, entry.qty, entry.ns, entry.price, entry.signal,
        exit_.ns, exit_.price, exit_.signal, profit, entry.row.line,
    )  # fmt: skip


def parse_tv_trades(data: bytes, path: str, tz: tzinfo = UTC) -> TradeList:
    """Closed trades in entry-time order (ties by trade number).

    Raises:
        InputFileError: a missing column, a bad cell, or a trade without one entry and one exit.
    """
    cols, data_rows = rows(decode(data, path), path, COLUMNS)
    by_number: dict[int, list[_Half]] = {}
    for row in data_rows:
        raw = row.text(cols["trade"])
        if not raw.isdigit():
            raise row.error(cols["trade"], f"{raw!r} is not a trade number")
        by_number.setdefault(int(raw), []).append(_half(row, cols, tz))
    if not by_number:
        raise InputFileError(path, "no trades in the file")
    pairs = [_pair(n, halves, cols) for n, halves in sorted(by_number.items())]
    trades = sorted((t for t in pairs if t is not None), key=lambda t: (t.entry_ns, t.number))
    return TradeList(tuple(trades), sum(t is None for t in pairs))


def load_tv_trades(path: Path, tz: tzinfo = UTC) -> TradeList:
    """:func:`parse_tv_trades` of a file.

    Raises:
        InputFileError: the file is missing or unreadable, or its content is bad.
    """
    if not path.is_file():
        raise InputFileError(str(path), "no such file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(str(path), exc.strerror or str(exc)) from None
    return parse_tv_trades(data, str(path), tz)
