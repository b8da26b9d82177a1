"""Repository verbs for budgets, cost entries, imports and the once-only alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.models import Budget, BudgetAdminGroup, BudgetAlert, CostEntry, CostImport, LlmUsage


def budget_of(session: Session, *, team_id: str, channel_id: str) -> Budget | None:
    stmt = select(Budget).where(Budget.team_id == team_id, Budget.channel_id == channel_id)
    return session.execute(stmt).scalar_one_or_none()


def all_budgets(session: Session) -> list[Budget]:
    return list(session.execute(select(Budget).order_by(Budget.id)).scalars())


def first_budget_id(session: Session, *, team_id: str) -> int | None:
    """The team's oldest budget: the one the bot's own LLM spend is counted in."""
    return session.execute(select(Budget.id).where(Budget.team_id == team_id).order_by(Budget.id)).scalars().first()


def entries(session: Session, *, budget_id: int, start: date, end: date) -> list[CostEntry]:
    stmt = (select(CostEntry).where(CostEntry.budget_id == budget_id, CostEntry.day >= start, CostEntry.day <= end)
            .order_by(CostEntry.day, CostEntry.id))
    return list(session.execute(stmt).scalars())


def add_entry(session: Session, entry: CostEntry) -> CostEntry | None:
    """Store an entry; None when its Slack delivery stored it already (a retry)."""
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        return None
    return entry


def last_entry_by(session: Session, *, budget_id: int, user_id: str) -> CostEntry | None:
    stmt = (select(CostEntry).where(CostEntry.budget_id == budget_id, CostEntry.user_id == user_id,
                                    CostEntry.import_id.is_(None)).order_by(CostEntry.id.desc()))
    return session.execute(stmt).scalars().first()


def record_import(session: Session, *, team_id: str, budget_id: int, file_key: str, rows: int,
                  user_id: str, now: datetime) -> CostImport | None:
    """Remember a file; None when the same file was imported into this budget before."""
    batch = CostImport(team_id=team_id, budget_id=budget_id, file_key=file_key, rows=rows, user_id=user_id,
                       created_at=now)
    try:
        with session.begin_nested():
            session.add(batch)
            session.flush()
    except IntegrityError:
        return None
    return batch


def claim_alert(session: Session, *, budget_id: int, period_start: date, scope: str, kind: str,
                threshold: int, now: datetime) -> bool:
    """True the first time this threshold is reached in this period (the alert is then sent once)."""
    try:
        with session.begin_nested():
            session.add(BudgetAlert(budget_id=budget_id, period_start=period_start, scope=scope, kind=kind,
                                    threshold=threshold, created_at=now))
            session.flush()
    except IntegrityError:
        return False
    return True


def claim_report(session: Session, *, budget_id: int, day: date) -> bool:
    stmt = (update(Budget).where(Budget.id == budget_id, (Budget.reported_on.is_(None)) | (Budget.reported_on < day))
            .values(reported_on=day).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def llm_usage_between(session: Session, *, team_id: str, start: date, end: date) -> list[LlmUsage]:
    low = datetime.combine(start, time.min, UTC)
    high = datetime.combine(end, time.max, UTC)
    stmt = select(LlmUsage).where(LlmUsage.team_id == team_id, LlmUsage.created_at >= low,
                                  LlmUsage.created_at <= high)
    return list(session.execute(stmt).scalars())


def admin_group(session: Session, *, team_id: str) -> str | None:
    row = session.get(BudgetAdminGroup, team_id)
    return row.usergroup_id if row else None


def set_admin_group(session: Session, *, team_id: str, usergroup_id: str, user_id: str, now: datetime) -> None:
    session.execute(delete(BudgetAdminGroup).where(BudgetAdminGroup.team_id == team_id))
    session.add(BudgetAdminGroup(team_id=team_id, usergroup_id=usergroup_id, set_by=user_id, updated_at=now))
