"""Repository verbs for bugs, their grade history and LLM usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlmodel import Session

from storage.models import Bug, BugGradeChange, LlmUsage
from storage.repos import create_once


def create_bug(session: Session, *, team_id: str, delivery_key: str, channel_id: str, reporter_id: str,
               title: str, text: str, details: dict, pii: list[str], now: datetime) -> tuple[Bug, bool]:
    """Store a new report (False as second value when this delivery already made one)."""
    return create_once(session, Bug, team_id=team_id, delivery_key=delivery_key, prefix="B", channel_id=channel_id,
                       reporter_id=reporter_id, title=title, text=text, details=details, pii=pii, created_at=now)


def get_bug(session: Session, *, team_id: str, readable_id: str) -> Bug | None:
    """A bug by its readable id (`B-12`), within one team."""
    stmt = select(Bug).where(Bug.team_id == team_id, Bug.readable_id == readable_id.upper())
    return session.execute(stmt).scalar_one_or_none()


def bug_by_id(session: Session, *, team_id: str, bug_id: int) -> Bug | None:
    bug = session.get(Bug, bug_id)
    return bug if bug is not None and bug.team_id == team_id else None


def record_change(session: Session, *, bug: Bug, user_id: str, kind: str, to_grade: int, now: datetime,
                  reason: str | None = None) -> BugGradeChange:
    """Log a confirmation or a change of grade, and apply a change to the bug."""
    change = BugGradeChange(team_id=bug.team_id, bug_id=bug.id, user_id=user_id, kind=kind,
                            from_grade=bug.grade, to_grade=to_grade, reason=reason, created_at=now)
    session.add(change)
    bug.grade = to_grade
    session.add(bug)
    return change


def grade_history(session: Session, *, bug_id: int) -> list[BugGradeChange]:
    stmt = select(BugGradeChange).where(BugGradeChange.bug_id == bug_id).order_by(BugGradeChange.id)
    return list(session.execute(stmt).scalars())


@dataclass(frozen=True)
class BugFilter:
    status: str = "open"  # open | closed | all
    grade: int | None = None
    user_id: str | None = None  # "mine": reported by or assigned to


# Most severe first (ungraded last), then newest; the id makes the order total, so pages never overlap.
_BUG_ORDER = (Bug.grade.is_(None), Bug.grade, Bug.created_at.desc(), Bug.id.desc())


def list_bugs(session: Session, *, team_id: str, where: BugFilter, offset: int, limit: int) -> tuple[list[Bug], int]:
    """A page of bugs, most severe and newest first, and how many match in all."""
    conditions = [Bug.team_id == team_id]
    if where.status != "all":
        conditions.append(Bug.status == where.status)
    if where.grade is not None:
        conditions.append(Bug.grade == where.grade)
    if where.user_id is not None:
        conditions.append((Bug.reporter_id == where.user_id) | (Bug.assignee_id == where.user_id))
    total = session.execute(select(func.count()).select_from(Bug).where(*conditions)).scalar_one()
    # The page's ids are sorted from the index (team, status, grade, created_at, id) alone; only the rows shown
    # are read, not every matching row of the team scattered over a big table.
    page = select(Bug.id).where(*conditions).order_by(*_BUG_ORDER).offset(offset).limit(limit)
    stmt = select(Bug).where(Bug.id.in_(page)).order_by(*_BUG_ORDER)
    return list(session.execute(stmt).scalars()), total


@dataclass(frozen=True)
class BugStats:
    by_grade_status: dict[tuple[int | None, str], int]
    median_open_age_days: float | None
    reviews: dict[int, tuple[int, int]]  # automatic grade → (confirmed, changed)


def bug_stats(session: Session, *, team_id: str, now: datetime) -> BugStats:
    """Counts by grade and status, median age of open bugs, and confirmations vs changes per grade."""
    rows = session.execute(select(Bug.grade, Bug.status, func.count()).where(Bug.team_id == team_id)
                           .group_by(Bug.grade, Bug.status)).all()
    by = {(grade, status): count for grade, status, count in rows}
    open_count = sum(count for (_, status), count in by.items() if status == "open")
    median = None
    if open_count:
        middle = session.execute(select(Bug.created_at).where(Bug.team_id == team_id, Bug.status == "open")
                                 .order_by(Bug.created_at).offset(open_count // 2).limit(1)).scalar_one()
        median = (now - middle).total_seconds() / 86400
    # Per reviewed bug: was its automatic grade changed by anyone (else it was only confirmed)? A change carries
    # its bug's team: naming it on both sides lets the database read the team's reviews by index, not every team's.
    per_bug = (select(Bug.auto_grade.label("auto"),
                      func.max(case((BugGradeChange.kind == "change", 1), else_=0)).label("changed"))
               .join(BugGradeChange, BugGradeChange.bug_id == Bug.id)
               .where(Bug.team_id == team_id, BugGradeChange.team_id == team_id, Bug.auto_grade.is_not(None))
               .group_by(Bug.id, Bug.auto_grade).subquery())
    review_rows = session.execute(select(per_bug.c.auto, func.sum(1 - per_bug.c.changed), func.sum(per_bug.c.changed))
                                  .group_by(per_bug.c.auto)).all()
    reviews = {auto: (int(confirmed), int(changed)) for auto, confirmed, changed in review_rows}
    return BugStats(by, median, reviews)


@dataclass(frozen=True)
class Regrade:
    """A report of the team whose grade a person changed: the team's own labelled example."""

    bug_id: int
    readable_id: str
    text: str  # redacted
    auto_grade: int | None
    grade: int  # the grade the person set last
    category: str | None
    user_id: str
    reason: str
    changed_at: datetime


