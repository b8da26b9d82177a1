"""Repository verbs for the Quality Management Plan: the plan and its metrics, eval runs, breaches, the API token
and go / no-go gates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session

from bot.domain.quality import Metric, Plan
from storage.models import QualityBreach, QualityGate, QualityMetric, QualityPlan, QualityRun, QualityToken
from storage.repos import dialect_insert

# --- the plan -------------------------------------------------------------------------------------------------


def save_plan(session: Session, *, team_id: str, channel_id: str, plan: Plan, template: str | None, user_id: str,
              now: datetime) -> QualityPlan:
    """Set a team's plan: its metrics replace the old ones (runs already stored keep their values)."""
    row = session.execute(select(QualityPlan).where(QualityPlan.team_id == team_id)).scalar_one_or_none()
    if row is None:
        row = QualityPlan(team_id=team_id, channel_id=channel_id, updated_by=user_id, updated_at=now)
    row.channel_id, row.template, row.recover_runs = channel_id, template, plan.recover_runs
    row.updated_by, row.updated_at = user_id, now
    session.add(row)
    session.execute(delete(QualityMetric).where(QualityMetric.team_id == team_id))
    session.flush()  # the old metrics go before the new ones with the same names arrive
    for position, m in enumerate(plan.metrics):
        session.add(QualityMetric(team_id=team_id, position=position, name=m.name, unit=m.unit,
                                  direction=m.direction, target=m.target, grade=m.grade, measured=m.measured,
                                  drop_margin=m.drop_margin))
    return row


def load_plan(session: Session, *, team_id: str) -> tuple[QualityPlan, Plan] | None:
    """The team's plan row and the plan itself; None when the team has no plan yet."""
    row = session.execute(select(QualityPlan).where(QualityPlan.team_id == team_id)).scalar_one_or_none()
    if row is None:
        return None
    lines = session.execute(select(QualityMetric).where(QualityMetric.team_id == team_id)
                            .order_by(QualityMetric.position, QualityMetric.id)).scalars()
    metrics = tuple(Metric(m.name, m.unit, m.direction, m.target, m.grade, m.measured, m.drop_margin)  # type: ignore[arg-type]
                    for m in lines)
    return row, Plan(metrics, row.recover_runs)


def planned_teams(session: Session) -> list[str]:
    return list(session.execute(select(QualityPlan.team_id).order_by(QualityPlan.team_id)).scalars())


# --- runs -----------------------------------------------------------------------------------------------------


def add_run(session: Session, *, team_id: str, model: str, version: str, dataset: str, metrics: dict[str, float],
            source: str, recorded_by: str, now: datetime, url: str | None = None, samples: int | None = None,
            source_key: str | None = None) -> tuple[QualityRun, bool]:
    """Store a run; a `source_key` seen before (the same file, pull or POST again) gives the first run and False."""
    if source_key is not None:
        stmt = (dialect_insert(session, QualityRun)
                .values(team_id=team_id, model=model, version=version, dataset=dataset, url=url, samples=samples,
                        source=source, source_key=source_key, metrics=metrics, recorded_by=recorded_by,
                        created_at=now)
                .on_conflict_do_nothing(index_elements=["team_id", "source_key"])
                .returning(QualityRun.id))
        new_id = session.execute(stmt).scalar_one_or_none()
        existing = session.execute(select(QualityRun).where(QualityRun.team_id == team_id,
                                                            QualityRun.source_key == source_key)).scalar_one()
        return existing, new_id is not None
    run = QualityRun(team_id=team_id, model=model, version=version, dataset=dataset, url=url, samples=samples,
                     source=source, metrics=metrics, recorded_by=recorded_by, created_at=now)
    session.add(run)
    session.flush()
    return run, True


def recorded_keys(session: Session, *, team_id: str, keys: list[str]) -> set[str]:
    """Which of these source keys (a pull's runs) are recorded already."""
    stmt = select(QualityRun.source_key).where(QualityRun.team_id == team_id, QualityRun.source_key.in_(keys))
    return {key for key in session.execute(stmt).scalars() if key}


def previous_run(session: Session, *, team_id: str, model: str, before_id: int) -> QualityRun | None:
    """The run of the same model stored just before this one."""
    stmt = (select(QualityRun).where(QualityRun.team_id == team_id, QualityRun.model == model,
                                     QualityRun.id < before_id)
            .order_by(QualityRun.id.desc()).limit(1))
    return session.execute(stmt).scalar_one_or_none()


