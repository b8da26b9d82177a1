"""Fixes from the review of the merged incident changes (#21 points 6–11): a drill resolved by a person is not
"unattended", a reopened incident is paged again, follow-ups added after resolve reach the post-mortem, named drill
participants replace the default invitees, `/incident INC-n action done A-n` closes the action. End to end through
the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import RunningBot
from tests.helpers import MovableClock
from tests.test_incident import RESPONDERS, events, incident_command, incidents, messages

MOMENT = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)  # Tuesday 6 May 2031, 11:00 in Berlin


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(MOMENT)


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory(**RESPONDERS, pmbot_drill_unattended_minutes=60)
    clock.drive(running)
    running.sandbox.ws.add_user("U0DIANA", "diana", tz="Europe/Berlin")
    return running


def press(bot: RunningBot, label: str, channel: str) -> None:
    assert bot.driver.press(label, channel=channel).status == 200
    bot.runtime.settle()


def postmortems(bot: RunningBot, readable_id: str) -> list[str]:
    return [f["content"].decode() for f in bot.sandbox.ws.files.values()
            if f["name"] == f"postmortem-{readable_id}.md"]


def test_a_drill_the_commander_resolves_does_not_say_nobody_responded(bot: RunningBot, clock: MovableClock) -> None:
    incident_command(bot, "drill wrong-advice")
    [drill] = incidents(bot)
    clock.now = MOMENT + timedelta(minutes=12)
    incident_command(bot, "resolve found the stale index", channel=drill.channel_id)
    press(bot, "Resolve anyway", drill.channel_id)
    [drill] = incidents(bot)
    assert drill.status == "resolved" and drill.acknowledged_at == MOMENT + timedelta(minutes=12)
    [card] = [m["text"] for m in messages(bot, drill.channel_id) if "Drill scorecard" in m["text"]]
    assert "Nobody responded" not in card and "Time to acknowledge: 12 min" in card
    [document] = postmortems(bot, drill.readable_id)
    assert "- Time to acknowledge: 12 min" in document
    assert events(bot, "unattended") == []


def test_a_follow_up_added_or_closed_after_resolve_reaches_the_postmortem(bot: RunningBot, clock: MovableClock) -> None:
    incident_command(bot, "declare Assistant cites a withdrawn policy grade 3")
    [incident] = incidents(bot)
    room = incident.channel_id
    incident_command(bot, "resolve policy index rebuilt", channel=room)
    press(bot, "Resolve anyway", room)
    assert len(postmortems(bot, "INC-1")) == 1 and "A-1" not in postmortems(bot, "INC-1")[0]

    clock.now = MOMENT + timedelta(hours=1)
    ack = incident_command(bot, "INC-1 action add a freshness check on the policy index @bob", channel="C0GENERAL")
    assert "Follow-up *A-1* added to INC-1" in ack["text"] and "post-mortem draft" in ack["text"]
    latest = postmortems(bot, "INC-1")[-1]
    assert len(postmortems(bot, "INC-1")) == 2
    assert "- [ ] A-1 add a freshness check on the policy index (owner @bob)" in latest
    assert any("Post-mortem draft for INC-1 updated" in m["text"] for m in messages(bot, room))

    done = incident_command(bot, "action done A-1", channel="C0GENERAL", user="U0BOB")
    assert "A-1 is done" in done["text"]
    assert "- [x] A-1 add a freshness check on the policy index (owner @bob) — done by @bob" in \
        postmortems(bot, "INC-1")[-1]
    # Closed twice: nothing changed, no third refresh.
    assert "done already" in incident_command(bot, "action done A-1", user="U0BOB")["text"]
    assert len(postmortems(bot, "INC-1")) == 3


def test_an_open_incidents_follow_ups_do_not_upload_a_postmortem(bot: RunningBot) -> None:
    incident_command(bot, "declare Assistant cites a withdrawn policy grade 3")
    ack = incident_command(bot, "INC-1 action add a freshness check", channel="C0GENERAL")
    assert "Follow-up *A-1*" in ack["text"] and "post-mortem" not in ack["text"]
    assert postmortems(bot, "INC-1") == []


def test_the_named_form_closes_and_reopens_an_action_instead_of_adding_one(bot: RunningBot) -> None:
    incident_command(bot, "declare Assistant cites a withdrawn policy grade 3")
    incident_command(bot, "declare Summaries drop the last line grade 3")
    incident_command(bot, "INC-1 action add a freshness check", channel="C0GENERAL")
    assert "A-1 is done" in incident_command(bot, "INC-1 action done A-1", channel="C0GENERAL")["text"]
    assert "open again" in incident_command(bot, "INC-1 action reopen a-1", channel="C0GENERAL")["text"]
    wrong = incident_command(bot, "INC-2 action done A-1", channel="C0GENERAL")["text"]
    assert "A-1 is a follow-up of INC-1, not INC-2" in wrong
    assert "Say which action" in incident_command(bot, "INC-1 action done", channel="C0GENERAL")["text"]
    from tests.test_incident_actions import actions
    [only] = actions(bot)
    assert only.title == "add a freshness check" and only.done_at is None


SLOT = datetime(2031, 5, 6, 13, 0, tzinfo=UTC)  # the same day, 15:00 in Berlin


def run(bot: RunningBot, clock: MovableClock, name: str, when: datetime) -> str:
    clock.now = when
    [result] = bot.runtime.scheduler.run_now(name, when)
    assert result.status == "ok", result.detail
    bot.runtime.settle()
    return result.detail or ""


def people(bot: RunningBot, channel_id: str) -> set[str]:
    return {u for u in bot.sandbox.ws.channels[channel_id].members if u.startswith("U0") and u != "U0PMBOT"}


def test_named_drill_participants_replace_the_default_invitees(bot: RunningBot, clock: MovableClock) -> None:
    # runaway-agent is grade 2, whose responder is bob: with names, only the scheduler and those named.
    incident_command(bot, "drill schedule every tue 15:00 Europe/Berlin auto runaway-agent with <@U0DIANA|diana>",
                     user="U0CARLOS")
    assert "1 drills started" in run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=2))
    [drill] = incidents(bot)
    assert people(bot, drill.channel_id) == {"U0CARLOS", "U0DIANA"}
    [started] = [m["text"] for m in messages(bot, "C0GENERAL") if "has started" in m["text"]]
    assert "Invited: <@U0CARLOS> <@U0DIANA>." in started


def test_without_names_a_scheduled_drill_invites_the_scheduler_and_the_grades_responders(
        bot: RunningBot, clock: MovableClock) -> None:
    incident_command(bot, "drill schedule every tue 15:00 Europe/Berlin auto pii-leak", user="U0CARLOS")
    run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=2))
    [drill] = incidents(bot)
    assert people(bot, drill.channel_id) == {"U0CARLOS", "U0ALICE", "U0BOB"}  # pii-leak: grade 1, S0ONCALL


def test_close_bug_under_an_incident_reopened_since_is_refused(bot: RunningBot) -> None:
    bot.driver.command("/bug", "Exports leak other tenants' file names")
    bot.runtime.settle()
    incident_command(bot, "declare Tenant file names in exports grade 3")
    [incident] = incidents(bot)
    room = incident.channel_id
    incident_command(bot, "link B-1", channel=room)
    incident_command(bot, "resolve export query scoped", channel=room)
    press(bot, "Resolve anyway", room)
    incident_command(bot, "reopen", channel=room)
    press(bot, "Close B-1", room)  # the button of the resolve message, still on screen
    from tests.test_incident import private_notes
    assert any("INC-1 is open again, so B-1 stays open" in t for t in private_notes(bot))
    from storage.bugs import get_bug
    from storage.db import session_scope
    with session_scope(bot.runtime.deps.engine) as session:
        assert get_bug(session, team_id=incident.team_id, readable_id="B-1").status == "open"


def test_a_drills_follow_ups_are_marked_as_drill_in_the_list_and_the_reminder(
        bot: RunningBot, clock: MovableClock) -> None:
    incident_command(bot, "drill wrong-advice")
    incident_command(bot, "declare Assistant cites a withdrawn policy grade 3")
    incident_command(bot, "INC-1 action practise the rollback <@U0BOB|bob> 2031-05-07", channel="C0GENERAL")
    incident_command(bot, "INC-2 action add a freshness check <@U0BOB|bob> 2031-05-07", channel="C0GENERAL")
    listed = incident_command(bot, "actions")["text"]
    assert "*A-1* (INC-1, drill)" in listed and "*A-2* (INC-2) add" in listed
    run(bot, clock, "action_reminders", datetime(2031, 5, 6, 10, 0, tzinfo=UTC))
    told = [m["text"] for m in bot.sandbox.messages if "Follow-up *A-" in m["text"]]
    [drill_note] = [t for t in told if "*A-1*" in t]
    [real_note] = [t for t in told if "*A-2*" in t]
    assert "of drill INC-1 (practice)" in drill_note and drill_note.startswith("🧪")
    assert "of INC-2 is due tomorrow" in real_note


def test_a_trailing_number_is_not_a_due_date_and_a_past_date_is_a_clear_error(bot: RunningBot) -> None:
    from tests.test_incident_actions import actions
    incident_command(bot, "declare Assistant cites a withdrawn policy grade 3")
    ack = incident_command(bot, "INC-1 action close Jira ticket 20310601", channel="C0GENERAL")
    assert "Follow-up *A-1*" in ack["text"] and "due" not in ack["text"].split("(owner")[1].split(")")[0]
    [action] = actions(bot)
    assert action.title == "close Jira ticket 20310601" and action.due_on is None
    past = incident_command(bot, "INC-1 action rotate the key 2031-05-01", channel="C0GENERAL")
    assert "The due date 2031-05-01 is in the past" in past["text"]
    assert len(actions(bot)) == 1


def test_a_scheduled_drill_whose_room_cannot_open_is_started_by_a_later_run_and_never_announced_as_none(
        bot: RunningBot, clock: MovableClock) -> None:
    incident_command(bot, "drill schedule every tue 15:00 Europe/Berlin auto runaway-agent with <@U0DIANA|diana>",
                     user="U0CARLOS")
    bot.sandbox.fail("conversations.create", times=20, status=503)
    clock.now = SLOT + timedelta(minutes=1)
    [first] = bot.runtime.scheduler.run_now("drill_reminders", clock.now)
    bot.runtime.settle()
    assert first.status != "ok" and "0 drills started" in (first.detail or "")
    assert [m for m in messages(bot, "C0GENERAL") if "has started" in m["text"]] == []
    bot.sandbox.fail("conversations.create", times=0)
    assert "1 drills started" in run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=4))
    [drill] = incidents(bot)
    assert drill.channel_id is not None and people(bot, drill.channel_id) == {"U0CARLOS", "U0DIANA"}
    [started] = [m["text"] for m in messages(bot, "C0GENERAL") if "has started" in m["text"]]
    assert f"<#{drill.channel_id}>" in started and "<#None>" not in started
    assert "0 drills started" in run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=6))
