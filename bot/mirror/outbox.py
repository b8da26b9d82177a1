"""The Jira outbox: what services record (in their own transaction), and the worker that delivers it.

Rows of one item go out in order. Jira down, 5xx or 429 pauses every delivery (Retry-After when Jira
gives one, else exponential backoff); Jira saying no backs off that row alone. After JIRA_MAX_ATTEMPTS a
row is dead: the admin channel hears about it once and `pmbot jira retry` puts it back; it blocks nothing
behind it. A create first looks for our label, so a create whose response was lost is found, not repeated.
A 404 for a linked issue means it was deleted: the item is unlinked and what was waiting for it dropped.

Calls name issues by id, which stays when an issue is moved to another project. Status follows the item's
current state (not the row's verb), so a row replayed late cannot undo a newer one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlmodel import Session

from bot.domain import jira_text as wiki
from bot.domain.text import NameLookup, escape_mrkdwn, readable, truncate
from bot.errors import SlackError
from bot.gateways.jira_gateway import STATE_FIELDS, JiraNotFound, JiraRejected, JiraUnavailable
from bot.mirror import content, gone, mapping, people, remote, slack_side
from bot.mirror.mapping import MappingMissing
from bot.mirror.plugins import kind_of
from bot.settings import jira_transition_names
from storage import jira as repo
from storage.db import session_scope
from storage.models import JiraLink, JiraOutbox

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.mirror.plugins import Mirrored

logger = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_CAP = timedelta(seconds=30), timedelta(minutes=15)
REJECTED_START, REJECTED_CAP = timedelta(minutes=1), timedelta(hours=1)
NOT_READY_DELAY = timedelta(seconds=20)
DONE, WAIT, DROPPED = "done", "wait", "dropped"


def record(session: Session, deps: Deps, item: Mirrored, op: str, **payload) -> None:
    """Note a change to mirror, inside the caller's transaction. Nothing when Jira is off, nor for what its kind
    never mirrors (drills)."""
    if deps.jira is None:
        return
    plugin = deps.mirror.of(item)
    if plugin.excluded(item):
        return
    if item.id is None:
        session.flush()
    repo.enqueue(session, team_id=item.team_id, kind=plugin.kind, entity_id=item.id,
                 readable_id=item.readable_id, op=op, payload=payload, now=deps.clock())


def jira_of(session: Session, item: Mirrored) -> JiraLink | None:
    """The Jira twin of an item, if it has one yet."""
    return repo.link_for(session, team_id=item.team_id, kind=kind_of(item), entity_id=item.id)


def link_of(deps: Deps, item: Mirrored) -> JiraLink | None:
    """The same, for code with no session open: no query at all when Jira is off."""
    if deps.jira is None:
        return None
    with session_scope(deps.engine) as session:
        return jira_of(session, item)


@dataclass
class Run:
    delivered: int = 0
    failed: int = 0
    waiting: int = 0
    dropped: int = 0
    paused_until: datetime | None = None

    def __str__(self) -> str:
        words = f"{self.delivered} delivered, {self.failed} failed, {self.waiting} waiting"
        words += f", {self.dropped} dropped (issue gone)" if self.dropped else ""
        return words + (f"; Jira paused until {self.paused_until:%H:%M:%S} UTC" if self.paused_until else "")


def deliver(deps: Deps, *, now: datetime | None = None) -> Run:
    """One pass over the outbox: everything due, in order, until Jira says wait."""
    run = Run()
    if deps.jira is None:
        return run
    now = now or deps.clock()
    with session_scope(deps.engine) as session:
        state = repo.state(session)
        if state.paused_until is not None and state.paused_until > now:
            run.paused_until = state.paused_until
            return run
        rows = repo.due(session, now=now)
    for row in rows:
        with session_scope(deps.engine) as session:
            if not repo.claim(session, row, now=now):
                continue
        if not _attempt(deps, row, run, now):
            break
    if run.delivered and run.paused_until is None:
        with session_scope(deps.engine) as session:
            state = repo.state(session)
            state.failures, state.paused_until = 0, None
            session.add(state)
    alert_dead(deps)
    return run


def _attempt(deps: Deps, row: JiraOutbox, run: Run, now: datetime) -> bool:
    """Deliver one claimed row and book the outcome in `run`; False when Jira says to wait (stop the pass)."""
    try:
        outcome = _deliver_one(deps, row)
    except JiraNotFound as exc:
        if _gone(deps, row, str(exc)):
            run.dropped += 1
            return True
        run.failed += 1
        _failed(deps, row, str(exc), now, REJECTED_START, REJECTED_CAP)
        return True
    except JiraUnavailable as exc:
        run.failed += 1
        run.paused_until = _pause(deps, row, exc, now)
        return False
    except (JiraRejected, MappingMissing) as exc:
        run.failed += 1
        if isinstance(exc, MappingMissing) and deps.jira is not None:
            deps.jira.forget_meta()  # someone may be adding the missing type: look again soon
        _failed(deps, row, str(exc), now, REJECTED_START, REJECTED_CAP)
        return True
    except Exception as exc:  # a bug of ours must not stop the other rows
        logger.exception("jira outbox: delivering %s %s failed", row.readable_id, row.op)
        run.failed += 1
        _failed(deps, row, f"internal error ({type(exc).__name__})", now, REJECTED_START, REJECTED_CAP)
        return True
    if outcome == DONE:
        run.delivered += 1
        _finish(deps, row)
    elif outcome == DROPPED:
        run.dropped += 1
    else:
        run.waiting += 1
        _postpone(deps, row, now + NOT_READY_DELAY)
    return True


def _deliver_one(deps: Deps, row: JiraOutbox) -> str:
    """Deliver one row: DONE, WAIT (an item not ready yet, e.g. a bug still being graded) or DROPPED (its issue
    was deleted)."""
    plugin = deps.mirror.for_kind(row.kind)
    with session_scope(deps.engine) as session:
        item = session.get(plugin.model, row.entity_id)
        any_link = repo.any_link_for(session, team_id=row.team_id, kind=row.kind, entity_id=row.entity_id)
    if item is None:
        return DONE  # deleted since: nothing left to mirror
    link = any_link if any_link is not None and any_link.gone_at is None else None
    if row.op == "adopt":
        if link is None:  # unlinked again before the adoption went out
            return _drop(deps, row, "the link was removed before it was delivered")
        _adopt(deps, row, item, link)
        return DONE
    if link is None:
        if any_link is not None and not deps.settings.jira_recreate_deleted:
            return _drop(deps, row, f"{any_link.jira_key} was deleted in Jira; link another issue to mirror "
                                    f"{row.readable_id} again")
        if not plugin.ready(item):
            return WAIT
        # A create, or a change to an item whose create was never mirrored (Jira was off back then, or its issue
        # was deleted and JIRA_RECREATE_DELETED is on): create it now from its current state, which has the change.
        _create(deps, row, item)
        return DONE
    return _to_twin(deps, row, item, link) or DONE


def _to_twin(deps: Deps, row: JiraOutbox, item: Mirrored, link: JiraLink) -> str | None:
    """A change to an item that has its Jira twin: fields, a comment, its status, its assignee, or an op of the
    kind's own (`MirrorPlugin.deliver_op`): DONE or WAIT, None meaning done."""
    gateway = deps.jira
    assert gateway is not None
    plugin = deps.mirror.for_kind(row.kind)
    target = link.jira_id or link.jira_key
    if row.op == "fields":
        chosen = mapping.in_use(deps)
        fields = content.kept_fields(chosen, plugin, item, permalink=_permalink(deps, item), names=deps.names)
        if link.origin == "linked":  # someone else's issue: keep its summary and description
            fields = {k: v for k, v in fields.items() if k == "priority"}
        gateway.edit(target, fields, update=content.label_update(plugin, item, deps.mirror.derived_labels()))
        if "priority" in fields and fields["priority"]["id"] != link.priority_id:
            _settle(deps, link, priority_id=fields["priority"]["id"])
    elif row.op == "comment":
        gateway.comment(target, _comment(row.payload, deps.names))
    elif row.op in ("close", "reopen"):
        # The item's state now, not the row's verb: a close replayed after a reopen must not close the issue.
        done = plugin.is_done(item)
        if link.status_done is not done:
            setting = deps.settings.jira_transition_close if done else deps.settings.jira_transition_reopen
            status = gateway.transition(target, jira_transition_names(setting), shown=link.jira_key)
            _settle(deps, link, status_done=done, status_name=status or link.status_name)
        if row.payload.get("text"):
            gateway.comment(target, _comment(row.payload, deps.names))
    elif row.op == "assign":
        _assign(deps, link, item, target)
    else:
        return plugin.deliver_op(deps, row.op, item, target)
    return None


