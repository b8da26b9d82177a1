"""Follow-up actions of an incident (`/incident action …`): added during or after it, each with an owner and an
optional due date, listed across incidents, closed (by whom, when) and reopened, mirrored to Jira when it is set up.

The reminders are the `action_reminders` job's; what they say and the Done button are here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot import blocks
from bot.deps import Deps
from bot.domain import incident_actions as rules
from bot.domain.pii import redact
from bot.domain.risk import FieldError
from bot.domain.text import escape_user_text, readable, truncate
from bot.errors import NotAllowed, NotFound, UserInputError
from bot.mirror import outbox
from bot.team_locale import team_today
from storage.db import session_scope
from storage.incidents import (
    action_by_id,
    add_event,
    create_action,
    get_action,
    incident_by_id,
    open_actions,
    set_action_done,
)
from storage.models import Incident, IncidentAction

logger = logging.getLogger(__name__)

ACTION_DONE = "incident.action_done"  # a Done button: incident.action_done.<action id>, value = the action id
LIST_LIMIT = 20  # lines with a Done button; Slack allows 50 blocks a message


def add(deps: Deps, incident: Incident, *, user_id: str, text: str, delivery_key: str) -> IncidentAction:
    """Add a follow-up action to an incident (open or resolved); one per Slack delivery."""
    today = team_today(deps, incident.team_id)
    try:
        parsed = rules.parse_action(text, today=today)
    except FieldError as exc:
        raise UserInputError(str(exc)) from None
    owner = _owner(deps, parsed.owner) if parsed.owner else user_id
    title = truncate(redact(parsed.text).text, 300)
    owner_name = deps.names(owner) or owner  # the timeline is shown as text: the name, not a mention
    with session_scope(deps.engine) as session:
        action, created = create_action(session, team_id=incident.team_id, delivery_key=delivery_key,
                                        incident_id=incident.id, title=title, owner_id=owner, due_on=parsed.due,
                                        created_by=user_id, created_at=deps.clock())
        if created:
            add_event(session, incident=incident, at=deps.clock(), kind="action", user_id=user_id,
                      text=f"follow-up {action.readable_id}: {title} (owner @{owner_name}, "
                           f"{rules.due_words(parsed.due, today)})")
            if not incident.drill:  # a drill's actions are practice: they stay out of Jira
                outbox.record(session, deps, action, "create")
                outbox.record(session, deps, action, "relate")
    return action


def _owner(deps: Deps, mention: str) -> str:
    if not mention.startswith("@"):
        return mention
    found = deps.slack.find_user(mention[1:])
    if found is None:
        raise UserInputError(f"I do not know {escape_user_text(truncate(mention, 40))} here; mention them "
                             "(`@maria` from the list Slack offers) or leave the owner out to own it yourself.")
    return found


def find(deps: Deps, team_id: str, readable_id: str) -> IncidentAction:
    """The action named, or a clear NotFound."""
    if not rules.ACTION_ID.fullmatch(readable_id):
        raise UserInputError(f"`{escape_user_text(truncate(readable_id, 20))}` is not an action id; they look like "
                             "A-12 (`/incident actions` lists them).")
    with session_scope(deps.engine) as session:
        action = get_action(session, team_id=team_id, readable_id=readable_id)
    if action is None:
        raise NotFound(f"There is no action {readable_id.upper()} here. `/incident actions` lists the open ones.")
    return action


def get_by_id(deps: Deps, team_id: str, action_id: int) -> IncidentAction:
    with session_scope(deps.engine) as session:
        action = action_by_id(session, team_id=team_id, action_id=action_id)
    if action is None:
        raise NotFound("That action no longer exists.")
    return action


@dataclass(frozen=True)
class Changed:
    text: str  # what happened, in words
    changed: bool  # False when it was so already


def close(deps: Deps, action: IncidentAction, *, user_id: str) -> Changed:
    """Mark it done (who, when)."""
    return _set_done(deps, action, user_id=user_id, done=True)


def reopen(deps: Deps, action: IncidentAction, *, user_id: str) -> Changed:
    """Open it again."""
    return _set_done(deps, action, user_id=user_id, done=False)


def _set_done(deps: Deps, action: IncidentAction, *, user_id: str, done: bool) -> Changed:
    now = deps.clock()
    with session_scope(deps.engine) as session:
        incident = incident_by_id(session, team_id=action.team_id, incident_id=action.incident_id)
        assert incident is not None
    _require_may_change(deps, action, incident, user_id)
    with session_scope(deps.engine) as session:
        if not set_action_done(session, action_id=action.id, user_id=user_id if done else None,
                               at=now if done else None):
            return Changed(f"{action.readable_id} is {'done' if done else 'open'} already.", False)
        row = action_by_id(session, team_id=action.team_id, action_id=action.id)
        assert row is not None
        session.refresh(row)
        verb = "done" if done else "reopened"
        add_event(session, incident=incident, at=now, kind="action", user_id=user_id,
                  text=f"follow-up {action.readable_id} {verb}: {action.title}")
        if not incident.drill:
            outbox.record(session, deps, row, "close" if done else "reopen",
                          text=f"{'Done' if done else 'Reopened'} in Slack.", who=deps.names(user_id) or None)
    if done:
        return Changed(f"✅ {action.readable_id} is done ({escape_user_text(truncate(action.title, 120))}), "
                       f"closed by <@{user_id}>.", True)
    return Changed(f"↩️ {action.readable_id} is open again ({escape_user_text(truncate(action.title, 120))}).", True)


def _require_may_change(deps: Deps, action: IncidentAction, incident: Incident, user_id: str) -> None:
    """The owner, who added it, the incident's commander or scribe, or a workspace admin."""
    if user_id in (action.owner_id, action.created_by, incident.commander_id, incident.scribe_id):
        return
    if deps.slack.is_workspace_admin(user_id):
        return
    raise NotAllowed(f"{action.readable_id} is <@{action.owner_id}>'s; only they, who added it, or "
                     f"{incident.readable_id}'s commander or scribe can close or reopen it.")


