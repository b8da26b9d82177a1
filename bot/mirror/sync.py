"""Back from Jira: status, priority, assignee, key and deletion reach the item and its Slack thread.

Each link keeps the Jira state we last saw or set, and how new it is (the issue's `updated`, or the
webhook's `timestamp`, and the changelog id). A delivery older than that is stale and ignored: Jira does not
promise webhook order, and the poll may read an issue before a late webhook arrives. A change is applied
when Jira differs from the snapshot, and the snapshot moves with a conditional UPDATE, so the poll and the
webhook (or two replicas) never apply one change twice, and our own changes coming back are no news.
Links follow the issue id, so an issue moved to another project keeps its link under its new key.
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

from bot.domain.text import escape_mrkdwn
from bot.gateways.jira_gateway import SYNC_FIELDS, JiraUnavailable
from bot.mirror import gone, mapping, people, slack_side
from bot.mirror.remote import MirroredState, seen_by, state_of, version_of
from storage import jira as repo
from storage.db import session_scope
from storage.models import JiraLink

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.mirror.plugins import Mirrored, MirrorPlugin

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
    # A relative date: JQL reads absolute ones in the Jira user's own time zone. No project clause: an issue
    # moved to another project keeps our labels, and we find its link by id.
    jql = f'labels = "pmbot" AND updated >= "-{minutes}m" ORDER BY updated ASC'
    try:
        issues = gateway.search(jql, fields=SYNC_FIELDS, limit=1000)
    except JiraUnavailable as exc:
        logger.warning("jira_sync: %s; will look again next run", exc)
        return f"Jira unavailable ({exc}); nothing read"
    pairs = [(str(issue.get("id") or ""), str(issue.get("key") or "")) for issue in issues]
    with session_scope(deps.engine) as session:
        found = repo.links_for_issues(session, pairs)
    applied = 0
    for pair, issue in zip(pairs, issues, strict=True):
        link = found.get(pair)
        if link is not None:
            try:
                applied += apply_remote(deps, link, issue).changes
            except Exception:
                logger.exception("jira_sync: applying %s failed", issue.get("key"))
    with session_scope(deps.engine) as session:
        state = repo.state(session)
        state.last_sync_at = now
        session.add(state)
    return f"{len(issues)} changed in Jira, {applied} change(s) applied here"


@dataclass(frozen=True)
class Applied:
    changes: int = 0
    stale: bool = False


def _stale(link: JiraLink, at: datetime | None, change: int | None) -> bool:
    if at is None or link.seen_at is None:
        return False
    if at != link.seen_at:
        return at < link.seen_at
    return change is not None and link.seen_change is not None and change < link.seen_change


def _claim(deps: Deps, link: JiraLink, new: MirroredState, at: datetime | None, change: int | None, key: str) -> bool:
    """Move the snapshot (state, how new it is, key) from what `link` holds to the new one; False when someone
    else moved it first."""

    def same(column, value):
        return column.is_(None) if value is None else column == value

    values: dict[str, Any] = {"status_done": new.status_done, "status_name": new.status_name,
                              "priority_id": new.priority_id, "assignee_id": new.assignee_id,
                              "assignee": new.assignee}
    if at is not None:
        if change is None and at == link.seen_at:  # the poll has no changelog id: keep the webhook's
            change = link.seen_change
        values.update(seen_at=at, seen_change=change)
    if key != link.jira_key:
        values.update(jira_key=key, url=deps.jira.browse_url(key) if deps.jira else link.url)
    with session_scope(deps.engine) as session:
        result = session.execute(
            update(JiraLink).where(JiraLink.id == link.id, JiraLink.gone_at.is_(None),
                                   same(JiraLink.status_done, link.status_done),
                                   same(JiraLink.status_name, link.status_name),
                                   same(JiraLink.priority_id, link.priority_id),
                                   same(JiraLink.assignee_id, link.assignee_id),
                                   same(JiraLink.jira_key, link.jira_key),
                                   same(JiraLink.seen_at, link.seen_at), same(JiraLink.seen_change, link.seen_change))
            .values(**values))
        return result.rowcount == 1


CLAIM_TRIES = 3


def apply_remote(deps: Deps, link: JiraLink, issue: dict[str, Any], event: dict[str, Any] | None = None) -> Applied:
    """Apply what changed in Jira since we last looked, unless the delivery is older than that."""
    at, change = version_of(issue, event)
    key = str(issue.get("key") or link.jira_key)
    for _ in range(CLAIM_TRIES):  # the poll and a webhook (or two replicas) may race for the same link
        if _stale(link, at, change):
            logger.info("jira: ignored a stale delivery for %s (%s): updated %s, change %s; already saw %s, "
                        "change %s", link.readable_id, key, at, change, link.seen_at, link.seen_change)
            return Applied(stale=True)
        old, new = seen_by(link), state_of(issue, link)
        # What may need Jira is asked before the snapshot moves: a failure then leaves the change to a retry.
        chosen = mapping.in_use(deps) if deps.mirror.for_kind(link.kind).follows_priority and new.priority_id and \
            new.priority_id != old.priority_id else None
        if _claim(deps, link, new, at, change, key):
            break
        with session_scope(deps.engine) as session:
            link = session.get(JiraLink, link.id)
        if link is None or link.gone_at is not None:
            return Applied()
    else:
        return Applied()
    return _apply(deps, link, issue, old, new, key, chosen)


def _apply(deps: Deps, link: JiraLink, issue: dict[str, Any], old: MirroredState, new: MirroredState, key: str,
           chosen: mapping.Mapping | None) -> Applied:
    """Bring the item in line with the state just claimed, and say so in its thread."""
    if old == new and key == link.jira_key:
        return Applied()
    plugin = deps.mirror.for_kind(link.kind)
    item = _load(deps, link)
    if item is None:
        return Applied()
    notes: list[str] = []
    try:
        if key != link.jira_key:
            notes.append(_moved(deps, link, item, issue, key))
        if old.status_done is not None and new.status_done != old.status_done:
            notes.append(_status_changed(deps, plugin, item, new, key))
        elif new.status_name != old.status_name and old.status_name is not None:
            notes.append(f"🔄 Jira: {key} is now *{escape_mrkdwn(new.status_name or '?')}*.")
        if old.priority_id is not None and new.priority_id != old.priority_id and new.priority_id:
            item = _load(deps, link)  # as the status change left it
            notes.append(_priority_changed(deps, plugin, item, issue, new.priority_id, key, chosen))
        if new.assignee_id != old.assignee_id:
            item = _load(deps, link)
            notes.append(_assignee_changed(deps, plugin, item, issue, new, key))
    finally:  # what was applied is said, even when a later part failed
        notes = [n for n in notes if n]
        if notes:
            slack_side.say_in_thread(deps, _load(deps, link), "\n".join(notes))
    return Applied(len(notes))


def _load(deps: Deps, link: JiraLink) -> Any | None:
    with session_scope(deps.engine) as session:
        return deps.mirror.load(session, link.kind, link.entity_id)


def _moved(deps: Deps, link: JiraLink, item: Mirrored, issue: dict[str, Any], key: str) -> str:
    project = (issue.get("fields") or {}).get("project") or {}
    where = f" (project {escape_mrkdwn(project.get('name') or project.get('key'))})" if project else ""
    slack_side.redraw(deps, link.kind, link.entity_id)  # the card (or announcement) shows the new key
    return f"🔀 Jira: {link.jira_key} was moved to {key}{where}; {item.readable_id} follows it."


def _assignee_changed(deps: Deps, plugin: MirrorPlugin, item: Mirrored, issue: dict[str, Any], new: MirroredState,
                      key: str) -> str:
    """A person assigned in Jira becomes the assignee here when we know who they are in Slack (and the item's
    kind follows Jira's assignee)."""
    if new.assignee_id is None:
        if plugin.assignee_of(item) is not None and plugin.follow_assignee(deps, item, None):
            _redraw(deps, plugin, item)
            return f"👤 Jira: {key} is unassigned, so {item.readable_id} is too."
        return f"👤 Jira: {key} is unassigned."
    who = escape_mrkdwn(new.assignee or new.assignee_id)
    email = ((issue.get("fields") or {}).get("assignee") or {}).get("emailAddress")
    slack_user = people.slack_user_for(deps, item.team_id, new.assignee_id, email)
    if slack_user is None:
        return (f"👤 Jira: {key} is assigned to {who}, whom I cannot match to anyone in Slack (Jira does not show "
                f"their e-mail, or no one here has it), so {item.readable_id} stays as it was here.")
    if plugin.assignee_of(item) == slack_user:
        return f"👤 Jira: {key} is assigned to {who}."
    if not plugin.follow_assignee(deps, item, slack_user):
        return (f"👤 Jira: {key} is assigned to <@{slack_user}>; the {plugin.kind}'s {plugin.role} here stays as it "
                "was.")
    _redraw(deps, plugin, item)
    return f"👤 Jira: {key} is assigned to {who}, so <@{slack_user}> is {item.readable_id}'s {plugin.role} now."


def _status_changed(deps: Deps, plugin: MirrorPlugin, item: Mirrored, new: MirroredState, key: str) -> str:
    status = escape_mrkdwn(new.status_name or ("Done" if new.status_done else "open"))
    moved = f"🔄 Jira: {key} was moved to *{status}*"
    verb = plugin.follow_status(deps, item, done=bool(new.status_done),
                                why=f"{new.status_name or 'Done'} in Jira ({key})")
    if verb is not None:
        _redraw(deps, plugin, item)
        return f"{moved}, so {item.readable_id} is {verb}."
    if new.status_done and plugin.close_hint and not plugin.is_done(item):
        return f"{moved}. {plugin.close_hint}"
    return f"{moved}."


def _priority_changed(deps: Deps, plugin: MirrorPlugin, item: Mirrored, issue: dict[str, Any], priority: str,
                      key: str, chosen: mapping.Mapping | None) -> str:
    name = escape_mrkdwn(((issue.get("fields") or {}).get("priority") or {}).get("name") or priority)
    said = f"⚖️ Jira: {key}'s priority is now *{name}*"
    change = None if chosen is None else plugin.follow_priority(
        deps, item, priority_id=priority, chosen=chosen, why=f"priority set to {name} in Jira ({key})")
    if change is None:
        return f"{said}."
    _redraw(deps, plugin, item)
    return f"{said}, so {item.readable_id} is {change}."


def _redraw(deps: Deps, plugin: MirrorPlugin, item: Mirrored) -> None:
    try:
        slack_side.redraw(deps, plugin.kind, item.id)
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
    if not isinstance(issue, dict) or not (issue.get("key") or issue.get("id")):
        return "ignored: no issue in the event"
    event = str(payload.get("webhookEvent") or "")
    with session_scope(deps.engine) as session:
        link = repo.link_for_issue(session, issue_id=str(issue.get("id") or "") or None,
                                   key=str(issue.get("key") or "") or None)
    if link is None:
        return "ignored: not one of ours"
    if event == "jira:issue_deleted":
        unlinked = gone.unlink(deps, link, reason="deleted")
        return f"{link.readable_id} unlinked from {link.jira_key}" if unlinked else "ignored: unlinked already"
    if event.startswith("comment_") or event.startswith("worklog_"):
        return "ignored: comments and work logs are not mirrored to Slack"
    applied = apply_remote(deps, link, issue, payload)
    if applied.stale:
        return f"ignored: older than what {link.jira_key} last showed"
    return f"{applied.changes} change(s) applied"
