"""Housekeeping: forget old Slack deliveries and old ledger rows so the tables stay small."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.jobs.base import ScheduleRef, cron_slots
from storage.db import session_scope
from storage.digests import purge_snapshots
from storage.repos import purge_deliveries, purge_runs

if TYPE_CHECKING:
    from bot.deps import Deps

NAME = "housekeeping"
SUMMARY = ("drop delivery records older than a day, job-run records and digest figures older than 90 days (each "
           "digest audience's latest kept)")
DEFAULT_CRON = "17 * * * *"

# Slack gives up retrying an event after about an hour; a day is a comfortable margin.
DELIVERY_RETENTION = timedelta(days=1)
RUN_RETENTION = timedelta(days=90)
# What a digest audience saw: only the latest is its next baseline; older ones are kept a while for questions.
SNAPSHOT_RETENTION = timedelta(days=90)

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    """Purge what is past retention, as seen from `now`."""
    with session_scope(deps.engine) as session:
        deliveries = purge_deliveries(session, before=now - DELIVERY_RETENTION)
        runs = purge_runs(session, before=now - RUN_RETENTION)
        snapshots = purge_snapshots(session, before=now - SNAPSHOT_RETENTION)
    return f"purged {deliveries} deliveries, {runs} job runs and {snapshots} digest snapshots"