# --- how actions look ------------------------------------------------------------------------------


def line(action: IncidentAction, incident_id: str, today: date, *, drill: bool = False) -> str:
    """`*A-3* (INC-7) add a PII filter — <@U…> · 2 days overdue`; a drill's action says `(INC-7, drill)`."""
    if drill:
        incident_id += ", drill"
    state = f"done by <@{action.done_by}>" if action.done_at else rules.due_words(action.due_on, today)
    mark = "✅" if action.done_at else ("🔴" if action.due_on and action.due_on < today else "☐")
    return (f"{mark} *{action.readable_id}* ({incident_id}) {escape_user_text(truncate(action.title, 150))} — "
            f"<@{action.owner_id}> · {state}")


def done_button(action: IncidentAction) -> dict[str, Any]:
    return blocks.button("Done", f"{ACTION_DONE}.{action.id}", str(action.id))


def listing(deps: Deps, *, team_id: str, user_id: str, mine: bool) -> tuple[str, list[dict[str, Any]]]:
    """`/incident actions [mine]`: open actions across incidents, the most overdue first, each with Done."""
    today = team_today(deps, team_id)
    with session_scope(deps.engine) as session:
        found = open_actions(session, team_id=team_id, owner_id=user_id if mine else None)
    if not found:
        text = "You have no open follow-up actions. 🎉" if mine else "No open follow-up actions. 🎉"
        return text, blocks.sections(text)
    title = f"*Your open follow-up actions* ({len(found)})" if mine else f"*Open follow-up actions* ({len(found)})"
    lines = [line(action, incident.readable_id, today, drill=incident.drill) for action, incident in found]
    parts: list[dict[str, Any]] = blocks.sections(title)
    for (action, _), text in zip(found[:LIST_LIMIT], lines[:LIST_LIMIT], strict=True):
        parts.append({"type": "section", "text": blocks.mrkdwn(text), "accessory": done_button(action)})
    if len(found) > LIST_LIMIT:
        parts.append(blocks.context(f"…and {len(found) - LIST_LIMIT} more; close some to see the rest."))
    return title + "\n" + "\n".join(lines), parts


def reminder(action: IncidentAction, incident: Incident, today: date) -> tuple[str, list[dict[str, Any]]]:
    """The DM to the owner: due tomorrow, due today, or overdue; with a Done button."""
    when = rules.due_words(action.due_on, today)
    of = f"drill {incident.readable_id} (practice)" if incident.drill else incident.readable_id
    text = (f"{'🧪 ' if incident.drill else ''}⏰ Follow-up *{action.readable_id}* of {of} is {when}: "
            f"{escape_user_text(truncate(action.title, 200))}. Press Done when it is, or "
            f"`/incident action done {action.readable_id}`.")
    return text, [{"type": "section", "text": blocks.mrkdwn(text), "accessory": done_button(action)}]


def status_lines(deps: Deps, incident: Incident, *, shown: int = 5) -> list[str]:
    """For `/incident status`: how many follow-ups are open and done, and the open ones (the earliest due first)."""
    from storage.incidents import actions_of

    with session_scope(deps.engine) as session:
        found = actions_of(session, incident_ids=[incident.id])
    if not found:
        return []
    today = team_today(deps, incident.team_id)
    still_open = sorted((a for a in found if a.done_at is None), key=lambda a: (a.due_on is None, a.due_on, a.id))
    lines = [f"*Follow-ups*: {len(still_open)} open, {len(found) - len(still_open)} done"]
    lines += [line(a, incident.readable_id, today, drill=incident.drill) for a in still_open[:shown]]
    if len(still_open) > shown:
        lines.append(f"…and {len(still_open) - shown} more: `/incident actions`")
    return lines


def for_postmortem(deps: Deps, incident: Incident) -> list[str]:
    """The post-mortem's follow-up lines (Markdown, names spelt out)."""
    from storage.incidents import actions_of

    with session_scope(deps.engine) as session:
        found = actions_of(session, incident_ids=[incident.id])

    def who(user_id: str | None) -> str:
        return "@" + (deps.names(user_id) or user_id) if user_id else "—"

    rows = []
    for action in found:
        due = f", due {action.due_on.isoformat()}" if action.due_on else ""
        state = f" — done by {who(action.done_by)}, {action.done_at:%Y-%m-%d}" if action.done_at else ""
        title = readable(action.title, deps.names)
        rows.append(f"- [{'x' if action.done_at else ' '}] {action.readable_id} {title} "
                    f"(owner {who(action.owner_id)}{due}){state}")
    return rows
