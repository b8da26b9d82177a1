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
    running.runtime.deps.clock = clock
    running.sandbox.ws.clock = clock.seconds
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