def _assign(deps: Deps, link: JiraLink, item: Mirrored, target: str) -> None:
    """Give the issue the Jira account of the item's assignee here (by e-mail), or say in the thread why not."""
    gateway = deps.jira
    assert gateway is not None
    slack_user = deps.mirror.of(item).assignee_of(item)
    if slack_user is None:
        if link.assignee_id is not None:
            gateway.assign(target, None)
            _settle(deps, link, assignee_id=None, assignee=None)
        return
    found = people.jira_account_for(deps, item.team_id, slack_user)
    if found.account is None:
        if found.no_email:
            _say(deps, item, f"👤 Slack did not give me <@{slack_user}>'s e-mail, so I cannot find them in Jira and "
                             f"{link.jira_key} keeps its assignee. pmbot needs the users:read.email scope: "
                             "reinstall the app from `pmbot manifest`.")
        elif not found.cached:  # said once a day per person, not on every item
            _say(deps, item, f"👤 I could not find <@{slack_user}> in Jira by their Slack e-mail, so {link.jira_key} "
                             "keeps its assignee. Assign it in Jira, or give them a Jira account with the same "
                             "e-mail.")
        return
    account, name = found.account, found.name
    if account == link.assignee_id:
        return
    try:
        gateway.assign(target, account)
    except JiraNotFound:
        gateway.issue(target, fields=["status"])  # raises JiraNotFound itself when the issue is what is gone
        _say(deps, item, f"👤 Jira no longer knows <@{slack_user}>'s account, so {link.jira_key} keeps its assignee.")
        return
    except JiraRejected as exc:  # e.g. the person may not be assigned issues in that project
        _say(deps, item, f"👤 Jira would not assign {link.jira_key} to <@{slack_user}>: {truncate(str(exc), 300)}")
        return
    _settle(deps, link, assignee_id=account, assignee=name)


