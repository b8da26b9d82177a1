"""The stakeholder digest (`/pmbot digest now [#channel]`, bot.digest.service) end to end through the sandbox, on
both databases: its numbers against the data, change since the last digest, the one-pager, the narrative from the
LLM (no PII in its request) or from the template, posting in a channel and the wrong ways to ask."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.digest import service
from bot.domain import quality as quality_rules
from storage.bugs import create_bug
from storage.db import session_scope
from storage.incidents import create_action, create_incident
from storage.models import Bug, DigestSnapshot, Standup, StandupBlocker
from storage.quality import add_run, save_plan
from tests.conftest import RunningBot
from tests.helpers import MovableClock
from tests.llm_stub import LlmStub

TEAM = "T0SANDBOX"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    return clock.drive(bot_factory(pmbot_budget_admins="U0ALICE"))


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def digest_now(bot: RunningBot, text: str = "now", **options) -> tuple[dict, list[dict]]:
    """The ack of `/pmbot digest …` and what was answered privately after it (through response_url)."""
    before = len(bot.sandbox.responses)
    ack = command(bot, "/pmbot", f"digest {text}", **options)
    return ack, bot.sandbox.responses[before:]


def digest_answer(later: list[dict]) -> dict:
    [answer] = [r for r in later if r.get("text", "").startswith("Project digest")]
    return answer


def pngs(bot: RunningBot) -> list[dict]:
    return [f for f in bot.sandbox.ws.files.values() if f["name"].startswith("project-digest-")]


def shared_in(file: dict) -> set[str]:
    return {channel for where in file["shares"].values() for channel in where}


def snapshots(bot: RunningBot) -> list[DigestSnapshot]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(DigestSnapshot).order_by(DigestSnapshot.id)))


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_an_empty_team_gets_a_short_digest_and_the_one_pager_by_dm(bot: RunningBot) -> None:
    ack, later = digest_now(bot)
    assert "Building the project digest" in ack["text"]
    answer = digest_answer(later)
    text = answer["text"]
    assert text.splitlines()[0] == "Project digest — 20 Nov 2026"
    assert "Covers 13 Nov 2026 – 20 Nov 2026: the last 7 days (no earlier digest)." in text
    assert "No open risks with a score." in text and "• 0 opened, 0 closed in the period." in text
    assert "No critical bug is open." in text and "No incidents in the period." in text
    assert "No budget is set." in text and "Quality" not in text  # no quality plan: no section
    assert "The team logged 0 new bugs and closed 0. There were no incidents." in text  # the template
    blocks_text = dump(answer["blocks"])
    assert "Preview: only you see this" in blocks_text and "in your direct messages with pmbot" in blocks_text
    [one_pager] = pngs(bot)
    assert one_pager["content"].startswith(PNG_MAGIC) and len(one_pager["content"]) > 10_000
    [dm] = shared_in(one_pager)
    assert bot.sandbox.ws.channels[dm].is_im
    assert [m for m in bot.sandbox.messages if m["text"].startswith("Project digest")] == []  # nothing public
    assert snapshots(bot) == []  # a preview moves no baseline
