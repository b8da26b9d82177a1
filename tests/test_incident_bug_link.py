"""A bug and its incident name each other: declared from the bug card (or `/incident link B-n`), the timeline says
which bug, the card and `/bug show` say which incident, the post-mortem names the bug, and resolving offers to
close it through `/bug close`'s path. End to end through the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.bugs import get_bug
from storage.db import session_scope
from tests.conftest import RunningBot
from tests.helpers import MovableClock
from tests.jira_stub import JiraStub
from tests.test_incident import RESPONDERS, dump, events, incident_command, incidents, messages, private_notes
from tests.test_jira import deliver, jira_settings


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2031, 5, 6, 9, 0, tzinfo=UTC))


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory(**RESPONDERS)
    clock.drive(running)
    return running


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def press(bot: RunningBot, label: str, channel: str, **options) -> None:
    assert bot.driver.press(label, channel=channel, **options).status == 200
    bot.runtime.settle()


def bug(bot: RunningBot, readable_id: str):
    with session_scope(bot.runtime.deps.engine) as session:
        return get_bug(session, team_id="T0SANDBOX", readable_id=readable_id)


def card(bot: RunningBot, readable_id: str) -> dict:
    found = bug(bot, readable_id)
    [message] = [m for m in bot.sandbox.messages if m["ts"] == found.message_ts]
    return message


def thread(bot: RunningBot, readable_id: str) -> list[str]:
    found = bug(bot, readable_id)
    return [m["text"] for m in bot.sandbox.messages if m.get("thread_ts") == found.message_ts]


def test_declared_from_a_bug_card_both_link_and_resolving_offers_to_close_it(bot: RunningBot,
                                                                            clock: MovableClock) -> None:
    command(bot, "/bug", "Any user can read everyone's uploaded files")
    bot.driver.press("Declare incident")
    bot.driver.open_view()
    assert bot.driver.submit({}).status == 200
    bot.runtime.settle()
    [incident] = incidents(bot)
    room = incident.channel_id

    [linked] = events(bot, "bug")
    assert linked.text.startswith("Declared from bug B-1: Any user can read everyone") and "https://" in linked.text
    assert "Declared from bug B-1" in command(bot, "/incident", "status", channel=room)["text"]
    shown = dump(card(bot, "B-1")["blocks"])
    assert "Incident *INC-1*" in shown and f"<#{room}>" in shown and "investigating" in shown
    assert any("Incident INC-1 declared from this bug" in t for t in thread(bot, "B-1"))
    details = command(bot, "/bug", "show B-1")["text"]
    assert "INC-1" in details and f"<#{room}>" in details and "investigating" in details

    incident_command(bot, "resolve rotated the bucket policy", channel=room)
    press(bot, "Resolve anyway", room)
    [offer] = [m for m in messages(bot, room) if "resolved by" in m["text"]]
    assert "B-1 is still open" in offer["text"] and "Close B-1" in dump(offer["blocks"])
    document = [f for f in bot.sandbox.ws.files.values() if f["name"] == "postmortem-INC-1.md"][0]
    assert "- Declared from bug B-1: Any user can read everyone" in document["content"].decode()
    assert "resolved" in dump(card(bot, "B-1")["blocks"])  # /bug show and the card follow the incident

    press(bot, "Close B-1", room, times=2)  # a double click closes once
    closed = bug(bot, "B-1")
    assert closed.status == "closed" and closed.closed_by == "U0ALICE"
    assert closed.resolution == "fixed with incident INC-1"
    assert len([t for t in thread(bot, "B-1") if "closed this" in t]) == 1  # /bug close's own path
    clock.now += timedelta(minutes=2)  # a stale click, later
    press(bot, "Close B-1", room)
    assert any("B-1 is already closed" in t for t in private_notes(bot))
    assert "Declare incident" not in dump(card(bot, "B-1")["blocks"])


def test_incident_link_of_a_bug_links_it_the_same_way(bot: RunningBot) -> None:
    command(bot, "/bug", "Summaries of long tickets drop the last paragraph")
    incident_command(bot, "declare Summaries lose text grade 3")
    [incident] = incidents(bot)
    room = incident.channel_id
    assert "There is no bug B-9" in incident_command(bot, "link B-9", channel=room)["text"]
    assert "INC-1 is linked to B-1" in incident_command(bot, "link b-1", channel=room)["text"]
    assert "linked to B-1 already" in incident_command(bot, "link B-1", channel=room)["text"]
    [linked] = events(bot, "bug")
    assert linked.text.startswith("Linked to bug B-1: Summaries of long tickets")
    assert "INC-1" in command(bot, "/bug", "show B-1")["text"]
    assert any("Linked to incident INC-1" in t for t in thread(bot, "B-1"))
    assert "Incident *INC-1*" in dump(card(bot, "B-1")["blocks"])
    incident_command(bot, "resolve trimmed the prompt", channel=room)
    press(bot, "Resolve anyway", room)
    [offer] = [m for m in messages(bot, room) if "resolved by" in m["text"]]
    assert "Close B-1" in dump(offer["blocks"])


def test_no_close_offer_for_a_bug_closed_already_and_no_incident_on_other_bugs(bot: RunningBot) -> None:
    command(bot, "/bug", "Any user can read everyone's uploaded files")
    bot.driver.press("Declare incident")  # on B-1's card
    bot.driver.open_view()
    bot.driver.submit({})
    bot.runtime.settle()
    command(bot, "/bug", "Exported CSV has the wrong date format")
    [incident] = incidents(bot)
    assert incident.bug_id == "B-1"
    assert "INC-" not in command(bot, "/bug", "show B-2")["text"]
    command(bot, "/bug", "close B-1 fixed the ACL")
    incident_command(bot, "resolve done", channel=incident.channel_id)
    press(bot, "Resolve anyway", incident.channel_id)
    [said] = [m for m in messages(bot, incident.channel_id) if "resolved by" in m["text"]]
    assert "Close B-1" not in dump(said.get("blocks") or []) and "still open" not in said["text"]


def test_close_from_the_resolved_incident_follows_in_jira(bot_factory) -> None:
    """*Close B-1* closes the bug the way `/bug close` does, so its Jira twin is transitioned too."""
    stub = JiraStub()
    try:
        bot = bot_factory(**{**RESPONDERS, **jira_settings(stub)})  # the real clock: the outbox runs on it
        command(bot, "/bug", "Any user can read everyone's uploaded files")
        deliver(bot)
        [twin] = [i for i in stub.issues.values() if i.fields["summary"].startswith("B-1:")]
        bot.driver.press("Declare incident")
        bot.driver.open_view()
        assert bot.driver.submit({}).status == 200
        bot.runtime.settle()
        [incident] = incidents(bot)
        incident_command(bot, "resolve rotated the bucket policy", channel=incident.channel_id)
        press(bot, "Resolve anyway", incident.channel_id)
        assert twin.fields["status"]["name"] != "Done"
        press(bot, "Close B-1", incident.channel_id)
        deliver(bot)
        assert bug(bot, "B-1").status == "closed" and twin.fields["status"]["name"] == "Done"
    finally:
        stub.down()
