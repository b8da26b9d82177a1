"""What a job module looks like, and the cron slot arithmetic most jobs share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

if TYPE_CHECKING:
    from bot.deps import Deps

# Standard cron numbers days 0-6 from Sunday (7 is Sunday too); APScheduler 3 numbers them from Monday.
_CRON_DOW = {"0": "sun", "1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri", "6": "sat", "7": "sun"}


@dataclass(frozen=True)
class ScheduleRef:
    """A schedule row, as plain data (safe to pass between threads)."""

    id: int | None
    team_id: str
    job_name: str
    key: str
    cron: str
    timezone: str
    params: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


class JobModule(Protocol):
    """A job: its NAME and SUMMARY, an optional DEFAULT_CRON, `slots(...)` and `run(deps, *, now)`."""

    NAME: str
    SUMMARY: str
    DEFAULT_CRON: str | None

    def slots(self, schedule: ScheduleRef, start: datetime, end: datetime) -> list[datetime]: ...

    def run(self, deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str | None: ...


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A trigger from a 5-field crontab line, or 6 fields with seconds first."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"cron needs 5 or 6 fields, got {expression!r}")
    second, minute, hour, day, month, dow = fields
    dow = ",".join(_dow_part(part) for part in dow.split(","))
    return CronTrigger(
        second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=dow,
        timezone=ZoneInfo(timezone),
    )


def _dow_part(part: str) -> str:
    step = ""
    if "/" in part:
        part, step = part.split("/", 1)
        step = "/" + step
    bounds = part.split("-")
    return "-".join(_CRON_DOW.get(b, b) for b in bounds) + step


def cron_slots(schedule: ScheduleRef, start: datetime, end: datetime) -> list[datetime]:
    """Fire times in (start, end], in UTC."""
    return list(_iter_cron(cron_trigger(schedule.cron, schedule.timezone), start, end))


def _iter_cron(trigger: CronTrigger, start: datetime, end: datetime) -> Iterator[datetime]:
    cursor = start + timedelta(microseconds=1)
    while True:
        # Cron fire times fall on whole seconds, so one second past a fire time finds the next one.
        fire = trigger.get_next_fire_time(None, cursor)
        if fire is None or fire > end:
            return
        yield fire.astimezone(UTC)
        cursor = fire + timedelta(seconds=1)


def next_fire(schedule: ScheduleRef, after: datetime) -> datetime | None:
    """The first fire time after `after`, for listings."""
    return cron_trigger(schedule.cron, schedule.timezone).get_next_fire_time(None, after)
