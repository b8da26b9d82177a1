"""Housekeeping: forget old Slack deliveries and old ledger rows so the tables stay small."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.jobs.base import ScheduleRef, cron_slots
from storage.db import session_scope
from storage.repos import purge_deliveries, purge_runs

if TYPE_CHECKING:
    from bot.deps import Deps

NAME = "housekeeping"
SUMMARY = "drop delivery records older than a day and job-run records older than 90 days"
DEFAULT_CRON = "17 * * * *"

# Slack gives up retrying an event after about an hour; a day is a comfortable margin.
DELIVERY_RETENTION = timedelta(days=1)
RUN_RETENTION = timedelta(days=90)

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    """Purge what is past retention, as seen from `now`."""
    with session_scope(deps.engine) as session:
        deliveries = purge_deliveries(session, before=now - DELIVERY_RETENTION)
        runs = purge_runs(session, before=now - RUN_RETENTION)
    return f"purged {deliveries} deliveries and {runs} job runs"
