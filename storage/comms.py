"""Comms plans (`/pmbot comms`) and the ledger of who got each plan's digest of a slot."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlmodel import Session

from storage.models import CommsDelivery, CommsPlan
from storage.repos import dialect_insert

SENDING, SENT, REFUSED = "sending", "sent", "refused"


def add_plan(session: Session, plan: CommsPlan) -> CommsPlan:
    """Store a new plan; its id is set on return."""
    session.add(plan)
    session.flush()
    return plan


def team_plans(session: Session, *, team_id: str) -> list[CommsPlan]:
    """The team's plans, oldest first."""
    stmt = select(CommsPlan).where(CommsPlan.team_id == team_id).order_by(CommsPlan.id)
    return list(session.execute(stmt).scalars())


def get_plan(session: Session, *, team_id: str, plan_id: int) -> CommsPlan | None:
    """One of the team's plans (another team's is not found)."""
    plan = session.get(CommsPlan, plan_id)
    return plan if plan is not None and plan.team_id == team_id else None


def active_plans(session: Session) -> list[CommsPlan]:
    """Every plan that is not paused, for the job."""
    stmt = select(CommsPlan).where(CommsPlan.paused.is_(False)).order_by(CommsPlan.id)
    return list(session.execute(stmt).scalars())


def delete_plan(session: Session, *, plan_id: int) -> None:
    """Drop a plan and its ledger."""
    session.execute(delete(CommsDelivery).where(CommsDelivery.plan_id == plan_id))
    session.execute(delete(CommsPlan).where(CommsPlan.id == plan_id))


def claim_recipient(session: Session, *, plan_id: int, slot_on: date, recipient: str, now: datetime) -> bool:
    """Take one recipient of one slot: True for the one caller that may post to it (a row of its own, once)."""
    stmt = (dialect_insert(session, CommsDelivery)
            .values(plan_id=plan_id, slot_on=slot_on, recipient=recipient, outcome=SENDING, at=now)
            .on_conflict_do_nothing(index_elements=["plan_id", "slot_on", "recipient"])
            .returning(CommsDelivery.id))
    return session.execute(stmt).first() is not None


def settle_recipient(session: Session, *, plan_id: int, slot_on: date, recipient: str, outcome: str,
                     now: datetime) -> None:
    """Record what became of a claimed recipient: SENT or REFUSED (kept, never tried again)."""
    session.execute(update(CommsDelivery)
                    .where(CommsDelivery.plan_id == plan_id, CommsDelivery.slot_on == slot_on,
                           CommsDelivery.recipient == recipient)
                    .values(outcome=outcome, at=now).execution_options(synchronize_session=False))


def release_recipient(session: Session, *, plan_id: int, slot_on: date, recipient: str) -> None:
    """Give a recipient back after a passing Slack failure, so a later run posts to it."""
    session.execute(delete(CommsDelivery).where(CommsDelivery.plan_id == plan_id, CommsDelivery.slot_on == slot_on,
                                                CommsDelivery.recipient == recipient,
                                                CommsDelivery.outcome == SENDING))


def slot_deliveries(session: Session, *, plan_id: int, slot_on: date) -> dict[str, str]:
    """Recipient → outcome for one slot."""
    stmt = select(CommsDelivery).where(CommsDelivery.plan_id == plan_id, CommsDelivery.slot_on == slot_on)
    return {row.recipient: row.outcome for row in session.execute(stmt).scalars()}


def purge_deliveries(session: Session, *, before: date) -> int:
    """Forget the ledger of slots older than `before`."""
    return session.execute(delete(CommsDelivery).where(CommsDelivery.slot_on < before)).rowcount or 0
