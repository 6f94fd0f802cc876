"""Real calendars: CME Group holidays and early closes, FX's week, crypto around the clock, DST."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from at_core.markets.calendars import CRYPTO, FX, UnknownCalendarError, get_calendar

CT = ZoneInfo("America/Chicago")
NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def ns(y: int, m: int, d: int, h: int = 0, mi: int = 0, tz: ZoneInfo = CT) -> int:
    return int(datetime(y, m, d, h, mi, tzinfo=tz).timestamp()) * 1_000_000_000


CME = get_calendar("CME_Equity")


@pytest.mark.parametrize(
    ("label", "when"),
    [
        ("Thanksgiving 2026 afternoon", ns(2026, 11, 26, 13, 0)),
        ("day after Thanksgiving 2026, 13:00 CT", ns(2026, 11, 27, 13, 0)),
        ("Christmas Eve 2026 afternoon", ns(2026, 12, 24, 14, 0)),
        ("Christmas Day 2026", ns(2026, 12, 25, 10, 0)),
        ("New Year's Day 2027", ns(2027, 1, 1, 10, 0)),
        ("Thanksgiving 2027 afternoon", ns(2027, 11, 25, 13, 0)),
        ("day after Thanksgiving 2027, 13:00 CT", ns(2027, 11, 26, 13, 0)),
        ("Christmas 2027 observed on Friday 24th", ns(2027, 12, 24, 10, 0)),
        ("a Saturday", ns(2026, 12, 5, 10, 0)),
    ],
)
def test_cme_equity_is_closed_on_us_holidays_and_after_early_closes(label: str, when: int) -> None:
    assert not CME.is_open(when), label


@pytest.mark.parametrize(
    "when",
    [
        ns(2026, 11, 26, 10, 0),  # Thanksgiving morning: open until the 12:00 CT early close
        ns(2026, 11, 27, 10, 0),  # the day after, morning
        ns(2026, 12, 24, 10, 0),  # Christmas Eve morning
        ns(2026, 12, 28, 10, 0),  # an ordinary Monday
        ns(2026, 12, 27, 17, 30),  # Sunday evening: Monday's session
    ],
)
def test_cme_equity_is_open_on_ordinary_and_half_days(when: int) -> None:
    assert CME.is_open(when)


def test_early_close_is_flagged_and_ends_the_session_at_noon_chicago() -> None:
    session = CME.session_at(ns(2026, 11, 27, 10, 0))
    assert session is not None and session.early_close
    assert session.day == date(2026, 11, 27)
    assert session.close_ns == ns(2026, 11, 27, 12, 0)


def test_ordinary_session_opens_1700_and_closes_1600_chicago() -> None:
    session = CME.session_at(ns(2026, 12, 1, 9, 0))
    assert session is not None and not session.early_close
    assert (session.open_ns, session.close_ns) == (ns(2026, 11, 30, 17, 0), ns(2026, 12, 1, 16, 0))


def test_after_christmas_the_next_open_is_sunday_evening() -> None:
    assert CME.next_open_ns(ns(2026, 12, 24, 13, 0)) == ns(2026, 12, 27, 17, 0)
    assert CME.trading_day(ns(2026, 12, 25, 12, 0)) == date(2026, 12, 28)
    assert not CME.is_trading_day(date(2026, 12, 25))
    assert CME.is_trading_day(date(2026, 12, 24))


def test_march_dst_week_chicago_moves_before_prague() -> None:
    # US clocks moved on 2026-03-08, Prague's on 2026-03-29: the open is 22:00 UTC that week, 23:00 before
    before = CME.session_at(ns(2026, 3, 3, 9, 0))
    during = CME.session_at(ns(2026, 3, 10, 9, 0))
    assert before is not None and during is not None
    assert before.open_ns == ns(2026, 3, 2, 23, 0, UTC)
    assert during.open_ns == ns(2026, 3, 9, 22, 0, UTC)
    # in Prague (still CET) that open is 23:00, an hour earlier than the 00:00 of the week before
    prague = datetime.fromtimestamp(during.open_ns / 1e9, ZoneInfo("Europe/Prague"))
    assert prague.hour == 23


def test_november_dst_week_prague_has_moved_chicago_not_yet() -> None:
    # Prague left summer time on 2026-10-25, Chicago on 2026-11-01
    session = CME.session_at(ns(2026, 10, 28, 9, 0))
    assert session is not None
    assert session.open_ns == ns(2026, 10, 27, 22, 0, UTC)  # 17:00 CDT
    later = CME.session_at(ns(2026, 11, 3, 9, 0))
    assert later is not None and later.open_ns == ns(2026, 11, 2, 23, 0, UTC)  # 17:00 CST


def test_fx_runs_sunday_five_pm_to_friday_five_pm_new_york() -> None:
    fx = get_calendar(FX)
    assert not fx.is_open(ns(2026, 12, 6, 16, 59, NY))  # Sunday before the open
    assert fx.is_open(ns(2026, 12, 6, 17, 0, NY))
    assert fx.is_open(ns(2026, 12, 9, 3, 0, NY))
    assert fx.is_open(ns(2026, 12, 11, 16, 59, NY))
    assert not fx.is_open(ns(2026, 12, 11, 17, 0, NY))  # Friday close
    assert not fx.is_open(ns(2026, 12, 12, 12, 0, NY))  # Saturday
    assert fx.trading_day(ns(2026, 12, 8, 18, 0, NY)) == date(2026, 12, 9)  # after 17:00 NY: tomorrow's day


def test_fx_week_follows_new_york_through_the_march_change() -> None:
    fx = get_calendar(FX)
    s = fx.session_at(ns(2026, 3, 9, 12, 0, NY))
    assert s is not None and s.open_ns == ns(2026, 3, 8, 21, 0, UTC)  # Sunday 17:00 EDT


def test_crypto_is_always_open() -> None:
    crypto = get_calendar(CRYPTO)
    for when in (ns(2026, 12, 25, 12, 0), ns(2027, 1, 1, 0, 0, UTC), ns(2026, 12, 5, 23, 59)):
        assert crypto.is_open(when)


def test_unknown_calendar_is_a_clear_error() -> None:
    with pytest.raises(UnknownCalendarError, match="NOPE"):
        get_calendar("NOPE")


def test_preload_builds_the_schedules_ahead_of_the_first_lookup() -> None:
    from at_core.markets.calendars import preload

    preload(("CME_Equity", FX, CRYPTO, "CME_Equity"), years=(2026, 2027))
    assert {2026, 2027} <= CME._years
    assert CME.is_open(ns(2026, 12, 1, 9, 0))
