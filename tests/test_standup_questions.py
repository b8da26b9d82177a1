"""A stand-up's own questions: presets (`classic`, `genai`) or 1 to 6 typed ones, which one is the blocker question,
and the answer form and typed thread replies following them — end to end through the sandbox on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.domain.standup import (
    DEFAULT_QUESTIONS,
    GENAI_QUESTIONS,
    SetupError,
    blocker_index,
    blocker_of,
    parse_questions,
    split_answer,
)
from storage.db import session_scope
from storage.models import Standup, StandupAnswer, StandupBlocker
from tests.conftest import RunningBot

GENAI = list(GENAI_QUESTIONS)


def test_presets_and_typed_questions_are_read() -> None:
    assert parse_questions("classic") == list(DEFAULT_QUESTIONS)
    assert parse_questions(" GenAI ") == GENAI
    assert parse_questions('"What shipped?" | “What is next?” |Blocked by anything?') == \
        ["What shipped?", "What is next?", "Blocked by anything?"]
    assert parse_questions("Mood today?") == ["Mood today?"]


@pytest.mark.parametrize(("text", "error"), [
    ("", "Name a preset"),
    ('"A?" | | "B?"', "A question is empty"),
    ('"" | "B?"', "A question is empty"),
    (" | ".join(f'"Question {n}?"' for n in range(7)), "That is 7 questions; a stand-up asks 1 to 6"),
    ('"' + "x" * 151 + '"', "at most 150 characters"),
    ('"Same?" | "same?"', "Two questions are the same"),
])
def test_bad_questions_are_refused_with_what_would_work(text: str, error: str) -> None:
    with pytest.raises(SetupError, match=error):
        parse_questions(text)


def test_the_blocker_question_is_the_one_that_says_block() -> None:
    assert blocker_index(list(DEFAULT_QUESTIONS)) == 2
    assert blocker_index(GENAI) == 2 and "labelling" in GENAI[2]
    assert blocker_index(["What shipped?", "Blocked by anything?"]) == 1
    assert blocker_index(["What shipped?", "What is next?"]) is None
    assert blocker_of({"What shipped?": "the router", "What is next?": "blocked on legal"},
                      ["What shipped?", "What is next?"]) is None  # no blocker question: no blocker


def test_typed_answers_follow_the_questions() -> None:
    numbered = split_answer("1. 3 ablations of the reranker\n2. recall@5 up 2 points\n3. vendor late with 2k "
                            "labels\n4. prompt v7 shipped", GENAI)
    assert numbered == {GENAI[0]: "3 ablations of the reranker", GENAI[1]: "recall@5 up 2 points",
                        GENAI[2]: "vendor late with 2k labels", GENAI[3]: "prompt v7 shipped"}
    assert blocker_of(numbered, GENAI) == "vendor late with 2k labels"
    labelled = split_answer("two runs\nBlockers: waiting for the eval set", GENAI)
    assert labelled == {GENAI[0]: "two runs", GENAI[2]: "waiting for the eval set"}  # the label finds its question
    assert blocker_of(labelled, GENAI) == "waiting for the eval set"
    six = [f"Question {n}?" for n in range(1, 7)]
    assert split_answer("5. fifth\n6) sixth", six) == {six[4]: "fifth", six[5]: "sixth"}


# --- end to end ---------------------------------------------------------------------------------------------


def command(bot: RunningBot, text: str) -> str:
    response = bot.driver.command("/standup", text)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)["text"]


def run(bot: RunningBot, when: str) -> str:
    [result] = bot.runtime.scheduler.run_now("standup", datetime.fromisoformat(when).astimezone(UTC))
    assert result.status == "ok", result.detail
    bot.runtime.settle()
    return result.detail or ""


def questions(bot: RunningBot) -> list[str]:
    with session_scope(bot.runtime.deps.engine) as session:
        return session.exec(select(Standup)).one().questions


def test_questions_are_set_by_preset_or_typed_and_bad_ones_get_a_clear_answer(bot: RunningBot) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob>")
    assert questions(bot) == list(DEFAULT_QUESTIONS)
    said = command(bot, "questions 1 genai")
    assert "Stand-up 1 now asks:\n1. Which experiments did you run?" in said
    assert "Question 3 is the blocker question." in said and questions(bot) == GENAI
    said = command(bot, 'questions 1 "What shipped?" | "What is next?" | "Any &lt;!channel&gt; news?"')
    assert "cannot mention a person, a channel or a group" in said  # asked every day, it would ping every day
    said = command(bot, 'questions 1 "What shipped?" | "What is next?" | "Any news?"')
    assert "No question mentions blocking" in said
    assert questions(bot) == ["What shipped?", "What is next?", "Any news?"]
    assert "Name a preset (`classic`, `genai`)" in command(bot, "questions 1")
    assert "That is 7 questions" in command(bot, "questions 1 " + " | ".join(f"Q{n}?" for n in range(7)))
    assert "at most 150 characters" in command(bot, "questions 1 " + "why" * 60)
    assert "There is no stand-up 4" in command(bot, "questions 4 classic")
    assert questions(bot)[0] == "What shipped?"  # the refused ones changed nothing
    # An edit keeps the team's own questions unless it names a preset.
    command(bot, "edit 1 10:00 UTC mon-fri <@U0BOB|bob>")
    assert questions(bot)[0] == "What shipped?"
    command(bot, "edit 1 10:00 UTC mon-fri <@U0BOB|bob> classic")
    assert questions(bot) == list(DEFAULT_QUESTIONS)
    assert "questions N classic|genai" in command(bot, "help")


def test_the_form_and_typed_replies_follow_the_stand_ups_questions(bot: RunningBot) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob> <@U0ALICE|alice> genai")
    run(bot, "2027-03-29T09:30+00:00")
    [parent] = [m for m in bot.sandbox.messages if m["text"].startswith("Stand-up —")]
    shown = json.dumps(parent["blocks"], ensure_ascii=False)
    assert "Any eval results?" in shown and "`1. …`, `2. …`" in shown
    bot.driver.reply(parent["ts"], "1. 3 ablations\n2. recall@5 +2 points\n3. labelling vendor is two days late\n"
                                   "4. none", user="U0BOB")
    bot.runtime.settle()
    bot.driver.press("Answer", user="U0ALICE")
    bot.runtime.settle()
    view = bot.driver.open_view(user="U0ALICE")
    assert [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"] == GENAI
    bot.driver.submit({GENAI[0]: "prompt sweep", GENAI[1]: "", GENAI[2]: "none", GENAI[3]: "prompt v7"},
                      user="U0ALICE")
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:
        answers = {a.user_id: a for a in session.exec(select(StandupAnswer))}
        [blocker] = session.exec(select(StandupBlocker)).all()
    assert answers["U0BOB"].answers[GENAI[1]] == "recall@5 +2 points"
    assert answers["U0BOB"].blocker == "labelling vendor is two days late" == blocker.text
    assert answers["U0ALICE"].answers == {GENAI[0]: "prompt sweep", GENAI[2]: "none", GENAI[3]: "prompt v7"}
    assert answers["U0ALICE"].blocker is None


def test_the_setup_form_takes_the_teams_own_questions_and_says_what_is_wrong(bot: RunningBot) -> None:
    assert bot.driver.command("/standup", "setup").status == 200
    bot.runtime.settle()
    bot.driver.open_view()
    refused = bot.driver.submit({"Time zone": "UTC", "Members": "U0BOB", "Or your own questions": "Shipped? | | Next?"})
    assert refused.json()["response_action"] == "errors"
    assert "A question is empty" in refused.json()["errors"]["own_questions"]
    assert bot.driver.submit({"Time zone": "UTC", "Members": "U0BOB",
                              "Or your own questions": "What shipped? | Blocked by anything?"}).status == 200
    bot.runtime.settle()
    assert questions(bot) == ["What shipped?", "Blocked by anything?"]