def team_regrades(session: Session, *, team_id: str, limit: int = 500) -> list[Regrade]:
    """The team's regraded reports, newest change first, one per report (its latest change counts)."""
    rows = session.execute(select(Bug, BugGradeChange).join(BugGradeChange, BugGradeChange.bug_id == Bug.id)
                           .where(Bug.team_id == team_id, BugGradeChange.team_id == team_id,
                                  BugGradeChange.kind == "change")
                           .order_by(BugGradeChange.created_at.desc(), BugGradeChange.id.desc())
                           .limit(limit * 2)).all()
    seen: dict[int, Regrade] = {}
    for bug, change in rows:
        if bug.id not in seen and len(seen) < limit:
            seen[bug.id] = Regrade(bug.id, bug.readable_id, bug.text, bug.auto_grade, change.to_grade, bug.category,
                                   change.user_id, change.reason or "", change.created_at)
    return list(seen.values())


def all_regrades(session: Session, *, team_id: str | None = None) -> list[tuple[str, Regrade]]:
    """(team id, regrade) for one team or every team, for `pmbot grader export`."""
    teams = [team_id] if team_id else session.execute(
        select(BugGradeChange.team_id).where(BugGradeChange.kind == "change").distinct()
        .order_by(BugGradeChange.team_id)).scalars().all()
    return [(team, r) for team in teams for r in team_regrades(session, team_id=team, limit=100_000)]


def record_llm_usage(session: Session, *, team_id: str, feature: str, model: str, prompt_tokens: int | None,
                     completion_tokens: int | None, latency_ms: int, request_id: str | None, now: datetime) -> None:
    """Keep one LLM call's token counts for the budget feature."""
    session.add(LlmUsage(team_id=team_id, feature=feature, model=model, prompt_tokens=prompt_tokens,
                         completion_tokens=completion_tokens, latency_ms=latency_ms, request_id=request_id,
                         created_at=now))


def close_if_open(session: Session, *, bug_id: int, at: datetime, by: str, resolution: str | None) -> bool:
    """Close the bug if it is still open (one conditional UPDATE: of two concurrent closes, one wins)."""
    stmt = (update(Bug).where(Bug.id == bug_id, Bug.status == "open")
            .values(status="closed", closed_at=at, closed_by=by, resolution=resolution))
    return session.execute(stmt).rowcount == 1
