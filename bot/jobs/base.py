"""What a job module looks like, the cron slot arithmetic most jobs share, and how a job claims a step once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.errors import IntegrationUnavailable, SlackError
from bot.gateways.slack import is_transient
from storage.db import session_scope
from storage.repos import claim_once, release_claim

if TYPE_CHECKING:
    from sqlalchemy.orm import InstrumentedAttribute

    from bot.deps import Deps
    from storage.models import Schedule

logger = logging.getLogger(__name__)

# What became of one Slack post of a job (see `send`).
SENT, LATER, REFUSED = "sent", "later", "refused"

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
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Schedule) -> ScheduleRef:
        """The plain copy of a schedule row, taken while its session is still open."""
        return cls(id=row.id, team_id=row.team_id, job_name=row.job_name, key=row.key, cron=row.cron,
                   timezone=row.timezone, created_at=row.created_at)


class RetryLater(Exception):  # noqa: N818 — a request to the scheduler, not an error
    """Raised by a job's `run` when part of its work failed for a reason that passes (Slack answering 5xx or 429, or
    not reachable) and is still due: the scheduler runs the job again on a later tick, not before `not_before` and
    with its own backoff, until the job's next regular slot takes over. The job must have left that part unclaimed
    (or pending), so the next run does it, once; `detail` is what the run did, as `run` would have returned it."""

    def __init__(self, detail: str, *, not_before: datetime | None = None):
        super().__init__(detail)
        self.detail = detail
        self.not_before = not_before


def send(what: str, post: Callable[[], object]) -> str:
    """Make one claimed Slack post of a job and say what became of it: SENT; LATER when Slack failed for a reason
    that passes (5xx, 429, unreachable) — the caller gives its claim back and raises RetryLater, so the post is
    tried again rather than counted done; REFUSED when Slack refused it for good (archived, not in channel) — the
    claim stays, so it is not tried again and again. Both failures are logged here."""
    try:
        post()
        return SENT
    except (SlackError, IntegrationUnavailable) as exc:
        code = exc.code if isinstance(exc, SlackError) else "unreachable"
        if is_transient(exc):
            logger.warning("%s: Slack failed (%s); it will be tried again", what, code)
            return LATER
        logger.warning("%s: Slack refused it (%s); not trying again", what, code)
        return REFUSED


def claim_step(deps: Deps, column: InstrumentedAttribute, *, row_id: int, value: object,
               since: object | None = None) -> bool:
    """Claim a due step of a job on its row (a budget's report of the day, a risk's reminder, a drill's notice), once
    for all schedulers: True for the one run that may act (see `claim_once`)."""
    with session_scope(deps.engine) as session:
        return claim_once(session, column, row_id=row_id, value=value, since=since)


def give_back(deps: Deps, column: InstrumentedAttribute, *, row_id: int, claimed: object, previous: object) -> None:
    """Undo `claim_step` when Slack failed for a reason that passes, so a later run finds the step still to do."""
    with session_scope(deps.engine) as session:
        release_claim(session, column, row_id=row_id, claimed=claimed, previous=previous)


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
