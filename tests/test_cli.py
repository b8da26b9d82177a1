"""The `pmbot` command line: manifest, jobs, migrate, doctor, and configuration errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlmodel import select

from bot import commands
from bot.sandbox import SlackSandbox
from storage.db import make_engine, session_scope
from storage.models import Bug, BugGradeChange, JobRun, SlackDelivery
from tests.helpers import bot_env, pmbot


def test_manifest_is_yaml_naming_every_command(tmp_path: Path) -> None:
    result = pmbot("manifest", "--url", "https://bot.acme.io/", env=bot_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    listed = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(listed) == {spec.name for spec in commands.specs()}
    for command in listed.values():
        assert command["url"] == "https://bot.acme.io/slack/events"
        assert command["should_escape"] is True
        assert command["description"]
    settings = manifest["settings"]
    assert settings["interactivity"]["request_url"] == "https://bot.acme.io/slack/events"
    assert settings["event_subscriptions"]["request_url"] == "https://bot.acme.io/slack/events"
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]
    assert settings["socket_mode_enabled"] is False


def test_socket_mode_manifest_has_no_urls(tmp_path: Path) -> None:
    result = pmbot("manifest", "--socket-mode", env=bot_env(), cwd=tmp_path)
    manifest = yaml.safe_load(result.stdout)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["interactivity"]
    assert all("url" not in c for c in manifest["features"]["slash_commands"])


def test_migrate_then_jobs_run_as_if_the_clock_read_t(db_url: str, tmp_path: Path) -> None:
    env = bot_env(DATABASE_URL=db_url)
    assert pmbot("migrate", env=env, cwd=tmp_path).returncode == 0
    t = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        session.add(SlackDelivery(team_id="T1", key="two-days-before-t", kind="x", received_at=t - timedelta(days=2)))
        session.add(SlackDelivery(team_id="T1", key="hours-before-t", kind="x", received_at=t - timedelta(hours=5)))
    result = pmbot("jobs", "run", "housekeeping", "--now", "2026-06-15T14:00+02:00", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "housekeeping at 2026-06-15T12:00:00+00:00: ok — purged 1 deliveries," in result.stdout
    with session_scope(engine) as session:
        assert [d.key for d in session.exec(select(SlackDelivery))] == ["hours-before-t"]
        runs = session.exec(select(JobRun)).all()
    assert len(runs) == 1 and runs[0].slot_at == t and runs[0].status == "ok"
    engine.dispose()


def test_jobs_run_reads_a_time_without_offset_in_the_bot_time_zone(tmp_path: Path) -> None:
    env = bot_env(PMBOT_TIMEZONE="Asia/Tokyo")
    result = pmbot("jobs", "run", "housekeeping", "--now", "2026-12-01T09:00", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "at 2026-12-01T00:00:00+00:00" in result.stdout


def test_jobs_run_rejects_unknown_job_and_bad_time(tmp_path: Path) -> None:
    unknown = pmbot("jobs", "run", "nope", env=bot_env(), cwd=tmp_path)
    assert unknown.returncode == 2 and "no job named 'nope'" in unknown.stderr and "housekeeping" in unknown.stderr
    bad = pmbot("jobs", "run", "housekeeping", "--now", "tomorrow", env=bot_env(), cwd=tmp_path)
    assert bad.returncode == 2 and "not an ISO time" in bad.stderr


def test_jobs_list_shows_schedules_and_next_run(tmp_path: Path) -> None:
    result = pmbot("jobs", "list", env=bot_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "housekeeping —" in result.stdout
    assert "cron '17 * * * *' UTC → next" in result.stdout


def test_configuration_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = pmbot("serve", env=bot_env(PMBOT_TIMEZONE="Nowhere/Land"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "PMBOT_TIMEZONE" in result.stderr and "Traceback" not in result.stderr


def test_serve_without_signing_secret_says_what_to_set(tmp_path: Path) -> None:
    env = bot_env()
    del env["SLACK_SIGNING_SECRET"]
    result = pmbot("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "SLACK_SIGNING_SECRET" in result.stderr


def test_doctor_reports_each_integration(sandbox: SlackSandbox, tmp_path: Path) -> None:
    env = bot_env(SLACK_API_URL=sandbox.api_url)
    assert pmbot("migrate", env=env, cwd=tmp_path).returncode == 0
    result = pmbot("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "✓ slack: authenticated as pmbot in Sandbox" in result.stdout
    assert "✓ database:" in result.stdout
    assert "– jira: not configured" in result.stdout
    assert "– llm: not configured" in result.stdout


def test_doctor_fails_on_a_bad_token_and_an_unreachable_jira(sandbox: SlackSandbox, tmp_path: Path) -> None:
    env = bot_env(SLACK_API_URL=sandbox.api_url, SLACK_BOT_TOKEN="xoxb-wrong", JIRA_URL="http://127.0.0.1:9",
                  JIRA_API_TOKEN="t", JIRA_PROJECT="AI")
    result = pmbot("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "✗ slack: auth.test refused: invalid_auth" in result.stdout
    assert "✗ jira: http://127.0.0.1:9" in result.stdout
    assert "✗ database: schema at None" in result.stdout
    assert "xoxb-wrong" not in result.stdout


def test_doctor_fails_on_an_unreachable_llm(sandbox: SlackSandbox, tmp_path: Path) -> None:
    env = bot_env(SLACK_API_URL=sandbox.api_url, OPENAI_API_KEY="sk-test-key-not-real",
                  OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    result = pmbot("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "✗ llm: http://127.0.0.1:9/v1: APIConnectionError" in result.stdout
    assert "sk-test-key-not-real" not in result.stdout


def test_classify_text_prints_one_json_object(tmp_path: Path) -> None:
    import json

    result = pmbot("classify", "my card 4111 1111 1111 1111 is in the answer", env=bot_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert set(verdict) == {"grade", "label", "category", "reasons", "source", "confidence", "unsure", "similar_to",
                            "pii"}
    assert (verdict["grade"], verdict["source"], verdict["pii"]) == (1, "rules", ["card"])
    assert "4111" not in result.stdout


def test_classify_jsonl_keeps_ids_and_reports_bad_lines(tmp_path: Path) -> None:
    import json

    source = tmp_path / "reports.jsonl"
    source.write_text('{"id": "a", "text": "please add dark mode"}\n'
                      'not json\n'
                      '{"id": 7, "text": "the logo is blurry"}\n'
                      '{"id": "b"}\n'
                      '{"id": "c", "text": "  "}\n', encoding="utf-8")
    result = pmbot("classify", "--jsonl", str(source), env=bot_env(), cwd=tmp_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1
    assert [(line.get("id"), line.get("grade")) for line in lines] == [("a", 5), (None, None), (7, 4), ("b", None),
                                                                       ("c", None)]
    assert lines[1]["line"] == 2 and "not JSON" in lines[1]["error"]
    assert lines[4]["error"] == "the report is empty"


def test_classify_refuses_an_empty_report(tmp_path: Path) -> None:
    result = pmbot("classify", "", env=bot_env(), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "the report is empty" in result.stderr


def test_grader_export_writes_each_teams_regrades_as_training_lines(db_url: str, tmp_path: Path) -> None:
    import json

    env = bot_env(DATABASE_URL=db_url)
    assert pmbot("migrate", env=env, cwd=tmp_path).returncode == 0
    engine = make_engine(db_url)
    t = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        for team, number, text, auto, to in (("T1", 1, "export overlaps the input", 4, 3), ("T2", 1, "slow", 3, 2),
                                             ("T1", 2, "add dark mode", 5, 5)):
            bug = Bug(team_id=team, readable_id=f"B-{number}", delivery_key=f"{team}{number}", channel_id="C1",
                      reporter_id="U1", title=text, text=text, grade=to, auto_grade=auto, created_at=t)
            session.add(bug)
            session.flush()
            kind = "change" if to != auto else "confirm"
            session.add(BugGradeChange(team_id=team, bug_id=bug.id, user_id="U0MARIA", kind=kind, from_grade=auto,
                                       to_grade=to, reason="hides the send button" if kind == "change" else None,
                                       created_at=t))
    engine.dispose()
    out = tmp_path / "t1.jsonl"
    result = pmbot("grader", "export", "--team", "T1", "--out", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert (line["id"], line["text"], line["grade"], line["auto_grade"], line["why"], line["source"]) == (
        "T1-B-1", "export overlaps the input", 3, 4, "hides the send button", "pmbot-team/T1#B-1")
    everyone = pmbot("grader", "export", env=env, cwd=tmp_path)
    assert [json.loads(x)["id"] for x in everyone.stdout.splitlines()] == ["T1-B-1", "T2-B-1"]


def test_classify_needs_text_or_a_file(tmp_path: Path) -> None:
    result = pmbot("classify", env=bot_env(), cwd=tmp_path)
    assert result.returncode == 2 and "either TEXT or --jsonl" in result.stderr


def test_classify_uses_the_llm_when_configured(tmp_path: Path) -> None:
    import json

    from tests.llm_stub import LlmStub

    stub = LlmStub()
    stub.grade = 2
    try:
        env = bot_env(OPENAI_API_KEY="sk-test-stub-key", OPENAI_BASE_URL=stub.base_url)
        result = pmbot("classify", "the summaries are bad", env=env, cwd=tmp_path)
    finally:
        stub.stop()
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert (verdict["grade"], verdict["source"]) == (2, "llm")


def test_the_start_up_probe_says_who_pmbot_is_or_why_slack_refused(sandbox: SlackSandbox, caplog) -> None:
    import logging

    from bot.app import build, check_slack
    from bot.sandbox.server import BOT_TOKEN
    from tests.conftest import make_settings

    caplog.set_level(logging.INFO, logger="bot")
    for token, url, said in ((BOT_TOKEN, sandbox.api_url, "Slack: connected as pmbot in"),
                             ("xoxb-wrong", sandbox.api_url, "auth.test refused (invalid_auth)"),
                             (BOT_TOKEN, "http://127.0.0.1:9/api/", "http://127.0.0.1:9/api/ unreachable")):
        caplog.clear()
        check_slack(build(make_settings(slack_bot_token=token, slack_api_url=url, database_url="sqlite://")))
        assert said in caplog.text, caplog.text
        assert "xoxb-wrong" not in caplog.text
