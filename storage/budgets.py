"""Repository verbs for budgets, cost entries, imports and the once-only alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.models import Budget, BudgetAdminGroup, BudgetAlert, CostEntry, CostImport, LlmUsage, ServiceMapping


def budget_of(session: Session, *, team_id: str, channel_id: str) -> Budget | None:
    stmt = select(Budget).where(Budget.team_id == team_id, Budget.channel_id == channel_id)
    return session.execute(stmt).scalar_one_or_none()


def budgets_posting_to(session: Session, *, team_id: str, channel_id: str) -> list[Budget]:
    """The budgets whose alerts and reports go to this channel (set elsewhere, `/budget channel` here)."""
    stmt = select(Budget).where(Budget.team_id == team_id, Budget.post_channel_id == channel_id).order_by(Budget.id)
    return list(session.execute(stmt).scalars())


def budgets_in_channel(session: Session, *, channel_id: str, team_id: str | None = None) -> list[Budget]:
    stmt = select(Budget).where(Budget.channel_id == channel_id).order_by(Budget.id)
    return [b for b in session.execute(stmt).scalars() if team_id is None or b.team_id == team_id]


def team_budgets(session: Session, *, team_id: str) -> list[Budget]:
    return list(session.execute(select(Budget).where(Budget.team_id == team_id).order_by(Budget.id)).scalars())


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


def imported_days(session: Session, *, budget_id: int, format: str, days: set[date]) -> set[date]:  # noqa: A002
    """Which of these days already have entries from an import of this layout into this budget."""
    if not days:
        return set()
    stmt = (select(CostEntry.day).join(CostImport, CostImport.id == CostEntry.import_id)
            .where(CostEntry.budget_id == budget_id, CostImport.format == format, CostEntry.day.in_(days)).distinct())
    return set(session.execute(stmt).scalars())


def last_import_by(session: Session, *, budget_id: int, user_id: str) -> CostImport | None:
    stmt = (select(CostImport).where(CostImport.budget_id == budget_id, CostImport.user_id == user_id)
            .order_by(CostImport.id.desc()))
    return session.execute(stmt).scalars().first()


def remove_import(session: Session, *, import_id: int) -> Decimal:
    """Delete an import and its entries; the total they held."""
    amounts = session.execute(select(CostEntry.amount).where(CostEntry.import_id == import_id)).scalars()
    total = sum(amounts, Decimal(0))
    session.execute(delete(CostEntry).where(CostEntry.import_id == import_id))
    session.execute(delete(CostImport).where(CostImport.id == import_id))
    return total


def record_import(session: Session, batch: CostImport) -> CostImport | None:
    """Remember a file; None when the same file was imported into this budget before."""
    try:
        with session.begin_nested():
            session.add(batch)
            session.flush()
    except IntegrityError:
        return None
    return batch


def claim_alert(session: Session, alert: BudgetAlert) -> bool:
    """True the first time this threshold is reached in this period: the alert is stored, to be posted once."""
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        return False
    return True


def unposted_alerts(session: Session, *, budget_id: int | None = None, max_attempts: int = 1_000_000
                    ) -> list[BudgetAlert]:
    stmt = (select(BudgetAlert).where(BudgetAlert.posted_at.is_(None), BudgetAlert.attempts < max_attempts)
            .order_by(BudgetAlert.id))
    if budget_id is not None:
        stmt = stmt.where(BudgetAlert.budget_id == budget_id)
    return list(session.execute(stmt).scalars())


def take_alert(session: Session, *, alert_id: int, now: datetime) -> bool:
    """Mark an alert posted before posting it: of several workers, one posts it. `release_alert` undoes this
    when Slack did not take it."""
    stmt = (update(BudgetAlert).where(BudgetAlert.id == alert_id, BudgetAlert.posted_at.is_(None))
            .values(posted_at=now).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def release_alert(session: Session, *, alert_id: int, give_up: int | None = None) -> None:
    """Slack did not take it: unposted again, one attempt more (or `give_up` attempts: never again)."""
    attempts = give_up if give_up is not None else BudgetAlert.attempts + 1
    stmt = (update(BudgetAlert).where(BudgetAlert.id == alert_id)
            .values(posted_at=None, attempts=attempts).execution_options(synchronize_session=False))
    session.execute(stmt)


def llm_tokens_per_day(session: Session, *, team_id: str, start: date, end: date) -> list[tuple[date, str, int, int]]:
    """The team's LLM calls from `start` to `end` (UTC days) summed in the database per day and model: (day, model,
    prompt tokens, completion tokens), a missing count as 0. One row per day and model however many calls there
    were, so a budget's figures take as long with 10^5 calls in the month as with ten."""
    low = datetime.combine(start, time.min, UTC)
    high = datetime.combine(end, time.max, UTC)
    stamp = LlmUsage.created_at
    # PostgreSQL keeps an instant (its date would follow the session's zone); SQLite keeps the UTC digits.
    postgres = session.get_bind().dialect.name == "postgresql"
    day = func.date(func.timezone("UTC", stamp)) if postgres else func.date(stamp)
    stmt = (select(day, LlmUsage.model, func.coalesce(func.sum(LlmUsage.prompt_tokens), 0),
                   func.coalesce(func.sum(LlmUsage.completion_tokens), 0))
            .where(LlmUsage.team_id == team_id, stamp >= low, stamp <= high).group_by(day, LlmUsage.model))
    return [(on if isinstance(on, date) else date.fromisoformat(str(on)), model, int(given), int(taken))
            for on, model, given, taken in session.execute(stmt)]


