"""Showing an item's Jira twin in Slack: the key on its message, a note in its thread. How each kind's message
is drawn and where its thread is, its plugin says (`bot.mirror.plugins`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.errors import SlackError
from bot.installs import gone_teams
from storage import jira as repo
from storage.db import session_scope

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.mirror.plugins import Mirrored

logger = logging.getLogger(__name__)


def redraw(deps: Deps, kind: str, entity_id: int) -> Any | None:
    """Re-render the item's message, e.g. with its Jira key, a new one, or none."""
    with session_scope(deps.engine) as session:
        item = deps.mirror.load(session, kind, entity_id)
    if item is None:
        return None
    deps.mirror.for_kind(kind).redraw(deps, item)
    return item


def show_key(deps: Deps, kind: str, entity_id: int) -> None:
    """Re-render the item's message now that it has a Jira key (and let its kind show it elsewhere too)."""
    item = redraw(deps, kind, entity_id)
    if item is None:
        return
    with session_scope(deps.engine) as session:
        link = repo.link_for(session, team_id=item.team_id, kind=kind, entity_id=entity_id)
    if link is None:
        return
    deps.mirror.for_kind(kind).key_shown(deps, item, link)


def say_in_thread(deps: Deps, item: Mirrored, text: str) -> None:
    """A short note where people follow the item: the card's thread, or the war room."""
    channel, thread = deps.mirror.of(item).thread_of(item)
    if not channel or item.team_id in gone_teams(deps):  # an uninstalled team hears nothing more
        return
    try:
        deps.slack.post_message(channel, text=text, thread_ts=thread or None)
    except SlackError as exc:
        logger.warning("could not tell %s's thread about a Jira change: %s", item.readable_id, exc.code)
