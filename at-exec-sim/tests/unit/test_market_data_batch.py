"""A market-data batch (at-backtest's bars between two barriers) is its members, one after another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.helpers import T0, factory, proposal, quote

from at_core.clock import ManualClock
from at_core.events import Event, MarketDataBatchEvent, MarketDataEvent
from at_core.ids import derive_id
from at_core.models.enums import OrderSide, OrderType
from at_core.serialization import encode_event
from at_exec_sim import bootstrap
from at_exec_sim.bootstrap import ExecSim
from at_exec_sim.config import ExecSimSettings

SECOND = 1_000_000_000


class _RecordingBus:
    """Takes every publish (as JetStream would) and keeps each call's events."""

    def __init__(self) -> None:
        self.calls: list[list[Event]] = []

    async def publish_many(self, events: Sequence[Event], **_: Any) -> list[None]:
        self.calls.append(list(events))
        return [None] * len(events)


def _batch(members: list[MarketDataEvent]) -> MarketDataBatchEvent:
    first, last = members[0], members[-1]
    batch_id = derive_id(first.event_id, "md-batch")
    return MarketDataBatchEvent(
        event_id=batch_id, ts_event=last.ts_event, ts_init=last.ts_init, source=last.source,
        correlation_id=batch_id, instrument_id=first.instrument_id, venue=first.venue, events=members,
    )  # fmt: skip


async def _long_one_lot() -> tuple[ExecSim, ManualClock, _RecordingBus, list[MarketDataEvent]]:
    """A service holding one MES long on paper-1 (with a resting sell limit above), and the quotes to come."""
    clock = ManualClock(T0)
    svc = bootstrap.build(ExecSimSettings(), clock)
    bus = _RecordingBus()
    svc.bus = bus  # type: ignore[assignment]
    f = factory()
    await svc.handle(quote(f, "MES.CME", "5000.00", "5000.25"))
    await svc.handle(proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1"))
    exit_limit = proposal(f, "paper-1", "MES.CME", OrderSide.SELL, "1", order_type=OrderType.LIMIT, limit="5003.00")
    await svc.handle(exit_limit)
    quotes = []
    for i, (bid, ask) in enumerate([("5000.50", "5000.75"), ("5001.00", "5001.25"), ("5003.25", "5003.50"),
                                    ("5002.00", "5002.25"), ("5001.50", "5001.75")]):  # fmt: skip
        f.clock.advance_to(T0 + (i + 1) * SECOND)  # type: ignore[attr-defined]
        quotes.append(quote(f, "MES.CME", bid, ask))
    bus.calls.clear()
    return svc, clock, bus, quotes


async def test_a_batch_produces_what_its_members_produce_one_by_one_in_the_same_order() -> None:
    alone, _, alone_bus, quotes = await _long_one_lot()
    together, _, together_bus, same = await _long_one_lot()
    one_by_one = [e for q in quotes for e in await alone.handle(q)]
    batched = await together.handle(_batch(same))
    assert [encode_event(e) for e in batched] == [encode_event(e) for e in one_by_one]
    assert {"account_state", "fill"} <= {e.event_type for e in batched}, "marks, and the limit filled mid-batch"
    published = [e for call in together_bus.calls for e in call]
    assert [e.event_id for e in published] == [e.event_id for e in batched], "all of it, in order, before the ack"
    assert [e for call in alone_bus.calls for e in call] == one_by_one


async def test_marks_in_a_batch_wait_for_the_next_real_publish_or_the_batch_end() -> None:
    svc, _, bus, quotes = await _long_one_lot()
    marks_only = [quotes[0], quotes[1], quotes[3], quotes[4]]  # the limit's price (quote 3) left out
    out = await svc.handle(_batch(marks_only))
    assert [e.event_type for e in out] == ["account_state"] * 4
    assert len(bus.calls) == 1 and bus.calls[0] == out, "one publish for the batch's marks"
    assert not svc.batching and not svc.outbox
    before = len(bus.calls)
    alone = await svc.handle(quotes[2])  # alone, as before: published as it is made
    assert alone and [e for call in bus.calls[before:] for e in call] == alone
