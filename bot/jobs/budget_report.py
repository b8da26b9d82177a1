"""budget_report: every hour, post the weekly budget report of each budget whose weekly slot (team-local
day and hour, `/budget report mon 9`) has come; each budget's report is claimed per day, so it goes out
once. It also checks the thresholds, so a forecast crossing is noticed even on days nobody adds a cost, and posts
the alerts that were stored while Slack could not be reached."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.budgets import service
from bot.installs import still_installed
from bot.jobs.base import ScheduleRef, cron_slots
from bot.teams import team_zone
from storage.budgets import all_budgets, claim_report
from storage.db import session_scope

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
    for budget in installed:  # an uninstalled team hears nothing more
        local = now.astimezone(team_zone(deps, budget.team_id))
        try:
            alerts += len(service.check_alerts(deps, budget, local.date()))
            due = local.weekday() == budget.report_weekday and local.hour >= budget.report_hour
            if due:
                with session_scope(deps.engine) as session:
                    claimed = claim_report(session, budget_id=budget.id, day=local.date())
                if claimed:
                    service.post_report(deps, budget, local.date())
                    reported += 1
        except Exception:
            logger.exception("budget_report failed for budget %s", budget.id)
    return f"{reported} reports, {alerts} alerts" + (f", {late} delayed alerts posted" if late else "")
