"""The reads of the App Home dashboard: one person's open items and the team's headline numbers.

Every read is bounded: a page of rows (LIMIT) and a COUNT, each answered from an index (migrations 0014 and 0024),
so the Home opens as fast with 10^5 bugs in the team as with ten (bench/home.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from sqlalchemy import func, or_, select
from sqlmodel import Session

from storage.models import Budget, Bug, Incident, Risk, Standup, StandupAnswer, StandupDay

OPEN_RISK = ("open", "mitigating")  # the statuses the review job asks about (storage.risks.due_for_review)
ACTIVE_INCIDENT = ("investigating", "mitigated")
CRITICAL_GRADES = (1, 2)
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """The first rows of a list, and how many there are in all."""

    rows: list[T]
    total: int


# --- bugs -------------------------------------------------------------------------------------------------------


def _my_bugs_by(session: Session, column, team_id: str, user_id: str, limit: int, *, skip_reporter: str | None = None
                ) -> list[Bug]:
    """Open bugs whose `column` is the user, most severe first then oldest, graded before ungraded. Each half is
    read in the order of its index (team, person, status, grade, created_at), so only `limit` rows are touched."""
    where = [Bug.team_id == team_id, column == user_id, Bug.status == "open"]
    if skip_reporter is not None:
        where.append(Bug.reporter_id != skip_reporter)
    graded = list(session.execute(select(Bug).where(*where, Bug.grade.is_not(None))
                                  .order_by(Bug.grade, Bug.created_at, Bug.id).limit(limit)).scalars())
    if len(graded) >= limit:
        return graded
    ungraded = session.execute(select(Bug).where(*where, Bug.grade.is_(None))
                               .order_by(Bug.created_at, Bug.id).limit(limit - len(graded))).scalars()
    return graded + list(ungraded)


def my_open_bugs(session: Session, *, team_id: str, user_id: str, limit: int) -> Page[Bug]:
    """The user's open bugs (reported by them or assigned to them), most severe first, then oldest."""
    reported = _my_bugs_by(session, Bug.reporter_id, team_id, user_id, limit)
    assigned = _my_bugs_by(session, Bug.assignee_id, team_id, user_id, limit, skip_reporter=user_id)
    rows = sorted({bug.id: bug for bug in reported + assigned}.values(),
                  key=lambda b: (b.grade is None, b.grade or 0, b.created_at, b.id))[:limit]
    total = (session.execute(select(func.count()).select_from(Bug).where(
                 Bug.team_id == team_id, Bug.reporter_id == user_id, Bug.status == "open")).scalar_one()
             + session.execute(select(func.count()).select_from(Bug).where(
                 Bug.team_id == team_id, Bug.assignee_id == user_id, Bug.status == "open",
                 Bug.reporter_id != user_id)).scalar_one())
    return Page(rows, total)


@dataclass(frozen=True)
class Criticals:
    count: int
    oldest: Bug | None


def open_criticals(session: Session, *, team_id: str) -> Criticals:
    """How many grade 1–2 bugs are open in the team, and the oldest of them: a count and, per grade, the first row
    in the order of the index (team, status, grade, created_at, id), rather than sorting every open critical."""
    where = (Bug.team_id == team_id, Bug.status == "open")
    count = session.execute(select(func.count()).select_from(Bug).where(*where, Bug.grade.in_(CRITICAL_GRADES))
                            ).scalar_one()
    firsts = [session.execute(select(Bug).where(*where, Bug.grade == grade).order_by(Bug.created_at, Bug.id)
                              .limit(1)).scalar() for grade in CRITICAL_GRADES] if count else []
    found = [bug for bug in firsts if bug is not None]
    return Criticals(count, min(found, key=lambda b: (b.created_at, b.id)) if found else None)


# --- risks ------------------------------------------------------------------------------------------------------


def _mine(user_id: str):
    """A risk is the user's to review when they own it, or wrote it and nobody owns it (whom the review job asks)."""
    return or_(Risk.owner_id == user_id, (Risk.owner_id.is_(None)) & (Risk.created_by == user_id))


