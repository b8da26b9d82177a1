"""Repository verbs for the risk register: risks, their change history, and team categories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlmodel import Session

from bot.domain.risk import BANDS, CATEGORIES
from storage.models import Risk, RiskCategory, RiskChange
from storage.repos import create_once


def create_risk(session: Session, *, team_id: str, delivery_key: str, now: datetime, **values) -> tuple[Risk, bool]:
    """Store a new risk (False as second value when this delivery already made one)."""
    return create_once(session, Risk, team_id=team_id, delivery_key=delivery_key, prefix="R", created_at=now,
                       updated_at=now, **values)


def get_risk(session: Session, *, team_id: str, readable_id: str) -> Risk | None:
    stmt = select(Risk).where(Risk.team_id == team_id, Risk.readable_id == readable_id.upper())
    return session.execute(stmt).scalar_one_or_none()


def risk_by_id(session: Session, *, team_id: str, risk_id: int) -> Risk | None:
    risk = session.get(Risk, risk_id)
    return risk if risk is not None and risk.team_id == team_id else None


def risk_by_message(session: Session, *, team_id: str, channel_id: str, ts: str) -> Risk | None:
    """The risk whose card is the message `ts` (its intake thread's parent)."""
    stmt = select(Risk).where(Risk.team_id == team_id, Risk.message_channel == channel_id, Risk.message_ts == ts)
    return session.execute(stmt).scalar_one_or_none()


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def apply_changes(session: Session, *, risk: Risk, user_id: str, changes: dict[str, object],
                  now: datetime) -> list[RiskChange]:
    """Set fields on a risk, logging each one that really changed (old → new)."""
    logged = []
    for name, new in changes.items():
        old = getattr(risk, name)
        if old == new:
            continue
        setattr(risk, name, new)
        change = RiskChange(team_id=risk.team_id, risk_id=risk.id, user_id=user_id, field_name=name,
                            old_value=_text(old), new_value=_text(new), created_at=now)
        session.add(change)
        logged.append(change)
        if name in risk.guessed:
            risk.guessed = [g for g in risk.guessed if g != name]
    if logged:
        risk.updated_at = now
        session.add(risk)
    return logged


def claim_step(session: Session, *, risk_id: int, step: str, next_step: str | None) -> bool:
    """Move an intake from `step` to `next_step`; False when someone else answered `step` first."""
    stmt = (update(Risk).where(Risk.id == risk_id, Risk.intake_step == step)
            .values(intake_step=next_step, intake_question_ts=None).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def history(session: Session, *, risk_id: int) -> list[RiskChange]:
    stmt = select(RiskChange).where(RiskChange.risk_id == risk_id).order_by(RiskChange.id)
    return list(session.execute(stmt).scalars())


@dataclass(frozen=True)
class RiskFilter:
    status: str = "active"  # active (not closed) | open | mitigating | accepted | closed | all
    owner_id: str | None = None
    category: str | None = None
    band: str | None = None


_SCORE = func.coalesce(Risk.probability, 0) * func.coalesce(Risk.impact, 0)


def list_risks(session: Session, *, team_id: str, where: RiskFilter, offset: int = 0,
               limit: int | None = None) -> tuple[list[Risk], int]:
    """A page of risks, highest score first, and how many match in all."""
    conditions = [Risk.team_id == team_id]
    if where.status == "active":
        conditions.append(Risk.status != "closed")
    elif where.status != "all":
        conditions.append(Risk.status == where.status)
    if where.owner_id:
        conditions.append(Risk.owner_id == where.owner_id)
    if where.category:
        conditions.append(Risk.category == where.category)
    if where.band:
        low, high = next((lo, hi) for name, lo, hi in BANDS if name == where.band)
        conditions.append(_SCORE.between(low, high))
    total = session.execute(select(func.count()).select_from(Risk).where(*conditions)).scalar_one()
    order = (_SCORE.desc(), Risk.id.desc())
    if limit is None:  # the whole register (heat map, export)
        stmt = select(Risk).where(*conditions).order_by(*order).offset(offset)
    else:  # a page: its ids sorted from the index (team, status, probability, impact, id), then only its rows
        page = select(Risk.id).where(*conditions).order_by(*order).offset(offset).limit(limit)
        stmt = select(Risk).where(Risk.id.in_(page)).order_by(*order)
    return list(session.execute(stmt).scalars()), total


def team_ids_with_risks(session: Session) -> list[str]:
    return list(session.execute(select(Risk.team_id).distinct()).scalars())


def due_for_review(session: Session, *, team_id: str, today: date) -> list[Risk]:
    """Open or mitigating risks whose review date has come."""
    stmt = (select(Risk).where(Risk.team_id == team_id, Risk.status.in_(("open", "mitigating")),
                               Risk.review_on.is_not(None), Risk.review_on <= today)
            .order_by(Risk.review_on, Risk.id))
    return list(session.execute(stmt).scalars())


def expired_acceptances(session: Session, *, team_id: str, today: date) -> list[Risk]:
    stmt = select(Risk).where(Risk.team_id == team_id, Risk.status == "accepted", Risk.accepted_until < today)
    return list(session.execute(stmt).scalars())


def stale_intakes(session: Session, *, team_id: str, before: datetime) -> list[Risk]:
    """Intakes still waiting for an answer, started before `before`, whose author was not reminded yet
    (a risk closed or accepted meanwhile needs no answers: its author is left alone)."""
    stmt = select(Risk).where(Risk.team_id == team_id, Risk.intake_step.is_not(None),
                              Risk.status.not_in(("closed", "accepted")),
                              Risk.intake_reminded.is_(False), Risk.created_at < before)
    return list(session.execute(stmt).scalars())


def categories(session: Session, *, team_id: str) -> dict[str, str]:
    """The presets plus the team's own categories: key → label."""
    own = session.execute(select(RiskCategory).where(RiskCategory.team_id == team_id)).scalars()
    return {**CATEGORIES, **{c.key: c.label for c in own}}


def add_category(session: Session, *, team_id: str, key: str, label: str, user_id: str, now: datetime) -> bool:
    """Add a team category; False when the key exists already."""
    if key in categories(session, team_id=team_id):
        return False
    session.add(RiskCategory(team_id=team_id, key=key, label=label, created_by=user_id, created_at=now))
    session.flush()
    return True