def _say(deps: Deps, item: Mirrored, text: str) -> None:
    slack_side.say_in_thread(deps, item, text)


def _settle(deps: Deps, link: JiraLink, **values) -> None:
    """Record what we just set in Jira as the state the link has seen, and how new that is: read back the
    issue's state, and take its `updated` only when Jira shows what we set (had someone changed it meanwhile,
    their change stays news for the poll and the webhook)."""
    gateway = deps.jira
    assert gateway is not None
    try:
        issue = gateway.issue(link.jira_id or link.jira_key, fields=STATE_FIELDS)
    except (JiraUnavailable, JiraRejected):
        _snapshot(deps, link, **values)  # what we set is known; how new it is, the next read will tell
        return
    seen = remote.state_of(issue)
    agrees = all(getattr(seen, name, value) == value for name, value in values.items() if name != "status_name")
    stamp = remote.version_of(issue, None) if agrees else (None, None)
    extra = {"seen_at": stamp[0], "seen_change": stamp[1]} if stamp[0] is not None else {}
    _snapshot(deps, link, **values, **extra)


def _drop(deps: Deps, row: JiraOutbox, why: str) -> str:
    with session_scope(deps.engine) as session:
        session.execute(update(JiraOutbox).where(JiraOutbox.id == row.id)
                        .values(status="dropped", last_error=truncate(why, 1000), done_at=deps.clock()))
    logger.info("jira: %s %s dropped: %s", row.readable_id, row.op, why)
    return DROPPED


def _gone(deps: Deps, row: JiraOutbox, why: str) -> bool:
    """Jira answered 404 for the item's issue: unlink it (once), and drop this row and those behind it. False
    (a failure, retried, then an admin alert) when it cannot be the issue: the item has no live link, or our
    account cannot see the issue's project any more, where every issue answers 404."""
    with session_scope(deps.engine) as session:
        link = repo.link_for(session, team_id=row.team_id, kind=row.kind, entity_id=row.entity_id)
    if link is None or deps.jira is None or not deps.jira.can_see_project(link.jira_key.rsplit("-", 1)[0]):
        return False
    _drop(deps, row, f"Jira answered 404: {why}")
    gone.unlink(deps, link, reason="not_found_on_link" if row.op == "adopt" else "not_found")
    return True


