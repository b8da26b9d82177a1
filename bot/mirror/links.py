"""Attaching an existing Jira issue to an item instead of creating one (`/bug link`, `/risk link`,
`/incident link`). Letting go of an issue deleted in Jira is `bot.mirror.gone`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.errors import UserInputError
from bot.mirror import outbox
from storage import jira as repo
from storage.db import session_scope
from storage.models import JiraLink, JiraOutbox

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.mirror.plugins import Mirrored

JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,9}$")


def is_jira_key(text: str) -> bool:
    return bool(JIRA_KEY.match(text.strip().upper()))


def link_existing(deps: Deps, item: Mirrored, key: str) -> JiraLink:
    """Make `key` the item's Jira twin. A create still waiting in the outbox is dropped; the worker then reads
    the issue's state, labels it as ours and says so in Jira."""
    key = key.strip().upper()
    if not is_jira_key(key):
        raise UserInputError(f"“{key[:40]}” is not a Jira key; they look like PM-12.")
    if deps.jira is None:
        raise UserInputError("Jira is not set up for this bot (JIRA_URL, JIRA_API_TOKEN, JIRA_PROJECT), so there is "
                             "nothing to link to.")
    kind = deps.mirror.of(item).kind
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
