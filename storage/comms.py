"""Comms plans (`/pmbot comms`), the claim of each plan's slot (with a lease), the ledger of what each recipient of
a slot got, and the slot's digest built once for all of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlmodel import Session

from storage.models import CommsDelivery, CommsPlan, CommsSlot
from storage.repos import dialect_insert

# A recipient's row: SENDING (claimed; the message may or may not have reached Slack), POSTED (the message is there,
# `ts` says where; the one-pager is still to upload), then SENT or REFUSED (settled).
SENDING, POSTED, SENT, REFUSED = "sending", "posted", "sent", "refused"


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
    """Drop a plan, its ledger and its kept digests."""
    session.execute(delete(CommsDelivery).where(CommsDelivery.plan_id == plan_id))
    session.execute(delete(CommsSlot).where(CommsSlot.plan_id == plan_id))
    session.execute(delete(CommsPlan).where(CommsPlan.id == plan_id))


def same_schedule(session: Session, *, team_id: str, audience_id: str, cadence: str, weekday: int | None,
                  day_of_month: int | None, at_time: str) -> CommsPlan | None:
    """The team's plan that already sends to this audience on this schedule, if there is one."""
    stmt = (select(CommsPlan).where(CommsPlan.team_id == team_id, CommsPlan.audience_id == audience_id,
                                    CommsPlan.cadence == cadence, CommsPlan.at_time == at_time,
                                    _same(CommsPlan.weekday, weekday), _same(CommsPlan.day_of_month, day_of_month))
            .order_by(CommsPlan.id).limit(1))
    return session.execute(stmt).scalars().first()


def _same(column, value):  # noqa: ANN001, ANN202 — a column equal to value, NULL matching None
    return column.is_(None) if value is None else column == value


def pause_plan(session: Session, *, plan_id: int) -> bool:
    """Pause a plan (the job does, when its audience refuses the digest for good): True when it was running."""
    stmt = (update(CommsPlan).where(CommsPlan.id == plan_id, CommsPlan.paused.is_(False)).values(paused=True)
            .execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) == 1


# --- a slot's claim: once for all schedulers, with a lease ------------------------------------------------------


def claim_slot(session: Session, *, plan_id: int, slot_on: date, now: datetime, lease: timedelta) -> bool:
    """Take the plan's slot of `slot_on` for this run: True for the one caller that may work on it. Free when no
    slot of that day was claimed yet, or when a run claimed it more than `lease` ago and never settled it (it
    crashed or was killed): `claimed_at` stays set while a run works on the slot."""
    free = (CommsPlan.claimed_on.is_(None) | (CommsPlan.claimed_on < slot_on)
            | ((CommsPlan.claimed_on == slot_on) & CommsPlan.claimed_at.is_not(None)
               & (CommsPlan.claimed_at < now - lease)))
    stmt = (update(CommsPlan).where(CommsPlan.id == plan_id, free).values(claimed_on=slot_on, claimed_at=now)
            .execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) == 1


def renew_lease(session: Session, *, plan_id: int, slot_on: date, held: datetime, now: datetime) -> bool:
    """The run holding the slot since `held` is still alive (a big group takes a while): its lease starts again from
    `now`. False when the lease is no longer this run's (it ran out and another run took the slot)."""
    stmt = (update(CommsPlan)
            .where(CommsPlan.id == plan_id, CommsPlan.claimed_on == slot_on, CommsPlan.claimed_at == held)
            .values(claimed_at=now).execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) == 1


def mark_slot_taken(session: Session, *, plan_id: int, slot_on: date) -> bool:
    """Count the slot of `slot_on` as done without posting (a missed slot, or one that passed while the plan was
    paused): True for the one caller that marked it."""
    stmt = (update(CommsPlan)
            .where(CommsPlan.id == plan_id, CommsPlan.claimed_on.is_(None) | (CommsPlan.claimed_on < slot_on))
            .values(claimed_on=slot_on, claimed_at=None).execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) == 1


def give_back_slot(session: Session, *, plan_id: int, slot_on: date, held: datetime, previous: date | None) -> None:
    """Undo `claim_slot` (Slack failed for a reason that passes, or the run failed): a later run takes it again.
    Only while the lease taken at `held` is still this run's: a slot another run took over stays that run's."""
    session.execute(update(CommsPlan)
                    .where(CommsPlan.id == plan_id, CommsPlan.claimed_on == slot_on, CommsPlan.claimed_at == held)
                    .values(claimed_on=previous, claimed_at=None).execution_options(synchronize_session=False))


