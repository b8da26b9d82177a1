"""Repository verbs for Jira mirroring: the outbox, the links between our items and Jira issues, and the
deployment-wide delivery state."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from storage.models import JiraLink, JiraOutbox, JiraPerson, JiraState

STATE_NAME = "jira"
# How long a worker holds a row it has claimed; a worker that died mid-delivery frees it after this.
LEASE = timedelta(minutes=5)


def enqueue(session: Session, *, team_id: str, kind: str, entity_id: int, readable_id: str, op: str,
            now: datetime, payload: dict | None = None) -> JiraOutbox:
    """Add a change to mirror; call inside the transaction that makes the change."""
    row = JiraOutbox(team_id=team_id, kind=kind, entity_id=entity_id, readable_id=readable_id, op=op,
                     payload=payload or {}, next_attempt_at=now, created_at=now)
    session.add(row)
    return row


def due(session: Session, *, now: datetime, limit: int = 200) -> list[JiraOutbox]:
    """Pending rows whose time has come, oldest first (`claim` then checks each is next for its item)."""
    stmt = (select(JiraOutbox).where(JiraOutbox.status == "pending", JiraOutbox.next_attempt_at <= now)
            .order_by(JiraOutbox.id).limit(limit))
    return list(session.execute(stmt).scalars())


def claim(session: Session, row: JiraOutbox, *, now: datetime) -> bool:
    """Take a row for delivery: only when no earlier row of its item is still pending (rows of one item go
    out in order, nothing overtakes a create still waiting), and with a conditional UPDATE, so two workers
    never deliver the same row. A row given up on (dead) blocks nothing: what comes after it still goes."""
    earlier = aliased(JiraOutbox)
    ahead = session.execute(select(exists().where(and_(
        earlier.team_id == row.team_id, earlier.kind == row.kind, earlier.entity_id == row.entity_id,
        earlier.id < row.id, earlier.status == "pending")))).scalar_one()
    if ahead:
        return False
    result = session.execute(update(JiraOutbox)
                             .where(JiraOutbox.id == row.id, JiraOutbox.status == "pending",
                                    JiraOutbox.next_attempt_at == row.next_attempt_at)
                             .values(next_attempt_at=now + LEASE))
    return result.rowcount == 1


def pending_for(session: Session, *, team_id: str, kind: str, entity_id: int) -> list[JiraOutbox]:
    stmt = (select(JiraOutbox).where(JiraOutbox.team_id == team_id, JiraOutbox.kind == kind,
                                     JiraOutbox.entity_id == entity_id, JiraOutbox.status.in_(("pending", "dead")))
            .order_by(JiraOutbox.id))
    return list(session.execute(stmt).scalars())


def drop_pending(session: Session, *, team_id: str, kind: str, entity_id: int, why: str) -> int:
    """Drop an item's undelivered rows (pending or given up on): they were meant for an issue that is gone."""
    result = session.execute(update(JiraOutbox).where(
        JiraOutbox.team_id == team_id, JiraOutbox.kind == kind, JiraOutbox.entity_id == entity_id,
        JiraOutbox.status.in_(("pending", "dead"))).values(status="dropped", last_error=why))
    return result.rowcount


def any_link_for(session: Session, *, team_id: str, kind: str, entity_id: int) -> JiraLink | None:
    """The item's link row, live or a tombstone of a deleted issue."""
    stmt = select(JiraLink).where(JiraLink.team_id == team_id, JiraLink.kind == kind, JiraLink.entity_id == entity_id)
    return session.execute(stmt).scalar_one_or_none()


def clear_tombstone(session: Session, *, team_id: str, kind: str, entity_id: int) -> JiraLink | None:
    """Make way for a new link: remove the tombstone of a deleted issue, if that is what the item has. The
    item's live link, if it has one."""
    link = any_link_for(session, team_id=team_id, kind=kind, entity_id=entity_id)
    if link is not None and link.gone_at is not None:
        session.delete(link)
        session.flush()
        return None
    return link


def link_for(session: Session, *, team_id: str, kind: str, entity_id: int) -> JiraLink | None:
    """The item's live Jira twin, if any."""
    link = any_link_for(session, team_id=team_id, kind=kind, entity_id=entity_id)
    return link if link is not None and link.gone_at is None else None


