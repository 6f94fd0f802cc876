"""The instrument an alert's ticker names, resolved once per ticker and UTC day. Pure (no clock read:
the caller passes its time).

The catalog's answer depends on the ticker and the UTC date only (a continuous ``MES1!`` rolls by
date, an expired contract is refused by date), and every alert for a ticker asks the same question
all day: the answer is kept until the day changes. Refusals are not kept (each is answered afresh,
and a sender of unknown tickers cannot fill the table with them); the table is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from at_core.catalog import InstrumentCatalog
from at_core.models.enums import AssetClass

_NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Resolved:
    """What an alert needs of its instrument."""

    instrument_id: str
    asset_class: AssetClass
    max_quantity: Decimal | None  # the catalog's own bound, if any


class InstrumentResolver:
    """:meth:`InstrumentCatalog.resolve` with its answers kept for the day (at most ``max_entries``)."""

    def __init__(self, catalog: InstrumentCatalog, max_entries: int = 4096) -> None:
        self.catalog = catalog
        self.max_entries = max_entries
        self._day = -1
        self._known: dict[str, Resolved] = {}

    def resolve(self, ticker: str, now_ns: int) -> Resolved:
        """The instrument ``ticker`` names at ``now_ns`` (UTC ns).

        Raises:
            SymbolError: the ticker's form is unknown (or, dated, it has expired).
            UnknownInstrumentError: the form is known but the instrument is not.
        """
        day = now_ns // _NS_PER_DAY
        if day != self._day:
            self._known.clear()
            self._day = day
        found = self._known.get(ticker)
        if found is None:
            inst = self.catalog.resolve(ticker, now=utc_datetime(now_ns))
            found = Resolved(inst.instrument_id, inst.asset_class, inst.max_quantity)
            if len(self._known) >= self.max_entries:
                self._known.clear()
            self._known[ticker] = found
        return found


def utc_datetime(ts_ns: int) -> datetime:
    """A UTC timestamp in ns as an aware datetime (exact to the microsecond)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1_000)
