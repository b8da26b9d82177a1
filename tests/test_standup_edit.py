"""`/standup edit N …` end to end: the stand-up's own row changes in place, checked as at set-up; its number,
days, pause and digest stay, and no other stand-up row is made (or burnt) on the way."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from storage.db import session_scope
from storage.models import Standup, StandupDay
from tests.conftest import RunningBot


def command(bot: RunningBot, text: str) -> str:
    response = bot.driver.command("/standup", text)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)["text"]


def standups(bot: RunningBot) -> list[Standup]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(Standup).order_by(Standup.id)))


def test_an_edit_changes_the_stand_up_in_place(bot: RunningBot) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob> summary=60")
    [result] = bot.runtime.scheduler.run_now("standup", datetime(2027, 3, 29, 9, 30, tzinfo=UTC))
    assert result.detail.startswith("1 posted")
    command(bot, "digest 1 on")
    command(bot, "pause 1 until 2099-01-01")
    [before] = standups(bot)
    answer = command(bot, "edit 1 #random 10:15 Europe/Berlin mon-thu @alice @bob remind=30")
    assert answer.startswith("Stand-up 1 updated: <#C0RANDOM> at 10:15 Europe/Berlin on mon, tue, wed, thu")
    assert "2 members (<@U0ALICE>, <@U0BOB>); reminder after 30 min, summary after 240 min" in answer
    assert "paused until 2099-01-01" in answer
    [after] = standups(bot)
    assert (after.id, after.created_by, after.created_at) == (before.id, before.created_by, before.created_at)
    assert (after.digest, after.paused_until) == (True, before.paused_until)
    with session_scope(bot.runtime.deps.engine) as session:
        assert [d.standup_id for d in session.exec(select(StandupDay))] == [1]  # its history stays with it
    assert "Stand-up 2 is set" in command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob>")  # no number was used up


def test_an_edit_is_checked_like_a_set_up_and_changes_nothing_when_refused(bot: RunningBot) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob>")
    [before] = standups(bot)
    assert "Mars/Base is not a time zone" in command(bot, "edit 1 09:30 Mars/Base mon-fri <@U0BOB|bob>")
    assert "I do not know @nobody" in command(bot, "edit 1 09:30 UTC mon-fri @nobody")
    assert "no channel #nowhere" in command(bot, "edit 1 #nowhere 09:30 UTC mon-fri @bob")
    assert "There is no stand-up 9" in command(bot, "edit 9 09:30 UTC mon-fri @bob")
    assert standups(bot) == [before]
