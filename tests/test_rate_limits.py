"""Slack's rate limits: the sandbox enforces the published ones, and the bot waits them out and loses no post.

The limits are the sandbox's real token buckets (no fault is armed by hand here), answered as Slack answers them:
HTTP 429, `{"ok": false, "error": "ratelimited"}` and a `Retry-After` header in seconds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import select

from bot.bugs.service import CARD_EVENT
from bot.sandbox import SlackSandbox
from bot.sandbox.limits import POST_BURST, TIERS, RateLimits
from bot.sandbox.server import BOT_TOKEN
from storage.db import session_scope
from storage.models import Bug
from tests.conftest import RunningBot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the buckets ------------------------------------------------------------------------------------------------


def test_posts_go_in_a_short_burst_then_one_a_second_per_channel() -> None:
    clock = Clock()
    limits = RateLimits(clock=clock)
    general = {"channel": "C0GENERAL", "text": "hi"}
    assert [limits.check("chat.postMessage", general) for _ in range(POST_BURST)] == [None] * POST_BURST
    assert limits.check("chat.postMessage", general) == 1
    assert limits.check("chat.postMessage", {"channel": "C0OTHER"}) is None  # another channel has its own
    clock.now += 1.0
    assert limits.check("chat.postMessage", general) is None
    assert limits.check("chat.postMessage", general) == 1
    assert limits.limited["chat.postMessage"] == 2


def test_a_tier_allows_a_minute_of_calls_then_its_rate() -> None:
    clock = Clock()
    limits = RateLimits(clock=clock)
    assert TIERS["conversations.create"] == 2  # 20 a minute
    assert all(limits.check("conversations.create", {}) is None for _ in range(20))
    assert limits.check("conversations.create", {}) == 3  # one more every 3 s
    clock.now += 3.0
    assert limits.check("conversations.create", {}) is None
    assert limits.check("users.info", {}) is None  # each method its own bucket


def test_switched_off_and_unlisted_methods_are_not_limited() -> None:
    limits = RateLimits(enabled=False, clock=Clock())
    assert all(limits.check("chat.postMessage", {"channel": "C1"}) is None for _ in range(50))
    limits = RateLimits(clock=Clock())
    assert all(limits.check("apps.connections.open", {}) is None for _ in range(50))


# --- the sandbox answers as Slack does --------------------------------------------------------------------------


def test_the_sandbox_answers_429_with_retry_after(unchecked_sandbox: SlackSandbox) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=unchecked_sandbox.api_url)  # no retry handlers: see the 429
    for n in range(POST_BURST):
        client.chat_postMessage(channel="C0GENERAL", text=f"burst {n}")
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0GENERAL", text="one too many")
    response = raised.value.response
    assert response.status_code == 429 and response["error"] == "ratelimited"
    assert int(response.headers["Retry-After"]) >= 1
    said = [m["text"] for m in unchecked_sandbox.messages if m["channel"] == "C0GENERAL"]
    assert said[-1] == f"burst {POST_BURST - 1}"  # the refused one was not posted


# --- the bot waits and delivers once ----------------------------------------------------------------------------


def cards(bot: RunningBot) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL" and "thread_ts" not in m
            and (m.get("metadata") or {}).get("event_type") == CARD_EVENT]


def test_a_card_held_back_by_a_429_is_posted_after_retry_after_exactly_once(bot: RunningBot) -> None:
    bot.sandbox.limits.post_rate, bot.sandbox.limits.post_burst = 0.2, 1  # a slow channel: one post per 5 s
    WebClient(token=BOT_TOKEN, base_url=bot.sandbox.api_url).chat_postMessage(channel="C0GENERAL", text="chatter")
    response = bot.driver.command("/bug", "The summariser invents quotes in every weekly report")
    assert response.status == 200
    assert bot.sandbox.wait_for(lambda: len(cards(bot)) == 1, timeout=60)
    bot.runtime.settle(30)
    posts = [c for c in bot.sandbox.calls_to("chat.postMessage") if c.args.get("channel") == "C0GENERAL"
             and "summariser" in str(c.args)]
    refused = [c for c in posts if c.status == 429]
    taken = [c for c in posts if c.status == 200 and "thread_ts" not in c.args]
    assert refused, "the card's first post should have met the channel's limit"
    assert len(taken) == 1 and len(cards(bot)) == 1
    assert taken[0].at - refused[0].at >= 4.5  # it waited out Retry-After (5 s) before posting again
    with session_scope(bot.runtime.deps.engine) as session:
        bug = session.exec(select(Bug)).one()
    assert bug.message_ts == cards(bot)[0]["ts"]


def test_a_burst_of_reports_in_one_channel_all_get_their_card_once(bot: RunningBot) -> None:
    reports = [f"The RAG assistant cites a deleted wiki page, case {i}" for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda text: bot.driver.command("/bug", text), reports))
    assert [r.status for r in responses] == [200] * 10
    assert bot.sandbox.wait_for(lambda: len(cards(bot)) == 10, timeout=90)
    bot.runtime.settle(60)
    assert bot.sandbox.limits.limited["chat.postMessage"] > 0  # the limit was met, and waited out
    keys = [c["metadata"]["event_payload"]["id"] for c in cards(bot)]
    assert len(keys) == len(set(keys)) == 10
    with session_scope(bot.runtime.deps.engine) as session:
        bugs = list(session.exec(select(Bug)))
    assert sorted(b.message_ts for b in bugs) == sorted(c["ts"] for c in cards(bot))
