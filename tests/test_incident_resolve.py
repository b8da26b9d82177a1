"""Resolving with runbook steps still open asks first (Resolve anyway / Cancel) and records the steps skipped;
with every step done it resolves at once. End to end through the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import RunningBot
from tests.helpers import MovableClock
from tests.test_incident import RESPONDERS, dump, events, incident_command, incidents, messages, private_notes


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2031, 5, 6, 9, 0, tzinfo=UTC))


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory(**RESPONDERS)
    clock.drive(running)
    return running


def press(bot: RunningBot, label: str, channel: str, **options) -> None:
    assert bot.driver.press(label, channel=channel, **options).status == 200
    bot.runtime.settle()


def postmortem(bot: RunningBot, readable_id: str) -> str:
    [document] = [f for f in bot.sandbox.ws.files.values() if f["name"] == f"postmortem-{readable_id}.md"]
    return document["content"].decode()


def test_resolving_with_open_steps_asks_and_records_the_skipped_ones(bot: RunningBot, clock: MovableClock) -> None:
    incident_command(bot, "declare Refund bot quotes last year's terms grade 2")
    [incident] = incidents(bot)
    room = incident.channel_id
    press(bot, "Done", room)  # one of six steps
    asked = incident_command(bot, "resolve reindexed the &lt;approved&gt; policy", channel=room)
    assert "5 of 6 runbook steps of INC-1 are still open" in asked["text"] and "Resolve anyway?" in asked["text"]
    assert "Resolve anyway" in dump(asked["blocks"]) and "Cancel" in dump(asked["blocks"])
    assert "☐ Roll back" in asked["text"] or "☐" in asked["text"]
    assert incidents(bot)[0].status == "investigating"  # nothing happens before the answer

    press(bot, "Cancel", room)
    assert any("Not resolved: INC-1 stays open" in t for t in private_notes(bot))
    assert incidents(bot)[0].status == "investigating" and events(bot, "resolved") == []

    incident_command(bot, "resolve reindexed the &lt;approved&gt; policy", channel=room)
    press(bot, "Resolve anyway", room, times=2)  # a double click resolves once
    [incident] = incidents(bot)
    assert incident.status == "resolved" and incident.resolution == "reindexed the <approved> policy"
    [skipped] = events(bot, "skipped")
    assert skipped.text.startswith("resolved with 5 of 6 steps still open: ") and skipped.user_id == "U0ALICE"
    assert len(events(bot, "resolved")) == 1
    said = [m["text"] for m in messages(bot, room) if "resolved by" in m["text"]]
    assert len(said) == 1 and "5 runbook steps skipped" in said[0]
    text = postmortem(bot, "INC-1")
    assert "Resolved with 5 steps still open (skipped): " in text and "- Checklist: 1 of 6 done" in text
    assert len([f for f in bot.sandbox.ws.files.values() if f["name"] == "postmortem-INC-1.md"]) == 1

    # A stale click (the question is still on screen) is told, and changes nothing.
    clock.now += timedelta(minutes=2)  # later than a double click
    press(bot, "Resolve anyway", room)
    assert any("INC-1 is resolved already" in t for t in private_notes(bot))
    assert len(events(bot, "resolved")) == 1 and len(events(bot, "skipped")) == 1


def test_with_every_step_done_it_resolves_at_once(bot: RunningBot) -> None:
    incident_command(bot, "declare Wrong language in replies grade 3")
    [incident] = incidents(bot)
    for _ in range(4):
        press(bot, "Done", incident.channel_id)
    answer = incident_command(bot, "resolve prompt fixed", channel=incident.channel_id)
    assert "Resolving INC-1" in answer["text"] and "Resolve anyway" not in dump(answer.get("blocks") or [])
    [incident] = incidents(bot)
    assert incident.status == "resolved" and events(bot, "skipped") == []
    assert "(skipped)" not in postmortem(bot, "INC-1")


def test_only_leads_are_asked_and_a_resolved_incident_is_not_asked_again(bot: RunningBot, clock: MovableClock) -> None:
    incident_command(bot, "declare Agent loops on refunds grade 2")
    [incident] = incidents(bot)
    room = incident.channel_id
    refused = incident_command(bot, "resolve done", channel=room, user="U0BOB")
    assert "Only the commander or the scribe can resolve INC-1" in refused["text"]
    assert "Resolve anyway" not in dump(refused.get("blocks") or [])
    incident_command(bot, "resolve done", channel=room)
    press(bot, "Resolve anyway", room)
    again = incident_command(bot, "resolve done", channel=room)
    assert "INC-1 is resolved already" in again["text"]
    # Reopened, the old question is stale: clicking it does not resolve the incident again.
    incident_command(bot, "reopen", channel=room)
    clock.now += timedelta(minutes=5)
    press(bot, "Resolve anyway", room)
    assert any("before it was reopened" in t for t in private_notes(bot))
    assert incidents(bot)[0].status == "investigating" and len(events(bot, "resolved")) == 1
