"""The listing and stats queries read a page's ids from an index and then only that page's rows, and a team's
reviews through its own index (bench/queries.py measures why). What they return must be exactly the documented
order and counts, on SQLite and PostgreSQL: checked here against the same answers worked out in Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain.risk import BANDS
from storage.bugs import BugFilter, bug_stats, list_bugs
from storage.db import session_scope
from storage.models import Bug, BugGradeChange, Risk
from storage.risks import RiskFilter, list_risks

TEAM, OTHER = "T0SCALE01", "T0SCALE02"
START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PEOPLE = ("U0SCALE01", "U0SCALE02", "U0SCALE03")
RISK_CATEGORIES = ("privacy", "vendor", "data")
RISK_STATUSES = ("open", "mitigating", "accepted", "closed")


def _bug(team: str, n: int) -> Bug:
    """Grades 1–5 and ungraded, both statuses, people as reporter or assignee; every third pair of reports was
    made in the same second, so the id has to break the tie."""
    grade = (None, 1, 2, 3, 4, 5)[n % 6]
    return Bug(team_id=team, readable_id=f"B-{n}", delivery_key=f"scale-{n}", channel_id="C0SCALE01",
               reporter_id=PEOPLE[n % 3], assignee_id=PEOPLE[(n + 1) % 3] if n % 4 == 0 else None,
               title=f"Report {n}", text=f"Report {n} in full.", status="closed" if n % 5 == 0 else "open",
               grade=grade, auto_grade=grade, created_at=START + timedelta(hours=n - n % 3 if n % 2 else n))


def _risk(team: str, n: int) -> Risk:
    """Scores with many ties (and unscored risks), every status, owners and categories."""
    scored = n % 7 != 0
    return Risk(team_id=team, readable_id=f"R-{n}", delivery_key=f"scale-{n}", channel_id="C0SCALE01",
                title=f"Risk {n}", probability=n % 5 + 1 if scored else None,
                impact=(n * 3) % 5 + 1 if scored else None,
                owner_id=PEOPLE[n % 3] if n % 4 else None, category=RISK_CATEGORIES[n % 3],
                status=RISK_STATUSES[n % 4], created_by=PEOPLE[0], created_at=START + timedelta(hours=n),
                updated_at=START + timedelta(hours=n))


@pytest.fixture
def stored(engine):
    """Sixty bugs and fifty risks in the team, as many in another team, and reviews of some bugs in both."""
    with session_scope(engine) as session:
        for team in (TEAM, OTHER):
            session.add_all([_bug(team, n) for n in range(60)] + [_risk(team, n) for n in range(50)])
        session.flush()
        for bug in session.execute(select(Bug).where(Bug.grade.is_not(None))).scalars():
            for kind in _REVIEWS[bug.id % 3]:
                session.add(BugGradeChange(team_id=bug.team_id, bug_id=bug.id, user_id=PEOPLE[1], kind=kind,
                                           from_grade=bug.grade, to_grade=bug.grade, created_at=NOW))
    with session_scope(engine) as session:
        return tuple(list(session.execute(select(model)).scalars()) for model in (Bug, Risk, BugGradeChange))


# Not looked at; confirmed and later changed; only confirmed.
_REVIEWS = {0: (), 1: ("confirm", "change"), 2: ("confirm",)}


def _bug_matches(bug: Bug, where: BugFilter) -> bool:
    return (bug.team_id == TEAM and where.status in ("all", bug.status)
            and (where.grade is None or bug.grade == where.grade)
            and (where.user_id is None or where.user_id in (bug.reporter_id, bug.assignee_id)))


def _bug_order(bug: Bug) -> tuple:
    """Most severe first, ungraded last, then newest, then the highest id."""
    return bug.grade is None, bug.grade or 0, -bug.created_at.timestamp(), -bug.id


BUG_FILTERS = [BugFilter(), BugFilter(status="closed"), BugFilter(status="all"), BugFilter(grade=3),
               BugFilter(status="all", grade=1), BugFilter(user_id=PEOPLE[0]),
               BugFilter(status="all", user_id=PEOPLE[1])]


@pytest.mark.parametrize("where", BUG_FILTERS, ids=repr)
def test_every_bug_page_is_the_slice_of_the_documented_order(engine, stored, where: BugFilter) -> None:
    bugs, _, _ = stored
    expected = [b.id for b in sorted((b for b in bugs if _bug_matches(b, where)), key=_bug_order)]
    with session_scope(engine) as session:
        for offset in range(0, len(expected) + 8, 7):
            page, total = list_bugs(session, team_id=TEAM, where=where, offset=offset, limit=7)
            assert [b.id for b in page] == expected[offset:offset + 7]
            assert total == len(expected)


def _risk_matches(risk: Risk, where: RiskFilter) -> bool:
    score = (risk.probability or 0) * (risk.impact or 0)
    low, high = next(((lo, hi) for name, lo, hi in BANDS if name == where.band), (0, 25))
    status_fits = risk.status != "closed" if where.status == "active" else where.status in ("all", risk.status)
    return (risk.team_id == TEAM and status_fits and where.owner_id in (None, risk.owner_id)
            and where.category in (None, risk.category) and low <= score <= high)


RISK_FILTERS = [RiskFilter(), RiskFilter(status="all"), RiskFilter(status="closed"), RiskFilter(status="accepted"),
                RiskFilter(owner_id=PEOPLE[2]), RiskFilter(category="vendor"), RiskFilter(status="all", band="medium")]


@pytest.mark.parametrize("where", RISK_FILTERS, ids=repr)
def test_every_risk_page_is_the_slice_of_the_score_order(engine, stored, where: RiskFilter) -> None:
    _, risks, _ = stored
    expected = [r.id for r in sorted((r for r in risks if _risk_matches(r, where)),
                                     key=lambda r: (-(r.probability or 0) * (r.impact or 0), -r.id))]
    with session_scope(engine) as session:
        whole, total = list_risks(session, team_id=TEAM, where=where)
        assert [r.id for r in whole] == expected and total == len(expected)
        for offset in range(0, len(expected) + 6, 6):
            page, total = list_risks(session, team_id=TEAM, where=where, offset=offset, limit=6)
            assert [r.id for r in page] == expected[offset:offset + 6]
            assert total == len(expected)


def test_bug_stats_count_only_the_teams_bugs_and_reviews(engine, stored) -> None:
    bugs, _, changes = stored
    ours = [b for b in bugs if b.team_id == TEAM]
    by: dict[tuple[int | None, str], int] = {}
    for bug in ours:
        by[(bug.grade, bug.status)] = by.get((bug.grade, bug.status), 0) + 1
    opened = sorted(b.created_at for b in ours if b.status == "open")
    kinds: dict[int, set[str]] = {}
    for change in changes:
        kinds.setdefault(change.bug_id, set()).add(change.kind)
    reviews: dict[int, tuple[int, int]] = {}
    for bug in ours:
        if bug.id in kinds and bug.auto_grade is not None:
            confirmed, changed = reviews.get(bug.auto_grade, (0, 0))
            was_changed = "change" in kinds[bug.id]
            reviews[bug.auto_grade] = (confirmed + (not was_changed), changed + was_changed)
    with session_scope(engine) as session:
        stats = bug_stats(session, team_id=TEAM, now=NOW)
    assert stats.by_grade_status == by
    assert stats.median_open_age_days == pytest.approx((NOW - opened[len(opened) // 2]).total_seconds() / 86400)
    assert stats.reviews == reviews
    assert sum(c + x for c, x in reviews.values()) < len({c.bug_id for c in changes})  # the other team's are left out
