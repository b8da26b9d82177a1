"""When a slot is due (`bot.domain.due`): local times in a zone, weekdays, grace windows, DST, lead times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.due import Slot, clock_time, daily_slot, due_slot, is_due

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
GRACE = timedelta(minutes=15)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_todays_slot_is_the_local_time_on_the_local_day() -> None:
    slot = daily_slot(utc("2027-03-26T23:30+00:00"), at=time(9, 30), zone=BERLIN, grace=GRACE)
    assert slot.day == date(2027, 3, 27)  # already Saturday in Berlin
    assert slot.start == utc("2027-03-27T08:30+00:00") and slot.end == utc("2027-03-27T08:45+00:00")


def test_a_slot_is_open_from_its_moment_to_the_end_of_its_grace_both_included() -> None:
    slot = daily_slot(utc("2027-03-26T08:00+00:00"), at=time(9, 30), zone=BERLIN, grace=GRACE)
    moments = ["08:29:59", "08:30:00", "08:45:00", "08:45:01"]
    assert [slot.open_at(utc(f"2027-03-26T{m}+00:00")) for m in moments] == [False, True, True, False]
    assert [slot.closed_at(utc(f"2027-03-26T{m}+00:00")) for m in moments] == [False, False, False, True]


def test_local_time_follows_daylight_saving_time() -> None:
    before = daily_slot(utc("2027-03-26T12:00+00:00"), at=time(9, 30), zone=BERLIN)
    after = daily_slot(utc("2027-03-29T12:00+00:00"), at=time(9, 30), zone=BERLIN)
    assert before.start == utc("2027-03-26T08:30+00:00")  # CET
    assert after.start == utc("2027-03-29T07:30+00:00")  # CEST
    assert daily_slot(utc("2027-03-14T15:00+00:00"), at=time(9), zone=NEW_YORK).start == utc("2027-03-14T13:00+00:00")


def test_without_grace_a_slot_stays_due_until_its_local_day_ends() -> None:
    slot = due_slot(utc("2027-03-26T22:59+00:00"), at=time(9), zone=BERLIN)
    assert slot is not None and slot.end == utc("2027-03-26T23:00+00:00")  # local midnight
    assert due_slot(utc("2027-03-26T07:59+00:00"), at=time(9), zone=BERLIN) is None
    tomorrow = due_slot(utc("2027-03-26T23:00+00:00"), at=time(9), zone=BERLIN)
    assert tomorrow is None  # a new local day: its slot has not come yet


def test_only_on_its_weekdays() -> None:
    friday, saturday = utc("2027-03-26T09:00+00:00"), utc("2027-03-27T09:00+00:00")
    weekdays = range(5)
    assert due_slot(friday, at=time(9), zone=BERLIN, weekdays=weekdays) is not None
    assert due_slot(saturday, at=time(9), zone=BERLIN, weekdays=weekdays) is None
    assert due_slot(saturday, at=time(9), zone=BERLIN, weekdays=(5,)) is not None
    assert due_slot(saturday, at=time(9), zone=BERLIN) is not None  # every day


def _days_around_clock_changes(tz: ZoneInfo) -> list[date]:
    """The days of 2027 next to each of the zone's clock changes, and an ordinary day."""
    days, day = [date(2027, 1, 15)], date(2027, 1, 1)
    while day < date(2028, 1, 1):
        noon = datetime.combine(day, time(12), tz)
        if noon.utcoffset() != (noon - timedelta(days=1)).utcoffset():
            days += [day - timedelta(days=1), day]
        day += timedelta(days=1)
    return days


def _skipped(moment: datetime) -> bool:
    """True for a local time the clock jumps over."""
    return moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None) != moment.replace(tzinfo=None)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
                                  "America/Santiago", "Pacific/Chatham"])
@pytest.mark.parametrize("hour", [0, 1, 2, 3, 9, 23])
def test_due_from_the_first_moment_the_local_hour_is_reached_until_the_day_ends(zone: str, hour: int) -> None:
    """The budget report and the risk review read `local.hour >= hour`; the slot says the same, every quarter hour
    around each of the zone's clock changes, except that once due it stays due for the rest of the local day (the
    repeated hour after clocks go back does not make it not due again). A local time the clock skips is placed
    at the offset before the change (PEP 495): where the skipped span is not a whole hour (Chatham, +12:45) that is
    up to 15 minutes after the local hour first reads `hour`, so those days are left out here."""
    tz = ZoneInfo(zone)
    for day in _days_around_clock_changes(tz):
        if _skipped(datetime.combine(day, time(hour), tz)) and zone == "Pacific/Chatham":
            continue
        now, due_since = datetime.combine(day, time.min, tz).astimezone(UTC), None
        while now.astimezone(tz).date() == day:
            due_since = due_since or (now if now.astimezone(tz).hour >= hour else None)
            assert (due_slot(now, at=time(hour), zone=tz) is not None) == (due_since is not None), (zone, hour, now)
            now += timedelta(minutes=15)


def test_a_later_window_moves_with_the_wall_clock() -> None:
    post = daily_slot(utc("2027-03-29T07:00+00:00"), at=time(9, 30), zone=BERLIN, grace=GRACE)
    reminders = post.after(timedelta(minutes=60))
    assert reminders == Slot(post.day, utc("2027-03-29T08:30+00:00"), utc("2027-03-29T08:45+00:00"))


def test_a_computed_moment_is_due_within_its_grace_or_its_lead() -> None:
    drill = datetime(2027, 3, 28, 3, 30, tzinfo=BERLIN)  # the first hour of summer time: 01:30 UTC
    assert is_due(drill, utc("2027-03-28T01:30+00:00"), grace=timedelta(minutes=30))
    assert is_due(drill, utc("2027-03-28T02:00+00:00"), grace=timedelta(minutes=30))
    assert not is_due(drill, utc("2027-03-28T02:00:01+00:00"), grace=timedelta(minutes=30))
    assert not is_due(drill, utc("2027-03-28T01:29+00:00"), grace=timedelta(minutes=30))
    # An hour before in elapsed time, though the wall clock jumped an hour in between.
    assert is_due(drill, utc("2027-03-28T00:30+00:00"), lead=timedelta(hours=1))
    assert not is_due(drill, utc("2027-03-28T00:29+00:00"), lead=timedelta(hours=1))
    assert not is_due(drill, utc("2027-03-28T01:31+00:00"), lead=timedelta(hours=1))


def test_clock_time_reads_hours_and_minutes() -> None:
    assert clock_time("09:30") == time(9, 30) and clock_time("7:05") == time(7, 5)