def recent_runs(session: Session, *, team_id: str, limit: int = 50, model: str | None = None) -> list[QualityRun]:
    """The latest runs, newest first."""
    stmt = select(QualityRun).where(QualityRun.team_id == team_id)
    if model is not None:
        stmt = stmt.where(QualityRun.model == model)
    return list(session.execute(stmt.order_by(QualityRun.id.desc()).limit(limit)).scalars())


def run_of_version(session: Session, *, team_id: str, version: str) -> QualityRun | None:
    """The latest run of a version (`v42`), or of a model by that name when no version matches."""
    for column in (QualityRun.version, QualityRun.model):
        stmt = (select(QualityRun).where(QualityRun.team_id == team_id, column == version)
                .order_by(QualityRun.id.desc()).limit(1))
        found = session.execute(stmt).scalar_one_or_none()
        if found is not None:
            return found
    return None


# --- breaches -------------------------------------------------------------------------------------------------


def open_breach(session: Session, *, team_id: str, metric: str, model: str) -> QualityBreach | None:
    stmt = select(QualityBreach).where(QualityBreach.team_id == team_id, QualityBreach.metric == metric,
                                       QualityBreach.model == model, QualityBreach.open_slot == "open")
    return session.execute(stmt).scalar_one_or_none()


def open_breaches(session: Session, *, team_id: str, model: str | None = None) -> list[QualityBreach]:
    stmt = select(QualityBreach).where(QualityBreach.team_id == team_id, QualityBreach.open_slot == "open")
    if model is not None:
        stmt = stmt.where(QualityBreach.model == model)
    return list(session.execute(stmt.order_by(QualityBreach.id)).scalars())


def claim_breach(session: Session, *, team_id: str, metric: str, model: str, run_id: int,
                 now: datetime) -> QualityBreach | None:
    """Open a breach for a metric and model; None when one is open already (another run got there first)."""
    stmt = (dialect_insert(session, QualityBreach)
            .values(team_id=team_id, metric=metric, model=model, first_run_id=run_id, last_run_id=run_id,
                    passing_runs=0, open_slot="open", opened_at=now)
            .on_conflict_do_nothing(index_elements=["team_id", "metric", "model", "open_slot"])
            .returning(QualityBreach.id))
    new_id = session.execute(stmt).scalar_one_or_none()
    return session.get(QualityBreach, new_id) if new_id is not None else None


def set_breach_bug(session: Session, *, breach_id: int, bug_id: int) -> None:
    session.execute(update(QualityBreach).where(QualityBreach.id == breach_id).values(bug_id=bug_id))


def note_breach_run(session: Session, *, breach_id: int, run_id: int, passed: bool) -> int:
    """Count a later run against an open breach; how many runs in a row have passed since the last failure."""
    values: dict[str, Any] = {"last_run_id": run_id}
    values["passing_runs"] = QualityBreach.passing_runs + 1 if passed else 0
    session.execute(update(QualityBreach).where(QualityBreach.id == breach_id).values(**values))
    return int(session.execute(select(QualityBreach.passing_runs).where(QualityBreach.id == breach_id)).scalar_one())


def close_breach(session: Session, *, breach_id: int, now: datetime) -> bool:
    """Close an open breach once: False when it was already closed."""
    stmt = (update(QualityBreach).where(QualityBreach.id == breach_id, QualityBreach.open_slot == "open")
            .values(open_slot=None, closed_at=now))
    return (session.execute(stmt).rowcount or 0) == 1


# --- the API token --------------------------------------------------------------------------------------------


def set_token(session: Session, *, team_id: str, token_hash: str, hint: str, user_id: str, now: datetime) -> None:
    """Create or rotate the team's token: the old one stops working at once."""
    session.execute(delete(QualityToken).where(QualityToken.team_id == team_id))
    session.add(QualityToken(team_id=team_id, token_hash=token_hash, hint=hint, created_by=user_id, created_at=now))


def team_of_token(session: Session, *, token_hash: str) -> str | None:
    stmt = select(QualityToken.team_id).where(QualityToken.token_hash == token_hash)
    return session.execute(stmt).scalar_one_or_none()


def token_of(session: Session, *, team_id: str) -> QualityToken | None:
    return session.execute(select(QualityToken).where(QualityToken.team_id == team_id)).scalar_one_or_none()


# --- gates ----------------------------------------------------------------------------------------------------


def record_gate(session: Session, *, team_id: str, version: str, run_id: int | None, go: bool, failed: list[str],
                user_id: str, now: datetime) -> QualityGate:
    gate = QualityGate(team_id=team_id, version=version, run_id=run_id, go=go, failed=failed, asked_by=user_id,
                       asked_at=now)
    session.add(gate)
    session.flush()
    return gate
