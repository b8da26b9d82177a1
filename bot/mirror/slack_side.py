"""Showing an item's Jira twin in Slack: the key on its card, a bookmark in an incident's war room."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.bugs import service as bugs
from bot.errors import SlackError
from bot.gateways.slack import call
from bot.incidents import service as incidents
from bot.installs import gone_teams
from bot.risks import service as risks
from storage import jira as repo
from storage.db import session_scope
from storage.models import Bug, Incident, Risk

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)


def redraw(deps: Deps, kind: str, entity_id: int) -> Bug | Risk | Incident | None:
    """Re-render the item's message, e.g. with its Jira key, a new one, or none."""
    with session_scope(deps.engine) as session:
        item = session.get({"bug": Bug, "risk": Risk, "incident": Incident}[kind], entity_id)
    if item is None:
        return None
    if isinstance(item, Bug):
        bugs.redraw(deps, item)
    elif isinstance(item, Risk):
        risks.redraw(deps, item)
    else:
        incidents.refresh(deps, item)
    return item


def show_key(deps: Deps, kind: str, entity_id: int) -> None:
    """Re-render the item's message now that it has a Jira key (and bookmark it in a war room)."""
    item = redraw(deps, kind, entity_id)
    if item is None:
        return
    with session_scope(deps.engine) as session:
        link = repo.link_for(session, team_id=item.team_id, kind=kind, entity_id=entity_id)
    if link is None:
        return
    if isinstance(item, Incident):
        if item.channel_id and not item.archived:
            try:
                call(deps.client, "bookmarks_add", channel_id=item.channel_id, title=f"Jira {link.jira_key}",
                     type="link", link=link.url)
            except SlackError as exc:  # the announcement carries the key as well
                logger.warning("could not bookmark %s in %s's war room: %s", link.jira_key, item.readable_id, exc.code)


def say_in_thread(deps: Deps, kind: str, item: Bug | Risk | Incident, text: str) -> None:
    """A short note where people follow the item: the card's thread, or the war room."""
    if isinstance(item, Incident):
        channel, thread = (item.channel_id, None) if item.channel_id and not item.archived else \
            (item.announcement_channel, item.announcement_ts)
    else:
        channel, thread = item.message_channel, item.message_ts
    if not channel or item.team_id in gone_teams(deps):  # an uninstalled team hears nothing more
        return
    kwargs = {"thread_ts": thread} if thread else {}
    try:
        call(deps.client, "chat_postMessage", channel=channel, text=text, **kwargs)
    except SlackError as exc:
        logger.warning("could not tell %s's thread about a Jira change: %s", item.readable_id, exc.code)
