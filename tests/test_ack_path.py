"""The ack path: acks never wait behind slow work, look-ups happen after the ack, nothing refused is done
anyway, and work acked is finished by the queue, after a crash or a restart too, with Slack's failures retried.

Slack is slowed or broken for real in the sandbox (its HTTP answers wait or fail); the bot is the real one
behind its HTTP server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from bot.bugs.service import CARD_EVENT, file_report
from bot.edge import ACK_DEADLINE_SECONDS, RECEIVED, too_late
from bot.sandbox.driver import Response
from storage.db import session_scope
from storage.models import Budget, Bug, Incident, Risk, Standup, WorkItem
from storage.work import lease_work
from tests.conftest import RunningBot
from tests.llm_stub import LlmStub

UNHANDLED = "unhandled request"  # what Bolt answers (HTTP 404) when no ack came within 3 s


def stored(bot: RunningBot, table):
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(table).order_by(table.id)))


def cards(bot: RunningBot, channel: str = "C0GENERAL") -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel and "thread_ts" not in m
            and (m.get("metadata") or {}).get("event_type") == CARD_EVENT]


def notes(bot: RunningBot, user: str = "U0ALICE") -> list[str]:
    said = [r.get("text", "") for r in bot.sandbox.responses]
    return said + [m["text"] for m in bot.sandbox.ephemeral if m["user"] == user]


def concurrently(bot: RunningBot, commands: list[tuple[str, str]], **options) -> list[Response]:
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(lambda c: bot.driver.command(c[0], c[1], **options), commands))


def test_acks_are_sent_while_every_work_slot_is_busy(bot_factory) -> None:
    bot = bot_factory(pmbot_worker_threads=1)
    bot.sandbox.delay("*", 0.5)  # each report's card and replies wait on a slow Slack, one at a time
    responses = concurrently(bot, [("/bug", f"The export button crashes on page {i}") for i in range(12)])
    assert [r.status for r in responses] == [200] * 12, [r.body for r in responses if r.status != 200]
    assert all("is stored and being graded" in r.json()["text"] for r in responses)
    assert bot.sandbox.wait_for(lambda: len(cards(bot)) == 12, timeout=60)
    bot.runtime.settle(30)
    assert len(cards(bot)) == 12 and all(b.message_ts for b in stored(bot, Bug))


@pytest.mark.sqlite_only  # slow by design (every call waits 5 s); nothing here differs between databases
def test_with_slack_and_the_llm_slowed_to_5_s_every_command_acks_and_nothing_refused_is_done(bot_factory) -> None:
    stub = LlmStub()
    stub.delay = 5
    try:
        bot = bot_factory(pmbot_budget_admins="U0ALICE", openai_api_key="sk-test-stub", openai_base_url=stub.base_url)
        assert bot.driver.command("/budget", "set 5000 USD month").status == 200
        bot.runtime.settle()
        bot.sandbox.delay("*", 5)  # slower than Slack waits for an ack
        responses = concurrently(bot, [
            ("/risk", "The vendor may retire our model p=2 i=2 owner=@bob"),
            ("/standup", "setup #general 09:30 Europe/Berlin mon-fri @alice @bob"),
            ("/budget", "channel #random"),
            ("/risk", "Labelling may slip p=2 i=3 owner=@nobody"),
            ("/bug", "The summariser invents quotes"),
            ("/incident", "declare Support bot quotes the wrong refund policy grade 2"),
            ("/bug", "stats"),
            ("/risk", "list"),
        ])
        assert [r.status for r in responses] == [200] * len(responses), [r.body for r in responses]
        assert not any(UNHANDLED in r.body for r in responses)
        finished = lambda: all(b.message_ts for b in stored(bot, Bug)) and stored(bot, Incident)[0].runbook_ts  # noqa: E731
        assert bot.sandbox.wait_for(finished, timeout=120)
        bot.runtime.settle(60)
    finally:
        stub.stop()
    [risk] = stored(bot, Risk)  # the one whose owner exists; the other was refused and not saved
    assert risk.owner_id == "U0BOB"
    [standup] = stored(bot, Standup)
    assert standup.members == ["U0ALICE", "U0BOB"]
    [budget] = stored(bot, Budget)
    assert budget.post_channel_id == "C0RANDOM"
    [bug] = stored(bot, Bug)
    assert bug.grade_source == "llm" and bug.message_ts
    said = " ".join(notes(bot))
    assert "I do not know @nobody" in said and "Added *R-1*" in said and "now go to <#C0RANDOM>" in said


def test_a_listener_that_starts_after_the_deadline_does_nothing(bot: RunningBot) -> None:
    deps = bot.runtime.deps
    assert not too_late(deps, {RECEIVED: time.monotonic()}, "/bug")
    assert too_late(deps, {RECEIVED: time.monotonic() - ACK_DEADLINE_SECONDS - 0.1}, "/bug")
    assert 'command="/bug",outcome="too_late"' in deps.metrics.render().decode()


def _crashed_report(bot: RunningBot, text: str) -> int:
    """A report as a process leaves it when it dies after storing it: stored, its work queued, not done."""
    intake = file_report(bot.runtime.deps, team_id="T0SANDBOX", channel_id="C0GENERAL", reporter_id="U0ALICE",
                         delivery_key=f"crash-{text}", text=text)
    return intake.work_id


def test_work_leased_by_a_process_that_died_is_taken_over_when_the_lease_ends(bot_factory) -> None:
    bot = bot_factory(pmbot_work_poll_seconds=600)  # this test polls by hand
    deps = bot.runtime.deps
    item_id = _crashed_report(bot, "the chart legend overlaps the axis")
    with session_scope(deps.engine) as session:  # the process that died had just taken it
        assert lease_work(session, item_id, now=deps.clock(), seconds=1) is not None
    assert bot.runtime.work.poll() == 0  # still leased
    assert bot.sandbox.wait_for(lambda: bot.runtime.work.poll() or cards(bot), timeout=10)
    bot.runtime.settle()
    [bug] = stored(bot, Bug)
    assert bug.grade is not None and bug.message_ts and len(cards(bot)) == 1
    [item] = stored(bot, WorkItem)
    assert item.done_at is not None and item.attempts == 2 and item.payload == {}


def test_a_card_posted_just_before_a_crash_is_found_not_posted_again(bot_factory) -> None:
    bot = bot_factory(pmbot_work_poll_seconds=600)  # this test polls by hand
    deps = bot.runtime.deps
    item_id = _crashed_report(bot, "the logo is blurry on retina screens")
    [bug] = stored(bot, Bug)
    # The dead process had posted the card (Slack took it) but died before saving its ts.
    posted = deps.slack.post_in_channel("C0GENERAL", text="B-1 card",
                                        metadata={"event_type": CARD_EVENT, "event_payload": {"id": f"bug-{bug.id}"}})
    with session_scope(deps.engine) as session:
        assert lease_work(session, item_id, now=deps.clock(), seconds=0.5) is not None
    assert bot.sandbox.wait_for(lambda: bot.runtime.work.poll() or stored(bot, Bug)[0].message_ts, timeout=10)
    bot.runtime.settle()
    assert stored(bot, Bug)[0].message_ts == posted.ts
    assert len(cards(bot)) == 1 and len(bot.sandbox.calls_to("chat.postMessage")) == 1


def test_slack_failing_on_the_card_is_retried_and_the_reporter_told_the_truth(bot: RunningBot) -> None:
    bot.sandbox.fail("chat.postMessage")  # Slack's edge answers 500 once
    response = bot.driver.command("/bug", "Replies stop after the third message")
    assert response.status == 200 and "B-1" in response.json()["text"]
    assert bot.sandbox.wait_for(lambda: len(cards(bot)) == 1, timeout=20)
    bot.runtime.settle()
    said = " ".join(notes(bot))
    assert "Slack is having trouble" in said and "/invite" not in said
    assert len(cards(bot)) == 1 and stored(bot, Bug)[0].message_ts


def test_a_429_with_retry_after_delays_the_card_and_then_posts_it_once(bot: RunningBot) -> None:
    bot.sandbox.rate_limit("chat.postMessage", times=4, retry_after=1)  # more than slack_sdk's own two retries
    response = bot.driver.command("/bug", "Answers arrive in the wrong language")
    assert response.status == 200
    assert bot.sandbox.wait_for(lambda: len(cards(bot)) == 1, timeout=20)
    bot.runtime.settle()
    assert len(cards(bot)) == 1
    [item] = stored(bot, WorkItem)
    assert item.done_at is not None and item.attempts >= 2


def test_a_permanent_refusal_is_not_retried_and_the_reporter_gets_the_card(bot: RunningBot) -> None:
    bot.sandbox.add_channel("G0SECRET", "secret", members={"U0ALICE"}, is_private=True)
    response = bot.driver.command("/bug", "Summaries drop the last paragraph", channel="G0SECRET")
    assert response.status == 200
    bot.runtime.settle()
    assert bot.sandbox.wait_for(lambda: any("just for you" in n for n in notes(bot)), timeout=10)
    [item] = stored(bot, WorkItem)
    assert item.done_at is not None and item.attempts == 1
