"""drill_reminders: announce each scheduled drill a day and an hour before (saying when it really starts: "in 3
hours", "tomorrow at 15:00"), start it at its slot when the schedule is automatic (its participants invited, the
start announced where it was scheduled), and end a drill nobody acts in after PMBOT_DRILL_UNATTENDED_MINUTES with a
scorecard that says so (before, such a drill stayed open and its commander was reminded of updates for weeks).
Each step is claimed per slot on the schedule row, so it happens once. A notice Slack
failed for a reason that passes gives its claim back and the run asks to be tried again (RetryLater), so it counts
as done only once Slack took it; one Slack refused for good keeps its claim and is not tried again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.domain import incident as incident_rules
from bot.domain.due import is_due
from bot.incidents import drills, service
from bot.installs import still_installed
from bot.jobs.base import LATER, SENT, RetryLater, ScheduleRef, claim_step, cron_slots, give_back, send
from storage.db import session_scope
from storage.incidents import drill_schedules, unattended_drills
from storage.models import DrillSchedule

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

NAME = "drill_reminders"
SUMMARY = ("announce scheduled drills 24 h and 1 h before; start the automatic ones at their slot; end drills "
           "nobody acts in")
DEFAULT_CRON = "*/5 * * * *"
# A start slot missed by more than this (the bot was down) is not started late.
START_GRACE = timedelta(minutes=30)
# How long before its slot each notice is due.
HOUR_BEFORE, DAY_BEFORE = timedelta(hours=1), timedelta(hours=24)

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    with session_scope(deps.engine) as session:
        rows = drill_schedules(session)
    done = {"day": 0, "hour": 0, "started": 0, "waiting": 0, "ended": 0}
    for row in still_installed(deps, rows):  # an uninstalled team hears nothing more
        upcoming = drills.next_slot(row, now)
        if is_due(upcoming, now, lead=HOUR_BEFORE) and _claim_step(deps, row, DrillSchedule.warned_hour_for, upcoming):
            _announced(deps, row, DrillSchedule.warned_hour_for, upcoming, now, "hour", done)
        elif is_due(upcoming, now, lead=DAY_BEFORE) and _claim_step(deps, row, DrillSchedule.warned_day_for, upcoming):
            _announced(deps, row, DrillSchedule.warned_day_for, upcoming, now, "day", done)
        just_passed = drills.next_slot(row, now - START_GRACE)
        if (row.automatic and is_due(just_passed, now, grace=START_GRACE)
                and _claim_step(deps, row, DrillSchedule.started_for, just_passed)):
            try:
                started = drills.start_scheduled(deps, row, just_passed)
            except Exception:  # Slack failed half-way: the queued opening resumes it; this run tries again
                logger.exception("drill_reminders: drill schedule %s did not start", row.id)
                started = None
            if started is not None:
                done["started"] += 1
            else:  # give the slot back, so a later run within the grace starts (or announces) it
                give_back(deps, DrillSchedule.started_for, row_id=row.id, claimed=just_passed,
                          previous=row.started_for)
                done["waiting"] += 1
    done["ended"] = _end_unattended(deps, now)
    text = (f"{done['day']} day-before notices, {done['hour']} hour-before notices, {done['started']} drills started, "
            f"{done['ended']} unattended drills ended")
    if done["waiting"]:
        raise RetryLater(f"{text}, {done['waiting']} waiting for Slack")
    return text


def _claim_step(deps: Deps, row: DrillSchedule, column, slot: datetime) -> bool:
    """Take one step of a drill schedule (a notice, the start) for `slot`, once: the column holds the slot it was
    last done for."""
    return claim_step(deps, column, row_id=row.id, value=slot)


def _end_unattended(deps: Deps, now: datetime) -> int:
    """End the drills nobody has acted in for the set time (each claimed on its row, so once)."""
    after = timedelta(minutes=deps.settings.pmbot_drill_unattended_minutes)
    with session_scope(deps.engine) as session:
        found = unattended_drills(session, declared_before=now - after)
    ended = 0
    for incident in still_installed(deps, found):
        try:
            ended += service.end_unattended(deps, incident, now)
        except Exception:  # one drill's trouble must not stop the others
            logger.exception("drill_reminders: could not end %s", incident.readable_id)
    return ended


def _announced(deps: Deps, row: DrillSchedule, column, slot: datetime, now: datetime, key: str,
               done: dict[str, int]) -> None:
    """Announce a claimed step; when Slack's failure passes, give the claim back (to what the row held) for a
    later run, which will find the step still due."""
    outcome = _announce(deps, row, slot, now)
    if outcome == SENT:
        done[key] += 1
    elif outcome == LATER:
        give_back(deps, column, row_id=row.id, claimed=slot, previous=getattr(row, column.key))
        done["waiting"] += 1


def _announce(deps: Deps, row: DrillSchedule, slot: datetime, now: datetime) -> str:
    """The notice: when it really starts, counted from now in the schedule's zone (a slot later today is never
    "tomorrow"), and who takes part."""
    how = "I will start it by myself" if row.automatic else "start it with `/incident drill " + row.scenario + "`"
    when = incident_rules.starts_in(slot, now, row.timezone)
    who = (" Participants: " + " ".join(f"<@{p}>" for p in row.participants) + "." if row.participants
           else f" Participants: <@{row.created_by}> and the grade's responders.")
    text = (f"🧪 Incident drill {when} ({slot:%a %d %b %H:%M %Z}): scenario `{row.scenario}`. Practice only — "
            f"{how}.{who} Schedule {row.id}: {row.description}.")
    return send(f"the notice of drill schedule {row.id}", lambda: deps.slack.post_in_channel(row.channel_id, text=text))
