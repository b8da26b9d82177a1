"""incident_watch: every minute, remind commanders whose incident is overdue for a status update, post the
drill injects that are due, and archive war rooms resolved long enough ago.

Each action is claimed on the incident row (the reminder on its next-due time, an inject on its
position, the archive on its flag), so a missed run catches up and a repeated run does nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.incidents import service
from bot.installs import still_installed
from bot.jobs.base import ScheduleRef, cron_slots
from storage.db import session_scope
from storage.incidents import needing_reminder, ready_to_archive, running_drills

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

NAME = "incident_watch"
SUMMARY = "remind commanders of overdue status updates, post drill injects, archive old war rooms"
DEFAULT_CRON = "* * * * *"

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    with session_scope(deps.engine) as session:
        overdue = needing_reminder(session, now=now)
        drills = running_drills(session)
        old = ready_to_archive(session, now=now)
    # An uninstalled team hears nothing more (and its rooms stay as they are until it comes back).
    overdue, drills, old = (still_installed(deps, rows) for rows in (overdue, drills, old))
    reminded = sum(1 for incident in overdue if _safely(service.remind, deps, incident, now))
    injects = sum(_safely(service.post_due_injects, deps, incident, now) or 0 for incident in drills)
    archived = sum(1 for incident in old if _safely(service.archive, deps, incident))
    return f"{reminded} reminded, {injects} injects, {archived} archived"


def _safely(action, deps: Deps, incident, *args):
    """One incident's failure (Slack down, a channel gone) must not stop the others."""
    try:
        return action(deps, incident, *args)
    except Exception:
        logger.exception("incident_watch: %s failed for %s", action.__name__, incident.readable_id)
        return None