def my_due_risks(session: Session, *, team_id: str, user_id: str, today: date, limit: int) -> Page[Risk]:
    """The user's open or mitigating risks whose review date is today or past, the longest overdue first."""
    where = (Risk.team_id == team_id, _mine(user_id), Risk.status.in_(OPEN_RISK), Risk.review_on.is_not(None),
             Risk.review_on <= today)
    rows = list(session.execute(select(Risk).where(*where).order_by(Risk.review_on, Risk.id).limit(limit)).scalars())
    total = len(rows) if len(rows) < limit else session.execute(
        select(func.count()).select_from(Risk).where(*where)).scalar_one()
    return Page(rows, total)


_SCORE = func.coalesce(Risk.probability, 0) * func.coalesce(Risk.impact, 0)


def top_risks(session: Session, *, team_id: str, limit: int) -> list[Risk]:
    """The team's highest-scoring risks that are not closed (ids sorted from the index, then only those rows)."""
    order = (_SCORE.desc(), Risk.id.desc())
    ids = (select(Risk.id).where(Risk.team_id == team_id, Risk.status != "closed", Risk.probability.is_not(None))
           .order_by(*order).limit(limit))
    return list(session.execute(select(Risk).where(Risk.id.in_(ids)).order_by(*order)).scalars())


# --- incidents --------------------------------------------------------------------------------------------------


def active_incidents(session: Session, *, team_id: str, limit: int, drills: bool = True) -> Page[Incident]:
    """The team's incidents not yet resolved (drills too unless `drills` is False), most severe then oldest
    first."""
    where = (Incident.team_id == team_id, Incident.status.in_(ACTIVE_INCIDENT),
             *(() if drills else (Incident.drill.is_(False),)))
    rows = list(session.execute(select(Incident).where(*where).order_by(Incident.grade, Incident.declared_at,
                                                                        Incident.id).limit(limit)).scalars())
    total = len(rows) if len(rows) < limit else session.execute(
        select(func.count()).select_from(Incident).where(*where)).scalar_one()
    return Page(rows, total)


def my_incidents(session: Session, *, team_id: str, user_id: str, limit: int) -> Page[Incident]:
    """Unresolved incidents the user commands, holds a role in (comms, scribe) or declared."""
    where = (Incident.team_id == team_id, Incident.status.in_(ACTIVE_INCIDENT),
             or_(Incident.commander_id == user_id, Incident.comms_id == user_id, Incident.scribe_id == user_id,
                 Incident.declared_by == user_id))
    rows = list(session.execute(select(Incident).where(*where).order_by(Incident.grade, Incident.declared_at,
                                                                        Incident.id).limit(limit)).scalars())
    total = len(rows) if len(rows) < limit else session.execute(
        select(func.count()).select_from(Incident).where(*where)).scalar_one()
    return Page(rows, total)


# --- stand-ups --------------------------------------------------------------------------------------------------


def team_standups(session: Session, *, team_id: str) -> list[Standup]:
    """The team's stand-ups (a handful per team: the members are filtered by the caller)."""
    return list(session.execute(select(Standup).where(Standup.team_id == team_id).order_by(Standup.id)).scalars())


@dataclass(frozen=True)
class StandupToday:
    day: StandupDay | None  # None: not posted yet today
    answered: bool


def standup_today(session: Session, *, standup_id: int, day: date, user_id: str) -> StandupToday:
    """A stand-up's row for `day` (once it is posted) and whether the user answered it."""
    row = session.execute(select(StandupDay).where(StandupDay.standup_id == standup_id, StandupDay.day == day)
                          ).scalar()
    if row is None:
        return StandupToday(None, False)
    answered = session.execute(select(StandupAnswer.id).where(StandupAnswer.standup_day_id == row.id,
                                                              StandupAnswer.user_id == user_id).limit(1)).scalar()
    return StandupToday(row, answered is not None)


# --- budgets ----------------------------------------------------------------------------------------------------


def team_budgets(session: Session, *, team_id: str, limit: int) -> list[Budget]:
    """The team's budgets, oldest first (one per channel, a handful per team): the caller keeps those of channels
    the person is in, as Slack says."""
    return list(session.execute(select(Budget).where(Budget.team_id == team_id).order_by(Budget.id).limit(limit)
                                ).scalars())
