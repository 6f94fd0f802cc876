"""An alert's instrument at the gateway's time: the catalog's answer for that UTC day, in the shape an alert reads."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from at_core.catalog import InstrumentCatalog
from at_core.errors import SymbolError, UnknownInstrumentError
from at_gateway.domain.instruments import InstrumentResolver, Resolved, utc_datetime


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def test_a_ticker_resolves_to_what_the_catalog_answers_that_day() -> None:
    resolver = InstrumentResolver(InstrumentCatalog())
    now = _ns("2026-12-03T10:00:00")
    first = resolver.resolve("CME_MINI:MES1!", now)
    again = resolver.resolve("CME_MINI:MES1!", now + 3_600 * 1_000_000_000)
    inst = InstrumentCatalog().resolve("CME_MINI:MES1!", now=datetime(2026, 12, 3, 10, tzinfo=UTC))
    assert first == again == Resolved(inst.instrument_id, inst.asset_class, inst.max_quantity)


def test_a_continuous_future_rolls_with_the_utc_day_it_is_asked_on() -> None:
    resolver = InstrumentResolver(InstrumentCatalog())
    before_roll = resolver.resolve("MES1!", _ns("2026-12-09T23:59:59"))
    on_roll_day = resolver.resolve("MES1!", _ns("2026-12-10T00:00:00"))
    assert (before_roll.instrument_id, on_roll_day.instrument_id) == ("MESZ2026.CME", "MESH2027.CME")
    assert resolver.resolve("MES1!", _ns("2026-12-09T12:00:00")).instrument_id == "MESZ2026.CME"  # back again
    for ns in (_ns("2026-12-09T23:59:59"), _ns("2026-12-31T00:00:00")):
        expected = InstrumentCatalog().resolve("MES1!", now=utc_datetime(ns))
        assert resolver.resolve("MES1!", ns).instrument_id == expected.instrument_id


def test_refusals_are_answered_every_time() -> None:
    resolver = InstrumentResolver(InstrumentCatalog())
    now = _ns("2026-12-19T10:00:00")
    for _ in range(2):
        with pytest.raises(SymbolError):
            resolver.resolve("", now)
        with pytest.raises(SymbolError, match="expired"):
            resolver.resolve("MESZ2026", now)
        with pytest.raises(UnknownInstrumentError):
            resolver.resolve("KRAKEN:DOGEUSDT", now)


def test_the_catalog_is_asked_with_the_utc_date_of_the_gateway_clock() -> None:
    asked: list[object] = []

    class Spy(InstrumentCatalog):
        def resolve(self, ticker, now=None):  # type: ignore[no-untyped-def]
            asked.append(now)
            return super().resolve(ticker, now=now)

    resolver = InstrumentResolver(Spy())
    resolver.resolve("ES1!", _ns("2026-12-03T23:59:59"))
    resolver.resolve("ES1!", _ns("2026-12-04T00:00:00"))
    assert asked == [date(2026, 12, 3), date(2026, 12, 4)]
