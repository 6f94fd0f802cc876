"""Contract months: continuous symbols resolve to the listed contract by the roll rule; explicit
months are accepted; expired contracts are refused; the last trade date is exposed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from at_core.catalog import InstrumentCatalog
from at_core.errors import SymbolError
from at_core.markets.contracts import continuous, contract, listed
from at_core.symbols import normalize_ticker

DEC_1 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def test_front_month_continuous_resolves_to_the_listed_contract() -> None:
    ref = normalize_ticker("MES1!", now=DEC_1)
    assert ref.instrument_id == "MESZ2026.CME"
    assert ref.contract_month == "2026-12"
    assert ref.last_trade == date(2026, 12, 18)  # third Friday of December


def test_second_month_continuous_is_the_next_quarter() -> None:
    assert normalize_ticker("CME_MINI:MES2!", now=DEC_1).instrument_id == "MESH2027.CME"


def test_equity_index_rolls_on_the_thursday_eight_days_before_expiry() -> None:
    z = contract("ES", 2026, 12)
    assert z.roll_date == date(2026, 12, 10)
    assert continuous("ES", 1, date(2026, 12, 9)).symbol == "ESZ2026"
    assert continuous("ES", 1, date(2026, 12, 10)).symbol == "ESH2027"  # rolled
    assert normalize_ticker("ES1!", now=date(2026, 12, 10)).instrument_id == "ESH2027.CME"


def test_roll_business_days_skip_cme_holidays() -> None:
    # CL F2027 last trades 2026-12-21 (3 business days before the 25th... which is Christmas, so 4);
    # its roll, 3 business days before that, skips no holiday; MCL the same
    c = contract("CL", 2027, 1)
    assert c.last_trade == date(2026, 12, 21)
    assert c.roll_date == date(2026, 12, 16)


@pytest.mark.parametrize("ticker", ["MESZ2026", "CME_MINI:MESZ2026", "MESZ26"])
def test_explicit_months_are_accepted(ticker: str) -> None:
    ref = normalize_ticker(ticker, now=DEC_1)
    assert ref.instrument_id == "MESZ2026.CME" and ref.last_trade == date(2026, 12, 18)


def test_an_expired_contract_is_refused() -> None:
    with pytest.raises(SymbolError, match="expired"):
        normalize_ticker("ESZ2025", now=DEC_1)


def test_the_last_trade_date_itself_still_trades() -> None:
    assert normalize_ticker("ESZ2026", now=date(2026, 12, 18)).instrument_id == "ESZ2026.CME"
    with pytest.raises(SymbolError, match="expired"):
        normalize_ticker("ESZ2026", now=date(2026, 12, 19))


def test_front_and_next_month_are_distinct_instruments_and_never_net() -> None:
    catalog = InstrumentCatalog()
    front = catalog.resolve("MES1!", now=DEC_1)
    nxt = catalog.resolve("MES2!", now=DEC_1)
    assert front.instrument_id != nxt.instrument_id
    assert front.expiry == date(2026, 12, 18) and nxt.expiry == date(2027, 3, 19)


def test_without_a_clock_the_continuous_front_month_keeps_its_undated_id() -> None:
    assert normalize_ticker("MES1!").instrument_id == "MES.CME"
    with pytest.raises(SymbolError, match="needs the time"):
        normalize_ticker("MES2!")


def test_listed_contracts_are_nearest_first_and_unexpired() -> None:
    months = [c.symbol for c in listed("GC", date(2026, 12, 1))[:3]]
    assert months == ["GCZ2026", "GCG2027", "GCJ2027"]
