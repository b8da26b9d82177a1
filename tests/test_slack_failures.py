"""Slack failing the way it does (HTTP 500 pages, 429s in a row, refusals for good) against the real bot, the
sandbox and the scheduler, on both databases: a scheduled post counts as done only once Slack took it, is tried
again with backoff while the failure passes, is never posted twice, and is given up (the admins told once) when
Slack refuses it or its window ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from bot.edge import _CANNOT_POST  # the codes after which a user is told "invite me": a 500 must not be one
from bot.errors import ChannelNotFound, IntegrationUnavailable, NotInChannel, RateLimited, SlackError
from bot.gateways.slack import call, is_transient, retry_delay
from bot.gateways.slack_port import SlackPort, build_web_client
from bot.jobs import standup as standup_job
from bot.jobs.base import RetryLater, ScheduleRef, cron_slots
from bot.sandbox import SlackSandbox
from bot.scheduler import Scheduler
from storage.db import session_scope
from storage.models import JobRun, Standup, StandupDay
from storage.repos import ensure_schedule
from tests.conftest import RunningBot, make_settings
from tests.helpers import MovableClock

MONDAY = datetime(2027, 3, 29, 9, 0, tzinfo=UTC)  # the stand-up is at 09:30 UTC
ADMINS = "C0PMADMIN"


class MondayClock(MovableClock):
    """One moment for the bot (`deps.clock`), the scheduler's ticks and Slack's message ts, set by time of day."""

    def at(self, hh_mm_ss: str) -> datetime:
        """Move to that time of MONDAY and say it."""
        hours, minutes, seconds = (int(part) for part in hh_mm_ss.split(":"))
        self.now = MONDAY.replace(hour=hours, minute=minutes, second=seconds)
        return self.now


class AlwaysLeads:
    """A leader lock every replica holds: as if two replicas both believed they lead (a lock lost mid-run), so
    only the ledger and the day's claim keep the post single."""

    shared = True

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


@pytest.fixture
def clock() -> MondayClock:
    return MondayClock(MONDAY)


def start(bot_factory, clock: MondayClock, **settings) -> RunningBot:
    running = bot_factory(pmbot_admin_channel=ADMINS, **settings)
    clock.drive(running)
    if ADMINS not in running.sandbox.channels:
        running.sandbox.add_channel(ADMINS, "pm-admins", members={"U0PMBOT", "U0ALICE"})
    return running


@pytest.fixture
def bot(bot_factory, clock: MondayClock) -> RunningBot:
    return start(bot_factory, clock)


def scheduler_for(bot: RunningBot, instance: str = "a") -> Scheduler:
    """A scheduler that runs only the stand-up job, on the real ledger."""
    scheduler = Scheduler(bot.runtime.deps, jobs={standup_job.NAME: standup_job}, instance_id=instance,
                          leader=AlwaysLeads())
    scheduler.ensure_default_schedules()
    return scheduler


@pytest.fixture
def scheduler(bot: RunningBot) -> Iterator[Scheduler]:
    made = scheduler_for(bot)
    yield made
    made.shutdown()


def set_up_standup(bot: RunningBot, text: str = "setup 09:30 UTC mon-fri <@U0BOB|bob>") -> None:
    assert bot.driver.command("/standup", text).status == 200
    bot.runtime.settle()
    assert bot.sandbox.wait_for(lambda: has_standup(bot))


def has_standup(bot: RunningBot) -> bool:
    with session_scope(bot.runtime.deps.engine) as session:
        return bool(session.exec(select(Standup)).all())


def tick(scheduler: Scheduler, clock: MondayClock, hh_mm_ss: str) -> None:
    scheduler.tick(clock.at(hh_mm_ss), wait=True)


def parents(bot: RunningBot) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL" and m["text"].startswith("Stand-up —")]


def admin_notes(bot: RunningBot) -> list[str]:
    return [m["text"] for m in bot.sandbox.messages if m["channel"] == ADMINS]


def the_day(bot: RunningBot) -> StandupDay:
    with session_scope(bot.runtime.deps.engine) as session:
        [day] = session.exec(select(StandupDay)).all()
    return day


