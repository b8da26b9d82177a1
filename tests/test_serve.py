"""`pmbot serve` as a real process: health, draining on SIGTERM, and scheduler leadership across replicas."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from bot.sandbox import Driver, SlackSandbox
from storage.clock import system_clock
from storage.db import make_engine, session_scope
from storage.repos import ensure_schedule
from tests.conftest import SIGNING_SECRET
from tests.helpers import ServeProcess, bot_env


def test_serve_comes_up_with_only_slack_credentials(db_url: str, sandbox: SlackSandbox, tmp_path: Path) -> None:
    plain_url = db_url.replace("postgresql+psycopg://", "postgresql://")  # the form hosting providers hand out
    server = ServeProcess(bot_env(SLACK_API_URL=sandbox.api_url, DATABASE_URL=plain_url), tmp_path)
    try:
        health = server.wait_healthy()
        assert health["http"] == 200 and health["status"] == "ok" and health["database"] == "ok"
        driver = Driver(server.url + "/slack/events", SIGNING_SECRET, sandbox)
        assert "`/pmbot`" in driver.command("/pmbot", "help").json()["text"]
        assert server.terminate() == 0
    finally:
        server.stop()
    log = server.log()
    assert "Jira mirroring is off" in log and log.count("Jira mirroring is off") == 1
    assert "stopped cleanly" in log
    assert "xoxb-" not in log


def test_serve_uses_sqlite_in_the_working_directory_by_default(sandbox: SlackSandbox, tmp_path: Path) -> None:
    server = ServeProcess(bot_env(SLACK_API_URL=sandbox.api_url), tmp_path)
    try:
        assert server.wait_healthy()["database"] == "ok"
    finally:
        server.stop()
    assert (tmp_path / "pmbot.db").exists()


def test_sigterm_finishes_work_already_acked(sandbox: SlackSandbox, tmp_path: Path) -> None:
    server = ServeProcess(bot_env(SLACK_API_URL=sandbox.api_url), tmp_path)
    try:
        server.wait_healthy()
        sandbox.response_delay = 2.0  # the answer after the ack is still travelling when SIGTERM comes
        driver = Driver(server.url + "/slack/events", SIGNING_SECRET, sandbox)
        assert driver.command("/pmbot", "status").status == 200
        time.sleep(0.3)
        assert sandbox.responses == []
        assert server.terminate() == 0
    finally:
        server.stop()
    assert len(sandbox.responses) == 1
    assert "Database:" in sandbox.responses[0]["text"]


def test_a_killed_leader_is_replaced(postgres_url: str, sandbox: SlackSandbox, tmp_path: Path) -> None:
    engine = make_engine(postgres_url)
    with session_scope(engine) as session:
        ensure_schedule(session, team_id="*", job_name="housekeeping", key="every-second", cron="* * * * * *",
                        now=system_clock())  # the replicas run on the real clock
    env = {"SLACK_API_URL": sandbox.api_url, "DATABASE_URL": postgres_url, "PMBOT_SCHEDULER_TICK_SECONDS": "0.2",
           "PMBOT_MISFIRE_GRACE_SECONDS": "5"}
    replicas = {name: ServeProcess(bot_env(PMBOT_INSTANCE_ID=name, **env), tmp_path, name=name)
                for name in ("replica-a", "replica-b")}

    def claimers(since: int = 0) -> set[str]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT DISTINCT claimed_by FROM job_run WHERE id > :since"), {"since": since})
            return {row[0] for row in rows}

    def last_id() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM job_run")).scalar()

    try:
        for replica in replicas.values():
            replica.wait_healthy()
        deadline = time.monotonic() + 20
        while not claimers() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # both replicas have ticked many times by now
        leaders = claimers()
        assert len(leaders) == 1, f"more than one replica ran slots: {leaders}"
        leader = leaders.pop()
        follower = next(name for name in replicas if name != leader)
        replicas[leader].kill()
        mark = last_id()
        deadline = time.monotonic() + 20
        while follower not in claimers(mark) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert claimers(mark) == {follower}
        with engine.connect() as conn:
            duplicates = conn.execute(text(
                "SELECT slot_at FROM job_run WHERE schedule_id IS NOT NULL GROUP BY schedule_id, slot_at "
                "HAVING COUNT(*) > 1")).all()
        assert duplicates == []
    finally:
        for replica in replicas.values():
            replica.stop()
        engine.dispose()
