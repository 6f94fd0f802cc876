"""The instrument an alert's ticker names, in the shape an alert reads. Pure (no clock read: the
caller passes its time).

at-core's catalog keeps what it builds, by ticker and date (a continuous ``MES1!`` rolls by date,
an expired contract is refused by date; refusals are not kept; its tables are bounded), so nothing
is kept here. What is the gateway's own: its clock is UTC ns, turned into the catalog's date once
per day, and an alert reads three fields of the instrument (:class:`Resolved`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from at_core.catalog import InstrumentCatalog
from at_core.models.enums import AssetClass

_NS_PER_DAY = 86_400 * 1_000_000_000
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Resolved:
    """What an alert needs of its instrument."""

    instrument_id: str
    asset_class: AssetClass
    max_quantity: Decimal | None  # the catalog's own bound, if any


class InstrumentResolver:
    """:meth:`InstrumentCatalog.resolve` at a UTC ns time, answered as :class:`Resolved`."""

    def __init__(self, catalog: InstrumentCatalog) -> None:
        self.catalog = catalog
        self._today = (-1, _EPOCH)  # (UTC day number, its date): one tuple, read and replaced whole

    def resolve(self, ticker: str, now_ns: int) -> Resolved:
        """The instrument ``ticker`` names at ``now_ns`` (UTC ns).

        Raises:
            SymbolError: the ticker's form is unknown (or, dated, it has expired).
            UnknownInstrumentError: the form is known but the instrument is not.
        """
        day = now_ns // _NS_PER_DAY
        today = self._today
        if today[0] != day:
            today = self._today = (day, _EPOCH + timedelta(days=day))
        inst = self.catalog.resolve(ticker, now=today[1])
        return Resolved(inst.instrument_id, inst.asset_class, inst.max_quantity)


def utc_datetime(ts_ns: int) -> datetime:
    """A UTC timestamp in ns as an aware datetime (exact to the microsecond)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1_000)
