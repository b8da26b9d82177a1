"""jira_outbox: every minute, deliver what the outbox holds to Jira (in order per item, with backoff)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.jobs.base import ScheduleRef, cron_slots
from bot.mirror import outbox

if TYPE_CHECKING:
    from bot.deps import Deps

NAME = "jira_outbox"
SUMMARY = "mirror new and changed bugs, risks and incidents to Jira"
DEFAULT_CRON = "* * * * *"

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    if deps.jira is None:
        return "Jira is not configured"
    return str(outbox.deliver(deps, now=now))
