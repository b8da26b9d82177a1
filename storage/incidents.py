"""Repository verbs for incidents: the incident, its timeline, its runbook tasks, and drill schedules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.models import DrillSchedule, Incident, IncidentEvent, IncidentTask
from storage.repos import create_once


def create_incident(session: Session, *, team_id: str, delivery_key: str, **values) -> tuple[Incident, bool]:
    """Store a new incident (False as second value when this delivery already made one)."""
    return create_once(session, Incident, team_id=team_id, delivery_key=delivery_key, prefix="INC", **values)


def get_incident(session: Session, *, team_id: str, readable_id: str) -> Incident | None:
    stmt = select(Incident).where(Incident.team_id == team_id, Incident.readable_id == readable_id.upper())
    return session.execute(stmt).scalar_one_or_none()


def incident_by_id(session: Session, *, team_id: str, incident_id: int) -> Incident | None:
    incident = session.get(Incident, incident_id)
    return incident if incident is not None and incident.team_id == team_id else None


def incident_in_channel(session: Session, *, team_id: str, channel_id: str) -> Incident | None:
    """The incident whose war room is this channel."""
    stmt = select(Incident).where(Incident.team_id == team_id, Incident.channel_id == channel_id)
    return session.execute(stmt).scalars().first()


def list_incidents(session: Session, *, team_id: str, active_only: bool, limit: int = 30) -> list[Incident]:
    conditions = [Incident.team_id == team_id]
    if active_only:
        conditions.append(Incident.status != "resolved")
    stmt = select(Incident).where(*conditions).order_by(Incident.id.desc()).limit(limit)
    return list(session.execute(stmt).scalars())


def set_if(session: Session, incident_id: int, condition, **values) -> bool:
    """UPDATE the incident only when `condition` still holds; False when another worker got there first."""
    stmt = (update(Incident).where(Incident.id == incident_id, condition).values(**values)
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


# --- the timeline ---------------------------------------------------------------------------------


def add_event(session: Session, *, incident: Incident, at: datetime, kind: str, text: str,
              user_id: str | None = None, source_ts: str | None = None) -> IncidentEvent | None:
    """Add a timeline line; None when this message is on the timeline already (pinned twice)."""
    event = IncidentEvent(team_id=incident.team_id, incident_id=incident.id, at=at, kind=kind, text=text,
                          user_id=user_id, source_ts=source_ts)
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        return None
    return event


def timeline(session: Session, *, incident_id: int) -> list[IncidentEvent]:
    stmt = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.at,
                                                                                          IncidentEvent.id)
    return list(session.execute(stmt).scalars())


# --- the runbook ----------------------------------------------------------------------------------


def add_tasks(session: Session, *, incident_id: int, items: list[tuple[str, str]]) -> None:
    if session.execute(select(IncidentTask.id).where(IncidentTask.incident_id == incident_id)).first():
        return  # a resumed declaration: the runbook exists
    for position, (key, text) in enumerate(items):
        session.add(IncidentTask(incident_id=incident_id, position=position, key=key, text=text))
    session.flush()


def tasks(session: Session, *, incident_id: int) -> list[IncidentTask]:
    stmt = select(IncidentTask).where(IncidentTask.incident_id == incident_id).order_by(IncidentTask.position)
    return list(session.execute(stmt).scalars())


def mark_task_done(session: Session, *, task_id: int, user_id: str, at: datetime) -> bool:
    """Mark a task done once; False when it was done already (a double press)."""
    stmt = (update(IncidentTask).where(IncidentTask.id == task_id, IncidentTask.done_at.is_(None))
            .values(done_by=user_id, done_at=at).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


# --- what the jobs look for -----------------------------------------------------------------------


def needing_reminder(session: Session, *, now: datetime) -> list[Incident]:
    stmt = select(Incident).where(Incident.status != "resolved", Incident.next_update_due.is_not(None),
                                  Incident.next_update_due <= now, Incident.channel_id.is_not(None))
    return list(session.execute(stmt).scalars())


def ready_to_archive(session: Session, *, now: datetime) -> list[Incident]:
    stmt = select(Incident).where(Incident.status == "resolved", Incident.archived.is_(False),
                                  Incident.archive_after.is_not(None), Incident.archive_after <= now)
    return list(session.execute(stmt).scalars())


def running_drills(session: Session) -> list[Incident]:
    stmt = select(Incident).where(Incident.drill.is_(True), Incident.status != "resolved",
                                  Incident.channel_id.is_not(None))
    return list(session.execute(stmt).scalars())


def drill_schedules(session: Session, *, team_id: str | None = None) -> list[DrillSchedule]:
    stmt = select(DrillSchedule).order_by(DrillSchedule.id)
    if team_id is not None:
        stmt = stmt.where(DrillSchedule.team_id == team_id)
    return list(session.execute(stmt).scalars())


def unattended_drills(session: Session, *, declared_before: datetime) -> list[Incident]:
    """Running drills nobody has acted in, started before `declared_before`."""
    stmt = select(Incident).where(Incident.drill.is_(True), Incident.status != "resolved",
                                  Incident.acknowledged_at.is_(None), Incident.declared_at <= declared_before,
                                  Incident.channel_id.is_not(None)).order_by(Incident.id)
    return list(session.execute(stmt).scalars())


def incidents_of_bug(session: Session, *, team_id: str, readable_id: str) -> list[Incident]:
    """The incidents declared from a bug or linked to it (`/incident link B-14`), oldest first."""
    linked = cast(Incident.links, String).like(f'%"{readable_id}"%')
    stmt = (select(Incident).where(Incident.team_id == team_id, Incident.drill.is_(False),
                                   or_(Incident.bug_id == readable_id, linked)).order_by(Incident.id))
    return list(session.execute(stmt).scalars())
