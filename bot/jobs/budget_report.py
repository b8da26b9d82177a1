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

from bot.budgets import service
from bot.domain.due import Slot, due_slot
from bot.installs import still_installed
from bot.jobs.base import LATER, REFUSED, SENT, RetryLater, ScheduleRef, claim_step, cron_slots, give_back, send
from bot.team_locale import team_zone
from storage.budgets import all_budgets
from storage.db import session_scope
from storage.models import Budget
from storage.repos import team_settings

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

NAME = "budget_report"
SUMMARY = "each budget's weekly chart and summary at its team-local slot; threshold checks"
DEFAULT_CRON = "2 * * * *"
# A report Slack failed for a reason that passes is tried again while its day lasts, but not in its last minutes:
# a try then could not be given back and tried once more.
LAST_TRY_MARGIN = timedelta(minutes=5)

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
        zone = team_zone(deps, budget.team_id)
        try:
            alerts += len(service.check_alerts(deps, budget, now.astimezone(zone).date()))
            # Due from the report's hour on its weekday until that (team-local) day ends; claimed once per day.
            slot = due_slot(now, at=time(budget.report_hour), zone=zone, weekdays=(budget.report_weekday,))
            if slot is not None and _claim_report(deps, budget, slot.day):
                outcome = _post(deps, budget, slot, now)
                reported += outcome == SENT
                waiting += outcome == LATER
        except Exception:
            logger.exception("budget_report failed for budget %s", budget.id)
    text = f"{reported} reports, {alerts} alerts" + (f", {late} delayed alerts posted" if late else "")
    if waiting:
        raise RetryLater(f"{text}, {waiting} waiting for Slack")
    return text


def _claim_report(deps: Deps, budget: Budget, day: date) -> bool:
    """Take the budget's report of `day` (its `reported_on` moves to that day): one run posts it."""
    return claim_step(deps, Budget.reported_on, row_id=budget.id, value=day, since=day)


def _post(deps: Deps, budget: Budget, slot: Slot, now: datetime) -> str:
    """Post the claimed report; give the claim back when Slack's failure passes and the day has time left, else
    keep it and tell the admins once (the claim is what makes it once)."""
    outcome = send(f"the weekly report of budget {budget.id}", lambda: service.post_report(deps, budget, slot.day))
    if outcome == LATER and now < slot.end - LAST_TRY_MARGIN:
        # Back to the day it was last posted, so a later run claims and posts it.
        give_back(deps, Budget.reported_on, row_id=budget.id, claimed=slot.day, previous=budget.reported_on)
        return LATER
    if outcome in (LATER, REFUSED):
        _tell_admins(deps, budget, slot.day, "Slack kept failing all day" if outcome == LATER else "Slack refused it")
    return outcome


def _tell_admins(deps: Deps, budget: Budget, day: date, why: str) -> None:
    with session_scope(deps.engine) as session:
        own = team_settings(session, team_id=budget.team_id)
    text = (f":warning: The weekly budget report of budget {budget.id} for <#{budget.post_channel_id}> was not "
            f"posted on {day:%a %d %b}: {why}. It is not tried again; `/budget status` and `/budget chart` show "
            "the same figures.")
    logger.error("budget_report: budget %s: report of %s not posted: %s", budget.id, day, why)
    deps.slack.tell_admins(deps.settings, text, channel=own.admin_channel_id if own else None)