def ledger(bot: RunningBot) -> list[tuple[str, str, str]]:
    """(slot time, status, who ran it) of every stand-up run, in slot order."""
    with session_scope(bot.runtime.deps.engine) as session:
        runs = session.exec(select(JobRun).where(JobRun.job_name == "standup").order_by(JobRun.slot_at)).all()
    return [(f"{r.slot_at:%H:%M:%S}", r.status, r.claimed_by) for r in runs]


def posts_tried(bot: RunningBot, channel: str = "C0GENERAL") -> int:
    return len([c for c in bot.sandbox.calls_to("chat.postMessage") if c.args.get("channel") == channel])


# --- the errors -------------------------------------------------------------------------------------------


def test_slacks_trouble_is_transient_and_never_blames_the_channel(unchecked_sandbox: SlackSandbox) -> None:
    client = build_web_client(make_settings(slack_api_url=unchecked_sandbox.api_url))
    seen = []
    for fault in ({}, {"status": 503, "error": "service_unavailable"}, {"status": 200, "error": "fatal_error"},
                  {"status": 200, "error": "internal_error"}, {"status": 200, "error": "request_timeout"}):
        unchecked_sandbox.fail("chat.postMessage", **fault)
        with pytest.raises(SlackError) as raised:
            call(client, "chat_postMessage", channel="C0GENERAL", text="x")
        seen.append(raised.value.code)
        assert is_transient(raised.value) and raised.value.code not in _CANNOT_POST
        assert "trouble" in str(raised.value)  # what a person would read: Slack's side, not "invite me"
    assert seen == ["http_500", "service_unavailable", "fatal_error", "internal_error", "request_timeout"]
    unchecked_sandbox.ws.channels["C0RANDOM"].is_archived = True
    for channel, expected in (("C0NOPE", ChannelNotFound), ("C0RANDOM", SlackError)):
        with pytest.raises(expected) as raised:
            call(client, "chat_postMessage", channel=channel, text="x")
        assert not is_transient(raised.value)
    assert not is_transient(NotInChannel("not_in_channel", "chat.postMessage"))
    assert not is_transient(SlackError("invalid_blocks", "chat.postMessage"))
    assert is_transient(IntegrationUnavailable("Slack could not be reached"))


def test_three_429s_keep_their_retry_after(unchecked_sandbox: SlackSandbox) -> None:
    client = build_web_client(make_settings(slack_api_url=unchecked_sandbox.api_url))
    unchecked_sandbox.rate_limit("chat.postMessage", times=3, retry_after=1)
    with pytest.raises(RateLimited) as raised:  # slack_sdk waited out two of them; the third is ours
        call(client, "chat_postMessage", channel="C0GENERAL", text="x")
    assert is_transient(raised.value) and raised.value.retry_after == 1
    since = MONDAY
    assert retry_delay(raised.value, failing_since=since, now=since) == timedelta(seconds=30)
    assert retry_delay(raised.value, failing_since=since, now=since + timedelta(minutes=2)) == timedelta(minutes=2)
    slow = RateLimited("ratelimited", "chat.postMessage")
    slow.retry_after = 90
    assert retry_delay(slow, failing_since=since, now=since) == timedelta(seconds=90)


def test_find_own_post_reads_metadata_back_a_few_pages(unchecked_sandbox: SlackSandbox) -> None:
    client = WebClient(token="xoxb-sandbox-token", base_url=unchecked_sandbox.api_url)
    now = [1_900_000_000.0]
    unchecked_sandbox.ws.clock = lambda: now[0]
    unchecked_sandbox.limits.enabled = False  # 250 posts in a moment: history to read, not a test of the limits
    card = {"event_type": "pmbot_bug_card", "event_payload": {"id": "B-7"}}
    posted = client.chat_postMessage(channel="C0GENERAL", text="card", metadata=card)["ts"]
    for n in range(250):  # a busy channel: the card is on the second page
        now[0] += 1
        client.chat_postMessage(channel="C0GENERAL", text=f"chatter {n}")
    port = SlackPort(client)
    assert port.find_own_post("C0GENERAL", event_type="pmbot_bug_card", key="B-7", oldest=posted) == posted
    assert port.find_own_post("C0GENERAL", event_type="pmbot_bug_card", key="B-8", oldest=0) is None
    assert port.find_own_post("C0GENERAL", event_type="pmbot_bug_card", key="B-7",
                              oldest=now[0] - 10) is None  # older than `oldest`: not looked at
    history = unchecked_sandbox.calls_to("conversations.history")[0]
    assert history.args["include_all_metadata"] in ("1", "true", True)