def link_for_issue(session: Session, *, issue_id: str | None, key: str | None) -> JiraLink | None:
    """The live link of a Jira issue: by its id, which stays when the issue is moved, else by its key."""
    live = JiraLink.gone_at.is_(None)
    if issue_id:
        found = session.execute(select(JiraLink).where(JiraLink.jira_id == issue_id, live)).scalars().first()
        if found is not None:
            return found
    if key:
        return session.execute(select(JiraLink).where(JiraLink.jira_key == key, live)).scalars().first()
    return None


def links_for_issues(session: Session, issues: list[tuple[str, str]]) -> dict[tuple[str, str], JiraLink]:
    """Live links of many (id, key) pairs at once, each found by id first, then by key."""
    if not issues:
        return {}
    ids = [i for i, _ in issues if i]
    keys = [k for _, k in issues if k]
    live = JiraLink.gone_at.is_(None)
    found = list(session.execute(select(JiraLink).where(live, JiraLink.jira_id.in_(ids) | JiraLink.jira_key.in_(keys)))
                 .scalars())
    by_id = {link.jira_id: link for link in found if link.jira_id}
    by_key = {link.jira_key: link for link in found}
    return {(i, k): link for i, k in issues if (link := by_id.get(i) or by_key.get(k)) is not None}


def link_by_key(session: Session, *, team_id: str, jira_key: str) -> JiraLink | None:
    stmt = select(JiraLink).where(JiraLink.team_id == team_id, JiraLink.jira_key == jira_key,
                                  JiraLink.gone_at.is_(None))
    return session.execute(stmt).scalars().first()


def person(session: Session, *, team_id: str, slack_user_id: str) -> JiraPerson | None:
    return session.get(JiraPerson, (team_id, slack_user_id))


def person_by_account(session: Session, *, team_id: str, account: str) -> JiraPerson | None:
    stmt = select(JiraPerson).where(JiraPerson.team_id == team_id, JiraPerson.jira_account == account)
    return session.execute(stmt.order_by(JiraPerson.checked_at.desc())).scalars().first()


def remember_person(session: Session, *, team_id: str, slack_user_id: str, account: str | None,
                    display_name: str | None, now: datetime) -> None:
    row = session.get(JiraPerson, (team_id, slack_user_id)) or JiraPerson(team_id=team_id, slack_user_id=slack_user_id,
                                                                        checked_at=now)
    row.jira_account, row.display_name, row.checked_at = account, display_name, now
    session.add(row)


def state(session: Session) -> JiraState:
    """The one state row (made on first use)."""
    row = session.get(JiraState, STATE_NAME)
    if row is None:
        row = JiraState(name=STATE_NAME)
        session.add(row)
        session.flush()
    return row


def stuck(session: Session, *, team_id: str | None = None, limit: int = 50) -> list[JiraOutbox]:
    """Rows given up on, and rows that have failed at least once and wait to be tried again."""
    conditions = [(JiraOutbox.status == "dead") | ((JiraOutbox.status == "pending") & (JiraOutbox.attempts > 0))]
    if team_id is not None:
        conditions.append(JiraOutbox.team_id == team_id)
    stmt = select(JiraOutbox).where(*conditions).order_by(JiraOutbox.id).limit(limit)
    return list(session.execute(stmt).scalars())


def counts(session: Session, *, team_id: str | None = None) -> dict[str, int]:
    """How many rows are in each state."""
    stmt = select(JiraOutbox.status, func.count()).group_by(JiraOutbox.status)
    if team_id is not None:
        stmt = stmt.where(JiraOutbox.team_id == team_id)
    return {str(status): int(count) for status, count in session.execute(stmt).all()}


def revive(session: Session, *, now: datetime, ids: list[int] | None = None) -> int:
    """Put dead rows (all, or the given ones) back in the queue, due now, with a fresh count of attempts."""
    conditions = [JiraOutbox.status == "dead"]
    if ids:
        conditions.append(JiraOutbox.id.in_(ids))
    result = session.execute(update(JiraOutbox).where(*conditions)
                             .values(status="pending", attempts=0, alerted=False, next_attempt_at=now))
    return result.rowcount


def unalerted_dead(session: Session) -> list[JiraOutbox]:
    stmt = select(JiraOutbox).where(JiraOutbox.status == "dead", JiraOutbox.alerted.is_(False)).order_by(JiraOutbox.id)
    return list(session.execute(stmt).scalars())
