"""A team's locale, from `/pmbot settings`: its clock (time zone, or PMBOT_TIMEZONE), so "today" is the team's day,
and how it writes amounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.deps import Deps
from storage.db import session_scope
from storage.repos import team_settings


@dataclass(frozen=True)
class TeamPrefs:
    zone: ZoneInfo
    number_format: str  # "en" (1,234.56, the default) or "de" (1.234,56)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()


def team_prefs(deps: Deps, team_id: str) -> TeamPrefs:
    """The team's settings, read once."""
    with session_scope(deps.engine) as session:
        row = team_settings(session, team_id=team_id)
    return TeamPrefs(ZoneInfo(row.timezone if row else deps.settings.pmbot_timezone),
                     row.number_format if row and row.number_format else "en")


def team_zone(deps: Deps, team_id: str) -> ZoneInfo:
    return team_prefs(deps, team_id).zone


def team_today(deps: Deps, team_id: str, now: datetime | None = None) -> date:
    """The date it is for the team."""
    return team_prefs(deps, team_id).today(now or deps.clock())


def team_number_format(deps: Deps, team_id: str) -> str:
    """How the team writes amounts, from `/pmbot settings`."""
    return team_prefs(deps, team_id).number_format
