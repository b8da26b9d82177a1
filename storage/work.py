"""The work queue's rows: added with what a request stored, leased by one process at a time, finished once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from storage.models import WorkItem
from storage.repos import dialect_insert


def add_work(session: Session, *, team_id: str, kind: str, ref_id: int, now: datetime,
             payload: dict[str, Any] | None = None) -> int:
    """Queue work about a row (once: the same kind and row give the same item); its id."""
    stmt = (dialect_insert(session, WorkItem)
            .values(team_id=team_id, kind=kind, ref_id=ref_id, payload=payload or {}, attempts=0, not_before=now,
                    told=False, created_at=now)
            .on_conflict_do_nothing(index_elements=["kind", "ref_id"]))
    session.execute(stmt)
    found = session.execute(select(WorkItem.id).where(WorkItem.kind == kind, WorkItem.ref_id == ref_id)).scalar_one()
    return int(found)


def due_work(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Ids of items that may run now (not done, not put off, not leased by a live process), oldest first."""
    stmt = (select(WorkItem.id)
            .where(WorkItem.done_at.is_(None), WorkItem.not_before <= now,
                   or_(WorkItem.lease_until.is_(None), WorkItem.lease_until <= now))
            .order_by(WorkItem.not_before, WorkItem.id).limit(limit))
    return [int(i) for i in session.execute(stmt).scalars()]


def lease_work(session: Session, item_id: int, *, now: datetime, seconds: float) -> WorkItem | None:
    """Take an item for `seconds` (one UPDATE: of two processes only one wins); None when it is not free."""
    stmt = (update(WorkItem)
            .where(WorkItem.id == item_id, WorkItem.done_at.is_(None), WorkItem.not_before <= now,
                   or_(WorkItem.lease_until.is_(None), WorkItem.lease_until <= now))
            .values(lease_until=now + timedelta(seconds=seconds), attempts=WorkItem.attempts + 1))
    if session.execute(stmt).rowcount != 1:
        return None
    return session.get(WorkItem, item_id, populate_existing=True)


def finish_work(session: Session, item_id: int, *, now: datetime, error: str | None = None) -> None:
    """Done (or given up, with why): never run again. The payload (a response URL) is not kept."""
    session.execute(update(WorkItem).where(WorkItem.id == item_id)
                    .values(done_at=now, lease_until=None, payload={}, last_error=error))


def put_off(session: Session, item_id: int, *, until: datetime, error: str, told: bool) -> None:
    """Try again at `until`; the lease is given back."""
    session.execute(update(WorkItem).where(WorkItem.id == item_id)
                    .values(not_before=until, lease_until=None, last_error=error, told=told))


def waiting_work(session: Session) -> int:
    """How many items are not done yet (due or put off)."""
    return int(session.execute(select(func.count()).select_from(WorkItem)
                               .where(WorkItem.done_at.is_(None))).scalar_one())


def work_item(session: Session, *, kind: str, ref_id: int) -> WorkItem | None:
    """The item of that kind about that row, done or not; None when none was ever queued."""
    stmt = select(WorkItem).where(WorkItem.kind == kind, WorkItem.ref_id == ref_id)
    return session.execute(stmt).scalar_one_or_none()


def rearm_work(session: Session, *, kind: str, ref_id: int, now: datetime,
               payload: dict[str, Any] | None = None) -> bool:
    """Run a finished item again (the same work is needed anew, e.g. a reopened incident's page); False when it is
    not finished (still waiting: it runs anyway) or was never queued. One conditional UPDATE: of two, one re-arms."""
    stmt = (update(WorkItem).where(WorkItem.kind == kind, WorkItem.ref_id == ref_id, WorkItem.done_at.is_not(None))
            .values(done_at=None, not_before=now, lease_until=None, attempts=0, told=False, last_error=None,
                    payload=payload or {}))
    return session.execute(stmt).rowcount == 1
