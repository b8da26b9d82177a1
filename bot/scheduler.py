"""The scheduler core: APScheduler 3 ticks; our tables say what is due; the ledger makes each slot run once.

Why a tick rather than one APScheduler job per schedule: schedules are rows that any replica may change,
APScheduler 3 cannot share a job store between processes, and its in-memory store forgets what was due
while the process was down. Each tick re-reads the rows, works out the latest due slot of each schedule
within the misfire grace, and claims it with a unique ledger key before running it. On PostgreSQL only
the replica holding an advisory lock ticks; if it dies, its session ends, the lock is freed and the
next replica to tick takes over.

A run that raises RetryLater (Slack failed for part of its work, for a reason that passes) is recorded as `retry`
and leaves a `waiting` ledger row for a later tick: run again not before 30 s, 1 min, 2 min … (and not before the
time the job asked for), each try claimed from its row with a conditional update, so one replica runs it. No try
is planned past the schedule's next regular slot: that run does the work anyway.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.deps import Deps
from bot.jobs.base import JobModule, RetryLater, ScheduleRef
from bot.workpool import WorkPool
from storage.db import session_scope
from storage.models import GLOBAL_TEAM_ID, JobRun
from storage.repos import claim_slot, enabled_schedules, ensure_schedule, finish_run

logger = logging.getLogger(__name__)

# pg advisory lock key: "pmbot" in ASCII, so it is recognisable in pg_locks.
LEADER_LOCK_KEY = 0x706D626F74
JOB_WORKERS = 4
ERROR_TEXT_LIMIT = 4000
# Ledger statuses besides running | ok | failed: a run that asked to be tried again, and the planned try.
RETRY, WAITING = "retry", "waiting"
RETRY_KEY = "retry:{attempt}:{origin}"  # origin: the slot key of the run that first asked
RETRY_BASE = timedelta(seconds=30)  # the first try again; each next one waits twice as long
MAX_RETRIES = 8  # 30 s + 1 min + … ≈ 2 h after the slot at most; the next regular slot usually comes first


class LeaderLock:
    """Who schedules: on PostgreSQL the holder of a session advisory lock, on SQLite this process."""

    def __init__(self, engine: Engine, key: int = LEADER_LOCK_KEY):
        self._engine = engine
        self._key = key
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def hold(self) -> bool:
        """True if this process leads now: keeps the lock it has, or tries to take a free one."""
        if not self.shared:
            return True
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.exec_driver_sql("SELECT 1")
                    return True
                except SQLAlchemyError:
                    logger.warning("lost the scheduler leader lock (database connection dropped)")
                    self._drop()
            return self._acquire()

    def _acquire(self) -> bool:
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError:
            logger.warning("database unreachable; not scheduling this tick")
            return False
        try:
            got = conn.execute(select(func.pg_try_advisory_lock(self._key))).scalar()
        except SQLAlchemyError:
            conn.invalidate()
            conn.close()
            return False
        if not got:
            conn.close()
            return False
        logger.info("this replica now runs the schedules (advisory lock taken)")
        self._conn = conn
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except SQLAlchemyError:
                pass
            self._conn = None

    def release(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(select(func.pg_advisory_unlock(self._key)))
                except SQLAlchemyError:
                    pass
                self._conn.close()
                self._conn = None


@dataclass(frozen=True)
class Claimed:
    """A ledger row this process won: what to run, as of when (`slot`), under which key."""

    run_id: int
    job: JobModule
    ref: ScheduleRef | None
    slot: datetime
    slot_key: str


@dataclass(frozen=True)
class RunResult:
    run_id: int
    job_name: str
    slot_at: datetime
    status: str
    detail: str | None


class Scheduler:
    """Claims due slots in the ledger and runs them on a small pool."""

    def __init__(self, deps: Deps, *, jobs: dict[str, JobModule] | None = None,
                 instance_id: str | None = None, leader: LeaderLock | None = None):
        settings = deps.settings
        self.deps = deps
        self.jobs = jobs if jobs is not None else deps.jobs
        self.instance_id = instance_id or settings.pmbot_instance_id
        self.grace = timedelta(seconds=settings.pmbot_misfire_grace_seconds)
        self.tick_seconds = settings.pmbot_scheduler_tick_seconds
        self.leader = leader or LeaderLock(deps.engine)
        self._pool = WorkPool(max_workers=JOB_WORKERS, thread_name_prefix="pmbot-job")
        self._seen: dict[int, datetime] = {}
        self._warned: set[str] = set()
        self._aps: BackgroundScheduler | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def ensure_default_schedules(self) -> None:
        """Give every job with a DEFAULT_CRON its deployment-wide schedule row (once)."""
        with session_scope(self.deps.engine) as session:
            for job in self.jobs.values():
                if job.DEFAULT_CRON:
                    ensure_schedule(session, team_id=GLOBAL_TEAM_ID, job_name=job.NAME, key="default",
                                    cron=job.DEFAULT_CRON, now=self.deps.clock())

    def start(self) -> None:
        """Tick every `PMBOT_SCHEDULER_TICK_SECONDS` in a background thread."""
        self.ensure_default_schedules()
        aps = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        aps.add_listener(self._on_aps_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        aps.add_job(self.tick, "interval", seconds=self.tick_seconds, id="pmbot-tick",
                    next_run_time=self.deps.clock(), replace_existing=True)
        aps.start()
        self._aps = aps
        self.deps.scheduler_role = "starting"

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop ticking, let running jobs finish, give up leadership."""
        if self._aps is not None:
            self._aps.shutdown(wait=wait)
            self._aps = None
        self._pool.shutdown(wait=wait)
        self.leader.release()
        self.deps.scheduler_role = "stopped"

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return self._pool.wait_idle(timeout)

    def _on_aps_event(self, event: JobExecutionEvent) -> None:
        if event.exception is not None:
            logger.error("scheduler tick failed: %r", event.exception)
        else:
            logger.warning("scheduler tick missed at %s", event.scheduled_run_time)

    # --- ticking ------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None, *, wait: bool = False) -> list[Future]:
        """Claim and start every slot that is due at `now`; with `wait`, return after they ran."""
        now = now or self.deps.clock()
        if not self.leader.hold():
            self.deps.scheduler_role = "standby (another replica leads)"
            return []
        self.deps.scheduler_role = "leader" if self.leader.shared else "on"
        with session_scope(self.deps.engine) as session:
            refs = [ScheduleRef.from_row(row) for row in enabled_schedules(session)]
        claimed = self._claim_due(refs, now) + self._claim_retries(refs, now)
        futures = [self._pool.submit(self._execute, one) for one in claimed]
        if wait:
            for future in futures:
                future.result()
        return futures

    def _claim_due(self, refs: list[ScheduleRef], now: datetime) -> list[Claimed]:
        claimed = []
        for ref in refs:
            job = self.jobs.get(ref.job_name)
            if job is None:
                self._warn_once(ref.job_name, "schedule %s names unknown job %r", ref.id, ref.job_name)
                continue
            slot = self._latest_due(job, ref, now)
            if slot is None or self._seen.get(ref.id) == slot:
                continue
            key = f"{ref.job_name}:{ref.id}:{slot.isoformat()}"
            run_id = self._claim_slot(ref, slot, slot_key=key)
            self._seen[ref.id] = slot  # won or lost, this slot is settled for this process
            if run_id is not None:
                claimed.append(Claimed(run_id, job, ref, slot, key))
        return claimed

    def _claim_retries(self, refs: list[ScheduleRef], now: datetime, *, on_time: bool = True) -> list[Claimed]:
        """Take the planned tries that are due: each row moves from `waiting` to `running` for one process only.
        With `on_time`, a try missed by more than the misfire grace (every replica was down) is dropped, as a
        regular slot would be: it would run as of a moment long past."""
        by_id = {ref.id: ref for ref in refs}
        with session_scope(self.deps.engine) as session:
            stmt = (select(JobRun.id, JobRun.schedule_id, JobRun.job_name, JobRun.slot_at, JobRun.slot_key)
                    .where(JobRun.status == WAITING, JobRun.slot_at <= now).order_by(JobRun.slot_at, JobRun.id))
            waiting = list(session.execute(stmt).all())
        claimed = []
        for run_id, schedule_id, job_name, slot_at, slot_key in waiting:
            ref, job = by_id.get(schedule_id), self.jobs.get(job_name)
            if ref is None or job is None:  # the schedule was removed or disabled meanwhile: nothing to retry
                self._settle(run_id, WAITING, "missed", "its schedule is gone or disabled")
            elif on_time and slot_at < now - self.grace:
                self._settle(run_id, WAITING, "missed", "not tried within the misfire grace")
            elif self._settle(run_id, WAITING, "running"):
                claimed.append(Claimed(run_id, job, ref, slot_at, slot_key))
        return claimed

    def _settle(self, run_id: int, expected: str, status: str, error: str | None = None) -> bool:
        """Move a ledger row from `expected` to `status`; False when another process moved it first."""
        values: dict[str, object] = {"status": status, "claimed_by": self.instance_id}
        if status == "running":
            values["started_at"] = self.deps.clock()
        else:
            values.update(finished_at=self.deps.clock(), error=error)
        with session_scope(self.deps.engine) as session:
            stmt = (update(JobRun).where(JobRun.id == run_id, JobRun.status == expected).values(values)
                    .execution_options(synchronize_session=False))
            return session.execute(stmt).rowcount == 1

    def _latest_due(self, job: JobModule, ref: ScheduleRef, now: datetime) -> datetime | None:
        start = now - self.grace
        if ref.created_at is not None and ref.created_at > start:
            start = ref.created_at
        try:
            slots = job.slots(ref, start, now)
        except ValueError as exc:
            self._warn_once(f"bad:{ref.id}", "schedule %s cannot be computed: %s", ref.id, exc)
            return None
        # Coalesce: after downtime, run the latest missed slot once rather than a burst of them.
        return slots[-1] if slots else None

    def _claim_slot(self, ref: ScheduleRef, slot: datetime, *, slot_key: str) -> int | None:
        """Insert the slot's ledger row: its run id when this process won it, None when another one did."""
        with session_scope(self.deps.engine) as session:
            return claim_slot(session, team_id=ref.team_id, job_name=ref.job_name, schedule_id=ref.id,
                              slot_key=slot_key, slot_at=slot, claimed_by=self.instance_id, now=self.deps.clock())

    def _execute(self, claimed: Claimed, *, plan_retry: bool = True) -> RunResult:
        job, run_id, slot = claimed.job, claimed.run_id, claimed.slot
        status, detail = "ok", None
        try:
            detail = job.run(self.deps, now=slot, schedule=claimed.ref)
        except RetryLater as later:
            status, detail = RETRY, later.detail[:ERROR_TEXT_LIMIT]
            logger.warning("job %s (run %s, slot %s) is to be tried again: %s", job.NAME, run_id, slot.isoformat(),
                           later.detail)
            if plan_retry:
                try:
                    self._plan_retry(claimed, later.not_before)
                except SQLAlchemyError:
                    logger.exception("job %s: could not plan the next try (the next regular run does it)", job.NAME)
        except Exception as exc:
            status, detail = "failed", f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT]
            logger.exception("job %s (run %s, slot %s) failed", job.NAME, run_id, slot.isoformat())
            self.deps.metrics.job_failures.labels(job.NAME).inc()
        self.deps.metrics.job_runs.labels(job.NAME, status).inc()
        with session_scope(self.deps.engine) as session:
            finish_run(session, run_id=run_id, status=status, now=self.deps.clock(),
                       error=detail if status in ("failed", RETRY) else None)
        return RunResult(run_id, job.NAME, slot, status, detail)

    def _plan_retry(self, claimed: Claimed, not_before: datetime | None) -> datetime | None:
        """Leave a `waiting` row for the next try of this run: 30 s after its first, then twice as long each
        time, not before what the job asked; none past MAX_RETRIES or when a regular slot comes first."""
        ref = claimed.ref
        origin, attempt = _retry_origin(claimed.slot_key)
        if ref is None or ref.id is None or attempt >= MAX_RETRIES:
            logger.error("job %s: not trying slot %s again (%s)", claimed.job.NAME, origin,
                         "a manual run" if ref is None or ref.id is None else f"{MAX_RETRIES} tries already")
            return None
        at = claimed.slot + RETRY_BASE * 2 ** attempt
        if not_before is not None and not_before > at:
            at = not_before
        if claimed.job.slots(ref, claimed.slot, at):
            return None  # the schedule's next regular run comes first and does the work
        with session_scope(self.deps.engine) as session:
            claim_slot(session, team_id=ref.team_id, job_name=ref.job_name, schedule_id=ref.id,
                       slot_key=RETRY_KEY.format(attempt=attempt + 1, origin=origin), slot_at=at,
                       claimed_by=self.instance_id, now=self.deps.clock(), status=WAITING)
        return at

    # --- by hand ------------------------------------------------------------------------------

    def run_due(self, start: datetime, end: datetime, *, per_schedule: int = 48) -> tuple[list[RunResult], int]:
        """Slots in (start, end], oldest first, each claimed once: the shell moving its clock.

        At most the latest `per_schedule` slots of each schedule run (a jump of years must not replay an
        hourly job thousands of times); the second value counts the older slots skipped.
        """
        with session_scope(self.deps.engine) as session:
            refs = [ScheduleRef.from_row(row) for row in enabled_schedules(session)]
        due, skipped = [], 0
        for ref in refs:
            job = self.jobs.get(ref.job_name)
            if job is None:
                continue
            window_start = max(start, ref.created_at) if ref.created_at else start
            slots = job.slots(ref, window_start, end)
            skipped += max(0, len(slots) - per_schedule)
            due += [(slot, ref, job) for slot in slots[-per_schedule:]]
        results = []
        for slot, ref, job in sorted(due, key=lambda item: (item[0], item[1].id or 0)):
            key = f"{ref.job_name}:{ref.id}:{slot.isoformat()}"
            run_id = self._claim_slot(ref, slot, slot_key=key)
            if run_id is not None:
                results.append(self._execute(Claimed(run_id, job, ref, slot, key)))
        for _ in range(MAX_RETRIES):  # the tries planned meanwhile, as the ticks in (start, end] would run them
            retries = self._claim_retries(refs, end, on_time=False)
            if not retries:
                break
            results += [self._execute(claimed) for claimed in retries]
        return results, skipped

    def run_now(self, job_name: str, now: datetime) -> list[RunResult]:
        """Run a job once as if the clock read `now`: once per schedule it has, or once without one."""
        job = self.jobs.get(job_name)
        if job is None:
            raise KeyError(job_name)
        with session_scope(self.deps.engine) as session:
            refs = [ScheduleRef.from_row(r) for r in enabled_schedules(session) if r.job_name == job_name] or [None]
        results = []
        for ref in refs:
            team_id = ref.team_id if ref else GLOBAL_TEAM_ID
            key = f"manual:{job_name}:{uuid.uuid4().hex}"
            manual = ref or ScheduleRef(None, team_id, job_name, "manual", "", "UTC")
            run_id = self._claim_slot(manual, now, slot_key=key)
            assert run_id is not None  # a fresh uuid key cannot collide
            # Once, as asked: a manual run that meets Slack's trouble says so (status retry) and plans nothing.
            results.append(self._execute(Claimed(run_id, job, ref, now, key), plan_retry=False))
        return results

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)


def _retry_origin(slot_key: str) -> tuple[str, int]:
    """(the slot key of the run that first asked to be tried again, how many tries followed it) of a ledger key."""
    if slot_key.startswith("retry:"):
        attempt, _, origin = slot_key[len("retry:"):].partition(":")
        if attempt.isdigit():
            return origin, int(attempt)
    return slot_key, 0
