"""Storage on SQLite and PostgreSQL: UTC round-trips, race-free ids, delivery records, migrations."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import SQLModel, select

from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import JobRun, Schedule, SlackDelivery
from storage.repos import allocate_id, claim_slot, ensure_schedule, purge_deliveries, record_delivery


def test_migrations_match_the_models(engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []


def test_aware_datetime_round_trips_as_the_same_instant_in_utc(engine) -> None:
    berlin_morning = datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    with session_scope(engine) as session:
        session.add(SlackDelivery(team_id="T1", key="k1", kind="test", received_at=berlin_morning))
    with session_scope(engine) as session:
        stored = session.exec(select(SlackDelivery)).one().received_at
    assert stored == berlin_morning
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored.hour == 7


def test_naive_datetime_is_refused(engine) -> None:
    with pytest.raises(StatementError), session_scope(engine) as session:
        session.add(SlackDelivery(team_id="T1", key="k2", kind="test", received_at=datetime(2026, 1, 1)))
        session.flush()


def test_ids_are_per_team_and_per_prefix(engine) -> None:
    with session_scope(engine) as session:
        got = [allocate_id(session, team_id="T1", prefix="B") for _ in range(3)]
        got.append(allocate_id(session, team_id="T2", prefix="B"))
        got.append(allocate_id(session, team_id="T1", prefix="INC"))
    assert got == ["B-1", "B-2", "B-3", "B-1", "INC-1"]


def test_ids_allocated_concurrently_never_repeat(engine) -> None:
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(10):
                with session_scope(engine) as session:
                    value = allocate_id(session, team_id="T1", prefix="R")
                with lock:
                    results.append(value)
        except BaseException as exc:  # noqa: BLE001 — surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results, key=lambda r: int(r[2:])) == [f"R-{n}" for n in range(1, 81)]


def test_a_delivery_is_recognised_when_it_comes_again(engine) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        assert record_delivery(session, team_id="T1", key="Ev1", kind="message", now=now) is True
    with session_scope(engine) as session:
        assert record_delivery(session, team_id="T1", key="Ev1", kind="message", now=now) is False
        assert record_delivery(session, team_id="T2", key="Ev1", kind="message", now=now) is True


def test_old_deliveries_are_purged(engine) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(SlackDelivery(team_id="T1", key="old", kind="x", received_at=now - timedelta(days=2)))
        session.add(SlackDelivery(team_id="T1", key="new", kind="x", received_at=now))
    with session_scope(engine) as session:
        assert purge_deliveries(session, before=now - timedelta(days=1)) == 1
        assert [d.key for d in session.exec(select(SlackDelivery))] == ["new"]


def test_a_slot_is_claimed_once(engine) -> None:
    slot = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        schedule = ensure_schedule(session, team_id="T1", job_name="standup", key="s1", cron="0 9 * * *", now=slot)
    args = {"team_id": "T1", "job_name": "standup", "schedule_id": schedule.id, "slot_key": "standup:1:x",
            "slot_at": slot, "now": slot}
    with session_scope(engine) as session:
        first = claim_slot(session, claimed_by="a", **args)
    with session_scope(engine) as session:
        second = claim_slot(session, claimed_by="b", **args)
    assert first is not None and second is None
    with session_scope(engine) as session:
        runs = session.exec(select(JobRun)).all()
    assert [(r.claimed_by, r.slot_at) for r in runs] == [("a", slot)]


def test_ensure_schedule_keeps_one_row(engine) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        a = ensure_schedule(session, team_id="T1", job_name="j", key="k", cron="0 * * * *", now=now)
        b = ensure_schedule(session, team_id="T1", job_name="j", key="k", cron="5 * * * *", now=now)
    assert a.id == b.id and b.cron == "0 * * * *"
    with session_scope(engine) as session:
        assert len(session.exec(select(Schedule)).all()) == 1


def test_foreign_keys_are_enforced(engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(JobRun(team_id="T1", job_name="j", schedule_id=999, slot_key="k", slot_at=datetime.now(UTC),
                           status="running", claimed_by="a", started_at=datetime.now(UTC)))
        session.flush()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