# --- the scheduler's retries ------------------------------------------------------------------------------


class Flaky:
    """A job that asks to be tried again `failures` times, then succeeds; it records when it ran."""

    NAME = "flaky"
    SUMMARY = "test probe"
    DEFAULT_CRON = None

    def __init__(self, failures: int):
        self.failures = failures
        self.runs: list[datetime] = []
        self.lock = threading.Lock()
        self.module = SimpleNamespace(NAME=self.NAME, SUMMARY=self.SUMMARY, DEFAULT_CRON=None, slots=cron_slots,
                                      run=self.run)

    def run(self, deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
        with self.lock:
            self.runs.append(now)
            if len(self.runs) <= self.failures:
                raise RetryLater("Slack had trouble")
        return "done"


def test_a_run_that_asks_is_tried_again_with_backoff_until_the_next_slot(db_url: str, engine) -> None:
    from bot.app import build

    with session_scope(engine) as session:
        ensure_schedule(session, team_id="T1", job_name="flaky", key="k", cron="0 9 * * *",
                        now=MONDAY - timedelta(days=1))
    flaky = Flaky(failures=3)
    runtimes = [build(make_settings(database_url=db_url, pmbot_instance_id=name)) for name in ("a", "b")]
    schedulers = [Scheduler(r.deps, jobs={"flaky": flaky.module}, instance_id=f"s{n}", leader=AlwaysLeads())
                  for n, r in enumerate(runtimes)]
    moments = [MONDAY + timedelta(seconds=s) for s in range(0, 400, 5)]

    def drive(scheduler: Scheduler) -> None:
        for moment in moments:
            scheduler.tick(moment, wait=True)

    threads = [threading.Thread(target=drive, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 09:00, then not before 30 s, 1 min, 2 min later: each try run once, by one of the two.
    assert [f"{r:%H:%M:%S}" for r in flaky.runs] == ["09:00:00", "09:00:30", "09:01:30", "09:03:30"]
    with session_scope(engine) as session:
        statuses = [r.status for r in session.exec(select(JobRun).order_by(JobRun.slot_at))]
    assert statuses == ["retry", "retry", "retry", "ok"]
    for scheduler in schedulers:
        scheduler.shutdown()


def test_no_try_is_planned_past_the_next_regular_slot(db_url: str, engine) -> None:
    from bot.app import build

    with session_scope(engine) as session:
        ensure_schedule(session, team_id="T1", job_name="flaky", key="k", cron="* * * * *",
                        now=MONDAY - timedelta(days=1))
    flaky = Flaky(failures=2)
    scheduler = Scheduler(build(make_settings(database_url=db_url)).deps, jobs={"flaky": flaky.module},
                          instance_id="a", leader=AlwaysLeads())
    for seconds in range(0, 125, 5):
        scheduler.tick(MONDAY + timedelta(seconds=seconds), wait=True)
    # 09:00 fails, its try at 09:00:30 fails, the next try (09:01:30) would pass 09:01: the regular run does it.
    assert [f"{r:%H:%M:%S}" for r in flaky.runs] == ["09:00:00", "09:00:30", "09:01:00", "09:02:00"]
    scheduler.shutdown()


# --- stand-ups against a failing Slack --------------------------------------------------------------------


def test_a_standup_due_during_45s_of_500s_is_posted_once_when_slack_recovers(
        bot: RunningBot, clock: MondayClock, scheduler: Scheduler) -> None:
    set_up_standup(bot)
    clock.at("09:29:50")
    bot.sandbox.outage(45)  # 500s until 09:30:35
    tick(scheduler, clock, "09:30:05")
    assert parents(bot) == [] and the_day(bot).parent_ts is None  # claimed, not done
    tick(scheduler, clock, "09:30:20")  # the backoff: not yet
    tick(scheduler, clock, "09:30:31")  # tried again, Slack still down
    assert parents(bot) == []
    tick(scheduler, clock, "09:31:00")
    tick(scheduler, clock, "09:31:31")  # Slack is back
    [parent] = parents(bot)
    assert the_day(bot).parent_ts == parent["ts"]
    for moment in ("09:32:00", "09:35:05", "09:40:05", "09:45:05"):
        tick(scheduler, clock, moment)
    assert len(parents(bot)) == 1 and admin_notes(bot) == []
    assert ledger(bot) == [("09:30:00", "retry", "a"), ("09:30:30", "retry", "a"), ("09:31:30", "ok", "a"),
                           ("09:35:00", "ok", "a"), ("09:40:00", "ok", "a"), ("09:45:00", "ok", "a")]


def test_a_standup_meeting_three_429s_is_posted_once_after_them(
        bot: RunningBot, clock: MondayClock, scheduler: Scheduler) -> None:
    set_up_standup(bot)
    bot.sandbox.rate_limit("chat.postMessage", times=3, retry_after=1)
    tick(scheduler, clock, "09:30:05")  # slack_sdk waits out two Retry-Afters, the third 429 is put off
    assert parents(bot) == [] and posts_tried(bot) == 3
    tick(scheduler, clock, "09:30:31")
    assert len(parents(bot)) == 1 and posts_tried(bot) == 4
    tick(scheduler, clock, "09:35:05")
    assert len(parents(bot)) == 1
    assert [status for _, status, _ in ledger(bot)] == ["retry", "ok", "ok"]


def test_a_refusal_for_good_is_not_retried_and_the_admins_hear_it_once(
        bot: RunningBot, clock: MondayClock, scheduler: Scheduler) -> None:
    set_up_standup(bot)
    bot.sandbox.channels["C0GENERAL"].is_archived = True
    for moment in ("09:30:05", "09:30:35", "09:31:35", "09:35:05", "09:45:05", "09:50:05"):
        tick(scheduler, clock, moment)
    assert posts_tried(bot) == 1  # is_archived: once, then never again
    assert the_day(bot).kind == "missed" and parents(bot) == []
    [note] = admin_notes(bot)
    assert "<#C0GENERAL>" in note and "`is_archived`" in note
    assert [status for _, status, _ in ledger(bot)] == ["ok"] * 4


def test_a_failure_outlasting_the_window_is_given_up_and_told_once(
        bot_factory, clock: MondayClock) -> None:
    bot = start(bot_factory, clock, pmbot_misfire_grace_seconds=120)  # the window: 09:30 to 09:32
    scheduler = scheduler_for(bot)
    set_up_standup(bot)
    clock.at("09:29:55")
    bot.sandbox.outage(200)  # until 09:33:15
    for moment in ("09:30:05", "09:30:31", "09:31:31", "09:32:01", "09:33:31", "09:35:05", "09:40:05"):
        tick(scheduler, clock, moment)
    assert parents(bot) == [] and the_day(bot).kind == "missed"
    [note] = admin_notes(bot)  # told once Slack answered again, not twice
    assert "<#C0GENERAL>" in note and "window closed" in note
    scheduler.shutdown()


def test_two_schedulers_on_one_database_post_once_through_an_outage(
        bot: RunningBot, bot_factory, clock: MondayClock) -> None:
    other = start(bot_factory, clock)
    set_up_standup(bot)
    schedulers = [scheduler_for(bot, "a"), scheduler_for(other, "b")]
    clock.at("09:29:50")
    bot.sandbox.outage(45)
    for moment in ("09:30:05", "09:30:31", "09:31:00", "09:31:31", "09:32:00", "09:35:05"):
        clock.at(moment)
        threads = [threading.Thread(target=s.tick, args=(clock.now,), kwargs={"wait": True}) for s in schedulers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(parents(bot)) == 1 and the_day(bot).parent_ts == parents(bot)[0]["ts"]
    runs = ledger(bot)
    assert [(slot, status) for slot, status, _ in runs] == [("09:30:00", "retry"), ("09:30:30", "retry"),
                                                             ("09:31:30", "ok"), ("09:35:00", "ok")]
    for scheduler in schedulers:
        scheduler.shutdown()
