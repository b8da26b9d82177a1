"""Whether pmbot may still act in a team: `app_uninstalled` and `tokens_revoked` mark it gone (its data is
kept), scheduled jobs skip gone teams, and any later command, click or event from the team clears the mark.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TypeVar

from slack_bolt import App

from bot.deps import Deps
from bot.edge import GOODBYE_EVENTS, Event, on_event
from storage.db import session_scope
from storage.repos import mark_uninstalled, uninstalled_teams

logger = logging.getLogger(__name__)

# Slack sends these to every app without a scope; subscribing makes them reach our listeners.
EVENTS = GOODBYE_EVENTS


def register(app: App, deps: Deps) -> None:
    """Wire the two goodbye events."""
    on_event(app, deps, "app_uninstalled", on_uninstalled)
    on_event(app, deps, "tokens_revoked", on_tokens_revoked)


def on_uninstalled(event: Event, deps: Deps) -> None:
    """The app was removed from the team: stop posting there, keep everything it stored."""
    _mark(deps, event.team_id, "app_uninstalled")


def on_tokens_revoked(event: Event, deps: Deps) -> None:
    """Only a revoked *bot* token stops pmbot; users revoking their own OAuth tokens change nothing here."""
    if (event.data.get("tokens") or {}).get("bot"):
        _mark(deps, event.team_id, "tokens_revoked")


def _mark(deps: Deps, team_id: str, reason: str) -> None:
    if not team_id:
        logger.warning("%s without a team: nothing to mark", reason)
        return
    with session_scope(deps.engine) as session:
        mark_uninstalled(session, team_id=team_id, reason=reason, now=deps.clock())
    logger.warning("team %s: %s; scheduled posts for it stop until it uses pmbot again (its data is kept)",
                   team_id, reason)


def gone_teams(deps: Deps) -> set[str]:
    """Teams pmbot must not post to on its own."""
    with session_scope(deps.engine) as session:
        return uninstalled_teams(session)


Row = TypeVar("Row")


def still_installed(deps: Deps, rows: Iterable[Row]) -> list[Row]:
    """The rows (anything with a `team_id`) of teams that still have pmbot installed."""
    gone = gone_teams(deps)
    return [row for row in rows if getattr(row, "team_id", None) not in gone]
