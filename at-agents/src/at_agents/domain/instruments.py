"""The instrument catalog the rule agents read, with each instrument built once. Pure.

at-core's catalog builds a continuous future (``MES.CME``) anew on every ``get`` (about 24 µs);
the follower and the sizer ask for the signal's instrument on every signal. Instruments are
frozen and the catalog's data does not change while the service runs, so the first answer is
every answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from at_core.catalog import Instrument, InstrumentCatalog

#: Distinct instruments kept; past it the cache starts again (ids come from validated signals).
MAX_KEPT = 4096


class CachedCatalog(InstrumentCatalog):
    """:class:`InstrumentCatalog` whose ``get`` keeps what it built (unknown ids still raise each time)."""

    def __init__(self, extra: Iterable[Instrument] = ()) -> None:
        self._built: dict[str, Instrument] = {}
        super().__init__(extra)

    def add(self, instrument: Instrument) -> None:
        super().add(instrument)
        self._built.pop(instrument.instrument_id, None)  # a listed instrument replaces a built one

    def get(self, instrument_id: str) -> Instrument:
        inst = self._built.get(instrument_id)
        if inst is None:
            inst = super().get(instrument_id)
            if len(self._built) >= MAX_KEPT:
                self._built.clear()
            self._built[instrument_id] = inst
        return inst
