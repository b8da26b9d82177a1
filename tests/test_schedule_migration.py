"""Migration 0016 on SQLite and PostgreSQL: schedule rows lose `params` (no job read it), and the ledger's rows keep
the schedule they ran for (a table copy on SQLite would have emptied `job_run.schedule_id`)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from storage.db import make_engine
from storage.migrate import alembic_config, current_revision, head_revision, upgrade


def test_schedule_params_are_dropped_and_ledger_links_kept(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        command.downgrade(alembic_config(engine), "0015")
        assert "params" in {c["name"] for c in inspect(engine).get_columns("schedule")}
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO schedule (team_id, job_name, key, cron, timezone, params, enabled, "
                              "created_at) VALUES ('*', 'standup', 'default', '*/5 * * * *', 'UTC', '{}', true, "
                              "'2027-03-29 09:00:00')"))
            schedule_id = conn.execute(text("SELECT id FROM schedule")).scalar_one()
            conn.execute(text("INSERT INTO job_run (team_id, job_name, schedule_id, slot_key, slot_at, status, "
                              "claimed_by, started_at) VALUES ('*', 'standup', :id, 'standup:1:x', "
                              "'2027-03-29 09:00:00', 'ok', 'a', '2027-03-29 09:00:00')"), {"id": schedule_id})
        upgrade(engine)
        assert current_revision(engine) == head_revision(engine)
        assert "params" not in {c["name"] for c in inspect(engine).get_columns("schedule")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT schedule_id FROM job_run")).scalar_one() == schedule_id
            assert conn.execute(text("SELECT count(*) FROM schedule")).scalar_one() == 1
    finally:
        engine.dispose()
