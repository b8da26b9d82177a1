"""Repository verbs for the stakeholder digest: counts and short lists aggregated in SQL, and the remembered
figures of each audience. Nothing here loads a whole table."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, delete, false, func, or_, select
from sqlmodel import Session

from storage.models import Bug, DigestSnapshot, Incident, IncidentAction, Risk, Standup, StandupBlocker

# Risks that are still live for stakeholders: everything but closed.
_LIVE_RISK = ("open", "mitigating", "accepted")


def top_risks(session: Session, *, team_id: str, limit: int) -> list[Risk]:
    """The live, scored risks with the highest score (probability × impact), highest first, oldest first on ties."""
    score = Risk.probability * Risk.impact
    query = (select(Risk).where(Risk.team_id == team_id, Risk.status.in_(_LIVE_RISK),
                                Risk.probability.is_not(None), Risk.impact.is_not(None))
             .order_by(score.desc(), Risk.id).limit(limit))
    return list(session.scalars(query))


def risk_statuses(session: Session, *, team_id: str, readable_ids: list[str]) -> dict[str, str]:
    """The status of each named risk (ids no longer found are left out)."""
    if not readable_ids:
        return {}
    rows = session.execute(select(Risk.readable_id, Risk.status)
                           .where(Risk.team_id == team_id, Risk.readable_id.in_(readable_ids))).all()
    return {str(r[0]): str(r[1]) for r in rows}


def bugs_opened_by_grade(session: Session, *, team_id: str, start: datetime, end: datetime) -> dict[int | None, int]:
    """Bugs reported in (start, end], counted per grade (None: not graded yet)."""
    rows = session.execute(select(Bug.grade, func.count()).where(Bug.team_id == team_id, Bug.created_at > start,
                                                                  Bug.created_at <= end).group_by(Bug.grade)).all()
    return {r[0]: int(r[1]) for r in rows}


def bugs_closed_by_grade(session: Session, *, team_id: str, start: datetime, end: datetime) -> dict[int | None, int]:
    """Bugs closed in (start, end], counted per grade. Only closing sets closed_at (a bug is never reopened), so
    the range alone picks the closed ones, from ix_bug_team_closed_grade without reading the rows."""
    rows = session.execute(select(Bug.grade, func.count())
                           .where(Bug.team_id == team_id, Bug.closed_at > start, Bug.closed_at <= end)
                           .group_by(Bug.grade)).all()
    return {r[0]: int(r[1]) for r in rows}


def oldest_open_bug(session: Session, *, team_id: str, grade: int) -> Bug | None:
    """The open bug of `grade` reported first."""
    return session.scalars(select(Bug).where(Bug.team_id == team_id, Bug.status == "open", Bug.grade == grade)
                           .order_by(Bug.created_at, Bug.id).limit(1)).first()


def _overlapping(team_id: str, start: datetime, end: datetime) -> tuple:
    return (Incident.team_id == team_id, Incident.drill.is_(False), Incident.declared_at <= end,
            or_(Incident.resolved_at.is_(None), Incident.resolved_at >= start))


def incidents_overlapping(session: Session, *, team_id: str, start: datetime, end: datetime,
                          limit: int) -> list[Incident]:
    """Real incidents (no drills) that were going on at some point in (start, end]: declared by its end and
    not resolved before its start. The latest `limit` of them, newest first."""
    query = (select(Incident).where(*_overlapping(team_id, start, end))
             .order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(limit))
    return list(session.scalars(query))


def count_incidents_overlapping(session: Session, *, team_id: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(all, still ongoing) of the incidents `incidents_overlapping` picks from, however many there are."""
    row = session.execute(select(func.count(), func.count().filter(Incident.resolved_at.is_(None)))
                          .where(*_overlapping(team_id, start, end))).one()
    return int(row[0]), int(row[1])


def action_counts(session: Session, *, incident_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per incident: (open, done) follow-up actions."""
    if not incident_ids:
        return {}
    # COUNT(done_at) counts the rows where it is set: the done ones.
    rows = session.execute(select(IncidentAction.incident_id, func.count(), func.count(IncidentAction.done_at))
                           .where(IncidentAction.incident_id.in_(incident_ids))
                           .group_by(IncidentAction.incident_id)).all()
    return {incident_id: (total - finished, finished) for incident_id, total, finished in rows}


def standup_zones(session: Session, *, team_id: str) -> list[str]:
    """The time zones the team's stand-ups run in (their blockers' days are days there)."""
    return [str(z) for z in session.scalars(select(Standup.timezone).where(Standup.team_id == team_id).distinct())]


def _old_blockers(team_id: str, first_day_before: dict[str, date]) -> tuple:
    # Each stand-up's blockers against "today" in that stand-up's own zone: first_day is a day there.
    by_zone = [and_(Standup.timezone == zone, StandupBlocker.first_day < day) for zone, day in first_day_before.items()]
    return (Standup.team_id == team_id, StandupBlocker.resolved_on.is_(None), or_(*by_zone) if by_zone else false())


def old_blockers(session: Session, *, team_id: str, first_day_before: dict[str, date],
                 limit: int) -> list[tuple[StandupBlocker, str]]:
    """Open stand-up blockers of the team's stand-ups first reported before `first_day_before[zone]` (the
    stand-up's zone), oldest first, each with its stand-up's zone."""
    query = (select(StandupBlocker, Standup.timezone).join(Standup, Standup.id == StandupBlocker.standup_id)
             .where(*_old_blockers(team_id, first_day_before))
             .order_by(StandupBlocker.first_day, StandupBlocker.id).limit(limit))
    return [(row[0], str(row[1])) for row in session.execute(query).all()]


def count_old_blockers(session: Session, *, team_id: str, first_day_before: dict[str, date]) -> int:
    """How many blockers `old_blockers` picks from, however many there are."""
    query = (select(func.count()).select_from(StandupBlocker).join(Standup, Standup.id == StandupBlocker.standup_id)
             .where(*_old_blockers(team_id, first_day_before)))
    return int(session.scalar(query) or 0)


def latest_snapshot(session: Session, *, team_id: str, audience_key: str | None) -> DigestSnapshot | None:
    """The figures last remembered for the audience (None: for any audience of the team)."""
    query = select(DigestSnapshot).where(DigestSnapshot.team_id == team_id)
    if audience_key is not None:
        query = query.where(DigestSnapshot.audience_key == audience_key)
    return session.scalars(query.order_by(DigestSnapshot.taken_at.desc(), DigestSnapshot.id.desc()).limit(1)).first()


def save_snapshot(session: Session, *, team_id: str, audience_key: str, figures: dict, now: datetime) -> None:
    """Remember the figures an audience was shown (history is kept; the latest is the baseline)."""
    session.add(DigestSnapshot(team_id=team_id, audience_key=audience_key, figures=figures, taken_at=now))


def purge_snapshots(session: Session, *, before: datetime) -> int:
    """Forget remembered figures taken before `before`, except each audience's latest (its next baseline)."""
    latest = (select(func.max(DigestSnapshot.id))
              .group_by(DigestSnapshot.team_id, DigestSnapshot.audience_key).scalar_subquery())
    result = session.execute(delete(DigestSnapshot).where(DigestSnapshot.taken_at < before,
                                                          DigestSnapshot.id.not_in(latest)))
    return int(result.rowcount or 0)