def budget_admins(session: Session, *, team_id: str) -> tuple[str | None, list[str]]:
    """The team's budget admin group and people (`/budget admins`)."""
    row = session.get(BudgetAdminGroup, team_id)
    return (row.usergroup_id, list(row.user_ids or [])) if row else (None, [])


def set_budget_admins(session: Session, *, team_id: str, usergroup_id: str | None, user_ids: list[str],
                      user_id: str, now: datetime) -> None:
    session.execute(delete(BudgetAdminGroup).where(BudgetAdminGroup.team_id == team_id))
    session.add(BudgetAdminGroup(team_id=team_id, usergroup_id=usergroup_id, user_ids=user_ids, set_by=user_id,
                                 updated_at=now))


# --- services on bills → categories ------------------------------------------------------------------


def service_mappings(session: Session, *, team_id: str) -> list[ServiceMapping]:
    stmt = select(ServiceMapping).where(ServiceMapping.team_id == team_id).order_by(ServiceMapping.service_key)
    return list(session.execute(stmt).scalars())


def set_service_mapping(session: Session, *, team_id: str, service_key: str, service: str, category: str,
                        user_id: str, now: datetime) -> None:
    row = session.get(ServiceMapping, (team_id, service_key)) or ServiceMapping(
        team_id=team_id, service_key=service_key, service=service, category=category, set_by=user_id, updated_at=now)
    row.service, row.category, row.set_by, row.updated_at = service, category, user_id, now
    session.add(row)


def team_services(session: Session, *, team_id: str) -> list[tuple[str, str]]:
    """The (service, category) pairs on the team's cost entries."""
    stmt = select(CostEntry.service, CostEntry.category).where(CostEntry.team_id == team_id,
                                                               CostEntry.service != "").distinct()
    return [(service, category) for service, category in session.execute(stmt)]


def recategorise(session: Session, *, budget_ids: list[int], services: list[str], category: str) -> int:
    """Move these budgets' entries of these services (as the bills name them) to `category`."""
    if not services or not budget_ids:
        return 0
    stmt = (update(CostEntry).where(CostEntry.budget_id.in_(budget_ids), CostEntry.service.in_(services))
            .values(category=category).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount
