"""The catalog keeps what it builds: the kept answer is the fresh one, on every date, within a bound."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from at_core.catalog import InstrumentCatalog
from at_core.errors import SymbolError, UnknownInstrumentError

# MESZ2026 rolls on 2026-12-10 (6 business days before its 18 December expiry) and expires after the 18th.
DECEMBER = [date(2026, 12, 1) + timedelta(days=d) for d in range(31)]


def test_a_kept_answer_equals_a_fresh_build_on_every_day_across_a_roll() -> None:
    catalog = InstrumentCatalog()
    for day in [*DECEMBER, *reversed(DECEMBER)]:  # asked again: from the tables
        now = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
        for ticker in ("CME_MINI:MES1!", "MES2!", "CL1!"):
            kept = catalog.resolve(ticker, now=now)
            assert kept == InstrumentCatalog().resolve(ticker, now=now)
            assert catalog.resolve(ticker, now=day) is kept  # only the date matters
            assert catalog.get(kept.instrument_id) is kept  # one build per id, shared with get
    fronts = {catalog.resolve("MES1!", now=day).instrument_id for day in DECEMBER}
    assert fronts == {"MESZ2026.CME", "MESH2027.CME"}
    assert catalog.resolve("MES1!", now=date(2026, 12, 9)).instrument_id == "MESZ2026.CME"
    assert catalog.resolve("MES1!", now=date(2026, 12, 10)).instrument_id == "MESH2027.CME"


def test_an_expired_contract_is_refused_every_time_it_is_asked() -> None:
    catalog = InstrumentCatalog()
    assert catalog.resolve("MESZ2026", now=date(2026, 12, 18)).instrument_id == "MESZ2026.CME"
    for _ in range(2):  # a refusal is not kept, nor does a kept answer hide one
        with pytest.raises(SymbolError, match="expired"):
            catalog.resolve("MESZ2026", now=date(2026, 12, 19))
    assert catalog.resolve("MESZ2026", now=date(2026, 12, 18)).instrument_id == "MESZ2026.CME"


def test_unknown_instruments_raise_each_time_and_are_not_kept() -> None:
    catalog = InstrumentCatalog()
    for _ in range(2):
        with pytest.raises(UnknownInstrumentError):
            catalog.get("NOPE.XYZ")
        with pytest.raises(UnknownInstrumentError):
            catalog.resolve("KRAKEN:DOGEUSDT")
        with pytest.raises(SymbolError):
            catalog.resolve("")
    assert catalog._by_id == {} and catalog._by_ticker == {}


def test_the_tables_stay_bounded_however_many_dates_are_asked() -> None:
    catalog = InstrumentCatalog(memo_size=8)
    days = [date(2026, 1, 1) + timedelta(days=d) for d in range(1_000)]  # a replay's stream of dates
    for day in days:
        assert catalog.resolve("MES1!", now=day) == InstrumentCatalog().resolve("MES1!", now=day)
        catalog.get(f"EUR/{('USD', 'JPY', 'GBP', 'CHF', 'CAD', 'AUD', 'NZD', 'SEK', 'NOK')[day.day % 9]}.FX")
        assert len(catalog._by_ticker) <= 8 and len(catalog._by_id) <= 8
    last = catalog.resolve("MES1!", now=days[-1])
    assert catalog.resolve("MES1!", now=days[-1]) is last  # the newest stay; the oldest went first
    assert ("MES1!", days[0]) not in catalog._by_ticker
    with pytest.raises(ValueError):
        InstrumentCatalog(memo_size=0)


def test_a_returned_instrument_is_frozen_so_no_caller_can_change_the_kept_one() -> None:
    catalog = InstrumentCatalog()
    inst = catalog.get("MES.CME")
    with pytest.raises(ValidationError):
        inst.max_quantity = Decimal(1)  # type: ignore[misc]
    changed = inst.model_copy(update={"max_quantity": Decimal(1)})  # a copy, not the kept one
    assert changed.max_quantity == 1
    assert catalog.get("MES.CME") is inst and inst == InstrumentCatalog().get("MES.CME")
    assert inst.max_quantity is None


def test_an_added_instrument_replaces_what_was_kept_for_its_id() -> None:
    catalog = InstrumentCatalog()
    built = catalog.get("MES.CME")
    assert catalog.resolve("MES1!") is built  # without a time, MES1! is the undated MES.CME
    listed = built.model_copy(update={"max_quantity": Decimal(3)})
    catalog.add(listed)
    assert catalog.get("MES.CME") is listed
    assert catalog.resolve("MES1!") is listed
    assert catalog.resolve("MES1!", now=date(2026, 12, 1)) == InstrumentCatalog().resolve(
        "MES1!", now=date(2026, 12, 1)
    )


def test_catalogs_share_nothing_they_can_change() -> None:
    one, two = InstrumentCatalog(), InstrumentCatalog()
    one.add(one.get("BTC/USDT.BINANCE").model_copy(update={"max_quantity": Decimal(2)}))
    assert two.get("BTC/USDT.BINANCE").max_quantity == Decimal(9000)


def test_lookups_from_several_threads_agree_with_a_fresh_build() -> None:
    catalog = InstrumentCatalog(memo_size=4)  # small: the threads evict each other's entries
    ids = ["MES.CME", "ES.CME", "NQ.CME", "CL.NYMEX", "GC.COMEX", "EUR/USD.FX", "USD/JPY.FX"]
    fresh = {i: InstrumentCatalog().get(i) for i in ids}
    failures: list[BaseException] = []

    def ask(offset: int) -> None:
        try:
            for n in range(400):
                i = ids[(n + offset) % len(ids)]
                assert catalog.get(i) == fresh[i]
                day = date(2026, 11, 1) + timedelta(days=n % 60)
                assert catalog.resolve("MES1!", now=day) == InstrumentCatalog().resolve("MES1!", now=day)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(catalog._by_id) <= 4 and len(catalog._by_ticker) <= 4
