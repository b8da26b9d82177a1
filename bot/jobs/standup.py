"""standup: every few minutes, do what is due for every stand-up at `now` — post the day's thread (or say
why there is none on a public holiday), ask each member by DM at their own local time (DM mode), remind who has not
answered, post the summary.

Each stand-up day is claimed by a unique (stand-up, day) row, so two scheduler instances or a repeated run
post once; a slot missed by less than PMBOT_MISFIRE_GRACE_SECONDS still posts, once. A post Slack failed for a
reason that passes stays due: the run asks the scheduler to try again (RetryLater) rather than counting it done.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.jobs.base import RetryLater, ScheduleRef, cron_slots
from bot.standups import dm, service

if TYPE_CHECKING:
    from bot.deps import Deps

NAME = "standup"
SUMMARY = "post each stand-up at its local time, remind, summarise"
DEFAULT_CRON = "*/5 * * * *"

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    done = dm.run_due(deps, now, service.run_due(deps, now))  # thread-mode stand-ups, then DM-mode ones
    if done.retry_at is not None:
        raise RetryLater(done.text(), not_before=done.retry_at)
    return done.text()
