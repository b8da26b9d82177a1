"""When a scheduled thing is due: the one slot arithmetic every job uses (stand-ups, budget reports, risk reviews,
drills).

A slot is a local time on a local day in some time zone (a team's, a stand-up's, a schedule's). It is due from that
moment until its window ends: a grace after it (a run that comes a little late still acts, once), or the end of its
local day. Saying it is due is all this module does; a job then claims the slot once in storage (`claim_once`,
or a unique row) before it acts, so two schedulers or a repeated run never both act on it.

A daily slot's window is wall-clock arithmetic in its zone (`start + grace`, the end of the local day), as people
read a schedule; `is_due` measures elapsed time around a moment a schedule computed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Slot:
    """One occurrence of a schedule: its local day, the moment it is due, and the last moment it may still run."""

    day: date
    start: datetime
    end: datetime

    def open_at(self, now: datetime) -> bool:
        """True from the slot's moment to the end of its window, both included."""
        return self.start <= now <= self.end

    def closed_at(self, now: datetime) -> bool:
        """True once the window is over: whatever did not happen in it will not happen."""
        return now > self.end

    def after(self, delay: timedelta) -> Slot:
        """The same window, `delay` later on the wall clock (a reminder an hour after the post)."""
        return Slot(self.day, self.start + delay, self.end + delay)


def daily_slot(now: datetime, *, at: time, zone: ZoneInfo, grace: timedelta | None = None) -> Slot:
    """Today's slot at local time `at` in `zone`, today being the local day of `now`: open for `grace` after it, or
    until that day ends when no grace is given."""
    day = now.astimezone(zone).date()
    start = datetime.combine(day, at, zone)
    end = start + grace if grace is not None else datetime.combine(day + timedelta(days=1), time.min, zone)
    return Slot(day, start, end)


def due_slot(now: datetime, *, at: time, zone: ZoneInfo, weekdays: Collection[int] | None = None,
             grace: timedelta | None = None) -> Slot | None:
    """Today's slot (see `daily_slot`) if it is due at `now`: today is one of `weekdays` (0 = Monday; every day when
    None) and `now` lies in the slot's window. None otherwise."""
    slot = daily_slot(now, at=at, zone=zone, grace=grace)
    on_day = weekdays is None or slot.day.weekday() in weekdays
    return slot if on_day and slot.open_at(now) else None


def is_due(slot: datetime, now: datetime, *, grace: timedelta = timedelta(0), lead: timedelta = timedelta(0)) -> bool:
    """True when `now` lies between `lead` before `slot` (a moment a schedule computed, e.g. from cron) and `grace`
    after it, in elapsed time whatever zone `slot` is in: a notice an hour before a drill, a start a little late."""
    at = slot.astimezone(UTC)
    return at - lead <= now <= at + grace


def clock_time(text: str) -> time:
    """`"09:30"` as a time of day."""
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)
