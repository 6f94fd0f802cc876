"""The trading day of a timestamp: remembered per (reset, zone), always the local-time answer."""

from __future__ import annotations

from datetime import UTC, datetime, time

from hypothesis import given, settings
from hypothesis import strategies as st

from at_exec_sim.domain.rules import _local_trading_day, trading_day

# 2026's DST changes in Chicago and Prague, and a zone whose clocks change at midnight (Havana)
START_NS = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * 10**9
SPAN_NS = 300 * 86_400 * 10**9
ZONES = ["America/Chicago", "Europe/Prague", "America/Havana", "UTC", "Asia/Kolkata"]
RESETS = [time(17, 0), time(0, 0), time(1, 30), time(2, 30), time(23, 59, 59)]


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    reset=st.sampled_from(RESETS),
    stamps=st.lists(st.integers(START_NS, START_NS + SPAN_NS), min_size=1, max_size=60),
    nearby=st.lists(st.integers(-3 * 3_600 * 10**9, 3 * 3_600 * 10**9), max_size=30),
)
def test_a_remembered_trading_day_is_always_the_one_local_time_gives(
    zone: str, reset: time, stamps: list[int], nearby: list[int]
) -> None:
    # in any order, and around each stamp (where a day's edges and the DST changes are)
    for ts in stamps + [stamps[0] + d for d in nearby]:
        assert trading_day(ts, reset, zone) == _local_trading_day(ts, reset, zone)


def test_the_cme_day_rolls_at_1700_chicago_on_both_sides_of_a_dst_change() -> None:
    reset, zone = time(17, 0), "America/Chicago"
    before = int(datetime(2026, 3, 6, 22, 59, 59, tzinfo=UTC).timestamp()) * 10**9  # 16:59:59 CST, Friday
    after = before + 10**9
    assert str(trading_day(before, reset, zone)) == "2026-03-05"
    assert str(trading_day(after, reset, zone)) == "2026-03-06"
    sunday_cdt = int(datetime(2026, 3, 8, 22, 0, tzinfo=UTC).timestamp()) * 10**9  # 17:00 CDT after the change
    assert str(trading_day(sunday_cdt - 1, reset, zone)) == "2026-03-07"
    assert str(trading_day(sunday_cdt, reset, zone)) == "2026-03-08"
