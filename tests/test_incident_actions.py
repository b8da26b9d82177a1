"""Incident follow-up actions end to end: added in the war room or naming the incident, listed, closed and reopened,
in the post-mortem, reminded by the `action_reminders` job, and mirrored to the Jira stand-in with their link.

Jobs run as an operator runs them: `pmbot jobs run action_reminders --now …` in a real process.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import select

from bot.mirror import outbox, sync
from storage.clock import system_clock as utcnow
from storage.db import session_scope
from storage.models import Incident, IncidentAction, IncidentEvent
from tests.conftest import RunningBot
from tests.helpers import bot_env, pmbot
from tests.jira_stub import SETTINGS, JiraStub

RESPONDERS = {"pmbot_incident_channel": "C0RANDOM", "pmbot_incident_responders": "2=U0BOB"}


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    return bot_factory(**RESPONDERS)


def incident_command(bot: RunningBot, text: str, **options) -> dict:
    response = bot.driver.command("/incident", text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def declare(bot: RunningBot, title: str) -> Incident:
    incident_command(bot, f"declare {title} grade 2")
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(Incident).order_by(Incident.id.desc())))[0]


def actions(bot: RunningBot) -> list[IncidentAction]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(IncidentAction).order_by(IncidentAction.id)))


def dms(bot: RunningBot, user: str) -> list[dict]:
    ims = {c.id for c in bot.sandbox.ws.channels.values() if c.is_im and user in c.members}
    return [m for m in bot.sandbox.messages if m["channel"] in ims]


def run_job(bot: RunningBot, db_url: str, tmp_path, when: datetime, **env) -> str:
    environment = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url, **env)
    result = pmbot("jobs", "run", "action_reminders", "--now", when.astimezone(UTC).isoformat(), env=environment,
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def test_an_action_is_reminded_the_day_before_on_the_day_and_daily_after_until_done(
        bot: RunningBot, db_url: str, tmp_path) -> None:
    incident = declare(bot, "Chatbot quotes internal prices")
    due = date.today() + timedelta(days=5)
    ack = incident_command(bot, f"action add a price filter to the answers &lt;v2&gt; <@U0BOB|bob> {due.isoformat()}",
                           channel=incident.channel_id)
    assert "Follow-up *A-1* added to INC-1" in ack["text"] and "<@U0BOB>" in ack["text"]
    [action] = actions(bot)
    assert (action.owner_id, action.due_on, action.created_by) == ("U0BOB", due, "U0ALICE")
    assert action.title == "add a price filter to the answers <v2>"
    reminders = lambda: [m for m in dms(bot, "U0BOB") if "Follow-up *A-1*" in m["text"]]  # noqa: E731
    assert "0 day-before, 0 due" in run_job(bot, db_url, tmp_path, at(due - timedelta(days=2), 12))
    assert "0 day-before" in run_job(bot, db_url, tmp_path, at(due - timedelta(days=1), 8))  # before 09:00
    assert "1 day-before" in run_job(bot, db_url, tmp_path, at(due - timedelta(days=1), 10))
    assert "0 day-before, 0 due" in run_job(bot, db_url, tmp_path, at(due - timedelta(days=1), 15))
    assert "1 due or overdue" in run_job(bot, db_url, tmp_path, at(due, 10))
    assert "0 due or overdue" in run_job(bot, db_url, tmp_path, at(due, 16))
    assert "1 due or overdue" in run_job(bot, db_url, tmp_path, at(due + timedelta(days=1), 10))
    texts = [m["text"] for m in reminders()]
    assert len(texts) == 3
    assert "due tomorrow" in texts[0] and "due today" in texts[1] and "1 day overdue" in texts[2]
    assert "&lt;v2&gt;" in texts[0] and "<v2>" not in texts[0]  # the owner's words stay text
    assert "Done" in json.dumps(reminders()[0]["blocks"])
    bot.driver.press("Done", user="U0BOB", channel=reminders()[-1]["channel"])
    bot.runtime.settle()
    [action] = actions(bot)
    assert action.done_by == "U0BOB" and action.done_at is not None
    assert "0 day-before, 0 due" in run_job(bot, db_url, tmp_path, at(due + timedelta(days=2), 10))
    assert len(reminders()) == 3
    with session_scope(bot.runtime.deps.engine) as session:
        lines = [e.text for e in session.exec(select(IncidentEvent).where(IncidentEvent.kind == "action"))]
    assert lines[0].startswith("follow-up A-1: add a price filter") and "(owner @bob, due " in lines[0]
    assert lines[1].startswith("follow-up A-1 done")


def test_actions_are_listed_closed_reopened_and_in_the_postmortem(bot: RunningBot) -> None:
    first = declare(bot, "Summaries invent figures")
    second = declare(bot, "Agent loops on refunds")
    today = date.today()
    incident_command(bot, "action add eval set for invented figures in 3 days", channel=first.channel_id)
    incident_command(bot, f"INC-2 action cap agent steps @bob {(today + timedelta(days=1)).isoformat()}",
                     channel="C0GENERAL")
    incident_command(bot, "action write the runbook page for loops", channel=second.channel_id, user="U0BOB")
    alice, bob, undated = actions(bot)
    assert (alice.owner_id, alice.due_on) == ("U0ALICE", today + timedelta(days=3))
    assert (bob.owner_id, bob.incident_id, bob.due_on) == ("U0BOB", second.id, today + timedelta(days=1))
    assert (undated.owner_id, undated.due_on) == ("U0BOB", None)
    listed = incident_command(bot, "actions")["text"]
    assert listed.index("A-2") < listed.index("A-1") < listed.index("A-3")  # the earliest due first, undated last
    assert "(INC-2)" in listed and "due tomorrow" in listed and "no due date" in listed
    mine = incident_command(bot, "actions mine", user="U0BOB")["text"]
    assert "A-2" in mine and "A-3" in mine and "A-1" not in mine
    refused = incident_command(bot, "action done A-1", user="U0CARLOS")
    assert "only they, who added it, or INC-1's commander or scribe" in refused["text"]
    assert "A-1 is done" in incident_command(bot, "action done a-1")["text"]
    assert "A-1 is done already" in incident_command(bot, "action done A-1")["text"]
    assert "A-1" not in incident_command(bot, "actions")["text"]
    assert "open again" in incident_command(bot, "action reopen A-1")["text"]
    assert actions(bot)[0].done_at is None
    incident_command(bot, "action done A-1")
    incident_command(bot, "resolve figures checked against the source", channel=first.channel_id)
    bot.driver.press("Resolve anyway", channel=first.channel_id)  # the runbook is left open
    bot.runtime.settle()
    [document] = [f for f in bot.sandbox.ws.files.values() if f["name"] == "postmortem-INC-1.md"]
    text = document["content"].decode()
    follow_ups = text.split("## Follow-ups", 1)[1]
    assert "- [x] A-1 add eval set for invented figures (owner @alice, due" in follow_ups
    assert "done by @alice" in follow_ups and "A-2" not in follow_ups
    # After the incident, from anywhere: resolved incidents take actions too.
    assert "Follow-up *A-4* added to INC-1" in incident_command(bot, "action INC-1 share the post-mortem")["text"]


def test_bad_action_input_gets_clear_answers(bot: RunningBot) -> None:
    incident = declare(bot, "Latency spike")
    room = incident.channel_id
    assert "not an incident channel" in incident_command(bot, "action fix it")["text"]
    assert "There is no incident INC-42" in incident_command(bot, "action INC-42 fix it")["text"]
    assert "Say what must happen" in incident_command(bot, "action friday", channel=room)["text"]
    assert "is in the past" in incident_command(bot, "action fix it 2020-01-01", channel=room)["text"]
    assert "I do not know @nobody" in incident_command(bot, "action fix it @nobody", channel=room)["text"]
    assert "There is no action A-9" in incident_command(bot, "action done A-9")["text"]
    assert "Say which action" in incident_command(bot, "action done")["text"]
    assert "No open follow-up actions" in incident_command(bot, "actions")["text"]
    assert actions(bot) == []


# --- Jira ------------------------------------------------------------------------------------------------


@pytest.fixture
def jira():
    stub = JiraStub()
    yield stub
    stub.down()


def deliver(bot: RunningBot) -> outbox.Run:
    run = outbox.deliver(bot.runtime.deps, now=utcnow() + timedelta(minutes=5))
    bot.runtime.settle()
    return run


def test_an_action_is_mirrored_as_a_task_related_to_the_incidents_issue_and_closed_there(
        bot_factory, jira: JiraStub) -> None:
    jira.add_user("Bob Builder", "bob@example.com", account_id="acc-bob")
    bot = bot_factory(jira_url=jira.url, jira_user=jira.user, jira_api_token=jira.token,
                      pmbot_admin_channel="C0RANDOM", **SETTINGS, **RESPONDERS)
    incident = declare(bot, "Support bot leaks order numbers")
    incident_command(bot, "action add an output filter for order numbers <@U0BOB|bob> friday",
                     channel=incident.channel_id)
    for _ in range(3):  # the incident's issue, the action's, its assignee, the link
        deliver(bot)
    issues = {i.fields["summary"].split(":")[0]: i for i in jira.issues.values()}
    task, twin = issues["A-1"], issues["INC-1"]
    assert task.fields["issuetype"]["name"] == "Task" and "pmbot-incident_action" in task.fields["labels"]
    assert "Owner: @bob" in task.fields["description"]
    assert (task.fields.get("assignee") or {}).get("accountId") == "acc-bob"
    assert jira.links == [{"type": "Relates", "inward": task.key, "outward": twin.key}]
    [posted] = [c[3] for c in jira.calls("POST", "/issueLink")]
    assert set(posted) == {"type", "inwardIssue", "outwardIssue"} and posted["type"] == {"name": "Relates"}
    incident_command(bot, "action done A-1")
    deliver(bot)
    assert jira.issues[task.key].fields["status"]["name"] == "Done"
    assert twin.fields["status"]["name"] != "Done"
    assert len(jira.links) == 1
    # Back from Jira: reopened there reopens it here, Done there closes it (by "jira").
    jira.set_status(task.key, "To Do")
    assert "1 change(s) applied" in sync.poll(bot.runtime.deps)
    assert actions(bot)[0].done_at is None
    jira.set_status(task.key, "Done")
    sync.poll(bot.runtime.deps)
    assert actions(bot)[0].done_by == "jira"
    assert deliver(bot).delivered == 0, "not echoed back to Jira"


def test_a_drills_actions_stay_out_of_jira(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(jira_url=jira.url, jira_user=jira.user, jira_api_token=jira.token,
                      pmbot_admin_channel="C0RANDOM", **SETTINGS, **RESPONDERS)
    incident_command(bot, "drill")
    with session_scope(bot.runtime.deps.engine) as session:
        [drill] = list(session.exec(select(Incident)))
    assert "A-1" in incident_command(bot, "action practise the rollback", channel=drill.channel_id)["text"]
    deliver(bot)
    assert jira.issues == {} and jira.links == []


def test_status_shows_the_follow_ups_open_and_done(bot: RunningBot) -> None:
    incident = declare(bot, "Summaries invent figures")
    room = incident.channel_id
    assert "Follow-ups" not in incident_command(bot, "status", channel=room)["text"]  # none yet: no empty section
    incident_command(bot, "action add eval set for invented figures", channel=room)
    incident_command(bot, "action cap summary length <@U0BOB|bob> in 2 days", channel=room)
    incident_command(bot, "action done A-1", channel=room)
    status = incident_command(bot, "INC-1 status", channel="C0GENERAL")["text"]
    assert "*Follow-ups*: 1 open, 1 done" in status
    assert "*A-2* (INC-1) cap summary length — <@U0BOB>" in status and "*A-1*" not in status