def _comment(payload: dict, names: NameLookup | None = None) -> str:
    who = payload.get("who")
    text = wiki.escape(readable(str(payload.get("text") or ""), names))
    return f"{text} _(from Slack{', by ' + wiki.escape(who) if who else ''})_"


def _create(deps: Deps, row: JiraOutbox, item: Mirrored) -> None:
    gateway = deps.jira
    assert gateway is not None
    plugin = deps.mirror.for_kind(row.kind)
    chosen = mapping.in_use(deps)
    label = content.our_label(item.team_id, item.readable_id)
    found = gateway.find_by_label(label)
    if found is not None:
        issue_id, key = str(found["id"]), str(found["key"])
        status = (found.get("fields") or {}).get("status") or {}
        done = ((status.get("statusCategory") or {}).get("key") == "done") if status else False
        priority = chosen.priority_id(plugin.priority_key(item))
    else:
        fields = content.create_fields(chosen, plugin, item, permalink=_permalink(deps, item), names=deps.names)
        issue_id, key = gateway.create(fields)
        done, priority = False, (fields.get("priority") or {}).get("id")
    with session_scope(deps.engine) as session:
        if repo.clear_tombstone(session, team_id=row.team_id, kind=row.kind, entity_id=row.entity_id) is None:
            session.add(JiraLink(team_id=row.team_id, kind=row.kind, entity_id=row.entity_id,
                                 readable_id=row.readable_id, jira_key=key, jira_id=issue_id,
                                 url=gateway.browse_url(key), origin="created", status_done=done,
                                 priority_id=priority, created_at=deps.clock()))
            if plugin.assignee_of(item) is not None:  # its own row: a failure there must not undo the create
                record(session, deps, item, "assign")
    logger.info("jira: %s mirrored as %s%s", row.readable_id, key, " (found by its label)" if found else "")
    _show_key(deps, row.kind, item.id)


def _adopt(deps: Deps, row: JiraOutbox, item: Mirrored, link: JiraLink | None) -> None:
    """An existing Jira issue linked by hand: read its state, mark it with our label, say so in Jira."""
    gateway = deps.jira
    assert gateway is not None and link is not None
    issue = gateway.issue(link.jira_key, fields=[*STATE_FIELDS, "labels"])
    fields = issue.get("fields") or {}
    ours = ["pmbot", f"pmbot-{row.kind}", content.our_label(item.team_id, item.readable_id)]
    target = str(issue.get("id") or "") or link.jira_key
    if not set(ours) <= set(fields.get("labels") or []):
        gateway.edit(target, {}, update={"labels": [{"add": label} for label in ours]})
    issue_id = str(issue.get("id") or "") or None
    with session_scope(deps.engine) as session:
        twin = repo.link_for_issue(session, issue_id=issue_id, key=None)
    if twin is not None and twin.id != link.id:  # linked by an old key of a moved issue that is a twin already
        with session_scope(deps.engine) as session:
            session.execute(delete(JiraLink).where(JiraLink.id == link.id))
        _say(deps, item, f"🔗 {link.jira_key} is {issue.get('key')} now, the Jira twin of {twin.readable_id} already, "
                         f"so {item.readable_id} is not linked to it.")
        _show_key(deps, row.kind, item.id)
        return
    seen = remote.state_of(issue)
    stamp = remote.version_of(issue, None)
    _snapshot(deps, link, jira_id=str(issue.get("id") or "") or None, jira_key=str(issue.get("key") or link.jira_key),
              status_done=seen.status_done, status_name=seen.status_name, priority_id=seen.priority_id,
              assignee_id=seen.assignee_id, assignee=seen.assignee, seen_at=stamp[0], seen_change=stamp[1])
    permalink = _permalink(deps, item)
    where = f" {wiki.link('Open it in Slack', permalink)}" if permalink else ""
    gateway.comment(target, f"Linked to {item.readable_id} in Slack by pmbot.{where}")


def _snapshot(deps: Deps, link: JiraLink, **values) -> None:
    with session_scope(deps.engine) as session:
        session.execute(update(JiraLink).where(JiraLink.id == link.id).values(**values))


def _permalink(deps: Deps, item: Mirrored) -> str | None:
    channel, ts = deps.mirror.of(item).message_of(item)
    if not channel or not ts:
        return None
    try:
        return deps.slack.permalink(channel, ts)
    except SlackError:
        return None


