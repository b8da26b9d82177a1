"""Repository verbs. Keyword-only sessions; the caller's unit of work owns the transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Session, SQLModel

from storage.models import IdSequence, JobRun, Schedule, SlackDelivery, TeamInstallation, TeamSettings


def dialect_insert(session: Session, table):
    """INSERT with the dialect's ON CONFLICT support (SQLite ≥ 3.35 and PostgreSQL both have it)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


# --- readable ids -------------------------------------------------------------------------------


def allocate_id(session: Session, *, team_id: str, prefix: str) -> str:
    """Hand out the next readable id for a team (`B-12`); one atomic upsert, so no two callers race."""
    stmt = dialect_insert(session, IdSequence).values(team_id=team_id, prefix=prefix, last_value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["team_id", "prefix"],
        set_={"last_value": IdSequence.last_value + 1},
    ).returning(IdSequence.last_value)
    number = session.execute(stmt).scalar_one()
    return f"{prefix}-{number}"


Row = TypeVar("Row", bound=SQLModel)


def create_once(session: Session, model: type[Row], *, team_id: str, delivery_key: str, prefix: str,
                **values) -> tuple[Row, bool]:
    """Insert a row with the next readable id, once per Slack delivery: a retry, a double submit or the
    same delivery handled at the same moment by another worker gets the first row (and False)."""
    existing = _by_delivery(session, model, team_id, delivery_key)
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            row = model(team_id=team_id, readable_id=allocate_id(session, team_id=team_id, prefix=prefix),
                        delivery_key=delivery_key, **values)
            session.add(row)
            session.flush()
    except IntegrityError:  # the unique (team_id, delivery_key) constraint: another worker won
        found = _by_delivery(session, model, team_id, delivery_key)
        assert found is not None
        return found, False
    return row, True


def _by_delivery(session: Session, model: type[Row], team_id: str, delivery_key: str) -> Row | None:
    stmt = select(model).where(model.team_id == team_id, model.delivery_key == delivery_key)
    return session.execute(stmt).scalar_one_or_none()


# --- Slack deliveries ---------------------------------------------------------------------------


def record_delivery(session: Session, *, team_id: str, key: str, kind: str, now: datetime) -> bool:
    """Remember a delivery; False when it was seen before (a Slack retry or a double submit)."""
    stmt = (
        dialect_insert(session, SlackDelivery)
        .values(team_id=team_id, key=key, kind=kind, received_at=now)
        .on_conflict_do_nothing(index_elements=["team_id", "key"])
        .returning(SlackDelivery.key)
    )
    return session.execute(stmt).first() is not None


def claim_click(session: Session, *, team_id: str, key: str, kind: str, now: datetime, window: timedelta) -> bool:
    """Claim one click for its handler: True for the first within `window`, False for a repeat (a double click).

    Each click arrives with a trigger_id of its own, so `record_delivery` alone cannot see a double click; the
    caller names the click instead (`key`: the action on one message by one person with one value). A row per
    key in the delivery table: the first click inserts it; a later one takes it over only when its time is
    older than `window`, in one UPDATE … WHERE, so of two clicks at the same moment exactly one wins.
    """
    if record_delivery(session, team_id=team_id, key=key, kind=kind, now=now):
        return True
    stmt = (update(SlackDelivery)
            .where(SlackDelivery.team_id == team_id, SlackDelivery.key == key,
                   SlackDelivery.received_at <= now - window)
            .values(received_at=now)
            .execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) > 0


def purge_deliveries(session: Session, *, before: datetime) -> int:
    """Forget deliveries older than `before` (Slack stops retrying after minutes)."""
    result = session.execute(delete(SlackDelivery).where(SlackDelivery.received_at < before))
    return result.rowcount or 0


# --- claiming a step once -----------------------------------------------------------------------


def claim_once(session: Session, column: InstrumentedAttribute, *, row_id: int, value: object,
               since: object | None = None) -> bool:
    """Mark a step of one row as done by setting `column` to `value`, in one UPDATE … WHERE that matches only while
    the step is still to do: True for the one caller that changed the row, so of two schedulers (or two runs) on one
    database exactly one acts. Still to do means `column` is NULL or differs from `value`; with `since`, NULL or
    older than `since` (a value or a column: done once a day, or once per review date)."""
    model = column.class_
    to_do = column != value if since is None else column < since
    stmt = (update(model).where(model.id == row_id, column.is_(None) | to_do)
            .values({column.key: value}).execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) == 1


def release_claim(session: Session, column: InstrumentedAttribute, *, row_id: int, claimed: object,
                  previous: object) -> None:
    """Undo a `claim_once` whose work failed for a reason that passes, so a later run claims the step again: `column`
    goes back to `previous`, only while it still holds what this caller claimed (`claimed`)."""
    model = column.class_
    session.execute(update(model).where(model.id == row_id, column == claimed).values({column.key: previous})
                    .execution_options(synchronize_session=False))


# --- schedules ----------------------------------------------------------------------------------


def enabled_schedules(session: Session) -> list[Schedule]:
    """Every schedule that should fire, in a stable order."""
    stmt = select(Schedule).where(Schedule.enabled.is_(True)).order_by(Schedule.id)
    return list(session.execute(stmt).scalars())


def ensure_schedule(
    session: Session, *, team_id: str, job_name: str, key: str, cron: str, now: datetime, timezone: str = "UTC"
) -> Schedule:
    """Create a schedule if none exists for (team, job, key); an existing one is left as it is."""
    stmt = (
        dialect_insert(session, Schedule)
        .values(team_id=team_id, job_name=job_name, key=key, cron=cron, timezone=timezone, enabled=True,
                created_at=now)
        .on_conflict_do_nothing(index_elements=["team_id", "job_name", "key"])
    )
    session.execute(stmt)
    found = select(Schedule).where(
        Schedule.team_id == team_id, Schedule.job_name == job_name, Schedule.key == key
    )
    return session.execute(found).scalar_one()


# --- job ledger ---------------------------------------------------------------------------------


def claim_slot(
    session: Session,
    *,
    team_id: str,
    job_name: str,
    schedule_id: int | None,
    slot_key: str,
    slot_at: datetime,
    claimed_by: str,
    now: datetime,
    status: str = "running",
) -> int | None:
    """Insert the ledger row for a slot; the run id if this caller won it, None if it was taken."""
    stmt = (
        dialect_insert(session, JobRun)
        .values(team_id=team_id, job_name=job_name, schedule_id=schedule_id, slot_key=slot_key,
                slot_at=slot_at, status=status, claimed_by=claimed_by, started_at=now)
        .on_conflict_do_nothing(index_elements=["slot_key"])
        .returning(JobRun.id)
    )
    return session.execute(stmt).scalar()


def finish_run(session: Session, *, run_id: int, status: str, now: datetime, error: str | None = None) -> None:
    """Close a ledger row with its outcome."""
    run = session.get(JobRun, run_id)
    if run is None:
        raise LookupError(f"job run {run_id} not found")
    run.status = status
    run.error = error
    run.finished_at = now
    session.add(run)


def purge_runs(session: Session, *, before: datetime) -> int:
    """Drop ledger rows of slots older than `before`."""
    result = session.execute(delete(JobRun).where(JobRun.slot_at < before))
    return result.rowcount or 0


# --- team settings ------------------------------------------------------------------------------


def team_settings(session: Session, *, team_id: str) -> TeamSettings | None:
    """The team's saved settings, if it has any."""
    return session.get(TeamSettings, team_id)


def save_team_settings(session: Session, *, team_id: str, timezone: str, admin_channel_id: str | None,
                       updated_by: str, now: datetime, number_format: str | None = None) -> TeamSettings:
    """Create or replace the team's settings."""
    row = session.get(TeamSettings, team_id) or TeamSettings(team_id=team_id, timezone=timezone, updated_by=updated_by,
                                                             updated_at=now)
    row.timezone = timezone
    row.admin_channel_id = admin_channel_id
    row.number_format = number_format or row.number_format
    row.updated_by = updated_by
    row.updated_at = now
    session.add(row)
    return row


# --- installation state -------------------------------------------------------------------------


def mark_uninstalled(session: Session, *, team_id: str, reason: str, now: datetime) -> None:
    """Remember that Slack no longer lets pmbot act in this team (its rows are kept)."""
    stmt = dialect_insert(session, TeamInstallation).values(team_id=team_id, uninstalled_at=now, reason=reason,
                                                     changed_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["team_id"],
                                      set_={"uninstalled_at": now, "reason": reason, "changed_at": now})
    session.execute(stmt)


def mark_back(session: Session, *, team_id: str, now: datetime) -> bool:
    """Clear the mark when the team uses pmbot again; True when there was one to clear."""
    stmt = (update(TeamInstallation)
            .where(TeamInstallation.team_id == team_id, TeamInstallation.uninstalled_at.is_not(None))
            .values(uninstalled_at=None, reason=None, changed_at=now)
            .execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) > 0


def uninstalled_teams(session: Session) -> set[str]:
    """Teams pmbot must not post to on its own (scheduled jobs skip them)."""
    stmt = select(TeamInstallation.team_id).where(TeamInstallation.uninstalled_at.is_not(None))
    return set(session.execute(stmt).scalars())
