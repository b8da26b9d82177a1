"""Scheduled jobs. Adding a job means adding its module to MODULES."""

from __future__ import annotations

from bot.jobs import housekeeping
from bot.jobs.base import JobModule

MODULES: tuple[JobModule, ...] = (housekeeping,)  # type: ignore[assignment]


def registry() -> dict[str, JobModule]:
    """Jobs by name."""
    return {module.NAME: module for module in MODULES}
