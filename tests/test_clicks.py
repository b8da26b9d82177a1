"""Idempotent buttons (issue #19, defect 7): a double click is handled once, on SQLite and PostgreSQL.

Slack gives every click a trigger_id of its own, so the delivery filter cannot tell a double click from two
decisions: the click itself (action, message, person, value) is claimed for a few seconds instead. Clicks go
through the real HTTP endpoint, signed, as the sandbox driver sends them.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.edge import CLICK_WINDOW
from bot.sandbox.driver import Found
from storage.db import session_scope
from storage.models import Bug, BugGradeChange
from storage.repos import claim_click
from tests.conftest import RunningBot

RESPONDERS = {"pmbot_incident_channel": "C0RANDOM", "pmbot_incident_responders": "1=S0ONCALL; 2=U0BOB",
              "pmbot_legal_contacts": "U0CARLOS"}


def command(bot: RunningBot, name: str, text: str) -> dict:
    response = bot.driver.command(name, text)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def button(bot: RunningBot, label: str, *, channel: str = "C0GENERAL") -> Found:
    return bot.driver.find(label, channel=channel, types=("button",))


def click(bot: RunningBot, found: Found, user: str) -> int:
    """One click on a button seen on screen, as Slack sends it: a block_actions payload with a new trigger_id."""
    action = {"type": "button", "action_id": found.element.get("action_id"), "block_id": found.block_id,
              "text": found.element.get("text"), "value": found.element.get("value", ""),
              "action_ts": f"{time.time():.6f}"}
    return bot.driver._block_actions(found, action, user).status


def clicks_together(bot: RunningBot, found: Found, users: list[str]) -> list[int]:
    """Clicks sent at the same moment, one thread each (a double click reaching two server threads)."""
    start = threading.Barrier(len(users))
    statuses: list[int] = []

    def one(user: str) -> None:
        start.wait()
        statuses.append(click(bot, found, user))

    threads = [threading.Thread(target=one, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    bot.runtime.settle()
    return statuses


def confirmations(bot: RunningBot) -> list[BugGradeChange]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(BugGradeChange).where(BugGradeChange.kind == "confirm")))


def thread_posts(bot: RunningBot, words: str) -> list[dict]:
    with session_scope(bot.runtime.deps.engine) as session:
        card_ts = session.exec(select(Bug.message_ts)).one()
    return [m for m in bot.sandbox.messages
            if m.get("thread_ts") == card_ts and m["ts"] != card_ts and words in (m.get("text") or "")]


def test_confirm_grade_clicked_twice_at_the_same_moment_confirms_once(bot: RunningBot) -> None:
    command(bot, "/bug", "Responses take 25 seconds at peak")
    assert clicks_together(bot, button(bot, "Confirm grade"), ["U0BOB", "U0BOB"]) == [200, 200]
    assert len(confirmations(bot)) == 1
    assert len(thread_posts(bot, "confirmed grade")) == 1


def test_confirm_grade_clicked_twice_in_a_row_confirms_once(bot: RunningBot) -> None:
    command(bot, "/bug", "Responses take 25 seconds at peak")
    assert bot.driver.press("Confirm grade", user="U0BOB", times=2).status == 200
    bot.runtime.settle()
    assert len(confirmations(bot)) == 1
    assert len(thread_posts(bot, "confirmed grade")) == 1


def test_the_same_button_clicked_by_two_people_counts_for_each(bot: RunningBot) -> None:
    command(bot, "/bug", "Responses take 25 seconds at peak")
    clicks_together(bot, button(bot, "Confirm grade"), ["U0BOB", "U0CARLOS"])
    assert sorted(c.user_id for c in confirmations(bot)) == ["U0BOB", "U0CARLOS"]


def test_the_same_click_after_the_window_counts_again(bot: RunningBot) -> None:
    command(bot, "/bug", "Responses take 25 seconds at peak")
    found = button(bot, "Confirm grade")
    click(bot, found, "U0BOB")
    bot.runtime.settle()
    later = datetime.now(UTC) + CLICK_WINDOW + timedelta(seconds=1)
    bot.runtime.deps.clock = lambda: later
    click(bot, found, "U0BOB")
    bot.runtime.settle()
    assert len(confirmations(bot)) == 2


def test_joining_the_war_room_twice_invites_once(bot_factory) -> None:
    bot = bot_factory(**RESPONDERS)
    with bot.sandbox.lock:
        bot.sandbox.ws.add_user("U0DANA", "dana")
    command(bot, "/incident", "declare Chatbot shows other users' order history grade 1")
    join = button(bot, "Join the war room", channel="C0RANDOM")
    assert clicks_together(bot, join, ["U0DANA", "U0DANA"]) == [200, 200]
    bot.driver.press("Join the war room", user="U0DANA", channel="C0RANDOM", times=2)
    bot.runtime.settle()
    invites = [c for c in bot.sandbox.calls_to("conversations.invite") if c.args.get("users") == "U0DANA"]
    assert len(invites) == 1


def test_a_double_click_is_logged_and_counted_as_a_duplicate(bot: RunningBot, caplog) -> None:
    caplog.set_level("INFO", logger="bot.edge")
    command(bot, "/bug", "Responses take 25 seconds at peak")
    bot.driver.press("Confirm grade", user="U0BOB", times=2)
    bot.runtime.settle()
    assert "the same click again" in caplog.text
    metrics = bot.runtime.deps.metrics.render().decode()
    assert 'outcome="duplicate"' in metrics and "action:bug.confirm" in metrics


# --- the claim itself -----------------------------------------------------------------------------------


def test_a_click_is_claimed_once_per_window(engine: Engine) -> None:
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    window = timedelta(seconds=10)

    def claim(at: datetime, key: str = "click:one") -> bool:
        with session_scope(engine) as session:
            return claim_click(session, team_id="T0SANDBOX", key=key, kind="click:test", now=at, window=window)

    assert claim(now) is True
    assert claim(now + timedelta(seconds=3)) is False
    assert claim(now + timedelta(seconds=9)) is False  # a refused repeat does not move the window
    assert claim(now + timedelta(seconds=11)) is True
    assert claim(now + timedelta(seconds=12)) is False
    assert claim(now + timedelta(seconds=12), key="click:two") is True


@pytest.mark.parametrize("fresh", [True, False], ids=["first-claim", "after-the-window"])
def test_of_clicks_claiming_at_the_same_moment_exactly_one_wins(engine: Engine, fresh: bool) -> None:
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    window = timedelta(seconds=10)
    if not fresh:  # an old claim: every contender may take it over, only one does
        with session_scope(engine) as session:
            claim_click(session, team_id="T0SANDBOX", key="click:race", kind="click:test", now=now, window=window)
        now += timedelta(seconds=30)
    start = threading.Barrier(6)
    won: list[bool] = []

    def contend() -> None:
        start.wait()
        with session_scope(engine) as session:
            won.append(claim_click(session, team_id="T0SANDBOX", key="click:race", kind="click:test", now=now,
                                   window=window))

    threads = [threading.Thread(target=contend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(won) == [False] * 5 + [True]
