"""Attaching an existing Jira issue to an item instead of creating one (`/bug link`, `/risk link`,
`/incident link`), and letting go of an issue that was deleted in Jira."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.errors import UserInputError
from bot.mirror import outbox
from bot.mirror.content import KIND_OF, Item
from bot.mirror.outbox import MODELS
from storage import jira as repo
from storage.db import session_scope
from storage.models import JiraLink, JiraOutbox

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,9}$")


def is_jira_key(text: str) -> bool:
    return bool(JIRA_KEY.match(text.strip().upper()))


def link_existing(deps: Deps, item: Item, key: str) -> JiraLink:
    """Make `key` the item's Jira twin. A create still waiting in the outbox is dropped; the worker then reads
    the issue's state, labels it as ours and says so in Jira."""
    key = key.strip().upper()
    if not is_jira_key(key):
        raise UserInputError(f"“{key[:40]}” is not a Jira key; they look like PM-12.")
    if deps.jira is None:
        raise UserInputError("Jira is not set up for this bot (JIRA_URL, JIRA_API_TOKEN, JIRA_PROJECT), so there is "
                             "nothing to link to.")
    kind = KIND_OF[type(item)]
    with session_scope(deps.engine) as session:
        current = repo.link_for(session, team_id=item.team_id, kind=kind, entity_id=item.id)
        if current is not None:
            if current.jira_key == key:
                raise UserInputError(f"{item.readable_id} is linked to {key} already.")
            raise UserInputError(f"{item.readable_id} is mirrored to {current.jira_key} already; one item has one "
                                 "Jira twin.")
        taken = repo.link_by_key(session, team_id=item.team_id, jira_key=key)
        if taken is not None:
            raise UserInputError(f"{key} is the Jira twin of {taken.readable_id} already.")
        # A deleted issue's tombstone makes way for the new link.
        repo.clear_tombstone(session, team_id=item.team_id, kind=kind, entity_id=item.id)
        waiting = [row.id for row in repo.pending_for(session, team_id=item.team_id, kind=kind, entity_id=item.id)
                   if row.op == "create"]
        if waiting:
            session.execute(update(JiraOutbox).where(JiraOutbox.id.in_(waiting)).values(status="dropped"))
        link = JiraLink(team_id=item.team_id, kind=kind, entity_id=item.id, readable_id=item.readable_id, jira_key=key,
                        url=deps.jira.browse_url(key), origin="linked", created_at=deps.clock())
        session.add(link)
        outbox.record(session, deps, item, "adopt")
        session.flush()
        return link


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
        item = session.get(MODELS[link.kind], link.entity_id)
    logger.info("jira: %s unlinked from %s (%s); %d undelivered change(s) dropped", link.readable_id,
                link.jira_key, reason, dropped)
    if item is None:
        return True
    from bot.mirror import slack_side

    again = "`/incident link KEY` in the war room" if link.kind == "incident" else \
        f"`/{link.kind} link {link.readable_id} KEY`"
    if reason == "not_found_on_link":
        text = (f"🔗 Jira: {link.jira_key} was not found (check the key, and that pmbot's Jira account can see it), "
                f"so {link.readable_id} is not linked to it. Link it again with {again}.")
    else:
        what = "was deleted in Jira" if reason == "deleted" else \
            "is not in Jira any more (it answers 404: deleted, or moved where pmbot cannot see it)"
        then = ("Its next change here will create a new issue." if deps.settings.jira_recreate_deleted else
                f"To mirror it again, link another issue: {again}.")
        text = f"🗑️ Jira: {link.jira_key} {what}, so {link.readable_id} is no longer mirrored. {then}"
    slack_side.say_in_thread(deps, link.kind, item, text)
    slack_side.redraw(deps, link.kind, link.entity_id)
    return True
