"""`/incident` end to end: declare, run, resolve and drill, through the sandbox, on both databases.

Jobs run as an operator runs them: `pmbot jobs run incident_watch|drill_reminders --now …` in a real process.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import Incident, IncidentEvent
from tests.conftest import RunningBot
from tests.helpers import bot_env, pmbot
from tests.llm_stub import LlmStub

RESPONDERS = {"pmbot_incident_channel": "C0RANDOM", "pmbot_incident_responders": "1=S0ONCALL; 2=U0BOB",
              "pmbot_legal_contacts": "U0CARLOS", "pmbot_incident_archive_after_hours": 1.0}


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    return bot_factory(**RESPONDERS)


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def incident_command(bot: RunningBot, text: str, **options) -> dict:
    response = bot.driver.command("/incident", text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def incidents(bot: RunningBot) -> list[Incident]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(Incident).order_by(Incident.id)))


def events(bot: RunningBot, kind: str | None = None) -> list[IncidentEvent]:
    with session_scope(bot.runtime.deps.engine) as session:
        found = list(session.exec(select(IncidentEvent).order_by(IncidentEvent.at, IncidentEvent.id)))
    return [e for e in found if kind is None or e.kind == kind]


def messages(bot: RunningBot, channel: str) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel]


def private_notes(bot: RunningBot, user: str = "U0ALICE") -> list[str]:
    return [m["text"] for m in bot.sandbox.ephemeral if m["user"] == user] + [
        r.get("text", "") for r in bot.sandbox.responses]


def run_job(bot: RunningBot, db_url: str, tmp_path, name: str, when: datetime) -> str:
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url,
                  PMBOT_INCIDENT_ARCHIVE_AFTER_HOURS="1")
    result = pmbot("jobs", "run", name, "--now", when.astimezone(UTC).isoformat(), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_declare_opens_a_war_room_with_runbook_invites_and_announcement(bot: RunningBot) -> None:
    ack = incident_command(bot, "declare Chatbot shows other users' order history grade 1")
    assert "INC-1" in ack["text"] and "opening the war room" in ack["text"]
    [incident] = incidents(bot)
    room = bot.sandbox.ws.channels[incident.channel_id]
    assert room.name == f"inc-{date.today():%Y%m%d}-1-chatbot-shows-other-users-order-history"
    assert room.topic.startswith("INC-1 · grade 1 · commander @alice · investigating")
    assert {"U0ALICE", "U0BOB", "U0CARLOS"} <= room.members  # declarer, S0ONCALL (alice, bob), legal
    [runbook] = [m for m in messages(bot, room.id) if m["ts"] == incident.runbook_ts]
    assert runbook["ts"] in room.pins
    assert "Switch traffic to the last model version known to be safe" in dump(runbook["blocks"])
    [announcement] = messages(bot, "C0RANDOM")
    assert "INC-1" in announcement["text"] and "Join the war room" in dump(announcement["blocks"])
    assert any("War room ready" in t for t in private_notes(bot))


def test_a_retried_request_makes_one_incident_and_a_taken_name_gets_a_suffix(bot: RunningBot) -> None:
    taken = f"inc-{date.today():%Y%m%d}-1-model-leaks-emails"
    bot.sandbox.ws.add_channel("C0OLDROOM", taken).is_archived = True  # archived channels keep their names
    incident_command(bot, "declare Model leaks emails grade 2", trigger_id="555.1")
    incident_command(bot, "declare Model leaks emails grade 2", trigger_id="555.1", retry_num=1)
    [incident] = incidents(bot)
    assert incident.channel_name == taken + "-2"
    rooms = [c for c in bot.sandbox.ws.channels.values() if c.name.startswith(taken)]
    assert len(rooms) == 2
    from bot.incidents import service  # resuming after a crash half-way: nothing is made twice

    service.open_war_room(bot.runtime.deps, incident.id, incident.team_id)
    assert len([c for c in bot.sandbox.ws.channels.values() if c.name.startswith(taken)]) == 2
    assert len([m for m in messages(bot, incident.channel_id) if "Runbook" in m["text"]]) == 1


def test_pushpin_adds_a_message_to_the_timeline_once_with_its_time(bot: RunningBot) -> None:
    incident_command(bot, "declare Summaries invent figures grade 2")
    [incident] = incidents(bot)
    _, message = bot.driver.say("Rolled the summariser back to v11 at 14:05", channel=incident.channel_id,
                                user="U0BOB")
    bot.runtime.settle()
    bot.driver.react("pushpin", message, user="U0BOB")
    bot.driver.react("pushpin", message, user="U0ALICE")
    bot.runtime.settle()
    [pinned] = events(bot, "pinned")
    assert pinned.text == "Rolled the summariser back to v11 at 14:05"
    assert pinned.at == datetime.fromtimestamp(float(message["ts"]), UTC)
    bot.driver.react("eyes", message, user="U0ALICE")
    bot.runtime.settle()
    assert len(events(bot, "pinned")) == 1


def test_only_the_commander_or_scribe_can_resolve_and_resolve_posts_the_postmortem(bot: RunningBot) -> None:
    incident_command(bot, "declare Support bot gives wrong refund terms grade 2")
    [incident] = incidents(bot)
    room = incident.channel_id
    refused = incident_command(bot, "resolve fixed", channel=room, user="U0BOB")
    assert "Only the commander or the scribe can resolve INC-1" in refused["text"]
    incident_command(bot, "note policy doc in the index was a draft", channel=room)
    incident_command(bot, "update cause found: draft policy indexed; reindexing", channel=room)
    bot.driver.press("Done", channel=room)  # the first open step
    bot.runtime.settle()
    incident_command(bot, "role <@U0BOB|bob> scribe", channel=room)
    asked = incident_command(bot, "resolve reindexed the approved policy", channel=room, user="U0BOB")
    assert "5 of 6 runbook steps of INC-1 are still open" in asked["text"]  # see test_incident_resolve.py
    bot.driver.press("Resolve anyway", channel=room, user="U0BOB")
    bot.runtime.settle()
    [incident] = incidents(bot)
    assert incident.status == "resolved" and incident.resolution == "reindexed the approved policy"
    assert incident.acknowledged_at is not None and incident.first_update_at is not None
    [document] = [f for f in bot.sandbox.ws.files.values() if f["name"] == "postmortem-INC-1.md"]
    text = document["content"].decode()
    assert "## Timeline (UTC)" in text and "policy doc in the index was a draft" in text
    assert "cause found: draft policy indexed" in text and "scribe: nobody → @bob" in text and "<@" not in text
    assert "- [x] Decide: a targeted patch now" in text
    assert any("Post-mortem draft for INC-1" in m["text"] for m in messages(bot, room))
    assert "resolved after" in dump(messages(bot, "C0RANDOM")[0]["blocks"])


def test_reminder_fires_once_when_an_update_is_overdue_and_not_again_after_an_update(
        bot: RunningBot, db_url: str, tmp_path) -> None:
    incident_command(bot, "declare Answers slow at peak grade 1")
    [incident] = incidents(bot)
    declared = incident.declared_at
    assert "0 reminded" in run_job(bot, db_url, tmp_path, "incident_watch", declared + timedelta(minutes=20))
    assert "1 reminded" in run_job(bot, db_url, tmp_path, "incident_watch", declared + timedelta(minutes=31))
    assert "0 reminded" in run_job(bot, db_url, tmp_path, "incident_watch", declared + timedelta(minutes=32))
    ims = {c.id for c in bot.sandbox.ws.channels.values() if c.is_im and "U0ALICE" in c.members}
    reminders = [m for m in bot.sandbox.messages if m["channel"] in ims and "no status update" in m["text"]]
    assert len(reminders) == 1 and "Snooze 15 min" in dump(reminders[0]["blocks"])
    incident_command(bot, "update scaling out the GPU pool", channel=incident.channel_id)
    updated = incidents(bot)[0].next_update_due
    assert "0 reminded" in run_job(bot, db_url, tmp_path, "incident_watch", updated - timedelta(minutes=1))
    assert "1 reminded" in run_job(bot, db_url, tmp_path, "incident_watch", updated + timedelta(minutes=1))


def test_resolved_war_rooms_are_archived_later_and_reopen_unarchives(bot: RunningBot, db_url: str,
                                                                   tmp_path) -> None:
    incident_command(bot, "declare Wrong language in replies grade 3")
    [incident] = incidents(bot)
    incident_command(bot, "resolve prompt fixed", channel=incident.channel_id)
    bot.driver.press("Resolve anyway", channel=incident.channel_id)
    bot.runtime.settle()
    resolved = incidents(bot)[0].resolved_at
    assert "0 archived" in run_job(bot, db_url, tmp_path, "incident_watch", resolved + timedelta(minutes=30))
    assert "1 archived" in run_job(bot, db_url, tmp_path, "incident_watch", resolved + timedelta(minutes=61))
    assert bot.sandbox.ws.channels[incident.channel_id].is_archived
    incident_command(bot, f"{incident.readable_id} reopen", channel="C0GENERAL")
    assert not bot.sandbox.ws.channels[incident.channel_id].is_archived
    assert incidents(bot)[0].status == "investigating"


def test_a_drill_runs_with_injects_and_ends_with_a_scorecard(bot: RunningBot, db_url: str, tmp_path) -> None:
    incident_command(bot, "drill pii-leak")
    [drill] = incidents(bot)
    assert drill.drill and drill.channel_name.startswith(f"drill-{date.today():%Y%m%d}-1-")
    assert messages(bot, "C0RANDOM") == []  # never announced as a real incident
    room = messages(bot, drill.channel_id)
    assert any("Inject 1/4" in m["text"] and m["text"].startswith("🧪 DRILL") for m in room)
    assert "1 injects" in run_job(bot, db_url, tmp_path, "incident_watch", drill.declared_at + timedelta(minutes=6))
    assert "0 injects" in run_job(bot, db_url, tmp_path, "incident_watch", drill.declared_at + timedelta(minutes=7))
    bot.driver.press("Done", channel=drill.channel_id)  # the rollback step comes first for grade 1
    bot.runtime.settle()
    incident_command(bot, "update rolled back, checking fresh traffic", channel=drill.channel_id)
    incident_command(bot, "resolve drill over", channel=drill.channel_id)
    bot.driver.press("Resolve anyway", channel=drill.channel_id)
    bot.runtime.settle()
    scorecard = [m["text"] for m in messages(bot, drill.channel_id) if "Drill scorecard" in m["text"]]
    assert scorecard and "Time to the rollback step" in scorecard[0] and "Checklist completed: 1 of 7" in scorecard[0]
    assert "Inject 2/4" in " ".join(m["text"] for m in messages(bot, drill.channel_id))


def test_drill_reminders_fire_a_day_and_an_hour_before_and_start_automatic_drills(
        bot: RunningBot, db_url: str, tmp_path) -> None:
    slot_day = datetime.now(UTC) + timedelta(days=3)
    weekday = slot_day.strftime("%a").lower()
    ack = incident_command(bot, f"drill schedule every {weekday} 15:00 UTC auto runaway-agent")
    assert "Drill schedule 1" in ack["text"]
    slot = slot_day.replace(hour=15, minute=0, second=0, microsecond=0)
    assert "0 day-before" in run_job(bot, db_url, tmp_path, "drill_reminders", slot - timedelta(hours=25))
    assert "1 day-before" in run_job(bot, db_url, tmp_path, "drill_reminders", slot - timedelta(hours=23))
    assert "0 day-before" in run_job(bot, db_url, tmp_path, "drill_reminders", slot - timedelta(hours=22))
    assert "1 hour-before" in run_job(bot, db_url, tmp_path, "drill_reminders", slot - timedelta(minutes=55))
    assert "0 hour-before" in run_job(bot, db_url, tmp_path, "drill_reminders", slot - timedelta(minutes=50))
    notices = [m["text"] for m in messages(bot, "C0GENERAL") if "Incident drill" in m["text"]]
    assert len(notices) == 2 and "tomorrow at 15:00" in notices[0] and "in 55 minutes" in notices[1]
    assert "1 drills started" in run_job(bot, db_url, tmp_path, "drill_reminders", slot + timedelta(minutes=2))
    assert "0 drills started" in run_job(bot, db_url, tmp_path, "drill_reminders", slot + timedelta(minutes=7))
    [drill] = incidents(bot)
    assert drill.drill and drill.scenario == "runaway-agent"


def test_bad_input_gets_clear_answers(bot: RunningBot) -> None:
    assert "Say what is happening" in incident_command(bot, "declare grade 1")["text"]
    assert "grade 1 (critical), 2 (high) or 3" in incident_command(bot, "declare it broke grade 7")["text"]
    assert "not an incident channel" in incident_command(bot, "update all good")["text"]
    assert "There is no incident INC-42" in incident_command(bot, "INC-42 status")["text"]
    assert "There is no scenario" in incident_command(bot, "drill meteor")["text"]
    assert "not a time zone" in incident_command(bot, "drill schedule first tue 15:00 Mars/Base")["text"]
    assert "No open incidents" in incident_command(bot, "status")["text"]


def test_declare_incident_from_a_bug_card_prefills_and_links(bot: RunningBot) -> None:
    assert bot.driver.command("/bug", "Any user can read everyone's uploaded files").status == 200
    bot.runtime.settle()
    bot.driver.press("Declare incident")
    view = bot.driver.open_view()
    assert view["callback_id"] == "incident.declare_modal" and "From bug B-1" in dump(view["blocks"])
    assert bot.driver.submit({}).status == 200
    bot.runtime.settle()
    [incident] = incidents(bot)
    assert (incident.bug_id, incident.grade) == ("B-1", 1)
    assert incident.title.startswith("Any user can read everyone")


def test_the_postmortem_narrative_comes_from_the_llm_with_pii_removed(bot_factory) -> None:
    stub = LlmStub()
    try:
        bot = bot_factory(openai_api_key="sk-test-stub", openai_base_url=stub.base_url, pmbot_llm_model="stub-model",
                          **RESPONDERS)
        incident_command(bot, "declare Card numbers shown in replies grade 1")
        [incident] = incidents(bot)
        room = incident.channel_id
        incident_command(bot, "note customer card 4111 1111 1111 1111 appeared in a reply", channel=room)
        assert bot.driver.command("/risk", "Memory feature may mix up users p=3 i=5 #privacy").status == 200
        bot.runtime.settle()
        assert bot.driver.command("/risk", "link R-1 INC-1").status == 200
        incident_command(bot, "link R-1", channel=room)
        bot.driver.press("Done", channel=room)  # the rollback step: mitigated
        bot.runtime.settle()
        assert incidents(bot)[0].status == "mitigated"
        stub.mode, stub.text = "good", "Users saw card numbers in replies; the team rolled back within minutes."
        incident_command(bot, "resolve rolled back and patched the memory lookup", channel=room)
        bot.driver.press("Resolve anyway", channel=room)
        bot.runtime.settle()
        [document] = [f for f in bot.sandbox.ws.files.values() if f["name"] == "postmortem-INC-1.md"]
        text = document["content"].decode()
        assert "the team rolled back within minutes" in text and "- Linked: R-1" in text
        sent = json.dumps(stub.requests[-1])
        assert "4111 1111" not in sent and "<facts>" in sent
        assert "4111 1111" not in text
    finally:
        stub.stop()


def test_a_war_room_left_half_open_by_a_crash_is_finished_by_the_queue(bot: RunningBot) -> None:
    from bot.incidents import service

    deps = bot.runtime.deps
    declared = service.declare(deps, team_id="T0SANDBOX", channel_id="C0GENERAL", user_id="U0ALICE",
                               delivery_key="crashed-1", title="Agent loops on refunds", grade=2)
    assert declared.incident.channel_id is None  # stored, then the process died before the room was made
    bot.sandbox.wait_for(lambda: bot.runtime.work.poll() or incidents(bot)[0].runbook_ts, timeout=10)
    bot.runtime.settle()
    [incident] = incidents(bot)
    assert incident.channel_id and incident.runbook_ts and incident.invited
    assert bot.runtime.work.poll() == 0  # done: nothing left to run
    assert len(bot.sandbox.calls_to("conversations.create")) == 1


def test_a_role_given_to_a_name_typed_by_hand(bot: RunningBot) -> None:
    incident_command(bot, "declare Latency spike grade 3")
    [incident] = incidents(bot)
    incident_command(bot, "role @bob scribe", channel=incident.channel_id)
    assert incidents(bot)[0].scribe_id == "U0BOB"
