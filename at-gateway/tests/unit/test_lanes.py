"""Ordering lanes: an event waits behind the outbox only while it holds an event it may depend on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.events import signal

from at_core.events import ChartSnapshotEvent, Event, MarketDataEvent
from at_core.serialization import encode_event
from at_core.testing import example_events
from at_gateway.adapters.in_flight import InFlight
from at_gateway.adapters.outbox import Outbox
from at_gateway.domain.lanes import QueuedLanes, lane_from_text, lane_of, lane_text

A, B = lane_of(signal("paper-1", "MES.CME")), lane_of(signal("paper-1", "MNQ.CME"))


def test_a_signal_s_lane_is_its_account_and_instrument() -> None:
    assert lane_of(signal("paper-1", "MES.CME")) == lane_of(signal("paper-1", "MES.CME")) == A
    assert len({A, B, lane_of(signal("paper-2", "MES.CME"))}) == 3


def test_a_manual_order_shares_the_lane_of_the_signals_for_its_position() -> None:
    request = example_events()["execution_request"]
    assert lane_of(request) == lane_of(signal(request.account_id, request.instrument_id))


def test_lanes_never_merge_two_positions_whatever_their_names_hold() -> None:
    assert lane_of(signal("a,b", "c")) != lane_of(signal("a", "b,c"))
    assert lane_text(lane_of(signal("a,b", "c"))) != lane_text(lane_of(signal("a", "b,c")))


def test_a_lane_is_stored_as_readable_text_and_read_back_the_same() -> None:
    assert lane_text(A) == '["paper-1","MES.CME"]' and lane_from_text(lane_text(A)) == A
    assert lane_text(None) is None and lane_from_text(None) is None


def test_an_event_without_an_account_or_an_instrument_has_no_lane() -> None:
    market: Event = example_events()["market_data"]
    assert isinstance(market, MarketDataEvent) and lane_of(market) is None
    chart = example_events()["chart_snapshot"]
    assert isinstance(chart, ChartSnapshotEvent)
    assert lane_of(chart.model_copy(update={"account_id": None})) is None
    assert lane_of(example_events()["heartbeat"]) is None


def test_an_empty_outbox_holds_nothing_back() -> None:
    queued = QueuedLanes()
    assert not queued.holds_back(A) and not queued.holds_back(None) and len(queued) == 0


def test_a_queued_lane_holds_back_only_its_own_lane() -> None:
    queued = QueuedLanes()
    queued.add(A)
    assert queued.holds_back(A) and queued.why(A) == "behind_lane"
    assert not queued.holds_back(B)


def test_a_queued_event_of_no_lane_holds_back_every_lane() -> None:
    queued = QueuedLanes()
    queued.add(None)
    assert queued.holds_back(A) and queued.holds_back(B) and queued.holds_back(None)
    assert queued.why(B) == "behind_all"


def test_an_event_of_no_lane_waits_behind_anything_queued() -> None:
    queued = QueuedLanes()
    queued.add(A)
    assert queued.holds_back(None) and queued.why(None) == "behind_all"


def test_a_lane_holds_back_until_its_last_queued_event_is_drained() -> None:
    queued = QueuedLanes([(A, 2), (B, 1)])
    assert len(queued) == 3 and queued.lanes() == 2
    queued.remove(A)
    assert queued.holds_back(A)
    queued.remove(A)
    assert not queued.holds_back(A) and queued.holds_back(B) and queued.lanes() == 1
    queued.remove(B)
    assert not queued.holds_back(None) and len(queued) == 0


def test_the_outbox_keeps_each_event_s_lane_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path)
    first, other = signal("paper-1", "MES.CME"), signal("paper-1", "MNQ.CME")
    outbox.put(first.event_id, encode_event(first), None, lane_of(first))
    outbox.put(first.event_id, encode_event(first), None, lane_of(first))  # a second put is a no-op
    outbox.put(other.event_id, encode_event(other), None, lane_of(other))
    outbox.close()
    again = Outbox(path)
    assert again.depth() == 2 and again.lanes() == 2
    assert again.holds_back(A) and again.holds_back(B) and not again.holds_back(lane_of(signal("paper-2")))
    seq = again.peek(1)[0][0]
    again.delete(seq)
    again.delete(seq)  # deleting what is gone changes nothing
    assert not again.holds_back(A) and again.holds_back(B) and again.depth() == 1
    again.close()


def test_an_outbox_from_before_lanes_is_migrated_and_its_rows_hold_back_every_lane(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    old = signal()
    db = sqlite3.connect(path, isolation_level=None)  # the oldest format: no msg_id, no lane
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT UNIQUE, data BLOB NOT NULL)")
    db.execute("INSERT INTO outbox (event_id, data) VALUES (?, ?)", (old.event_id, encode_event(old)))
    db.close()
    outbox = Outbox(path)
    assert {"msg_id", "lane"} <= {row[1] for row in outbox._db.execute("PRAGMA table_info(outbox)")}
    assert outbox.depth() == 1 and outbox.holds_back(B) and outbox.why(B) == "behind_all"
    new = signal("paper-1", "MNQ.CME")
    outbox.put(new.event_id, encode_event(new), "m-1", lane_of(new))
    assert [(row[1], row[3]) for row in outbox.peek()] == [(old.event_id, None), (new.event_id, "m-1")]
    outbox.delete(outbox.peek(1)[0][0])  # the old row drained: only the new row's lane waits
    assert outbox.holds_back(B) and not outbox.holds_back(A) and outbox.why(B) == "behind_lane"
    outbox.close()


async def test_a_publish_in_flight_holds_back_its_own_lane_and_the_no_lane_barrier_only() -> None:
    flight = InFlight()
    before, a1 = flight.claim(A)
    assert before == []  # nothing in flight: go
    before, b1 = flight.claim(B)
    assert before == []  # another lane: go
    before, a2 = flight.claim(A)
    assert before == [a1]  # the same lane: after a1's answer
    before, barrier = flight.claim(None)
    assert set(before) == {a2, b1}  # no lane: after every lane's latest
    before, _ = flight.claim(B)
    assert set(before) == {b1, barrier}  # any lane: after its own and the barrier


async def test_an_answered_publish_lets_its_waiters_go_and_is_forgotten() -> None:
    flight = InFlight()
    _, a1 = flight.claim(A)
    before, a2 = flight.claim(A)
    flight.release(A, a1)
    assert a1.done() and all(f.done() for f in before) and len(flight) == 1  # a2 still in flight
    flight.release(A, a2)
    assert len(flight) == 0 and flight.claim(A)[0] == []
