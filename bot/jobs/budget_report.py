"""budget_report: every hour, post the weekly budget report of each budget whose weekly slot (team-local
day and hour, `/budget report mon 9`) has come; each budget's report is claimed per day, so it goes out
once. It also checks the thresholds, so a forecast crossing is noticed even on days nobody adds a cost, and posts
the alerts that were stored while Slack could not be reached.

A report counts as posted only once Slack took it: a failure that passes gives the day's claim back and the run
asks to be tried again (RetryLater), until the report's day ends; then, or at once when Slack refuses it for good,
the claim stays (never twice) and the admin channel hears it once."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.budgets import service
from bot.gateways.slack import tell_admins
from bot.installs import still_installed
from bot.jobs.base import LATER, REFUSED, SENT, RetryLater, ScheduleRef, cron_slots, send
from bot.teams import team_zone
from storage.budgets import all_budgets, claim_report
from storage.db import session_scope
from storage.models import Budget
from storage.repos import team_settings

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

NAME = "budget_report"
SUMMARY = "each budget's weekly chart and summary at its team-local slot; threshold checks"
DEFAULT_CRON = "2 * * * *"

slots = cron_slots


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    with session_scope(deps.engine) as session:
        budgets = all_budgets(session)
    reported = alerts = late = 0
    installed = still_installed(deps, budgets)
    try:  # alerts stored while Slack was unreachable, posted once now (an uninstalled team's are left)
        late = service.post_alerts(deps, budget_ids=[b.id for b in installed])
    except Exception:
        logger.exception("budget_report could not post the waiting alerts")
    waiting = 0
    for budget in installed:  # an uninstalled team hears nothing more
        local = now.astimezone(team_zone(deps, budget.team_id))
        try:
            alerts += len(service.check_alerts(deps, budget, local.date()))
            due = local.weekday() == budget.report_weekday and local.hour >= budget.report_hour
            if due:
                with session_scope(deps.engine) as session:
                    claimed = claim_report(session, budget_id=budget.id, day=local.date())
                if claimed:
                    outcome = _post(deps, budget, local)
                    reported += outcome == SENT
                    waiting += outcome == LATER
        except Exception:
            logger.exception("budget_report failed for budget %s", budget.id)
    text = f"{reported} reports, {alerts} alerts" + (f", {late} delayed alerts posted" if late else "")
    if waiting:
        raise RetryLater(f"{text}, {waiting} waiting for Slack")
    return text


def _post(deps: Deps, budget: Budget, local: datetime) -> str:
    """Post the claimed report; give the claim back when Slack's failure passes and the day has time left, else
    keep it and tell the admins once (the claim is what makes it once)."""
    day = local.date()
    outcome = send(f"the weekly report of budget {budget.id}", lambda: service.post_report(deps, budget, day))
    if outcome == LATER and local < _day_end(local):
        _give_back(deps, budget, day)
        return LATER
    if outcome in (LATER, REFUSED):
        _tell_admins(deps, budget, day, "Slack kept failing all day" if outcome == LATER else "Slack refused it")
    return outcome


def _day_end(local: datetime) -> datetime:
    """The last moment of the report's (team-local) day, less a margin for one more try."""
    return datetime.combine(local.date() + timedelta(days=1), time.min, local.tzinfo) - timedelta(minutes=5)


def _give_back(deps: Deps, budget: Budget, day: date) -> None:
    """Undo today's report claim, back to the day it was last posted, so a later run claims and posts it."""
    with session_scope(deps.engine) as session:
        session.execute(update(Budget).where(Budget.id == budget.id, Budget.reported_on == day)
                        .values(reported_on=budget.reported_on).execution_options(synchronize_session=False))


def _tell_admins(deps: Deps, budget: Budget, day: date, why: str) -> None:
    with session_scope(deps.engine) as session:
        own = team_settings(session, team_id=budget.team_id)
    text = (f":warning: The weekly budget report of budget {budget.id} for <#{budget.post_channel_id}> was not "
            f"posted on {day:%a %d %b}: {why}. It is not tried again; `/budget status` and `/budget chart` show "
            "the same figures.")
    logger.error("budget_report: budget %s: report of %s not posted: %s", budget.id, day, why)
    tell_admins(deps.client, deps.settings, text, channel=own.admin_channel_id if own else None)