def _show_key(deps: Deps, kind: str, entity_id: int) -> None:
    """Put the new Jira key on the item's Slack message (and wherever else its kind shows it)."""
    try:
        slack_side.show_key(deps, kind, entity_id)
    except Exception:  # the issue exists; a message we could not update must not make us create it again
        logger.warning("jira: could not show the key of %s %s in Slack", kind, entity_id, exc_info=True)


# --- bookkeeping ------------------------------------------------------------------------------------


def _finish(deps: Deps, row: JiraOutbox) -> None:
    with session_scope(deps.engine) as session:
        session.execute(update(JiraOutbox).where(JiraOutbox.id == row.id, JiraOutbox.status == "pending")
                        .values(status="done", done_at=deps.clock(), last_error=None))


def _postpone(deps: Deps, row: JiraOutbox, when: datetime) -> None:
    with session_scope(deps.engine) as session:
        session.execute(update(JiraOutbox).where(JiraOutbox.id == row.id, JiraOutbox.status == "pending")
                        .values(next_attempt_at=when))


def _failed(deps: Deps, row: JiraOutbox, why: str, now: datetime, start: timedelta, cap: timedelta,
            *, wait: timedelta | None = None, counts: bool = True) -> None:
    attempts = row.attempts + (1 if counts else 0)
    delay = wait if wait is not None else min(cap, start * (2 ** max(0, attempts - 1)))
    dead = attempts >= deps.settings.jira_max_attempts
    with session_scope(deps.engine) as session:
        # Only while pending: a row dropped meanwhile (its issue was deleted) stays dropped.
        session.execute(update(JiraOutbox).where(JiraOutbox.id == row.id, JiraOutbox.status == "pending")
                        .values(attempts=attempts, last_error=truncate(why, 1000), next_attempt_at=now + delay,
                                status="dead" if dead else "pending"))
    logger.warning("jira: %s %s failed (attempt %d%s): %s", row.readable_id, row.op, attempts,
                   ", giving up" if dead else "", why)


def _pause(deps: Deps, row: JiraOutbox, exc: JiraUnavailable, now: datetime) -> datetime:
    """Jira is down or asked us to wait: hold every delivery, and count the attempt against this row."""
    with session_scope(deps.engine) as session:
        state = repo.state(session)
        state.failures += 1
        if exc.retry_after is not None:
            delay = timedelta(seconds=max(1.0, min(exc.retry_after, 3600)))
        else:
            delay = min(BACKOFF_CAP, BACKOFF_START * (2 ** (state.failures - 1)))
        state.paused_until, state.last_error = now + delay, str(exc)
        session.add(state)
    # A 429 is about our pace, not this row: it does not count towards giving up.
    rate_limited = exc.status == 429
    _failed(deps, row, str(exc), now, BACKOFF_START, BACKOFF_CAP, wait=delay, counts=not rate_limited)
    return now + delay


def alert_dead(deps: Deps) -> int:
    """Tell the admin channel, once per row, about deliveries given up on."""
    with session_scope(deps.engine) as session:
        dead = repo.unalerted_dead(session)
    if not dead:
        return 0
    channel = deps.slack.admin_channel(deps.settings)
    if channel is None:
        logger.error("jira: %d deliveries gave up and no admin channel is set (PMBOT_ADMIN_CHANNEL)", len(dead))
    else:
        lines = [f"• {row.readable_id} {row.op}: {escape_mrkdwn(truncate(row.last_error or 'unknown error', 300))}"
                 for row in dead[:20]]
        more = f"\n…and {len(dead) - 20} more." if len(dead) > 20 else ""
        text = (f"⚠️ {len(dead)} Jira update(s) could not be delivered after "
                f"{deps.settings.jira_max_attempts} attempts:\n" + "\n".join(lines) + more +
                "\nFix the cause, then run `pmbot jira retry` (or `/pmbot jira status` to see what is stuck).")
        try:
            deps.slack.post_in_channel(channel, text=text)
        except SlackError as exc:
            logger.error("jira: could not alert the admin channel: %s", exc.code)
            return 0
    with session_scope(deps.engine) as session:
        session.execute(update(JiraOutbox).where(JiraOutbox.id.in_([row.id for row in dead]))
                        .values(alerted=True))
    return len(dead)
