"""Repository verbs for incidents: the incident, its timeline, its runbook tasks, and drill schedules."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String, cast, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.models import DrillSchedule, Incident, IncidentAction, IncidentEvent, IncidentTask, JiraOutbox
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


# --- follow-up actions ------------------------------------------------------------------------------


def create_action(session: Session, *, team_id: str, delivery_key: str, **values) -> tuple[IncidentAction, bool]:
    """Store a new follow-up action (A-12); False as second value when this delivery already made one."""
    return create_once(session, IncidentAction, team_id=team_id, delivery_key=delivery_key, prefix="A", **values)


def get_action(session: Session, *, team_id: str, readable_id: str) -> IncidentAction | None:
    """The action of the team with this readable id."""
    stmt = select(IncidentAction).where(IncidentAction.team_id == team_id,
                                        IncidentAction.readable_id == readable_id.upper())
    return session.execute(stmt).scalar_one_or_none()


def action_by_id(session: Session, *, team_id: str, action_id: int) -> IncidentAction | None:
    """The action with this row id, if it is the team's."""
    action = session.get(IncidentAction, action_id)
    return action if action is not None and action.team_id == team_id else None


def actions_of(session: Session, *, incident_ids: list[int]) -> list[IncidentAction]:
    """The actions of these incidents, oldest first."""
    if not incident_ids:
        return []
    stmt = select(IncidentAction).where(IncidentAction.incident_id.in_(incident_ids)).order_by(IncidentAction.id)
    return list(session.execute(stmt).scalars())


def open_actions(session: Session, *, team_id: str, owner_id: str | None = None,
                 limit: int = 200) -> list[tuple[IncidentAction, Incident]]:
    """Open actions of a team (of one owner), with their incident: the earliest due first, undated last."""
    conditions = [IncidentAction.team_id == team_id, IncidentAction.done_at.is_(None)]
    if owner_id is not None:
        conditions.append(IncidentAction.owner_id == owner_id)
    stmt = (select(IncidentAction, Incident).join(Incident, Incident.id == IncidentAction.incident_id)
            .where(*conditions).order_by(IncidentAction.due_on.is_(None), IncidentAction.due_on, IncidentAction.id)
            .limit(limit))
    return [(action, incident) for action, incident in session.execute(stmt).all()]


def set_action_done(session: Session, *, action_id: int, user_id: str | None, at: datetime | None) -> bool:
    """Close (user and time given) or reopen (None) an action; False when it was so already."""
    closing = at is not None
    condition = IncidentAction.done_at.is_(None) if closing else IncidentAction.done_at.is_not(None)
    stmt = (update(IncidentAction).where(IncidentAction.id == action_id, condition)
            .values(done_at=at, done_by=user_id).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def actions_due_by(session: Session, *, latest: date) -> list[IncidentAction]:
    """Open actions due on or before `latest`, of every team (the reminder job picks the day per team)."""
    stmt = (select(IncidentAction).where(IncidentAction.done_at.is_(None), IncidentAction.due_on.is_not(None),
                                         IncidentAction.due_on <= latest).order_by(IncidentAction.id))
    return list(session.execute(stmt).scalars())


def waiting_for_jira(session: Session, *, team_id: str, kind: str, entity_id: int) -> bool:
    """Whether an item still has a Jira change pending (its create, say) in the outbox."""
    stmt = select(JiraOutbox.id).where(JiraOutbox.team_id == team_id, JiraOutbox.kind == kind,
                                       JiraOutbox.entity_id == entity_id, JiraOutbox.status == "pending")
    return session.execute(stmt).first() is not None


# --- statistics -----------------------------------------------------------------------------------


def declared_between(session: Session, *, team_id: str, start: datetime, end: datetime) -> list[Incident]:
    """Incidents and drills declared in [start, end), oldest first."""
    stmt = (select(Incident).where(Incident.team_id == team_id, Incident.declared_at >= start,
                                   Incident.declared_at < end).order_by(Incident.declared_at, Incident.id))
    return list(session.execute(stmt).scalars())


def tasks_of(session: Session, *, incident_ids: list[int]) -> list[IncidentTask]:
    """The runbook tasks of these incidents."""
    if not incident_ids:
        return []
    stmt = select(IncidentTask).where(IncidentTask.incident_id.in_(incident_ids)).order_by(IncidentTask.position)
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
