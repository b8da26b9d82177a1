"""Back from Jira: status, priority and assignee changes made there reach the item and its Slack thread.

Each link keeps the Jira state we last saw or set. A change is applied when Jira differs from that
snapshot, and the snapshot moves with a conditional UPDATE, so the poll and the webhook (or two replicas)
never apply one change twice, and our own changes coming back are no news.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from bot.bugs import service as bugs
from bot.domain.text import escape_mrkdwn
from bot.gateways.jira_gateway import SYNC_FIELDS, JiraUnavailable
from bot.mirror import content, outbox, slack_side
from bot.mirror.outbox import MODELS
from bot.risks import service as risks
from storage import jira as repo
from storage.bugs import record_change
from storage.db import session_scope
from storage.models import JIRA_USER, Bug, Incident, JiraLink, Risk
from storage.risks import apply_changes

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

FIRST_LOOK_MINUTES = 60
OVERLAP_MINUTES = 2
MAX_LOOKBACK_MINUTES = 7 * 24 * 60


def poll(deps: Deps, *, now: datetime | None = None) -> str:
    """Read the issues Jira changed since the last poll (with some overlap) and apply what is new."""
    gateway = deps.jira
    assert gateway is not None
    now = now or deps.clock()
    with session_scope(deps.engine) as session:
        since = repo.state(session).last_sync_at
    minutes = FIRST_LOOK_MINUTES if since is None else \
        math.ceil(max(0.0, (now - since).total_seconds()) / 60) + OVERLAP_MINUTES
    minutes = min(minutes, MAX_LOOKBACK_MINUTES)
    # A relative date: JQL reads absolute ones in the Jira user's own time zone.
    jql = (f'project = "{deps.settings.jira_project}" AND labels = "pmbot" AND updated >= "-{minutes}m" '
           "ORDER BY updated ASC")
    try:
        issues = gateway.search(jql, fields=SYNC_FIELDS, limit=1000)
    except JiraUnavailable as exc:
        logger.warning("jira_sync: %s; will look again next run", exc)
        return f"Jira unavailable ({exc}); nothing read"
    with session_scope(deps.engine) as session:
        links = repo.links_by_key(session, [str(issue.get("key")) for issue in issues])
    applied = 0
    for issue in issues:
        link = links.get(str(issue.get("key")))
        if link is not None:
            try:
                applied += apply_remote(deps, link, issue)
            except Exception:
                logger.exception("jira_sync: applying %s failed", issue.get("key"))
    with session_scope(deps.engine) as session:
        state = repo.state(session)
        state.last_sync_at = now
        session.add(state)
    return f"{len(issues)} changed in Jira, {applied} change(s) applied here"


@dataclass(frozen=True)
class Seen:
    status_done: bool | None
    status_name: str | None
    priority_id: str | None
    assignee: str | None


def _seen(link: JiraLink) -> Seen:
    return Seen(link.status_done, link.status_name, link.priority_id, link.assignee)


def _remote(link: JiraLink, issue: dict[str, Any]) -> Seen:
    """What Jira says now; fields it did not send keep what we knew."""
    fields = issue.get("fields") or {}
    status = fields.get("status") or None
    done = ((status.get("statusCategory") or {}).get("key") == "done") if status else link.status_done
    priority = (fields.get("priority") or {}).get("id") if fields.get("priority") else link.priority_id
    if "assignee" in fields:
        assignee = (fields.get("assignee") or {}).get("displayName")
    else:
        assignee = link.assignee
    return Seen(done, status.get("name") if status else link.status_name, priority, assignee)


def _claim(deps: Deps, link: JiraLink, old: Seen, new: Seen) -> bool:
    """Move the snapshot from old to new; False when someone else moved it first."""

    def same(column, value):
        return column.is_(None) if value is None else column == value

    with session_scope(deps.engine) as session:
        result = session.execute(
            update(JiraLink).where(JiraLink.id == link.id, same(JiraLink.status_done, old.status_done),
                                   same(JiraLink.status_name, old.status_name),
                                   same(JiraLink.priority_id, old.priority_id), same(JiraLink.assignee, old.assignee))
            .values(status_done=new.status_done, status_name=new.status_name, priority_id=new.priority_id,
                    assignee=new.assignee))
        return result.rowcount == 1


def apply_remote(deps: Deps, link: JiraLink, issue: dict[str, Any]) -> int:
    """Apply what changed in Jira since we last looked; how many changes that was."""
    old, new = _seen(link), _remote(link, issue)
    if old == new or not _claim(deps, link, old, new):
        return 0
    with session_scope(deps.engine) as session:
        item = session.get(MODELS[link.kind], link.entity_id)
    if item is None:
        return 0
    key = link.jira_key
    notes: list[str] = []
    if old.status_done is not None and new.status_done != old.status_done:
        notes.append(_status_changed(deps, link, item, new))
    elif new.status_name != old.status_name and old.status_name is not None:
        notes.append(f"🔄 Jira: {key} is now *{escape_mrkdwn(new.status_name or '?')}*.")
    if old.priority_id is not None and new.priority_id != old.priority_id and new.priority_id:
        with session_scope(deps.engine) as session:
            item = session.get(MODELS[link.kind], link.entity_id)  # as the status change left it
        notes.append(_priority_changed(deps, link, item, issue, new.priority_id))
    if new.assignee != old.assignee:
        who = escape_mrkdwn(new.assignee) if new.assignee else "nobody"
        notes.append(f"👤 Jira: {key} is assigned to {who}.")
    notes = [n for n in notes if n]
    if notes:
        with session_scope(deps.engine) as session:
            item = session.get(MODELS[link.kind], link.entity_id)
        slack_side.say_in_thread(deps, link.kind, item, "\n".join(notes))
    return len(notes)


def _status_changed(deps: Deps, link: JiraLink, item, new: Seen) -> str:
    key, status = link.jira_key, escape_mrkdwn(new.status_name or ("Done" if new.status_done else "open"))
    if isinstance(item, Incident):
        if new.status_done and item.status != "resolved":
            return (f"🔄 Jira: {key} was moved to *{status}*. Resolve the incident here with "
                    f"`/incident resolve <summary>` when it is over.")
        return f"🔄 Jira: {key} was moved to *{status}*."
    with session_scope(deps.engine) as session:
        row = session.get(type(item), item.id)
        if isinstance(row, Bug):
            if new.status_done and row.status == "open":
                row.status, row.closed_at, row.closed_by = "closed", deps.clock(), JIRA_USER
                row.resolution = f"{new.status_name or 'Done'} in Jira ({key})"
                verb = "closed"
            elif not new.status_done and row.status == "closed":
                row.status, row.closed_at, row.closed_by, row.resolution = "open", None, None, None
                verb = "reopened"
            else:
                return f"🔄 Jira: {key} was moved to *{status}*."
            session.add(row)
        else:
            assert isinstance(row, Risk)
            if new.status_done and row.status not in ("closed", "accepted"):
                why = f"{new.status_name or 'Done'} in Jira ({key})"
                apply_changes(session, risk=row, user_id=JIRA_USER, changes={"status": "closed", "close_reason": why},
                              now=deps.clock())
                verb = "closed"
            elif not new.status_done and row.status in ("closed", "accepted"):
                apply_changes(session, risk=row, user_id=JIRA_USER,
                              changes={"status": "open", "close_reason": None, "accepted_until": None},
                              now=deps.clock())
                verb = "reopened"
            else:
                return f"🔄 Jira: {key} was moved to *{status}*."
    _redraw(deps, row)
    return f"🔄 Jira: {key} was moved to *{status}*, so {row.readable_id} is {verb}."


def _priority_changed(deps: Deps, link: JiraLink, item, issue: dict[str, Any], priority: str) -> str:
    name = escape_mrkdwn(((issue.get("fields") or {}).get("priority") or {}).get("name") or priority)
    grade = content.grade_from_priority(deps.settings, priority) if isinstance(item, Bug) else None
    if not isinstance(item, Bug) or grade is None or grade == item.grade or item.status != "open":
        return f"⚖️ Jira: {link.jira_key}'s priority is now *{name}*."
    with session_scope(deps.engine) as session:
        row = session.get(Bug, item.id)
        before = row.grade
        record_change(session, bug=row, user_id=JIRA_USER, kind="change", to_grade=grade,
                      reason=f"priority set to {name} in Jira ({link.jira_key})", now=deps.clock())
        outbox.record(session, deps, row, "fields")  # the grade label follows
    _redraw(deps, row)
    return f"⚖️ Jira: {link.jira_key}'s priority is now *{name}*, so {row.readable_id} is grade {before} → {grade}."


def _redraw(deps: Deps, item) -> None:
    try:
        (bugs.redraw if isinstance(item, Bug) else risks.redraw)(deps, item)
    except Exception:
        logger.warning("jira_sync: could not redraw %s", item.readable_id, exc_info=True)


# --- the webhook -------------------------------------------------------------------------------------


def webhook_authorised(deps: Deps, *, body: bytes, query_secret: str | None, signature: str | None) -> bool:
    """Jira's HMAC signature (X-Hub-Signature: sha256=…) or the shared secret in the URL."""
    secret = deps.settings.jira_webhook_secret
    if secret is None:
        return False
    key = secret.get_secret_value().encode()
    if signature:
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature.strip())
    return query_secret is not None and hmac.compare_digest(key, query_secret.encode())


def on_webhook(deps: Deps, payload: dict[str, Any]) -> str:
    """An issue event from Jira: apply it as the poll would (the poll remains the safety net)."""
    issue = payload.get("issue")
    if not isinstance(issue, dict) or not issue.get("key"):
        return "ignored: no issue in the event"
    with session_scope(deps.engine) as session:
        links = repo.links_by_key(session, [str(issue["key"])])
    link = links.get(str(issue["key"]))
    if link is None:
        return "ignored: not one of ours"
    return f"{apply_remote(deps, link, issue)} change(s) applied"
