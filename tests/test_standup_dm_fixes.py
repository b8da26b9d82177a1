"""Review fixes of DM-mode stand-ups (#21 follow-up), end to end through the sandbox on both databases: answer
delays from each person's own prompt, away members and a scheduler outage at the first member's moment, one thread
message per DM-mode answer, twin stand-ups, typed answers to a closed day, and questions that could ping."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import Standup, StandupAnswer
from tests.conftest import RunningBot
from tests.helpers import MovableClock
from tests.test_standup_dm import (
    ALICE,
    BOB,
    KENJI,
    START,
    answer,
    asked,
    command,
    dms,
    parents,
    rows,
    run,
    say_in_dm,
    thread,
)

SETUP = "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0KENJI|kenji> dm remind=60 summary=240"
VALUES = {"What did you do yesterday?": "tokenizer fix", "What will you do today?": "eval run",
          "Anything blocking you?": "none"}


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory()
    clock.drive(running)
    running.sandbox.ws.add_user(KENJI, "kenji", tz="Asia/Tokyo")
    return running


def at(clock: MovableClock, when: str) -> None:
    clock.now = datetime.fromisoformat(when)


def test_a_dm_mode_answer_delay_runs_from_the_persons_own_prompt(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, SETUP)
    run(bot, clock, "2026-10-23T00:30+00:00")  # Kenji, 09:30 Tokyo: the thread goes up
    run(bot, clock, "2026-10-23T13:30+00:00")  # Bob, 09:30 New York, 13 h later
    at(clock, "2026-10-23T13:35+00:00")
    answer(bot, BOB, VALUES)
    at(clock, "2026-10-23T13:40+00:00")
    report = command(bot, "report week")
    assert f"<@{BOB}>: 1 on time, 0 late, 0 missed — 100% answered (1/1) · median 5 min after being asked" in report
    assert "Team: 100% answered (1/1) · median answer 5 min after being asked" in report
    assert "13 h" not in report


def test_an_away_member_is_not_asked_reminded_or_waited_for(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, SETUP)
    assert "Noted: away" in command(bot, "away 2026-10-23 2026-10-23", user=BOB)  # Bob, the last zone, is away
    run(bot, clock, "2026-10-23T00:30+00:00")
    run(bot, clock, "2026-10-23T07:30+00:00")
    # The summary comes after Alice's window (07:30 + 240 min), not after the away New York member's.
    assert "1 summaries" in run(bot, clock, "2026-10-23T11:31+00:00")
    for minute in ("13:30", "14:31"):  # his prompt and his reminder time
        run(bot, clock, f"2026-10-23T{minute}+00:00")
    assert dms(bot, BOB) == []
    [parent] = parents(bot)
    [summary] = [r for r in thread(bot, parent["ts"]) if r["text"].startswith("Stand-up summary")]
    assert f"<@{BOB}>" not in summary["text"].split("Away")[0]  # listed as away, not as not answered


def test_everyone_away_is_no_day(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0BOB|bob> dm")
    command(bot, "away 2026-10-23 2026-10-23", user=BOB)
    run(bot, clock, "2026-10-23T13:30+00:00")
    assert parents(bot) == [] and dms(bot, BOB) == []


def test_a_scheduler_down_at_the_first_members_moment_costs_only_that_member(bot: RunningBot,
                                                                              clock: MovableClock) -> None:
    command(bot, SETUP)
    first = run(bot, clock, "2026-10-23T07:30+00:00")  # nothing ran at Tokyo's 09:30 (00:30 UTC)
    assert "1 posted" in first and asked(first) == 1 and "given up" not in first
    assert len(parents(bot)) == 1 and len(dms(bot, ALICE)) == 1 and dms(bot, KENJI) == []
    assert asked(run(bot, clock, "2026-10-23T13:30+00:00")) == 1 and len(dms(bot, BOB)) == 1
    assert len(parents(bot)) == 1


def test_an_answer_without_a_prompt_is_posted_once_and_edits_change_that_message(bot: RunningBot,
                                                                                  clock: MovableClock) -> None:
    command(bot, SETUP)
    run(bot, clock, "2026-10-23T00:30+00:00")  # Kenji asked; the thread is up
    [parent] = parents(bot)
    long_text = "migrated the feature store to the new schema; " * 10  # folded by the summary (over 300 chars)
    for minute, today in (("05:00", "eval run"), ("05:05", long_text), ("05:10", long_text + "and more")):
        at(clock, f"2026-10-23T{minute}+00:00")  # Bob presses Answer on the channel post, before his own DM time
        bot.driver.press("Answer", user=BOB, channel="C0GENERAL")
        bot.runtime.settle()
        assert bot.driver.submit({**VALUES, "What will you do today?": today}, user=BOB).status == 200
        bot.runtime.settle()
    mine = [r for r in thread(bot, parent["ts"]) if r["text"].startswith(f"<@{BOB}> answered:")]
    assert len(mine) == 1 and "and more" in mine[0]["text"]
    [row] = rows(bot, StandupAnswer)
    assert row.thread_ts == mine[0]["ts"]
    run(bot, clock, "2026-10-23T17:31+00:00")  # the summary, after the last window
    assert not [r for r in thread(bot, parent["ts"]) if r["text"].startswith(f"<@{BOB}>'s whole answer")]
    assert len([r for r in thread(bot, parent["ts"]) if r["text"].startswith("Stand-up summary")]) == 1


def test_twin_stand_ups_are_refused_in_dm_mode_and_whatever_the_season(bot: RunningBot, clock: MovableClock) -> None:
    at(clock, "2026-11-30T12:00+00:00")  # winter: Berlin is UTC+1, New York UTC-5, Tokyo UTC+9 all year
    assert "Stand-up 1 is set" in command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> dm")
    # DM mode asks each member at 09:30 their own time: another zone is the same prompts.
    refused = command(bot, "setup 09:30 America/New_York mon-fri <@U0BOB|bob> dm")
    assert refused.startswith("Stand-up 1 already posts in <#C0GENERAL> at 09:30 Europe/Berlin")
    assert "Stand-up 1 already posts" in command(bot, "setup 09:30 Asia/Tokyo mon <@U0BOB|bob>")  # one of them DM
    assert "Stand-up 2 is set" in command(bot, "setup 10:00 America/New_York mon-fri <@U0BOB|bob> dm")
    assert "Stand-up 3 is set" in command(bot, "setup 09:30 America/New_York sat <@U0BOB|bob> dm")
    # Thread mode: 09:30 Berlin and 16:30 Tokyo are one moment in summer (07:30 UTC), not now (08:30 / 07:30).
    assert "Stand-up 4 is set" in command(bot, "setup <#C0RANDOM|random> 09:30 Europe/Berlin mon-fri <@U0BOB|bob>")
    assert "Stand-up 4 already posts" in command(bot, "setup <#C0RANDOM|random> 16:30 Asia/Tokyo mon-fri "
                                                      "<@U0BOB|bob>")
    assert "Stand-up 5 is set" in command(bot, "setup <#C0RANDOM|random> 15:30 Asia/Tokyo mon-fri <@U0BOB|bob>")


def test_text_typed_after_the_day_closed_answers_nothing_and_says_when_the_next_prompt_comes(
        bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> <@U0BOB|bob> dm summary=240")
    run(bot, clock, "2026-10-23T07:30+00:00")  # Friday: Alice asked, 09:30 Berlin (CEST)
    run(bot, clock, "2026-10-23T17:31+00:00")  # the summary, after Bob's window in New York
    at(clock, "2026-10-26T06:50+00:00")  # Monday 07:50 Berlin (CET now), before Monday's prompt
    say_in_dm(bot, ALICE, "Yesterday: weekend\nToday: the <eval> harness\nBlockers: none")
    assert rows(bot, StandupAnswer) == []
    said = dms(bot, ALICE)[-1]["text"]
    assert said.startswith("The stand-up of Fri 23 Oct is closed")
    assert "next prompt comes Mon 26 Oct at 09:30 (Europe/Berlin)" in said


def test_text_typed_late_the_same_evening_still_answers_as_late(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> dm summary=240")
    run(bot, clock, "2026-10-23T07:30+00:00")  # no scheduler ran after this: no summary
    at(clock, "2026-10-23T19:00+00:00")  # 21:00 Berlin: late, still within the day
    say_in_dm(bot, ALICE, "Today: late but here")
    [late] = rows(bot, StandupAnswer)
    assert late.late and "is in the stand-up thread" in dms(bot, ALICE)[-1]["text"]


def test_text_typed_days_later_without_a_summary_is_refused(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> dm summary=240")
    run(bot, clock, "2026-10-23T07:30+00:00")
    at(clock, "2026-10-24T09:00+00:00")  # Saturday; Friday's summary never went out
    say_in_dm(bot, ALICE, "Today: weekend work")
    assert rows(bot, StandupAnswer) == []
    assert "next prompt comes Mon 26 Oct at 09:30 (Europe/Berlin)" in dms(bot, ALICE)[-1]["text"]


@pytest.mark.parametrize("question", ["Did you talk to <@U0BOB|bob>?", "News for <!here>?", "News for <!channel>?",
                                      "Anything for <#C0RANDOM|random>?", "Ask <!subteam^S0ML|ml-team>?"])
def test_a_question_that_could_ping_is_refused_in_the_line_and_the_form(bot: RunningBot, question: str) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> dm")
    said = command(bot, f'questions 1 "What shipped?" | "{question}" | "Blocked?"')  # as Slack sends the markup
    assert said.startswith("A question cannot mention a person, a channel or a group")
    assert rows(bot, Standup)[0].questions[1] != question
    assert bot.driver.command("/standup", "setup").status == 200
    bot.runtime.settle()
    bot.driver.open_view()
    refused = bot.driver.submit({"Time zone": "Europe/Berlin", "Members": "U0BOB", "Ask": "dm",
                                 "own_questions": f"What shipped? | {question}"})
    assert refused.json()["response_action"] == "errors"
    assert "cannot mention a person" in refused.json()["errors"]["own_questions"]


def test_questions_stored_before_the_check_are_shown_without_pinging(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> dm")
    with session_scope(bot.runtime.deps.engine) as session:  # a question kept from before the check
        row = session.exec(select(Standup)).one()
        row.questions = ["Did you pair with <@U0BOB|bob>?", "Anything blocking you?"]
        session.add(row)
    run(bot, clock, "2026-10-23T07:30+00:00")
    shown = json.dumps([*dms(bot, ALICE), *parents(bot)], ensure_ascii=False)
    assert "<@U0BOB" not in shown and "@bob" in shown


def test_an_away_member_who_answers_anyway_is_listed_as_answered_only(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> <@U0BOB|bob> summary=60")  # thread mode
    command(bot, "away 2026-10-23 2026-10-23", user=BOB)
    run(bot, clock, "2026-10-23T07:30+00:00")
    at(clock, "2026-10-23T07:40+00:00")
    bot.driver.press("Answer", user=BOB, channel="C0GENERAL")
    bot.runtime.settle()
    assert bot.driver.submit(VALUES, user=BOB).status == 200
    bot.runtime.settle()
    assert "1 summaries" in run(bot, clock, "2026-10-23T08:31+00:00")
    [parent] = parents(bot)
    [summary] = [r for r in thread(bot, parent["ts"]) if r["text"].startswith("Stand-up summary")]
    shown = json.dumps(summary["blocks"], ensure_ascii=False)
    assert "tokenizer fix" in shown and "Away:" not in shown


def test_a_non_member_pressing_answer_in_dm_mode_is_refused_politely(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> dm")
    run(bot, clock, "2026-10-23T07:30+00:00")
    [parent] = parents(bot)
    bot.driver.press("Answer", user="U0CARLOS", channel="C0GENERAL")
    bot.runtime.settle()
    said = [m["text"] for m in bot.sandbox.ephemeral if m["user"] == "U0CARLOS"]
    assert said and said[-1].startswith("You are not a member of stand-up 1")
    assert thread(bot, parent["ts"]) == [] and rows(bot, StandupAnswer) == []
