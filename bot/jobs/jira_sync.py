"""jira_sync: every 2 minutes, read what changed in Jira (status, assignee, priority) and apply it here."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.jobs.base import ScheduleRef, cron_slots
from bot.mirror import sync

if TYPE_CHECKING:
    from bot.deps import Deps

NAME = "jira_sync"
SUMMARY = "bring status, assignee and priority changes made in Jira back to Slack"
DEFAULT_CRON = "*/2 * * * *"

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    if deps.jira is None:
        return "Jira is not configured"
    return sync.poll(deps, now=now)
