"""What a stand-up looks like in Slack: the day's parent message, the DM prompt, the answer form, set-up (the summary
is in `bot.standups.summary`)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot import blocks
from bot.domain.standup import DAY_NAMES, DEFAULT_QUESTIONS, DM
from bot.domain.text import escape_user_text
from storage.models import Standup, StandupAnswer

ACTION_ANSWER = "standup.answer"
ACTION_RISK = "standup.make_risk"
ACTION_BUG = "standup.file_bug"
VIEW_ANSWER = "standup.answer_modal"
VIEW_SETUP = "standup.setup_modal"


def days_text(workdays: list[int]) -> str:
    return ", ".join(DAY_NAMES[d] for d in sorted(workdays))


def parent(standup: Standup, day: date, answered: int, blockers: int,
           expected: int | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The day's post; `expected` is who should answer that day (the members not away), all members by default."""
    title = f"Stand-up — <#{standup.channel_id}> — {day:%a %d %b}"
    total = len(standup.members) if expected is None else expected
    progress = f"{answered}/{total} answered · {blockers} blocker{'' if blockers == 1 else 's'}"
    questions = "\n".join(f"{n}. {escape_user_text(q)}" for n, q in enumerate(standup.questions, start=1))
    text = f"*{title}*\n{questions}\n" + how_to_answer(standup)
    return f"{title} · {progress}", [*blocks.sections(text), blocks.context(progress),
                                     blocks.actions(blocks.button("Answer", ACTION_ANSWER, "", "primary"))]


def how_to_answer(standup: Standup) -> str:
    """How to answer: the button, or a reply typed with a label or a number per question."""
    dm = (f"Each member is asked by DM at {standup.time} their own time; answers appear in this thread. "
          if standup.mode == DM else "")
    if tuple(standup.questions[:3]) == DEFAULT_QUESTIONS:
        return (f"{dm}Answer with the button, or reply in this thread — one line per question "
                "(`Yesterday: …`, `Today: …`, `Blockers: …`).")
    return f"{dm}Answer with the button, or reply in this thread — a numbered line per question (`1. …`, `2. …`)."


def dm_prompt(standup: Standup, day: date, day_id: int, *, reminder: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """A DM-mode stand-up asking one member: its questions and the Answer button (the day's id on it)."""
    title = (f"A reminder: your stand-up for <#{standup.channel_id}> — {day:%a %d %b}" if reminder
             else f"Stand-up for <#{standup.channel_id}> — {day:%a %d %b}")
    questions = "\n".join(f"{n}. {escape_user_text(q)}" for n, q in enumerate(standup.questions, start=1))
    text = (f"*{title}*\n{questions}\nPress *Answer*: your answers go to the team's thread in "
            f"<#{standup.channel_id}>.")
    return title, [*blocks.sections(text), blocks.actions(blocks.button("Answer", ACTION_ANSWER, str(day_id),
                                                                        "primary"))]


def answer_view(standup: Standup, day_id: int, day: date, previous: StandupAnswer | None) -> dict[str, Any]:
    inputs = []
    for n, question in enumerate(standup.questions):
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": f"q{n}", "multiline": True,
                                   "max_length": 3000}
        if previous and previous.answers.get(question):
            element["initial_value"] = previous.answers[question][:3000]
        inputs.append({"type": "input", "block_id": f"q{n}", "label": blocks.plain(question, 2000),
                       "element": element, "optional": n >= 2})
    return {"type": "modal", "callback_id": VIEW_ANSWER, "title": blocks.plain("Stand-up", 24),
            "submit": blocks.plain("Send", 24), "close": blocks.plain("Cancel", 24),
            "private_metadata": json.dumps({"day": day_id}),
            "blocks": [*blocks.sections(f"*{day:%A %d %B}*"), *inputs]}


def setup_view(*, channel: str, timezone: str) -> dict[str, Any]:
    def text_input(block_id: str, label: str, initial: str = "", hint: str | None = None,
                   optional: bool = False) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": block_id, "max_length": 64}
        if initial:
            element["initial_value"] = initial
        block = {"type": "input", "block_id": block_id, "label": blocks.plain(label), "element": element,
                 "optional": optional}
        if hint:
            block["hint"] = blocks.plain(hint)
        return block

    questions = [{"text": blocks.plain("Classic: yesterday / today / blockers", 75), "value": "classic"},
                 {"text": blocks.plain("Gen-AI: experiments, evals, data blockers, model changes", 75),
                  "value": "genai"}]
    modes = [{"text": blocks.plain("One thread in the channel at that time", 75), "value": "thread"},
             {"text": blocks.plain("Each member by DM at that time in their own zone", 75), "value": "dm"}]
    return {
        "type": "modal", "callback_id": VIEW_SETUP, "title": blocks.plain("New stand-up", 24),
        "submit": blocks.plain("Save", 24), "close": blocks.plain("Cancel", 24),
        "blocks": [
            {"type": "input", "block_id": "channel", "label": blocks.plain("Channel"),
             "element": {"type": "conversations_select", "action_id": "channel", "initial_conversation": channel,
                         "filter": {"include": ["public", "private"], "exclude_bot_users": True}}},
            text_input("time", "Time", "09:30", hint="Local time, 24 h: 09:30"),
            text_input("timezone", "Time zone", timezone, hint="A zone or a city: Europe/Berlin, Berlin, New York"),
            text_input("days", "Working days", "mon-fri", hint="mon-fri, sun-thu, or mon,wed,fri"),
            {"type": "input", "block_id": "members", "label": blocks.plain("Members"),
             "element": {"type": "multi_users_select", "action_id": "members"}},
            text_input("holidays", "Public holidays of", hint="A country (and region) code: DE, DE-BY, US-CA",
                       optional=True),
            {"type": "input", "block_id": "questions", "label": blocks.plain("Questions"),
             "element": {"type": "static_select", "action_id": "questions", "options": questions,
                         "initial_option": questions[0]}},
            {"type": "input", "block_id": "own_questions", "label": blocks.plain("Or your own questions"),
             "optional": True, "hint": blocks.plain("1 to 6, split by |, instead of the preset: What shipped? | "
                                                    "What is next? | Anything blocking you?"),
             "element": {"type": "plain_text_input", "action_id": "own_questions", "max_length": 1000,
                         "multiline": True}},
            {"type": "input", "block_id": "mode", "label": blocks.plain("Ask"),
             "element": {"type": "static_select", "action_id": "mode", "options": modes,
                         "initial_option": modes[0]}},
        ],
    }
