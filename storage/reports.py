"""The queries of `/pmbot report`: a team's figures over a period, counted by the database (GROUP BY) so the work
stays flat as the tables grow. Buckets (weeks, months) are given as UTC edges by the caller, who knows the team's
time zone; a row falls in the bucket whose [edge, next edge) holds its time.

Costs are not summed here: `Money` is text on SQLite, where SUM would be a float; the budget's entries of the period
are read with `storage.budgets.entries` and added as Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from storage.models import Bug, CostEntry, Incident, IncidentAction, QualityBreach, QualityRun, Risk, RiskChange


def _bucket(column, edges: list[datetime]):
    """The index of the bucket [edges[i], edges[i+1]) that holds `column`; rows outside the edges are filtered."""
    return case(*((column < edge, index) for index, edge in enumerate(edges[1:])), else_=len(edges) - 1)


def first_activity(session: Session, *, team_id: str, zone: tzinfo) -> date | None:
    """The team-local day of the earliest thing the team recorded: a bug, an incident, a risk or an eval run (their
    moments, on the day they fell in `zone`) or a cost (its day, already the team's)."""
    found = [session.execute(select(func.min(column)).where(model.team_id == team_id)).scalar_one_or_none()
             for model, column in ((Bug, Bug.created_at), (Incident, Incident.declared_at),
                                   (Risk, Risk.created_at), (QualityRun, QualityRun.created_at))]
    days = [moment.astimezone(zone).date() for moment in found if moment is not None]
    first_cost = session.execute(select(func.min(CostEntry.day)).where(CostEntry.team_id == team_id)).scalar_one()
    if first_cost is not None:
        days.append(first_cost)
    return min(days, default=None)


# --- bugs -----------------------------------------------------------------------------------------------------


def bug_flow(session: Session, *, team_id: str, edges: list[datetime]) -> tuple[dict[tuple[int, int | None], int],
                                                                                dict[tuple[int, int | None], int]]:
    """Bugs opened and closed per bucket and grade: ({(bucket, grade): opened}, {(bucket, grade): closed}).
    `edges` are the buckets' starts and, last, the period's end."""
    start, end = edges[0], edges[-1]
    result = []
    for column in (Bug.created_at, Bug.closed_at):
        # Grouped by the subquery's column, not by the CASE again: a repeated CASE carries its edges as parameters
        # twice, and PostgreSQL groups only when both copies are the same parameter (a driver's choice).
        found = (select(_bucket(column, edges).label("bucket"), Bug.grade.label("grade"))
                 .where(Bug.team_id == team_id, column >= start, column < end).subquery())
        rows = session.execute(select(found.c.bucket, found.c.grade, func.count())
                               .group_by(found.c.bucket, found.c.grade)).all()
        result.append({(int(b), grade): count for b, grade, count in rows})
    return result[0], result[1]


def bugs_open_at(session: Session, *, team_id: str, at: datetime) -> dict[int | None, int]:
    """Bugs open at the moment `at`, per grade: reported before it and not closed by then."""
    rows = session.execute(select(Bug.grade, func.count())
                           .where(Bug.team_id == team_id, Bug.created_at < at,
                                  or_(Bug.closed_at.is_(None), Bug.closed_at >= at))
                           .group_by(Bug.grade)).all()
    return {grade: int(count) for grade, count in rows}


def close_times(session: Session, *, team_id: str, start: datetime, end: datetime) -> list[tuple[int | None, float]]:
    """(grade, seconds from report to close) of the bugs closed in [start, end), for medians per grade."""
    rows = session.execute(select(Bug.grade, Bug.created_at, Bug.closed_at)
                           .where(Bug.team_id == team_id, Bug.closed_at >= start, Bug.closed_at < end)).all()
    return [(grade, (closed - created).total_seconds()) for grade, created, closed in rows]


# --- incidents ------------------------------------------------------------------------------------------------


def follow_up_counts(session: Session, *, incident_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per incident: (open, done) follow-up actions, as they stand now."""
    if not incident_ids:
        return {}
    done_count = func.sum(case((IncidentAction.done_at.is_not(None), 1), else_=0))
    rows = session.execute(select(IncidentAction.incident_id, func.count(), done_count)
                           .where(IncidentAction.incident_id.in_(incident_ids))
                           .group_by(IncidentAction.incident_id)).all()
    return {incident_id: (count - int(done or 0), int(done or 0)) for incident_id, count, done in rows}


# --- risks ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskMove:
    """A risk's status set to `status` (closed, accepted) at `at`, by whom, with the risk as it is now."""

    risk: Risk
    status: str
    at: datetime
    user_id: str


def risk_moves(session: Session, *, team_id: str, statuses: tuple[str, ...], start: datetime,
               end: datetime) -> list[RiskMove]:
    """Risks whose status was set to one of `statuses` in [start, end), by the history; oldest first."""
    stmt = (select(Risk, RiskChange.new_value, RiskChange.created_at, RiskChange.user_id)
            .join(RiskChange, RiskChange.risk_id == Risk.id)
            .where(RiskChange.team_id == team_id, Risk.team_id == team_id, RiskChange.field_name == "status",
                   RiskChange.new_value.in_(statuses), RiskChange.created_at >= start, RiskChange.created_at < end)
            .order_by(RiskChange.created_at, RiskChange.id))
    return [RiskMove(risk, status, at, user) for risk, status, at, user in session.execute(stmt).all()]


def risks_open_at(session: Session, *, team_id: str, at: datetime, limit: int) -> tuple[list[tuple[Risk, str]], int]:
    """Risks open (not closed, not accepted) at the moment `at`, by their status then: the highest score first
    (up to `limit`) with that status, and how many in all. A risk's status at `at` is its last status change
    before `at`; with none, the status its first change after `at` left (a risk may be created mitigating, say, with
    no change recorded for it); with no change at all, its status now."""
    def change(pick, *when):
        return (select(RiskChange.risk_id, pick(RiskChange.id).label("change_id"))
                .where(RiskChange.team_id == team_id, RiskChange.field_name == "status", *when)
                .group_by(RiskChange.risk_id).subquery())

    last_before = change(func.max, RiskChange.created_at < at)
    first_after = change(func.min, RiskChange.created_at >= at)
    before, after = aliased(RiskChange), aliased(RiskChange)
    status_then = func.coalesce(before.new_value, after.old_value, Risk.status)
    score = func.coalesce(Risk.probability, 0) * func.coalesce(Risk.impact, 0)
    conditions = (Risk.team_id == team_id, Risk.created_at < at, status_then.not_in(("closed", "accepted")))
    base = (select(Risk, status_then.label("status_then"))
            .outerjoin(last_before, last_before.c.risk_id == Risk.id)
            .outerjoin(before, before.id == last_before.c.change_id)
            .outerjoin(first_after, first_after.c.risk_id == Risk.id)
            .outerjoin(after, after.id == first_after.c.change_id)
            .where(*conditions))
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(base.order_by(score.desc(), Risk.id).limit(limit)).all()
    return [(risk, status) for risk, status in rows], total


# --- quality --------------------------------------------------------------------------------------------------


def runs_between(session: Session, *, team_id: str, start: datetime, end: datetime) -> list[QualityRun]:
    """Eval runs recorded in [start, end), oldest first."""
    stmt = (select(QualityRun).where(QualityRun.team_id == team_id, QualityRun.created_at >= start,
                                     QualityRun.created_at < end).order_by(QualityRun.created_at, QualityRun.id))
    return list(session.execute(stmt).scalars())


def breach_counts(session: Session, *, team_id: str, start: datetime, end: datetime) -> tuple[int, int, int]:
    """Quality breaches (opened in the period, closed in it, open at its end)."""
    def count(*conditions) -> int:
        return session.execute(select(func.count()).select_from(QualityBreach)
                               .where(QualityBreach.team_id == team_id, *conditions)).scalar_one()

    opened = count(QualityBreach.opened_at >= start, QualityBreach.opened_at < end)
    closed = count(QualityBreach.closed_at >= start, QualityBreach.closed_at < end)
    open_at_end = count(QualityBreach.opened_at < end,
                        or_(QualityBreach.closed_at.is_(None), QualityBreach.closed_at >= end))
    return opened, closed, open_at_end