def settle_slot(session: Session, *, plan_id: int, slot_on: date, held: datetime | None) -> None:
    """The slot is done: its claim is no longer leased and its kept digest is dropped — when the lease is still the
    one taken at `held` (None: a slot marked taken without a run, see `mark_slot_taken`)."""
    stmt = (update(CommsPlan)
            .where(CommsPlan.id == plan_id, CommsPlan.claimed_on == slot_on, _same(CommsPlan.claimed_at, held))
            .values(claimed_at=None).execution_options(synchronize_session=False))
    if (session.execute(stmt).rowcount or 0) == 1:
        session.execute(delete(CommsSlot).where(CommsSlot.plan_id == plan_id, CommsSlot.slot_on == slot_on))


# --- a slot's digest, built once ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptDigest:
    text: str
    blocks: list
    figures: dict
    png: bytes


def kept_digest(session: Session, *, plan_id: int, slot_on: date) -> KeptDigest | None:
    """The digest built for this slot by an earlier try, if any."""
    row = session.execute(select(CommsSlot).where(CommsSlot.plan_id == plan_id, CommsSlot.slot_on == slot_on)
                          ).scalars().first()
    return None if row is None else KeptDigest(row.text, list(row.blocks), dict(row.figures), bytes(row.png))


def keep_digest(session: Session, *, plan_id: int, slot_on: date, digest: KeptDigest, now: datetime) -> None:
    """Keep the slot's digest for its retries (the first one kept stays)."""
    stmt = (dialect_insert(session, CommsSlot)
            .values(plan_id=plan_id, slot_on=slot_on, text=digest.text, blocks=digest.blocks, figures=digest.figures,
                    png=digest.png, built_at=now)
            .on_conflict_do_nothing(index_elements=["plan_id", "slot_on"]))
    session.execute(stmt)


# --- the ledger: one row per recipient of a slot ------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    outcome: str  # SENDING, POSTED, SENT or REFUSED
    ts: str | None  # the message's ts once POSTED
    fresh: bool  # True when this call made the row: nothing was tried for it before


def take_recipient(session: Session, *, plan_id: int, slot_on: date, recipient: str, now: datetime) -> Recipient:
    """The recipient's row of the slot, made SENDING when it has none yet (`fresh`)."""
    stmt = (dialect_insert(session, CommsDelivery)
            .values(plan_id=plan_id, slot_on=slot_on, recipient=recipient, outcome=SENDING, at=now)
            .on_conflict_do_nothing(index_elements=["plan_id", "slot_on", "recipient"])
            .returning(CommsDelivery.id))
    if session.execute(stmt).first() is not None:
        return Recipient(SENDING, None, True)
    row = session.execute(select(CommsDelivery.outcome, CommsDelivery.ts).where(
        CommsDelivery.plan_id == plan_id, CommsDelivery.slot_on == slot_on, CommsDelivery.recipient == recipient)
    ).one()
    return Recipient(row.outcome, row.ts, False)


def mark_posted(session: Session, *, plan_id: int, slot_on: date, recipient: str, ts: str, now: datetime) -> None:
    """The recipient has the message (at `ts`); the one-pager is still to come."""
    session.execute(update(CommsDelivery)
                    .where(CommsDelivery.plan_id == plan_id, CommsDelivery.slot_on == slot_on,
                           CommsDelivery.recipient == recipient)
                    .values(outcome=POSTED, ts=ts, at=now).execution_options(synchronize_session=False))


def settle_recipient(session: Session, *, plan_id: int, slot_on: date, recipient: str, outcome: str,
                     now: datetime) -> None:
    """Record what became of a claimed recipient: SENT or REFUSED (kept, never tried again)."""
    session.execute(update(CommsDelivery)
                    .where(CommsDelivery.plan_id == plan_id, CommsDelivery.slot_on == slot_on,
                           CommsDelivery.recipient == recipient)
                    .values(outcome=outcome, at=now).execution_options(synchronize_session=False))


def reached(session: Session, *, plan_id: int, slot_on: date) -> tuple[int, int]:
    """(recipients who have the slot's message, recipients tried): how far a slot got before it was given up."""
    got = func.sum(case((CommsDelivery.outcome.in_((POSTED, SENT)), 1), else_=0))
    row = session.execute(select(got, func.count()).where(CommsDelivery.plan_id == plan_id,
                                                          CommsDelivery.slot_on == slot_on)).one()
    return int(row[0] or 0), int(row[1] or 0)


def purge_deliveries(session: Session, *, before: date) -> int:
    """Forget the ledger (and any kept digest) of slots older than `before`."""
    session.execute(delete(CommsSlot).where(CommsSlot.slot_on < before))
    return session.execute(delete(CommsDelivery).where(CommsDelivery.slot_on < before)).rowcount or 0
