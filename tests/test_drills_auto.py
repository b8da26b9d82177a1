"""Drills that run themselves: a schedule names its participants, the automatic drill invites them and announces its
start where it was scheduled, the notices say when it really starts, and a drill nobody acts in ends by itself
with a scorecard that says so. End to end through the sandbox on a moved clock, jobs through the job runner, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.incident import starts_in
from tests.conftest import RunningBot
from tests.helpers import MovableClock
from tests.test_incident import RESPONDERS, events, incident_command, incidents, messages

MOMENT = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)  # Tuesday 6 May 2031, 11:00 in Berlin (summer time)
SLOT = datetime(2031, 5, 6, 13, 0, tzinfo=UTC)  # the same day, 15:00 in Berlin


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(MOMENT)


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory(**RESPONDERS, pmbot_drill_unattended_minutes=60)
    clock.drive(running)
    running.sandbox.ws.add_user("U0DIANA", "diana", tz="Europe/Berlin")
    return running


def run(bot: RunningBot, clock: MovableClock, name: str, when: datetime) -> str:
    clock.now = when
    [result] = bot.runtime.scheduler.run_now(name, when)
    assert result.status == "ok", result.detail
    bot.runtime.settle()
    return result.detail or ""


def notices(bot: RunningBot) -> list[str]:
    return [m["text"] for m in messages(bot, "C0GENERAL") if "Incident drill" in m["text"]]


def test_when_a_drill_starts_is_said_as_people_say_it() -> None:
    berlin = "Europe/Berlin"
    assert starts_in(SLOT, SLOT - timedelta(minutes=40), berlin) == "in 40 minutes"
    assert starts_in(SLOT, SLOT - timedelta(hours=3), berlin) == "in 3 hours (at 15:00)"
    # Less than 24 hours ahead but later today: never "tomorrow".
    assert starts_in(SLOT, datetime(2031, 5, 6, 5, 0, tzinfo=UTC), berlin) == "in 8 hours (at 15:00)"
    assert starts_in(SLOT, datetime(2031, 5, 5, 14, 0, tzinfo=UTC), berlin) == "tomorrow at 15:00"
    # 23:30 UTC on the 5th is already the 6th in Berlin: the same day there.
    assert starts_in(SLOT, datetime(2031, 5, 5, 23, 30, tzinfo=UTC), berlin) == "in 14 hours (at 15:00)"
    assert starts_in(SLOT, datetime(2031, 5, 3, 9, 0, tzinfo=UTC), berlin) == "on Tue 6 May at 15:00"
    # Across the change to summer time (Sunday 30 March 2031): the slot's local time, not UTC's.
    assert starts_in(datetime(2031, 3, 31, 13, 0, tzinfo=UTC), datetime(2031, 3, 29, 12, 0, tzinfo=UTC),
                     berlin) == "on Mon 31 Mar at 15:00"


def test_an_unattended_automatic_drill_invites_announces_and_ends_by_itself_with_its_scorecard(
        bot: RunningBot, clock: MovableClock) -> None:
    ack = incident_command(bot, "drill schedule every tue 15:00 Europe/Berlin auto runaway-agent with "
                                "<@U0DIANA|diana> @carlos")
    assert "Drill schedule 1" in ack["text"] and "<@U0ALICE> <@U0DIANA> <@U0CARLOS>" in ack["text"]
    assert "in 4 hours (at 15:00)" in ack["text"]

    # The day-before notice of a slot four hours away says so (not "tomorrow"), once.
    assert "1 day-before" in run(bot, clock, "drill_reminders", MOMENT + timedelta(minutes=1))
    assert "0 day-before" in run(bot, clock, "drill_reminders", MOMENT + timedelta(minutes=6))
    [first] = notices(bot)
    assert "Incident drill in 4 hours (at 15:00)" in first and "tomorrow" not in first
    assert "<@U0DIANA>" in first and "<@U0CARLOS>" in first
    assert "1 hour-before" in run(bot, clock, "drill_reminders", SLOT - timedelta(minutes=55))
    assert "Incident drill in 55 minutes" in notices(bot)[-1]

    # At its slot it starts by itself: the participants are invited, the start is announced where it was scheduled.
    assert "1 drills started" in run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=2))
    [drill] = incidents(bot)
    assert drill.drill and drill.declared_at == SLOT + timedelta(minutes=2) and drill.origin_channel == "C0GENERAL"
    room = bot.sandbox.ws.channels[drill.channel_id]
    assert {"U0ALICE", "U0DIANA", "U0CARLOS"} <= room.members
    [started] = [m["text"] for m in messages(bot, "C0GENERAL") if "has started" in m["text"]]
    assert f"<#{drill.channel_id}>" in started and "<@U0DIANA>" in started and "within 60 min" in started
    assert messages(bot, "C0RANDOM") == []  # a drill is never announced as a real incident

    # Nobody acts in it: still running after 58 minutes, ended at 60, once.
    assert "0 unattended drills ended" in run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=60))
    assert incidents(bot)[0].status != "resolved"
    assert "1 unattended drills ended" in run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=62))
    assert "0 unattended drills ended" in run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=67))
    [drill] = incidents(bot)
    assert drill.status == "resolved" and drill.resolved_at == SLOT + timedelta(minutes=62)
    assert drill.acknowledged_at is None
    [ended] = events(bot, "unattended")
    assert ended.user_id is None and "Nobody responded within 60 min" in ended.text
    [card] = [m["text"] for m in messages(bot, drill.channel_id) if "Drill scorecard" in m["text"]]
    assert "Nobody responded" in card and "ended by itself after 1 h 00 min" in card
    assert "Checklist completed: 0 of" in card
    [told] = [m["text"] for m in messages(bot, "C0GENERAL") if "ended by itself" in m["text"]]
    assert drill.readable_id in told and "Drill scorecard" in told and "Nobody responded" in told
    assert any(f["name"] == f"postmortem-{drill.readable_id}.md" for f in bot.sandbox.ws.files.values())

    # The reminders stop: its commander hears nothing more about it, and the schedule is quiet until next week.
    later = SLOT + timedelta(days=3)
    assert "0 reminded" in run(bot, clock, "incident_watch", later)
    assert run(bot, clock, "drill_reminders", later).startswith("0 day-before notices, 0 hour-before notices, "
                                                               "0 drills started")
    assert len(notices(bot)) == 2
    assert "1 day-before" in run(bot, clock, "drill_reminders", SLOT + timedelta(days=6, hours=1))
    assert "Incident drill tomorrow at 15:00" in notices(bot)[-1]


def test_a_drill_someone_acts_in_does_not_end_by_itself(bot: RunningBot, clock: MovableClock) -> None:
    incident_command(bot, "drill wrong-advice")
    [drill] = incidents(bot)
    clock.now = MOMENT + timedelta(minutes=3)
    incident_command(bot, "note checking the retrieval index", channel=drill.channel_id, user="U0BOB")
    assert "0 unattended drills ended" in run(bot, clock, "drill_reminders", MOMENT + timedelta(hours=2))
    assert incidents(bot)[0].status == "investigating"


def test_a_schedule_without_names_invites_the_scheduler_and_the_grades_responders(
        bot: RunningBot, clock: MovableClock) -> None:
    ack = incident_command(bot, "drill schedule every tue 15:00 Europe/Berlin auto pii-leak", user="U0CARLOS")
    assert "you and the grade's responders" in ack["text"]
    run(bot, clock, "drill_reminders", SLOT + timedelta(minutes=1))
    [drill] = incidents(bot)
    assert {"U0CARLOS", "U0ALICE", "U0BOB"} <= bot.sandbox.ws.channels[drill.channel_id].members  # S0ONCALL: grade 1
    assert drill.commander_id == "U0CARLOS"


def test_bad_participants_get_clear_answers(bot: RunningBot) -> None:
    assert "Say who takes part after `with`" in incident_command(
        bot, "drill schedule every tue 15:00 Europe/Berlin auto with")["text"]
    assert "I do not know @nobody here" in incident_command(
        bot, "drill schedule every tue 15:00 Europe/Berlin with @nobody")["text"]
    assert "No drill schedules" in incident_command(bot, "drill schedules")["text"]
