"""The scheduler core: cron slots, the ledger, exactly-once across instances, the leader lock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.app import build
from bot.jobs.base import ScheduleRef, cron_slots
from bot.scheduler import LeaderLock, Scheduler
from storage.db import make_engine, session_scope
from storage.models import JobRun, Schedule
from storage.repos import ensure_schedule
from tests.conftest import make_settings

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def ref(cron: str, tz: str = "UTC") -> ScheduleRef:
    return ScheduleRef(id=1, team_id="T1", job_name="j", key="k", cron=cron, timezone=tz)


# --- slot arithmetic --------------------------------------------------------------------------


def test_cron_slots_are_in_the_half_open_window() -> None:
    slots = cron_slots(ref("0 * * * *"), T0, T0 + timedelta(hours=3))
    assert slots == [T0 + timedelta(hours=h) for h in (1, 2, 3)]


def test_cron_with_seconds_field() -> None:
    slots = cron_slots(ref("*/20 * * * * *"), T0, T0 + timedelta(minutes=1))
    assert slots == [T0 + timedelta(seconds=s) for s in (20, 40, 60)]


def test_local_time_holds_across_daylight_saving() -> None:
    start = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)
    slots = cron_slots(ref("30 9 * * *", "Europe/Berlin"), start, start + timedelta(days=4))
    assert [s.strftime("%d %H:%M") for s in slots] == ["27 08:30", "28 08:30", "29 07:30", "30 07:30"]


def test_standard_cron_weekday_numbers() -> None:
    # 2026-12-06 is a Sunday: standard cron "0" means Sunday, "1-5" Monday to Friday.
    week = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday
    sundays = cron_slots(ref("0 9 * * 0"), week, week + timedelta(days=7))
    weekdays = cron_slots(ref("0 9 * * 1-5"), week, week + timedelta(days=7))
    assert [s.strftime("%a") for s in sundays] == ["Sun"]
    assert [s.strftime("%a") for s in weekdays] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_a_schedule_row_is_copied_to_plain_data() -> None:
    created = datetime(2026, 11, 1, tzinfo=UTC)
    row = Schedule(id=7, team_id="T0", job_name="standup", key="standup:3", cron="0 9 * * 1-5",
                   timezone="Europe/Berlin", created_at=created)
    assert ScheduleRef.from_row(row) == ScheduleRef(id=7, team_id="T0", job_name="standup", key="standup:3",
                                                    cron="0 9 * * 1-5", timezone="Europe/Berlin", created_at=created)


def test_bad_cron_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        cron_slots(ref("every day"), T0, T0 + timedelta(days=1))


# --- ticking ----------------------------------------------------------------------------------


class Recorder:
    """A job that records each run; thread-safe, as jobs run on a pool."""

    def __init__(self, name: str = "probe"):
        self.runs: list[tuple[datetime, str | None]] = []
        self._lock = threading.Lock()
        self.module = SimpleNamespace(NAME=name, SUMMARY="test probe", DEFAULT_CRON=None, slots=cron_slots,
                                      run=self.run)

    def run(self, deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
        with self._lock:
            self.runs.append((now, schedule.key if schedule else None))
        return "recorded"


def make_scheduler(db_url: str, recorder: Recorder, instance: str, **settings) -> Scheduler:
    runtime = build(make_settings(database_url=db_url, pmbot_instance_id=instance, **settings))
    return Scheduler(runtime.deps, jobs={recorder.module.NAME: recorder.module})


def add_schedule(engine, cron: str, *, key: str = "k", created: datetime = T0 - timedelta(days=30)) -> int:
    with session_scope(engine) as session:
        schedule = ensure_schedule(session, team_id="T1", job_name="probe", key=key, cron=cron, now=created)
        schedule.created_at = created
        session.add(schedule)
        return schedule.id


def test_a_due_slot_runs_once_and_is_recorded(db_url: str, engine) -> None:
    recorder = Recorder()
    add_schedule(engine, "0 9 * * *")
    scheduler = make_scheduler(db_url, recorder, "a")
    at = datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC)
    scheduler.tick(at, wait=True)
    scheduler.tick(at + timedelta(seconds=15), wait=True)
    assert recorder.runs == [(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "k")]
    with session_scope(engine) as session:
        run = session.exec(select(JobRun)).one()
    assert (run.status, run.claimed_by, run.finished_at is not None) == ("ok", "a", True)
    scheduler.shutdown()


def test_nothing_runs_before_a_slot_is_due(db_url: str, engine) -> None:
    recorder = Recorder()
    add_schedule(engine, "0 9 * * *")
    scheduler = make_scheduler(db_url, recorder, "a")
    scheduler.tick(datetime(2026, 12, 1, 8, 59, 59, tzinfo=UTC), wait=True)
    assert recorder.runs == []
    scheduler.shutdown()


def test_a_slot_missed_beyond_the_grace_is_not_run_late(db_url: str, engine) -> None:
    recorder = Recorder()
    add_schedule(engine, "0 9 * * *")
    scheduler = make_scheduler(db_url, recorder, "a", pmbot_misfire_grace_seconds=900)
    scheduler.tick(datetime(2026, 12, 1, 9, 16, tzinfo=UTC), wait=True)
    assert recorder.runs == []
    scheduler.tick(datetime(2026, 12, 1, 9, 14, tzinfo=UTC), wait=True)  # within grace: runs late, once
    assert recorder.runs == [(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "k")]
    scheduler.shutdown()


def test_after_downtime_only_the_latest_slot_runs(db_url: str, engine) -> None:
    recorder = Recorder()
    add_schedule(engine, "*/5 * * * *")
    scheduler = make_scheduler(db_url, recorder, "a", pmbot_misfire_grace_seconds=3600)
    scheduler.tick(datetime(2026, 12, 1, 9, 31, tzinfo=UTC), wait=True)
    assert [r[0].strftime("%H:%M") for r in recorder.runs] == ["09:30"]
    scheduler.shutdown()


def test_a_schedule_does_not_fire_for_slots_before_it_existed(db_url: str, engine) -> None:
    recorder = Recorder()
    add_schedule(engine, "0 9 * * *", created=datetime(2026, 12, 1, 9, 5, tzinfo=UTC))
    scheduler = make_scheduler(db_url, recorder, "a")
    scheduler.tick(datetime(2026, 12, 1, 9, 10, tzinfo=UTC), wait=True)
    assert recorder.runs == []
    scheduler.shutdown()


def test_a_failing_job_is_recorded_as_failed(db_url: str, engine) -> None:
    recorder = Recorder()

    def boom(deps, *, now, schedule=None):
        raise RuntimeError("kaput")

    recorder.module.run = boom
    add_schedule(engine, "0 9 * * *")
    scheduler = make_scheduler(db_url, recorder, "a")
    scheduler.tick(datetime(2026, 12, 1, 9, 0, 1, tzinfo=UTC), wait=True)
    with session_scope(engine) as session:
        run = session.exec(select(JobRun)).one()
    assert run.status == "failed" and "kaput" in run.error
    metrics = scheduler.deps.metrics.render().decode()
    assert 'pmbot_job_failures_total{job="probe"} 1.0' in metrics
    scheduler.shutdown()


def test_two_instances_on_one_database_run_each_slot_exactly_once(db_url: str, engine) -> None:
    recorder = Recorder()
    add_schedule(engine, "* * * * * *", key="every-second")
    add_schedule(engine, "*/2 * * * * *", key="every-other-second")
    a = make_scheduler(db_url, recorder, "a", pmbot_misfire_grace_seconds=5)
    b = make_scheduler(db_url, recorder, "b", pmbot_misfire_grace_seconds=5)
    moments = [T0 + timedelta(milliseconds=250 * i) for i in range(1, 41)]  # ten seconds of ticks

    def drive(scheduler: Scheduler) -> None:
        for moment in moments:
            scheduler.tick(moment, wait=True)

    threads = [threading.Thread(target=drive, args=(s,)) for s in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per_slot = [(when, key) for when, key in recorder.runs]
    assert len(per_slot) == len(set(per_slot)), "a slot ran twice"
    assert {w for w, k in per_slot if k == "every-second"} == {T0 + timedelta(seconds=s) for s in range(0, 11)}
    assert {w for w, k in per_slot if k == "every-other-second"} == {T0 + timedelta(seconds=s)
                                                                     for s in range(0, 11, 2)}
    a.shutdown()
    b.shutdown()


def test_manual_run_uses_the_given_clock(db_url: str, engine) -> None:
    recorder = Recorder()
    scheduler = make_scheduler(db_url, recorder, "a")
    results = scheduler.run_now("probe", T0)
    assert [(r.status, r.slot_at) for r in results] == [("ok", T0)]
    assert recorder.runs == [(T0, None)]
    with pytest.raises(KeyError):
        scheduler.run_now("nope", T0)
    scheduler.shutdown()


def test_default_schedules_are_created_once(db_url: str, engine) -> None:
    runtime = build(make_settings(database_url=db_url))
    runtime.scheduler.ensure_default_schedules()
    runtime.scheduler.ensure_default_schedules()
    with session_scope(engine) as session:
        rows = session.exec(select(Schedule)).all()
    assert sorted(r.job_name for r in rows) == sorted(runtime.deps.jobs)  # every job with a DEFAULT_CRON, once
    assert {r.team_id for r in rows} == {"*"}


# --- leadership on PostgreSQL -----------------------------------------------------------------


def test_only_one_instance_leads_and_a_dead_leader_is_replaced(postgres_url: str) -> None:
    first, second = make_engine(postgres_url), make_engine(postgres_url)
    a, b = LeaderLock(first), LeaderLock(second)
    assert a.hold() is True
    assert b.hold() is False
    assert a.hold() is True  # keeps what it has
    with first.connect() as conn:
        pid = conn.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :key"
        ), {"key": 0x706D626F74 & 0xFFFFFFFF}).scalar()
    assert pid is not None
    with second.connect() as conn:  # the leader's session dies, as if its process were killed
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    assert b.hold() is True
    assert a.hold() is False  # notices it lost the lock, and cannot take it back
    a.release()
    b.release()
    first.dispose()
    second.dispose()
