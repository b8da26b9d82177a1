"""action_reminders: each team's morning, owners of incident follow-up actions hear by DM the day before the due
date, and on it and every day after it (at most once a day) until the action is done.

It runs every hour and acts for the teams whose local time is past REMIND_AT. Each reminder is claimed on the action
row with a conditional UPDATE (the day-before one on the due date it is for, the others on the day), so two
schedulers or a repeated run never remind twice. A DM Slack failed for a reason that passes gives its claim back and
the run asks to be tried again (RetryLater).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.domain.due import due_slot
from bot.incidents import actions as follow_ups
from bot.installs import still_installed
from bot.jobs.base import LATER, SENT, RetryLater, ScheduleRef, claim_step, cron_slots, give_back, send
from bot.team_locale import team_zone
from storage.db import session_scope
from storage.incidents import actions_due_by, incident_by_id
from storage.models import IncidentAction

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

NAME = "action_reminders"
SUMMARY = "remind owners of incident follow-up actions the day before they are due, and daily once overdue"
DEFAULT_CRON = "20 * * * *"
REMIND_AT = time(9, 0)  # the team's local time from which the day's reminders go

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    """Send the reminders due now; what was done, in words."""
    with session_scope(deps.engine) as session:
        # Tomorrow somewhere on Earth is at most two UTC days ahead.
        candidates = actions_due_by(session, latest=now.date() + timedelta(days=2))
    done = {"before": 0, "due or overdue": 0, "waiting": 0}
    zones: dict[str, object] = {}
    for action in still_installed(deps, candidates):  # an uninstalled team hears nothing more
        zone = zones.setdefault(action.team_id, team_zone(deps, action.team_id))
        slot = due_slot(now, at=REMIND_AT, zone=zone)  # type: ignore[arg-type]
        if slot is None:
            continue  # not this team's morning yet
        _remind(deps, action, slot.day, done)
    text = f"{done['before']} day-before, {done['due or overdue']} due or overdue"
    if done["waiting"]:
        raise RetryLater(text + f", {done['waiting']} waiting for Slack")
    return text


def _remind(deps: Deps, action: IncidentAction, today: date, done: dict[str, int]) -> None:
    assert action.due_on is not None
    if action.due_on - today == timedelta(days=1):
        column, value, since, previous, step = IncidentAction.reminded_before, action.due_on, None, \
            action.reminded_before, "before"
    elif action.due_on <= today:
        column, value, since, previous, step = IncidentAction.reminded_on, today, today, action.reminded_on, \
            "due or overdue"
    else:
        return
    if not claim_step(deps, column, row_id=action.id, value=value, since=since):
        return  # this or another run sent it already
    outcome = _tell(deps, action, today)
    if outcome == SENT:
        done[step] += 1
    elif outcome == LATER:
        give_back(deps, column, row_id=action.id, claimed=value, previous=previous)
        done["waiting"] += 1


def _tell(deps: Deps, action: IncidentAction, today: date) -> str:
    with session_scope(deps.engine) as session:
        incident = incident_by_id(session, team_id=action.team_id, incident_id=action.incident_id)
    if incident is None:
        return SENT
    text, parts = follow_ups.reminder(action, incident, today)
    return send(f"the reminder of {action.readable_id}",
                lambda: deps.slack.tell_privately(action.owner_id, None, text=text, blocks=parts))
