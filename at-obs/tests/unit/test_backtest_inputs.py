"""Backtest inputs: TradingView chart data, generic OHLCV, the Strategy Tester's list of trades.

Every bad file is refused with an error that names its line and column.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from at_obs.backtest.bars import load_bars, parse_bars_csv
from at_obs.backtest.errors import InputFileError
from at_obs.backtest.tv_trades import load_tv_trades, parse_tv_trades

DATA = Path(__file__).resolve().parents[1] / "data" / "backtest"
NY = ZoneInfo("America/New_York")
T0 = 1772461800 * 10**9  # 2026-03-02 14:30 UTC, 09:30 New York


def test_tradingview_chart_export_reads_every_bar_and_infers_five_minute_bars() -> None:
    series = load_bars(DATA / "mes_5m_tradingview.csv")
    assert len(series.bars) == 48
    assert series.interval == "5"
    first = series.bars[0]
    assert (first.ts_open_ns, first.open, first.volume, first.line) == (T0, Decimal("6000.0"), Decimal(1000), 2)
    assert series.close_ns(first) == T0 + 300 * 10**9


def test_generic_ohlcv_reads_iso_times_in_the_given_zone_without_a_volume_column() -> None:
    data = b"Date,Open,High,Low,Close\n2024-01-02,100,101,99,100.5\n2024-01-03,100.5,102,100,101\n"
    series = parse_bars_csv(data, "daily.csv", NY)
    assert series.interval == "D"
    assert series.bars[0].ts_open_ns == 1704171600 * 10**9  # midnight New York is 05:00 UTC
    assert series.bars[1].volume == 0


def test_unix_milliseconds_and_iso_with_offset_mean_the_same_instant() -> None:
    ms = parse_bars_csv(b"timestamp,open,high,low,close\n1704171600000,1,2,1,2\n1704171660000,2,2,1,1\n", "a")
    iso = parse_bars_csv(
        b"time,open,high,low,close\n2024-01-02T05:00:00Z,1,2,1,2\n2024-01-02T00:01:00-05:00,2,2,1,1\n", "b"
    )
    assert [b.ts_open_ns for b in ms.bars] == [b.ts_open_ns for b in iso.bars]
    assert ms.interval == "1"


@pytest.mark.parametrize(
    ("content", "line", "column", "words"),
    [
        (b"time,open,high,low,close\n1,2,3,1,2\n61,2,x,1,2\n", 3, "high", "'x' is not a number"),
        (b"time,open,high,low,close\n1,2,3,1,2\n61,2,1.5,1,2\n", 3, "high", "below the open"),
        (b"time,open,high,low,close\n1,2,3,1,2\n61,2,3,2.5,2\n", 3, "low", "above the open"),
        (b"time,open,high,low,close\n1,2,3,1,2\n61,0,3,1,2\n", 3, "open", "greater than zero"),
        (b"time,open,high,low,close\n1,2,3,1,2\n1,2,3,1,2\n", 3, "time", "not after the bar before it"),
        (b"time,open,high,low,close\n1,2,3,1,2\nyesterday,2,3,1,2\n", 3, "time", "is not a time"),
        (b"time,open,high,low,close\n1,2,3,1,2\n61,2,3,1\n", 3, None, "4 cells where the header has 5"),
        (b"time,open,high,close\n1,2,3,2\n", 1, None, "no 'low' column"),
        (b"time,Open,high,low,close,Volume\n1,2,3,1,2,5\n61,2,3,1,2,-1\n", 3, "Volume", "negative"),
        (b"time,open,high,low,close\n1,2,3,1,2\n61,2,3,1,\xff\n", 3, None, "not UTF-8"),
    ],
)
def test_a_bad_bar_file_names_its_line_and_column(content: bytes, line: int, column: str | None, words: str) -> None:
    with pytest.raises(InputFileError) as caught:
        parse_bars_csv(content, "bars.csv")
    assert (caught.value.line, caught.value.column) == (line, column)
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"bars.csv, line {line}")


def test_one_bar_or_a_missing_file_is_refused() -> None:
    with pytest.raises(InputFileError, match="at least two"):
        parse_bars_csv(b"time,open,high,low,close\n1,2,3,1,2\n", "one.csv")
    with pytest.raises(InputFileError, match="no such file"):
        load_bars(DATA / "missing.csv")


def test_parquet_without_pyarrow_is_a_clear_error_or_reads_like_csv(tmp_path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        (tmp_path / "bars.parquet").write_bytes(b"PAR1")
        with pytest.raises(InputFileError, match="needs pyarrow"):
            load_bars(tmp_path / "bars.parquet")
        return
    table = pa.table({"time": [1, 61], "open": [2.0, 2.0], "high": [3.0, 3.0], "low": [1.0, 1.0], "close": [2.0, 2.5]})
    pq.write_table(table, tmp_path / "bars.parquet")
    assert load_bars(tmp_path / "bars.parquet").interval == "1"


def test_list_of_trades_pairs_entries_and_exits_in_the_charts_time_zone_and_counts_open_trades() -> None:
    listed = load_tv_trades(DATA / "mes_5m_list_of_trades.csv", NY)
    assert [t.number for t in listed.trades] == [1, 2, 3]
    assert listed.open_trades == 1
    first = listed.trades[0]
    assert (first.direction, first.qty, first.entry_price, first.exit_price) == (
        "long", Decimal(2), Decimal("6004.75"), Decimal("6029.0"),
    )  # fmt: skip
    assert first.entry_ns == T0 + 3 * 300 * 10**9  # 09:45 New York = the fourth bar's open
    assert (first.entry_signal, first.exit_signal, first.reported_pnl) == ("Long", "Close", Decimal("242.5"))
    assert listed.trades[1].direction == "short"


def test_the_older_list_of_trades_headers_give_the_same_trades() -> None:
    new = load_tv_trades(DATA / "mes_5m_list_of_trades.csv", NY).trades
    old = load_tv_trades(DATA / "mes_5m_list_of_trades_2023.csv", NY).trades
    strip = [(t.number, t.direction, t.qty, t.entry_ns, t.exit_ns, t.entry_price, t.exit_price) for t in new]
    assert strip == [(t.number, t.direction, t.qty, t.entry_ns, t.exit_ns, t.entry_price, t.exit_price) for t in old]


HEAD = "Trade #,Type,Signal,Date/Time,Price USD,Contracts,Profit USD\n"


@pytest.mark.parametrize(
    ("rows", "line", "column", "words"),
    [
        (
            "1,Entry Long,L,2024-01-02 09:30,100,1,\n1,Buy Long,C,2024-01-02 09:35,101,1,5\n",
            3,
            "Type",
            "not Entry/Exit",
        ),
        ("1,Entry Long,L,2024-01-02 09:30,100,1,\n1,Exit Short,C,2024-01-02 09:35,101,1,5\n", 3, "Type", "exits short"),
        ("1,Entry Long,L,2024-01-02 09:30,100,1,\n1,Exit Long,C,2024-01-02 09:25,101,1,5\n", 3, "Date/Time", "before"),
        ("1,Entry Long,L,2024-01-02 09:30,100,1,\n1,Exit Long,C,2024-01-02 09:35,abc,1,5\n", 3, "Price USD", "number"),
        ("1,Entry Long,L,2024-01-02 09:30,100,1,\n", 2, "Trade #", "1 entry and 0 exit"),
        ("x,Entry Long,L,2024-01-02 09:30,100,1,\n", 2, "Trade #", "not a trade number"),
        ("1,Entry Long,L,2024-01-02 09:30,100,2,\n1,Exit Long,C,2024-01-02 09:35,101,1,5\n", 3, "Contracts", "partial"),
    ],
)
def test_a_bad_list_of_trades_names_its_line_and_column(rows: str, line: int, column: str, words: str) -> None:
    with pytest.raises(InputFileError) as caught:
        parse_tv_trades((HEAD + rows).encode(), "trades.csv")
    assert (caught.value.line, caught.value.column) == (line, column)
    assert words in str(caught.value)


def test_a_list_of_trades_without_a_price_column_says_which_headers_it_accepts() -> None:
    with pytest.raises(InputFileError, match=r"no 'price' column \(accepted headers: price \*, price"):
        parse_tv_trades(b"Trade #,Type,Date/Time,Contracts\n", "t.csv")
