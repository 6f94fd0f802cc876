"""The market-data batch: whole market-data events of one instrument, in time order, on the md family."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from pydantic import ValidationError

from at_core import subjects
from at_core.clock import ManualClock
from at_core.events import BarData, EventFactory, MarketDataBatchEvent, MarketDataEvent
from at_core.events.signals import MAX_BATCH_EVENTS
from at_core.ids import IdGenerator
from at_core.serialization import decode_event, encode_event

MINUTE = 60 * 10**9


def _bars(n: int, instrument_id: str = "MES.CME") -> list[MarketDataEvent]:
    clock = ManualClock(MINUTE)
    f = EventFactory("gateway", clock, IdGenerator(clock, random.Random(3)))
    out = []
    for i in range(n):
        clock.advance_to((i + 1) * MINUTE)
        c = Decimal(6000 + i)
        data = BarData(interval="1", open=c, high=c, low=c, close=c, ts_open=i * MINUTE)
        out.append(f.make(MarketDataEvent, instrument_id=instrument_id, venue="CME", data=data))
    return out


def _batch(members: list[MarketDataEvent], instrument_id: str = "MES.CME") -> MarketDataBatchEvent:
    return MarketDataBatchEvent(
        event_id=members[0].event_id, ts_event=members[-1].ts_event, ts_init=members[-1].ts_init, source="gateway",
        correlation_id="c", instrument_id=instrument_id, venue="CME", events=members,
    )  # fmt: skip


def test_a_batch_round_trips_with_every_member_byte_for_byte() -> None:
    members = _bars(3)
    back = decode_event(encode_event(_batch(members)))
    assert isinstance(back, MarketDataBatchEvent)
    assert [encode_event(m) for m in back.events] == [encode_event(m) for m in members]


def test_a_batch_goes_on_the_market_data_family_which_believes_it() -> None:
    batch = _batch(_bars(2))
    subject = subjects.subject_for(batch)
    assert subject == "at.md.batch.CME.MES~2ECME"
    assert subjects.subject_matches(subjects.MARKET_DATA, subject)
    assert subjects.origin_violation("market_data_batch", subject) is None
    assert subjects.origin_violation("market_data_batch", "at.signal.tradingview.a.s.MES") is not None
    spec = subjects.stream_for_subject(subject)
    assert spec is not None and spec.name == "AT_MARKET_DATA"


def test_a_batch_holds_one_instrument_in_time_order_and_at_least_one_member() -> None:
    members = _bars(3)
    with pytest.raises(ValidationError, match="not the batch's"):
        _batch([*members, *_bars(1, "ES.CME")])
    with pytest.raises(ValidationError, match="earlier than the one before it"):
        _batch([members[1], members[0]])
    with pytest.raises(ValidationError, match="at least 1"):
        MarketDataBatchEvent.model_validate({**_batch(members).model_dump(), "events": []})
    with pytest.raises(ValidationError, match=f"at most {MAX_BATCH_EVENTS}"):
        _batch(_bars(MAX_BATCH_EVENTS + 1))
