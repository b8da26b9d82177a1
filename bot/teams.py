"""A team's own clock: its time zone from `/pmbot settings`, or PMBOT_TIMEZONE."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.deps import Deps
from storage.db import session_scope
from storage.repos import team_settings


def team_zone(deps: Deps, team_id: str) -> ZoneInfo:
    with session_scope(deps.engine) as session:
        row = team_settings(session, team_id=team_id)
    return ZoneInfo(row.timezone if row else deps.settings.pmbot_timezone)


def team_today(deps: Deps, team_id: str, now: datetime | None = None) -> date:
    """The date it is for the team."""
    return (now or deps.clock()).astimezone(team_zone(deps, team_id)).date()


def team_number_format(deps: Deps, team_id: str) -> str:
    """How the team writes amounts: "en" (1,234.56, the default) or "de" (1.234,56), from `/pmbot settings`."""
    with session_scope(deps.engine) as session:
        row = team_settings(session, team_id=team_id)
    return (row.number_format if row and row.number_format else "en")
