"""Repository verbs for Jira mirroring: the outbox, the links between our items and Jira issues, and the
deployment-wide delivery state."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from storage.models import JiraLink, JiraOutbox, JiraState

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
    """Take a row for delivery: only when no earlier row of its item is undelivered (rows of one item go
    out in order, nothing overtakes a create still waiting), and with a conditional UPDATE, so two workers
    never deliver the same row."""
    earlier = aliased(JiraOutbox)
    ahead = session.execute(select(exists().where(and_(
        earlier.team_id == row.team_id, earlier.kind == row.kind, earlier.entity_id == row.entity_id,
        earlier.id < row.id, earlier.status.in_(("pending", "dead")))))).scalar_one()
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


def link_for(session: Session, *, team_id: str, kind: str, entity_id: int) -> JiraLink | None:
    stmt = select(JiraLink).where(JiraLink.team_id == team_id, JiraLink.kind == kind, JiraLink.entity_id == entity_id)
    return session.execute(stmt).scalar_one_or_none()


def links_by_key(session: Session, keys: list[str]) -> dict[str, JiraLink]:
    if not keys:
        return {}
    stmt = select(JiraLink).where(JiraLink.jira_key.in_(keys))
    return {link.jira_key: link for link in session.execute(stmt).scalars()}


def link_by_key(session: Session, *, team_id: str, jira_key: str) -> JiraLink | None:
    stmt = select(JiraLink).where(JiraLink.team_id == team_id, JiraLink.jira_key == jira_key)
    return session.execute(stmt).scalars().first()


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
