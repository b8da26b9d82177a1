"""How follow-up actions are mirrored to Jira: a Task per action (drills' actions stay out), linked to its
incident's issue with "Relates", closed there when it is done here. Registered in the composition root."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.deps import Deps
from bot.domain import jira_text as wiki
from bot.mirror.outbox import DONE, WAIT
from bot.mirror.plugins import MirrorPlugin
from storage import jira as jira_repo
from storage.db import session_scope
from storage.incidents import add_event, incident_by_id, set_action_done, waiting_for_jira
from storage.models import JIRA_USER, IncidentAction

logger = logging.getLogger(__name__)

RELATES = "Relates"  # Jira's stock issue link type ("relates to" both ways)
RELATE = "relate"  # the outbox op that links the action's issue to its incident's


class ActionMirror(MirrorPlugin):
    """A follow-up action's twin: a Task assigned to its owner, related to the incident's issue."""

    kind = "incident_action"
    model = IncidentAction
    issue_types = ("Task",)
    role = "owner"
    close_hint = "Close the action here with `/incident action done A-…` when it is done."

    def is_done(self, item: IncidentAction) -> bool:
        return item.done_at is not None

    def describe(self, item: IncidentAction, plain: Callable[[str], str]) -> str:
        rows = [("Owner", plain(f"<@{item.owner_id}>")), ("Due", item.due_on.isoformat() if item.due_on else None),
                ("Added by", plain(f"<@{item.created_by}>")), ("Status", "done" if item.done_at else "open")]
        return wiki.bullets([f"{name}: {value}" for name, value in rows if value])

    def message_of(self, item: IncidentAction) -> tuple[str | None, str | None]:
        return None, None  # an action has no message of its own; its issue links to the incident's

    def assignee_of(self, item: IncidentAction) -> str | None:
        return item.owner_id

    def redraw(self, deps: Deps, item: IncidentAction) -> None:
        return None  # lists and reminders are drawn when asked for; nothing to update

    def relink_hint(self, readable_id: str) -> str:
        return "a new action (`/incident action …`)"

    def follow_status(self, deps: Deps, item: IncidentAction, *, done: bool, why: str) -> str | None:
        """Done in Jira closes the action here (by "jira"), back from Done reopens it; the incident's timeline says
        so."""
        now = deps.clock()
        with session_scope(deps.engine) as session:
            if not set_action_done(session, action_id=item.id, user_id=JIRA_USER if done else None,
                                   at=now if done else None):
                return None
            incident = incident_by_id(session, team_id=item.team_id, incident_id=item.incident_id)
            if incident is not None:
                add_event(session, incident=incident, at=now, kind="action",
                          text=f"follow-up {item.readable_id} {'done' if done else 'reopened'}: {why}")
        return "closed" if done else "reopened"

    def deliver_op(self, deps: Deps, op: str, item: IncidentAction, target: str) -> str | None:
        """`relate`: link the action's issue to its incident's, once that one exists (wait while it is on its way;
        an incident that has none and will not get one leaves the action unlinked)."""
        if op != RELATE:
            return None
        gateway = deps.jira
        assert gateway is not None
        with session_scope(deps.engine) as session:
            incident = incident_by_id(session, team_id=item.team_id, incident_id=item.incident_id)
            twin = jira_repo.link_for(session, team_id=item.team_id, kind="incident", entity_id=item.incident_id)
            pending = waiting_for_jira(session, team_id=item.team_id, kind="incident", entity_id=item.incident_id)
        if incident is None or incident.drill:
            return DONE
        if twin is None:
            if pending:
                return WAIT
            logger.info("jira: %s not linked: %s has no Jira issue", item.readable_id, incident.readable_id)
            return DONE
        gateway.link_issues(RELATES, inward=target, outward=twin.jira_id or twin.jira_key)
        return DONE
