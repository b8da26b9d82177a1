"""Jira mirroring end to end: the real bot and the real `jira` client against a stateful Jira stand-in.

Slack-shaped input goes through the sandbox; the outbox worker and the poll run as the jobs run them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from sqlmodel import select

from bot.mirror import outbox, status, sync
from storage.clock import system_clock as utcnow
from storage.db import session_scope
from storage.models import Bug, Incident, JiraLink, JiraOutbox, Risk
from tests.conftest import RunningBot
from tests.helpers import bot_env, free_port, pmbot
from tests.jira_stub import SETTINGS, JiraStub

TEAM = "T0SANDBOX"


@pytest.fixture
def jira():
    stub = JiraStub()
    yield stub
    stub.down()


def jira_settings(jira: JiraStub, **extra) -> dict:
    return {"jira_url": jira.url, "jira_user": jira.user, "jira_api_token": jira.token,
            "pmbot_admin_channel": "C0RANDOM", **SETTINGS, **extra}


@pytest.fixture
def bot(bot_factory, jira: JiraStub) -> RunningBot:
    return bot_factory(**jira_settings(jira))


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def deliver(bot: RunningBot, *, later: timedelta = timedelta(0)) -> outbox.Run:
    run = outbox.deliver(bot.runtime.deps, now=utcnow() + later)
    bot.runtime.settle()
    return run


def rows(bot: RunningBot) -> list[JiraOutbox]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(JiraOutbox).order_by(JiraOutbox.id)))


def links(bot: RunningBot) -> list[JiraLink]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(JiraLink).order_by(JiraLink.id)))


def get(bot: RunningBot, model, readable_id: str):
    with session_scope(bot.runtime.deps.engine) as session:
        return session.exec(select(model).where(model.readable_id == readable_id)).one()


def thread(bot: RunningBot, item) -> list[str]:
    return [m.get("text", "") for m in bot.sandbox.messages
            if m.get("thread_ts") == item.message_ts and m["channel"] == item.message_channel]


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- out to Jira -------------------------------------------------------------------------------------


def test_a_bug_becomes_a_jira_issue_with_mapped_fields_and_no_personal_data(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/bug", "The assistant shows other users' chat history to me; mine is alice@example.com {code}|*")
    assert jira.issues == {}, "nothing reaches Jira from the request path"
    run = deliver(bot)
    assert run.delivered == 1 and run.failed == 0
    [issue] = jira.issues.values()
    fields = issue.fields
    assert fields["issuetype"]["id"] == "10004" and fields["project"]["key"] == "PM"
    assert fields["priority"]["id"] == "1"  # grade 1 → the id mapped to it, never a name
    assert {"pmbot", "pmbot-bug", "grade-1", f"pmbot-{TEAM}-B-1"} <= set(fields["labels"])
    assert fields["summary"].startswith("B-1: The assistant shows other users")
    description = fields["description"]
    assert isinstance(description, str) and "alice@example.com" not in description
    assert "Grade 1 — Critical" in description and "{noformat}" in description
    assert "Open it in Slack" in description  # the permalink of the card
    # Our label was looked for before the create.
    [search] = jira.calls("GET", "/search/jql")
    assert f"pmbot-{TEAM}-B-1" in search[2]["jql"][0]
    # The key shows on the card and in /bug show.
    bug = get(bot, Bug, "B-1")
    card = next(m for m in bot.sandbox.messages if m["ts"] == bug.message_ts)
    assert "PM-1" in dump(card["blocks"])
    shown = command(bot, "/bug", "show B-1")
    assert "PM-1" in shown["text"]
    assert deliver(bot).delivered == 0, "delivered rows are not sent again"


def test_regrade_close_and_reopen_reach_jira_as_fields_comments_and_transitions(bot: RunningBot,
                                                                                jira: JiraStub) -> None:
    command(bot, "/bug", "typo on the settings page: 'recieve'")
    deliver(bot)
    before = get(bot, Bug, "B-1").grade
    bot.driver.choose("Change grade", "2 — High", user="U0BOB")
    bot.runtime.settle()
    assert bot.driver.submit({"Why?": "it is on the sign-up page <@U0BOB>"}, user="U0BOB").status == 200
    bot.runtime.settle()
    command(bot, "/bug", "close B-1 fixed in the copy")
    run = deliver(bot)
    assert run.delivered == 3 and run.failed == 0
    assert jira.issues["PM-1"].fields["status"]["name"] == "Done"
    command(bot, "/bug", "reopen B-1")
    assert deliver(bot).delivered == 1
    issue = jira.issues["PM-1"]
    assert issue.fields["priority"]["id"] == "2"
    assert "grade-2" in issue.fields["labels"] and f"grade-{before}" not in issue.fields["labels"]
    bodies = [c["body"] for c in issue.comments]
    assert bodies[0].startswith(f"Grade changed in Slack: {before} → 2. Why: it is on the sign-up page @bob")
    assert bodies[1].startswith("Closed in Slack: fixed in the copy")
    assert bodies[2].startswith("Reopened in Slack.")
    assert issue.fields["status"]["name"] == "To Do"
    transitions = [str(c[3]["transition"]["id"]) for c in jira.calls("POST", "/transitions")]
    assert transitions == ["31", "41"]  # Done, then Reopen, by the names in the settings


def test_jira_down_during_50_filings_creates_all_50_once_it_is_back(bot: RunningBot, jira: JiraStub) -> None:
    jira.down()
    for n in range(50):
        command(bot, "/bug", f"the summariser drops the last paragraph of document {n}")
    run = deliver(bot)
    assert run.delivered == 0 and run.failed == 1 and run.paused_until is not None
    assert deliver(bot).delivered == 0, "paused: nothing is tried before the backoff ends"
    jira.up()
    run = deliver(bot, later=timedelta(hours=1))
    assert run.delivered == 50 and run.failed == 0
    labels = sorted(label for issue in jira.issues.values() for label in issue.fields["labels"]
                    if label.startswith(f"pmbot-{TEAM}-B-"))
    assert len(jira.issues) == 50 and len(set(labels)) == 50
    assert len(links(bot)) == 50 and all(row.status == "done" for row in rows(bot))


def test_a_create_whose_response_was_lost_is_found_not_repeated(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/bug", "the answer cites a document that does not exist")
    jira.fail(0, method="POST", path="/rest/api/2/issue", drop=True)
    run = deliver(bot)
    assert run.failed == 1 and len(jira.issues) == 1, "Jira stored it; we never heard back"
    assert links(bot) == []
    run = deliver(bot, later=timedelta(minutes=5))
    assert run.delivered == 1
    assert len(jira.issues) == 1 and len(jira.calls("POST", "/rest/api/2/issue")) == 1
    [link] = links(bot)
    assert link.jira_key == "PM-1"


def test_429_with_retry_after_is_honoured_and_does_not_count_against_the_item(bot: RunningBot,
                                                                            jira: JiraStub) -> None:
    command(bot, "/bug", "responses take 40 seconds since the last deploy")
    jira.fail(429, retry_after=120)
    start = utcnow()
    run = outbox.deliver(bot.runtime.deps, now=start)
    assert run.paused_until == start + timedelta(seconds=120)
    sent = len(jira.requests)
    assert outbox.deliver(bot.runtime.deps, now=start + timedelta(seconds=119)).delivered == 0
    assert len(jira.requests) == sent, "nothing is sent before Retry-After has passed"
    run = outbox.deliver(bot.runtime.deps, now=start + timedelta(seconds=121))
    assert run.delivered == 1
    [row] = rows(bot)
    assert row.attempts == 0


def test_a_transition_missing_from_the_workflow_is_a_clear_error_then_dead_lettered_once(
        bot_factory, jira: JiraStub, db_url: str, tmp_path) -> None:
    bot = bot_factory(**jira_settings(jira, jira_max_attempts=2))
    del jira.workflow["Done"]
    command(bot, "/bug", "the chatbot answers in English to Spanish questions")
    deliver(bot)
    command(bot, "/bug", "close B-1 prompt fixed")
    run = deliver(bot)
    assert run.failed == 1
    row = next(r for r in rows(bot) if r.op == "close")
    assert "PM-1's workflow offers no transition named Done" in row.last_error
    assert "JIRA_TRANSITION_CLOSE" in row.last_error
    assert row.status == "pending" and row.attempts == 1
    shown = command(bot, "/pmbot", "jira status")
    text = bot.sandbox.responses[-1]["text"] if not shown.get("text") else shown["text"]
    assert "offers no transition named Done" in text
    deliver(bot, later=timedelta(hours=2))
    deliver(bot, later=timedelta(hours=4))
    row = next(r for r in rows(bot) if r.op == "close")
    assert row.status == "dead" and row.alerted
    alerts = [m for m in bot.sandbox.messages if m["channel"] == "C0RANDOM" and "could not be delivered" in m["text"]]
    assert len(alerts) == 1 and "B-1 close" in alerts[0]["text"], "the admin channel hears once"
    # Someone fixes the workflow; `pmbot jira retry` replays it, as a real process.
    jira.workflow["Done"] = ("31", {"To Do", "In Progress"}, "Done")
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url, JIRA_URL=jira.url, JIRA_USER=jira.user,
                  JIRA_API_TOKEN=jira.token, **{k.upper(): v for k, v in SETTINGS.items()})
    result = pmbot("jira", "retry", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 delivery put back" in result.stdout and "1 delivered" in result.stdout
    assert jira.issues["PM-1"].fields["status"]["name"] == "Done"
    assert [r.status for r in rows(bot)] == ["done", "done"]


def test_drills_never_go_to_jira_but_incidents_do(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(pmbot_incident_channel="C0RANDOM", **jira_settings(jira))
    command(bot, "/incident", "drill")
    command(bot, "/incident", "declare Support bot leaks order numbers grade 1")
    drill = get(bot, Incident, "INC-1")
    assert drill.drill
    run = deliver(bot)
    assert run.delivered == 1
    [issue] = jira.issues.values()
    assert issue.fields["summary"].startswith("INC-2:") and issue.fields["issuetype"]["id"] == "10006"
    assert all(row.readable_id == "INC-2" for row in rows(bot))
    incident = get(bot, Incident, "INC-2")
    room = bot.sandbox.ws.channels[incident.channel_id]
    assert any(b["link"].endswith("/browse/PM-1") for b in room.bookmarks)
    command(bot, "/incident", "update rolled back to the previous model", channel=incident.channel_id)
    command(bot, "/incident", "resolve rollback done, filter added", channel=incident.channel_id)
    bot.driver.press("Resolve anyway", channel=incident.channel_id)  # the runbook's steps are still open
    bot.runtime.settle()
    deliver(bot)
    assert any("rolled back to the previous model" in c["body"] for c in issue.comments)
    assert issue.fields["status"]["name"] == "Done"


def test_a_risk_is_mirrored_and_its_band_follows_updates(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/risk", "our only GPU vendor may raise prices p=4 i=5")
    deliver(bot)
    [issue] = jira.issues.values()
    assert issue.fields["issuetype"]["id"] == "10005" and issue.fields["priority"]["id"] == "1"
    assert "risk-critical" in issue.fields["labels"]
    command(bot, "/risk", "update R-1 p=1 i=2")
    deliver(bot)
    assert issue.fields["priority"]["id"] == "4"
    assert "risk-low" in issue.fields["labels"] and "risk-critical" not in issue.fields["labels"]
    assert any(c["body"].startswith("Updated in Slack: probability") for c in issue.comments)
    shown = command(bot, "/risk", "show R-1")
    assert "PM-1" in shown["text"]


def test_link_attaches_an_existing_issue_instead_of_creating_one(bot: RunningBot, jira: JiraStub) -> None:
    legacy = jira.add_issue("Old ticket about hallucinated prices", labels=["triage"])
    command(bot, "/bug", "the bot invents prices for products we do not sell")
    answer = command(bot, "/bug", f"link B-1 {legacy.key.lower()}")
    assert f"mirrored to Jira {legacy.key}" in answer["text"]
    run = deliver(bot)
    assert run.failed == 0
    assert len(jira.issues) == 1, "no second issue"
    assert {"triage", "pmbot", f"pmbot-{TEAM}-B-1"} <= set(legacy.fields["labels"])
    assert any("Linked to B-1 in Slack" in c["body"] for c in legacy.comments)
    assert [r.status for r in rows(bot)] == ["dropped", "done"]
    again = command(bot, "/bug", "link B-1 PM-9")
    assert "mirrored to PM-1 already" in (again.get("text") or "")
    wrong = command(bot, "/bug", "link B-1 not-a-key")
    assert "is not a Jira key" in (wrong.get("text") or "")
    command(bot, "/risk", "the eval set leaks into training p=3 i=4")
    other = jira.add_issue("Eval contamination")
    answer = command(bot, "/risk", f"link R-1 {other.key}")
    assert f"mirrored to Jira {other.key}" in answer["text"]
    deliver(bot)
    assert len(jira.issues) == 2 and f"pmbot-{TEAM}-R-1" in other.fields["labels"]


# --- back from Jira ----------------------------------------------------------------------------------


def test_a_status_change_made_in_jira_reaches_the_bug_and_its_thread_once(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/bug", "the model ignores the system prompt about tone")
    deliver(bot)
    jira.set_status("PM-1", "Done")
    deps = bot.runtime.deps
    assert "1 change(s) applied" in sync.poll(deps)
    bot.runtime.settle()
    bug = get(bot, Bug, "B-1")
    assert bug.status == "closed" and bug.resolution == "Done in Jira (PM-1)"
    notes = [t for t in thread(bot, bug) if "Jira: PM-1 was moved to *Done*" in t]
    assert len(notes) == 1
    assert "0 change(s) applied" in sync.poll(deps), "the same change is not applied twice"
    assert len([t for t in thread(bot, bug) if "PM-1 was moved" in t]) == 1
    # It is not echoed back to Jira either.
    assert deliver(bot).delivered == 0
    # Reopened in Jira → reopened here; priority and assignee come along.
    graded = bug.grade
    jira.set_status("PM-1", "To Do")
    jira.set_priority("PM-1", "1")
    jira.set_assignee("PM-1", "Ana Ruiz")
    sync.poll(deps)
    bot.runtime.settle()
    bug = get(bot, Bug, "B-1")
    assert bug.status == "open" and bug.grade == 1
    said = "\n".join(thread(bot, bug))
    assert "so B-1 is reopened" in said and f"B-1 is grade {graded} → 1" in said
    assert "assigned to Ana Ruiz" in said
    shown = command(bot, "/bug", "show B-1")
    assert f"Jira changed {graded} → 1: priority set to Highest in Jira (PM-1)" in shown["text"]
    deliver(bot)
    assert "grade-1" in jira.issues["PM-1"].fields["labels"], "the grade label follows a priority set in Jira"


def test_our_own_changes_echoing_back_are_ignored(bot_factory, jira: JiraStub) -> None:
    # A transition named unlike the status it leads to: the status is what Jira reports back.
    jira.workflow["Close Issue"] = jira.workflow.pop("Done")
    bot = bot_factory(**jira_settings(jira, jira_transition_close="Close Issue"))
    command(bot, "/bug", "the image model renders hands with six fingers")
    deliver(bot)
    command(bot, "/bug", "close B-1 new model version")
    deliver(bot)
    assert jira.issues["PM-1"].fields["status"]["name"] == "Done"
    bug = get(bot, Bug, "B-1")
    before = thread(bot, bug)
    assert "0 change(s) applied" in sync.poll(bot.runtime.deps)
    assert thread(bot, bug) == before


def test_the_webhook_applies_changes_with_the_shared_secret_only(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(**jira_settings(jira, jira_webhook_secret="hook-secret"))
    command(bot, "/risk", "a regulator may ask for model cards p=2 i=4")
    deliver(bot)
    jira.set_status("PM-1", "Done")
    issue = jira.issues["PM-1"]
    event = {"webhookEvent": "jira:issue_updated",
             "issue": {"id": issue.id, "key": "PM-1", "fields": {"status": issue.fields["status"]}}}
    body = json.dumps(event).encode()

    def post(query: str) -> tuple[int, str]:
        request = Request(f"{bot.url}/jira/webhook{query}", data=body, method="POST",
                          headers={"Content-Type": "application/json"})
        try:
            with urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except HTTPError as exc:
            return exc.code, exc.read().decode()

    assert post("?secret=wrong")[0] == 401
    assert post("")[0] == 401
    assert get(bot, Risk, "R-1").status != "closed"
    code, said = post("?secret=hook-secret")
    assert code == 200 and "1 change(s) applied" in said
    bot.runtime.settle()
    risk = get(bot, Risk, "R-1")
    assert risk.status == "closed" and risk.close_reason == "Done in Jira (PM-1)"
    assert post("?secret=hook-secret")[1].startswith("0 change(s)"), "a repeated event changes nothing"
    # Jira's own signature works too (and a wrong one is refused).
    jira.set_status("PM-1", "To Do")
    event["issue"]["fields"]["status"] = jira.issues["PM-1"].fields["status"]
    body = json.dumps(event).encode()
    signature = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()

    def signed(value: str) -> int:
        request = Request(f"{bot.url}/jira/webhook", data=body, method="POST",
                          headers={"Content-Type": "application/json", "X-Hub-Signature": value})
        try:
            with urlopen(request, timeout=10) as response:
                return response.status
        except HTTPError as exc:
            return exc.code

    assert signed("sha256=" + "0" * 64) == 401
    assert signed(signature) == 200
    bot.runtime.settle()
    assert get(bot, Risk, "R-1").status == "open"
    assert "0 change(s) applied" in sync.poll(bot.runtime.deps)
    assert len([t for t in thread(bot, risk) if "PM-1 was moved" in t]) == 2  # Done, then back to To Do


def test_the_jira_jobs_run_as_the_scheduler_runs_them(bot: RunningBot, jira: JiraStub, db_url: str, tmp_path) -> None:
    command(bot, "/bug", "the chatbot answers in the wrong language")
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url, JIRA_URL=jira.url, JIRA_USER=jira.user,
                  JIRA_API_TOKEN=jira.token, **{k.upper(): v for k, v in SETTINGS.items()})
    result = pmbot("jobs", "run", "jira_outbox", env=env, cwd=tmp_path)
    assert result.returncode == 0 and "1 delivered, 0 failed" in result.stdout, result.stdout + result.stderr
    jira.set_status("PM-1", "Done")
    result = pmbot("jobs", "run", "jira_sync", env=env, cwd=tmp_path)
    assert result.returncode == 0 and "1 changed in Jira, 1 change(s) applied here" in result.stdout, result.stdout
    assert get(bot, Bug, "B-1").status == "closed"
    off = pmbot("jobs", "run", "jira_outbox", env=bot_env(DATABASE_URL=db_url), cwd=tmp_path)
    assert "Jira is not configured" in off.stdout


# --- Jira unreachable, misconfigured --------------------------------------------------------------------


def test_the_bot_starts_and_answers_slack_while_jira_is_unreachable(bot_factory, tmp_path, db_url: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    bot = bot_factory(jira_url=dead, jira_user="bot@example.com", jira_api_token="t", pmbot_admin_channel="C0RANDOM",
                      **SETTINGS)
    answer = command(bot, "/bug", "the translation feature returns an empty string")
    assert "B-1" in answer["text"]
    assert get(bot, Bug, "B-1").message_ts is not None, "graded and posted as usual"
    run = deliver(bot)
    assert run.failed == 1 and run.paused_until is not None
    [row] = rows(bot)
    assert "unreachable" in row.last_error and row.status == "pending"
    text = status.status_text(bot.runtime.deps)
    assert "1 waiting" in text and "Paused until" in text
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url, JIRA_URL=dead, JIRA_USER="bot@example.com",
                  JIRA_API_TOKEN="t", **{k.upper(): v for k, v in SETTINGS.items()})
    result = pmbot("doctor", env=env, cwd=tmp_path)
    assert "✗ jira:" in result.stdout and "ConnectionError" in result.stdout


def test_doctor_reads_the_create_screen_for_unmapped_and_unknown_fields(jira: JiraStub, tmp_path) -> None:
    env = bot_env(DATABASE_URL=f"sqlite:///{tmp_path}/p.db", JIRA_URL=jira.url, JIRA_USER=jira.user,
                  JIRA_API_TOKEN=jira.token, **{k.upper(): v for k, v in SETTINGS.items()})
    result = pmbot("doctor", env=env, cwd=tmp_path)
    assert "✓ jira: Cloud" in result.stdout
    assert "✓ jira mapping: issue types bug=10004 Bug (set), risk=10005 Risk (set), incident=10006 Incident (set)" \
        in result.stdout
    jira.create_screen["customfield_10031"] = True  # e.g. a required "Team" field
    del jira.create_screen["priority"]
    result = pmbot("doctor", env=env, cwd=tmp_path)
    line = next(x for x in result.stdout.splitlines() if "jira mapping" in x)
    assert line.startswith("✗") and "Jira requires customfield_10031, which pmbot does not send" in line
    assert "pmbot sends priority, which is not on the create screen" in line
    env["JIRA_ISSUE_TYPES"] = "bug=10004"
    del jira.issue_types["10005"], jira.issue_types["10002"]  # neither Risk nor Task to fall back on
    result = pmbot("doctor", env=env, cwd=tmp_path)
    assert "no issue type for risks: project PM has none named Risk or Task" in result.stdout


def test_mapping_settings_are_checked_at_start_up(tmp_path) -> None:
    env = bot_env(DATABASE_URL=f"sqlite:///{tmp_path}/p.db", JIRA_PRIORITIES="1=Highest")
    result = pmbot("doctor", env=env, cwd=tmp_path)
    assert result.returncode != 0 and "JIRA_PRIORITIES: '1=Highest' should look like 1=10004" in result.stderr


def test_nothing_is_queued_when_jira_is_not_configured(bot_factory) -> None:
    plain = bot_factory()
    command(plain, "/bug", "a typo in the footer")
    assert rows(plain) == []
    answer = command(plain, "/bug", "link B-1 PM-3")
    assert "Jira is not set up" in answer["text"]


def test_data_center_uses_a_personal_access_token_when_no_user_is_given(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(**{**jira_settings(jira), "jira_user": None})
    command(bot, "/bug", "the export button does nothing")
    assert deliver(bot).delivered == 1
    assert len(jira.issues) == 1
    refused = bot_factory(**{**jira_settings(jira), "jira_user": None, "jira_api_token": "wrong"})
    command(refused, "/bug", "the import button does nothing")
    run = deliver(refused)
    assert run.failed == 1
    row = next(r for r in rows(refused) if r.readable_id == "B-2")
    assert "HTTP 401" in row.last_error and "wrong" not in row.last_error
