"""Scheduled jobs. Adding a job means adding its module to MODULES."""

from __future__ import annotations

from bot.jobs import (
    action_reminders,
    budget_report,
    digest,
    drill_reminders,
    housekeeping,
    incident_watch,
    jira_outbox,
    jira_sync,
    risk_review,
    standup,
)
from bot.jobs.base import JobModule

MODULES: tuple[JobModule, ...] = (housekeeping, risk_review, incident_watch, drill_reminders,
                                   budget_report, standup, jira_outbox, jira_sync,
                                   action_reminders, digest)  # type: ignore[assignment]


def registry() -> dict[str, JobModule]:
    """Jobs by name."""
    return {module.NAME: module for module in MODULES}
