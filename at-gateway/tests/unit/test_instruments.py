"""The instrument resolution kept per ticker and UTC day: the same answers as the catalog, asked less."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from at_core.catalog import InstrumentCatalog
from at_core.errors import SymbolError
from at_gateway.domain.instruments import InstrumentResolver

DAY_NS = 86_400 * 1_000_000_000


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


class CountingCatalog(InstrumentCatalog):
    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def resolve(self, ticker, now=None):  # type: ignore[no-untyped-def]
        self.asked += 1
        return super().resolve(ticker, now=now)


def test_a_ticker_is_resolved_once_a_day_and_answers_what_the_catalog_answers() -> None:
    catalog = CountingCatalog()
    resolver = InstrumentResolver(catalog)
    now = _ns("2026-12-03T10:00:00")
    first = resolver.resolve("CME_MINI:MES1!", now)
    again = resolver.resolve("CME_MINI:MES1!", now + 3_600 * 1_000_000_000)
    inst = InstrumentCatalog().resolve("CME_MINI:MES1!", now=datetime(2026, 12, 3, 10, tzinfo=UTC))
    assert first == again
    assert (first.instrument_id, first.asset_class, first.max_quantity) == (
        inst.instrument_id,
        inst.asset_class,
        inst.max_quantity,
    )
    assert catalog.asked == 1


def test_a_continuous_future_rolls_with_the_day_it_is_asked_on() -> None:
    catalog = CountingCatalog()
    resolver = InstrumentResolver(catalog)
    before_roll = resolver.resolve("MES1!", _ns("2026-12-03T23:59:59"))
    next_quarter = resolver.resolve("MES1!", _ns("2026-12-31T00:00:00"))
    assert before_roll.instrument_id != next_quarter.instrument_id
    assert (
        next_quarter.instrument_id
        == InstrumentCatalog().resolve("MES1!", now=datetime(2026, 12, 31, tzinfo=UTC)).instrument_id
    )
    assert catalog.asked == 2


def test_a_refusal_is_not_kept_and_the_table_stays_bounded() -> None:
    catalog = CountingCatalog()
    resolver = InstrumentResolver(catalog, max_entries=2)
    now = _ns("2026-12-03T10:00:00")
    for _ in range(2):
        with pytest.raises(SymbolError):
            resolver.resolve("", now)
    assert catalog.asked == 2
    for ticker in ("MES1!", "ES1!", "NQ1!", "MES1!"):
        resolver.resolve(ticker, now)
    assert len(resolver._known) <= 2
