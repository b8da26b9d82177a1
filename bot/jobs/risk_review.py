"""risk_review: each team's morning, owners are asked about risks due for review, the channel hears of
long-overdue ones, acceptances that ran out are reopened, and unfinished intakes are nudged.

It runs every hour and acts for the teams whose local time is past the review hour; what it did each
day is claimed on the risk row with a conditional UPDATE, so running twice (or on two replicas, or
with `pmbot jobs run risk_review --now …`) never sends a second reminder the same day. A reminder, notice or
nudge Slack failed for a reason that passes gives its claim back and the run asks to be tried again
(RetryLater): it counts as sent only once Slack took it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.domain.due import due_slot
from bot.domain.text import escape_user_text, truncate
from bot.installs import gone_teams
from bot.jobs.base import LATER, SENT, RetryLater, ScheduleRef, claim_step, cron_slots, give_back, send
from bot.risks import blocks as risk_blocks
from bot.risks import service
from bot.team_locale import team_zone
from storage.db import session_scope
from storage.models import Risk
from storage.risks import categories, due_for_review, expired_acceptances, stale_intakes, team_ids_with_risks

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

NAME = "risk_review"
SUMMARY = "each team's morning: review reminders to owners, overdue risks to the channel, expired acceptances"
DEFAULT_CRON = "5 * * * *"
INTAKE_NUDGE_AFTER = timedelta(days=1)

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    done = {"reminded": 0, "escalated": 0, "reopened": 0, "nudged": 0, "waiting for Slack": 0}
    review_at = time(deps.settings.pmbot_risk_review_hour)
    for team_id in _teams(deps):
        # Due from the review hour until the team's day ends; each step is claimed once per day on its risk.
        slot = due_slot(now, at=review_at, zone=team_zone(deps, team_id))
        if slot is None:
            continue  # not this team's morning yet; a later run today will do it
        _review_team(deps, team_id, slot.day, now, done)
    text = ", ".join(f"{count} {what}" for what, count in done.items() if count or what != "waiting for Slack")
    if done["waiting for Slack"]:
        raise RetryLater(text)
    return text


def _teams(deps: Deps) -> list[str]:
    with session_scope(deps.engine) as session:
        teams = team_ids_with_risks(session)
    gone = gone_teams(deps)  # an uninstalled team hears nothing more
    return [team for team in teams if team not in gone]


def _review_team(deps: Deps, team_id: str, today: date, now: datetime, done: dict[str, int]) -> None:
    with session_scope(deps.engine) as session:
        expired = expired_acceptances(session, team_id=team_id, today=today)
        due = due_for_review(session, team_id=team_id, today=today)
        stale = stale_intakes(session, team_id=team_id, before=now - INTAKE_NUDGE_AFTER)
        known = categories(session, team_id=team_id)
    for risk in expired:
        _reopen(deps, risk, today, done)
    for risk in due:
        if _claim_reminder(deps, risk, today) and _remind_owner(deps, risk, known, done) == LATER:
            _give_back(deps, risk.id, Risk.reminded_on, today, risk.reminded_on, done)
        overdue = (today - risk.review_on).days if risk.review_on else 0
        if (overdue >= deps.settings.pmbot_risk_escalate_after_days and _claim_escalation(deps, risk, today)
                and _escalate(deps, risk, overdue, done) == LATER):
            _give_back(deps, risk.id, Risk.escalated_on, today, risk.escalated_on, done)
    for risk in stale:
        if _claim_nudge(deps, risk) and _nudge(deps, risk, done) == LATER:
            _give_back(deps, risk.id, Risk.intake_reminded, True, False, done)


def _claim_reminder(deps: Deps, risk: Risk, today: date) -> bool:
    """Take today's review reminder to the owner; False when this or another run sent it already."""
    return claim_step(deps, Risk.reminded_on, row_id=risk.id, value=today, since=today)


def _claim_escalation(deps: Deps, risk: Risk, today: date) -> bool:
    """Take the overdue notice: once per overdue review date; after a new review date, a new escalation may follow."""
    return claim_step(deps, Risk.escalated_on, row_id=risk.id, value=today, since=Risk.review_on)


def _claim_nudge(deps: Deps, risk: Risk) -> bool:
    """Take the one nudge about an unfinished intake."""
    return claim_step(deps, Risk.intake_reminded, row_id=risk.id, value=True)


def _give_back(deps: Deps, risk_id: int, column, claimed, previous, done: dict[str, int]) -> None:
    """Undo a claim whose post Slack failed for a reason that passes, so a later run (or the retry) sends it."""
    give_back(deps, column, row_id=risk_id, claimed=claimed, previous=previous)
    done["waiting for Slack"] += 1


def _reopen(deps: Deps, risk: Risk, today: date, done: dict[str, int]) -> None:
    until = risk.accepted_until
    reopened = service.update(deps, team_id=risk.team_id, readable_id=risk.readable_id, user_id="",
                              changes={"status": "open"},
                              note=f"⏳ The acceptance of {risk.readable_id} ended on {until}; it is open again.")
    done["reopened"] += 1
    person = reopened.owner_id or reopened.created_by
    text = (f"The acceptance of *{reopened.readable_id}* ({escape_user_text(truncate(reopened.title, 120))}) ended on "
            f"{until}, so it is open again. Review it, accept it again (`/risk accept {reopened.readable_id} until "
            "…`) or close it.")
    _tell(deps, person, text)


def _remind_owner(deps: Deps, risk: Risk, known: dict[str, str], done: dict[str, int]) -> str:
    text, parts = risk_blocks.review_prompt(risk, known)
    outcome = _tell(deps, risk.owner_id or risk.created_by, text, parts)
    if outcome == SENT:
        done["reminded"] += 1
    return outcome


def _escalate(deps: Deps, risk: Risk, overdue: int, done: dict[str, int]) -> str:
    owner = f"<@{risk.owner_id}>" if risk.owner_id else "nobody (no owner yet)"
    text = (f"⏰ *{risk.readable_id}* {risk_blocks.rating(risk)} — {escape_user_text(truncate(risk.title, 150))} — "
            f"is {overdue} days past its review date ({risk.review_on}). Owner: {owner}. "
            f"`/risk show {risk.readable_id}`")
    outcome = send(f"the overdue notice for {risk.readable_id}",
                   lambda: deps.slack.post_in_channel(risk.channel_id, text=text))
    if outcome == SENT:
        done["escalated"] += 1
    return outcome


def _nudge(deps: Deps, risk: Risk, done: dict[str, int]) -> str:
    text = (f"*{risk.readable_id}* ({escape_user_text(truncate(risk.title, 120))}) still has questions waiting in its "
            f"thread in <#{risk.channel_id}>. A minute there makes it a complete risk.")
    outcome = _tell(deps, risk.created_by, text)
    if outcome == SENT:
        done["nudged"] += 1
    return outcome


def _tell(deps: Deps, user_id: str, text: str, parts: list[dict] | None = None) -> str:
    message = {"text": text, **({"blocks": parts} if parts else {})}
    return send(f"a DM to {user_id}", lambda: deps.slack.tell_privately(user_id, None, **message))
