"""drill_reminders: announce each scheduled drill a day and an hour before, and start it at its slot when
the schedule is automatic. Each step is claimed per slot on the schedule row, so it happens once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import SlackError
from bot.gateways.slack import post_in_channel
from bot.incidents import drills
from bot.installs import still_installed
from bot.jobs.base import ScheduleRef, cron_slots
from storage.db import session_scope
from storage.incidents import claim_drill_step, drill_schedules
from storage.models import DrillSchedule

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

NAME = "drill_reminders"
SUMMARY = "announce scheduled drills 24 h and 1 h before; start the automatic ones at their slot"
DEFAULT_CRON = "*/5 * * * *"
# A start slot missed by more than this (the bot was down) is not started late.
START_GRACE = timedelta(minutes=30)

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    with session_scope(deps.engine) as session:
        rows = drill_schedules(session)
    done = {"day": 0, "hour": 0, "started": 0}
    for row in still_installed(deps, rows):  # an uninstalled team hears nothing more
        upcoming = drills.next_slot(row, now)
        if upcoming - now <= timedelta(hours=1) and _claim(deps, row, DrillSchedule.warned_hour_for, upcoming):
            done["hour"] += _announce(deps, row, upcoming, "in an hour")
        elif upcoming - now <= timedelta(hours=24) and _claim(deps, row, DrillSchedule.warned_day_for, upcoming):
            done["day"] += _announce(deps, row, upcoming, "tomorrow")
        just_passed = drills.next_slot(row, now - START_GRACE)
        if row.automatic and just_passed <= now and _claim(deps, row, DrillSchedule.started_for, just_passed):
            drills.start(deps, team_id=row.team_id, channel_id=row.channel_id, user_id=row.created_by,
                         delivery_key=f"drill-schedule:{row.id}:{just_passed.isoformat()}", scenario=row.scenario)
            done["started"] += 1
    return f"{done['day']} day-before notices, {done['hour']} hour-before notices, {done['started']} drills started"


def _claim(deps: Deps, row: DrillSchedule, column, slot: datetime) -> bool:
    with session_scope(deps.engine) as session:
        return claim_drill_step(session, schedule_id=row.id, column=column, slot=slot)


def _announce(deps: Deps, row: DrillSchedule, slot: datetime, when: str) -> int:
    how = "I will start it by myself" if row.automatic else "start it with `/incident drill " + row.scenario + "`"
    text = (f"🧪 Incident drill {when} ({slot:%a %d %b %H:%M %Z}): scenario `{row.scenario}`. Practice only — "
            f"{how}. Schedule {row.id}: {row.description}.")
    try:
        post_in_channel(deps.client, row.channel_id, text=text)
        return 1
    except SlackError as exc:
        logger.warning("could not announce drill schedule %s: %s", row.id, exc.code)
        return 0
