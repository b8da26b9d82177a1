"""Letting go of a Jira issue that was deleted (or answers 404): the link becomes a tombstone, what waited for
the issue is dropped, and the item's thread hears about it once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.mirror import slack_side
from storage import jira as repo
from storage.db import session_scope
from storage.models import JiraLink

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)


def unlink(deps: Deps, link: JiraLink, *, reason: str) -> bool:
    """The link's issue is gone (`deleted`: Jira said so; `not_found`: Jira answered 404). Keep a tombstone,
    drop what was waiting for the issue, tell the item's thread once, and show the card without the key.
    False when another worker got there first."""
    now = deps.clock()
    with session_scope(deps.engine) as session:
        won = session.execute(update(JiraLink).where(JiraLink.id == link.id, JiraLink.gone_at.is_(None))
                              .values(gone_at=now)).rowcount == 1
        if not won:
            return False
        dropped = repo.drop_pending(session, team_id=link.team_id, kind=link.kind, entity_id=link.entity_id,
                                    why=f"{link.jira_key} is gone from Jira")
        item = deps.mirror.load(session, link.kind, link.entity_id)
    logger.info("jira: %s unlinked from %s (%s); %d undelivered change(s) dropped", link.readable_id,
                link.jira_key, reason, dropped)
    if item is None:
        return True
    slack_side.say_in_thread(deps, item, _gone_text(deps, link, reason))
    slack_side.redraw(deps, link.kind, link.entity_id)
    return True


def _gone_text(deps: Deps, link: JiraLink, reason: str) -> str:
    again = deps.mirror.for_kind(link.kind).relink_hint(link.readable_id)
    if reason == "not_found_on_link":
        return (f"🔗 Jira: {link.jira_key} was not found (check the key, and that pmbot's Jira account can see it), "
                f"so {link.readable_id} is not linked to it. Link it again with {again}.")
    what = "was deleted in Jira" if reason == "deleted" else \
        "is not in Jira any more (it answers 404: deleted, or moved where pmbot cannot see it)"
    then = ("Its next change here will create a new issue." if deps.settings.jira_recreate_deleted else
            f"To mirror it again, link another issue: {again}.")
    return f"🗑️ Jira: {link.jira_key} {what}, so {link.readable_id} is no longer mirrored. {then}"
