"""Claiming a job's step once (`claim_once`, `release_claim`), on SQLite and PostgreSQL: once per value, once per
day or per review date, given back only by whoever holds it, and of many schedulers at the same moment one wins."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from storage.db import session_scope
from storage.models import DrillSchedule, Risk
from storage.repos import claim_once, release_claim

NOW = datetime(2027, 3, 29, 9, 0, tzinfo=UTC)
MONDAY, TUESDAY = date(2027, 3, 29), date(2027, 3, 30)


def drill_schedule(engine) -> int:
    with session_scope(engine) as session:
        row = DrillSchedule(team_id="T1", channel_id="C1", description="first tue 15:00 UTC", day="1-7",
                            day_of_week="tue", hour=15, minute=0, timezone="UTC", scenario="pii-leak",
                            created_by="U1", created_at=NOW)
        session.add(row)
        session.flush()
        return row.id


def risk(engine, *, review_on: date | None = None) -> int:
    with session_scope(engine) as session:
        row = Risk(team_id="T1", readable_id="R-1", delivery_key="d1", channel_id="C1", title="GPU quota",
                   review_on=review_on, created_by="U1", created_at=NOW, updated_at=NOW)
        session.add(row)
        session.flush()
        return row.id


def claim(engine, column, row_id: int, value, since=None) -> bool:
    with session_scope(engine) as session:
        return claim_once(session, column, row_id=row_id, value=value, since=since)


def give_back(engine, column, row_id: int, claimed, previous) -> None:
    with session_scope(engine) as session:
        release_claim(session, column, row_id=row_id, claimed=claimed, previous=previous)


def stored(engine, model, row_id: int, name: str):
    with session_scope(engine) as session:
        return getattr(session.get(model, row_id), name)


def test_a_step_is_claimed_once_per_value(engine) -> None:
    schedule_id = drill_schedule(engine)
    slot, next_slot = NOW + timedelta(hours=1), NOW + timedelta(days=7, hours=1)
    assert claim(engine, DrillSchedule.warned_hour_for, schedule_id, slot)
    assert not claim(engine, DrillSchedule.warned_hour_for, schedule_id, slot)
    assert claim(engine, DrillSchedule.warned_hour_for, schedule_id, next_slot)  # the next slot is a new step
    assert stored(engine, DrillSchedule, schedule_id, "warned_hour_for") == next_slot
    assert stored(engine, DrillSchedule, schedule_id, "warned_day_for") is None  # another column, untouched


def test_a_flag_is_claimed_once(engine) -> None:
    risk_id = risk(engine)
    assert claim(engine, Risk.intake_reminded, risk_id, True)
    assert not claim(engine, Risk.intake_reminded, risk_id, True)


def test_a_daily_step_is_claimed_once_a_day_and_never_backwards(engine) -> None:
    risk_id = risk(engine)
    assert claim(engine, Risk.reminded_on, risk_id, MONDAY, since=MONDAY)
    assert not claim(engine, Risk.reminded_on, risk_id, MONDAY, since=MONDAY)
    assert not claim(engine, Risk.reminded_on, risk_id, MONDAY - timedelta(days=1), since=MONDAY - timedelta(days=1))
    assert claim(engine, Risk.reminded_on, risk_id, TUESDAY, since=TUESDAY)


def test_since_may_be_another_column(engine) -> None:
    """An escalation is due once per review date: a new review date makes it claimable again."""
    risk_id = risk(engine, review_on=MONDAY)
    assert claim(engine, Risk.escalated_on, risk_id, TUESDAY, since=Risk.review_on)
    assert not claim(engine, Risk.escalated_on, risk_id, TUESDAY + timedelta(days=1), since=Risk.review_on)
    with session_scope(engine) as session:
        session.get(Risk, risk_id).review_on = TUESDAY + timedelta(days=7)
    assert claim(engine, Risk.escalated_on, risk_id, TUESDAY + timedelta(days=8), since=Risk.review_on)


def test_a_claim_is_given_back_only_while_it_is_still_the_claimers(engine) -> None:
    risk_id = risk(engine)
    assert claim(engine, Risk.reminded_on, risk_id, MONDAY, since=MONDAY)
    give_back(engine, Risk.reminded_on, risk_id, claimed=MONDAY, previous=None)
    assert stored(engine, Risk, risk_id, "reminded_on") is None
    assert claim(engine, Risk.reminded_on, risk_id, MONDAY, since=MONDAY)  # a later run takes it again
    assert claim(engine, Risk.reminded_on, risk_id, TUESDAY, since=TUESDAY)
    give_back(engine, Risk.reminded_on, risk_id, claimed=MONDAY, previous=None)  # a stale give-back
    assert stored(engine, Risk, risk_id, "reminded_on") == TUESDAY


def test_of_many_schedulers_claiming_at_once_exactly_one_wins(engine) -> None:
    risk_id = risk(engine)
    start = threading.Barrier(6)
    won: list[bool] = []

    def race() -> None:
        start.wait()
        won.append(claim(engine, Risk.reminded_on, risk_id, MONDAY, since=MONDAY))

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 5 + [True]
