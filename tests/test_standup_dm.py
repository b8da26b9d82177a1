"""DM-mode stand-ups end to end through the sandbox, on both databases, the injected clock moved through the days:
each member is asked by DM at 09:30 in their own zone (their Slack profile's `tz`), on both sides of the EU
(2026-10-25) and US (2026-11-01) clock changes; answers land in the day's thread; reminders and "late" follow each
person's clock; two schedulers ask each person once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import MemberZone, Standup, StandupAnswer, StandupPrompt
from tests.conftest import RunningBot
from tests.helpers import MovableClock

ALICE, BOB, KENJI = "U0ALICE", "U0BOB", "U0KENJI"  # Berlin, New York (the sandbox's), Tokyo (added here)
START = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory()
    clock.drive(running)
    running.sandbox.ws.add_user(KENJI, "kenji", tz="Asia/Tokyo")
    return running


def command(bot: RunningBot, text: str, user: str = ALICE) -> str:
    response = bot.driver.command("/standup", text, user=user)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)["text"]


def run(bot: RunningBot, clock: MovableClock, when: str) -> str:
    clock.now = datetime.fromisoformat(when)
    [result] = bot.runtime.scheduler.run_now("standup", clock.now)
    assert result.status == "ok", result.detail
    bot.runtime.settle()
    return result.detail or ""


def asked(detail: str) -> int:
    """How many members a run asked by DM (the run's summary says `, N asked by DM` when any)."""
    part = next((p for p in detail.split(", ") if p.endswith("asked by DM")), "0 asked by DM")
    return int(part.split()[0])


def dm_of(bot: RunningBot, user: str) -> str:
    [channel] = [c.id for c in bot.sandbox.ws.channels.values() if c.is_im and user in c.members]
    return channel


def dms(bot: RunningBot, user: str) -> list[dict]:
    ims = {c.id for c in bot.sandbox.ws.channels.values() if c.is_im and user in c.members}
    return [m for m in bot.sandbox.messages if m["channel"] in ims]


def parents(bot: RunningBot) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL" and m["text"].startswith("Stand-up —")]


def thread(bot: RunningBot, ts: str) -> list[dict]:
    return [m for m in bot.sandbox.messages if m.get("thread_ts") == ts and m["ts"] != ts]


def answer(bot: RunningBot, user: str, values: dict[str, str]) -> None:
    bot.driver.press("Answer", user=user, channel=dm_of(bot, user))
    bot.runtime.settle()  # the form opens after the ack
    assert bot.driver.submit(values, user=user).status == 200
    bot.runtime.settle()


def rows(bot: RunningBot, model) -> list:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(model).order_by(model.id)))


def test_three_zones_are_each_asked_at_0930_their_time_across_both_dst_changes(bot: RunningBot,
                                                                                 clock: MovableClock) -> None:
    ok = command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0KENJI|kenji> dm "
                      "remind=60 summary=240")
    assert "Stand-up 1 is set" in ok and "mode dm" in ok
    # Friday 23 Oct, all on summer time: Tokyo 00:30 UTC, Berlin 07:30 UTC (CEST), New York 13:30 UTC (EDT).
    assert asked(run(bot, clock, "2026-10-23T00:25+00:00")) == 0  # 09:25 in Tokyo: nobody yet
    first = run(bot, clock, "2026-10-23T00:30+00:00")
    assert "1 posted" in first and asked(first) == 1  # the team's thread goes up with the first member asked
    assert [len(dms(bot, u)) for u in (KENJI, ALICE, BOB)] == [1, 0, 0]
    assert asked(run(bot, clock, "2026-10-23T00:35+00:00")) == 0  # Kenji once
    assert asked(run(bot, clock, "2026-10-23T07:30+00:00")) == 1 and len(dms(bot, ALICE)) == 1
    assert asked(run(bot, clock, "2026-10-23T08:30+00:00")) == 0  # 03:30 in New York: not Bob's time
    assert asked(run(bot, clock, "2026-10-23T13:30+00:00")) == 1 and len(dms(bot, BOB)) == 1
    prompt = dms(bot, BOB)[0]
    assert "Fri 23 Oct" in prompt["text"] and "Anything blocking you?" in json.dumps(prompt["blocks"])
    # Monday 26 Oct: Berlin went back to CET (UTC+1) on the 25th, New York is still on EDT.
    assert asked(run(bot, clock, "2026-10-26T00:30+00:00")) == 1  # Tokyo has no DST
    assert asked(run(bot, clock, "2026-10-26T07:30+00:00")) == 0  # that is 08:30 in Berlin now
    assert asked(run(bot, clock, "2026-10-26T08:30+00:00")) == 1 and len(dms(bot, ALICE)) == 3  # + a reminder
    assert asked(run(bot, clock, "2026-10-26T13:30+00:00")) == 1
    # Monday 2 Nov: New York went back to EST (UTC-5) on the 1st.
    assert asked(run(bot, clock, "2026-11-02T00:30+00:00")) == 1
    assert asked(run(bot, clock, "2026-11-02T08:30+00:00")) == 1
    assert asked(run(bot, clock, "2026-11-02T13:30+00:00")) == 0  # 08:30 in New York now
    assert asked(run(bot, clock, "2026-11-02T14:30+00:00")) == 1
    days_asked = {(p.day, p.user_id): p.asked_at for p in rows(bot, StandupPrompt)}
    for day in (date(2026, 10, 23), date(2026, 10, 26), date(2026, 11, 2)):
        local = {u: days_asked[(day, u)].astimezone(zone).strftime("%H:%M") for u, zone in
                 ((ALICE, _zone("Europe/Berlin")), (BOB, _zone("America/New_York")), (KENJI, _zone("Asia/Tokyo")))}
        assert local == {ALICE: "09:30", BOB: "09:30", KENJI: "09:30"}, day
    assert len(parents(bot)) == 3  # one team thread a day
    zones = {z.user_id: z.timezone for z in rows(bot, MemberZone)}
    assert zones == {ALICE: "Europe/Berlin", BOB: "America/New_York", KENJI: "Asia/Tokyo"}


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_answers_go_to_the_thread_reminders_and_late_follow_each_persons_clock(bot: RunningBot,
                                                                            clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0KENJI|kenji> dm "
                 "remind=60 summary=240")
    run(bot, clock, "2026-10-23T00:30+00:00")  # Kenji asked, 09:30 Tokyo
    [parent] = parents(bot)
    # Kenji answers at 14:00 Tokyo: after his window (09:30 + 240 min), though long before Berlin's 13:30.
    clock.now = datetime(2026, 10, 23, 5, 0, tzinfo=UTC)
    answer(bot, KENJI, {"What did you do yesterday?": "labelled 400 intents",
                        "What will you do today?": "retrain the router",
                        "Anything blocking you?": "waiting for the GPU quota"})
    run(bot, clock, "2026-10-23T07:30+00:00")  # Alice asked
    clock.now = datetime(2026, 10, 23, 7, 45, tzinfo=UTC)
    answer(bot, ALICE, {"What did you do yesterday?": "eval harness", "What will you do today?": "prompt v13",
                        "Anything blocking you?": "none"})
    replies = thread(bot, parent["ts"])
    assert [r["text"].split(" ")[0] for r in replies] == [f"<@{KENJI}>", f"<@{ALICE}>"]
    assert "*Anything blocking you?*\nwaiting for the GPU quota" in replies[0]["text"]
    assert "2/3 answered · 1 blocker" in bot.sandbox.ws.message("C0GENERAL", parent["ts"])["text"]
    # Alice edits her answer: the message in the thread changes, none is added.
    clock.now = datetime(2026, 10, 23, 7, 50, tzinfo=UTC)
    answer(bot, ALICE, {"What did you do yesterday?": "eval harness", "What will you do today?": "prompt v14",
                        "Anything blocking you?": "none"})
    replies = thread(bot, parent["ts"])
    assert len(replies) == 2 and "prompt v14" in replies[1]["text"]
    late = {a.user_id: a.late for a in rows(bot, StandupAnswer)}
    assert late == {KENJI: True, ALICE: False}
    # Bob is asked at 09:30 New York and reminded at 10:30 there (14:30 UTC), not at Berlin's reminder time.
    run(bot, clock, "2026-10-23T08:31+00:00")
    assert dms(bot, BOB) == []
    run(bot, clock, "2026-10-23T13:30+00:00")
    run(bot, clock, "2026-10-23T14:00+00:00")
    assert len(dms(bot, BOB)) == 1
    assert "1 reminders" in run(bot, clock, "2026-10-23T14:31+00:00")
    assert "0 reminders" in run(bot, clock, "2026-10-23T14:36+00:00")
    assert "A reminder" in dms(bot, BOB)[-1]["text"] and len(dms(bot, ALICE)) == 1  # Alice answered: no reminder
    # The summary waits for the last window to close (New York 13:30 local = 17:30 UTC).
    assert "0 summaries" in run(bot, clock, "2026-10-23T11:31+00:00")
    assert "1 summaries" in run(bot, clock, "2026-10-23T17:31+00:00")
    summary = [r for r in thread(bot, parent["ts"]) if r["text"].startswith("Stand-up summary")]
    assert len(summary) == 1
    shown = json.dumps(summary[0]["blocks"], ensure_ascii=False)
    assert "retrain the router" in shown and "prompt v14" in shown and f"No answer yet: <@{BOB}>" in shown


def test_two_schedulers_ask_each_person_once_and_the_zone_falls_back(bot: RunningBot, bot_factory,
                                                                     clock: MovableClock) -> None:
    bot.sandbox.ws.add_user("U0NOZONE", "nozone", tz="")  # Slack says nothing of the zone
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> <@U0NOZONE|nozone> dm")
    other = bot_factory()
    other.runtime.deps.clock = clock
    clock.now = datetime(2026, 10, 23, 7, 31, tzinfo=UTC)
    results = []

    def tick(runner: RunningBot) -> None:
        results.append(runner.runtime.scheduler.run_now("standup", clock.now)[0].detail)

    threads = [threading.Thread(target=tick, args=(r,)) for r in (bot, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bot.runtime.settle()
    assert sum(asked(r) for r in results) == 2  # Alice and the zone-less member (on Berlin's clock), once each
    assert len(dms(bot, ALICE)) == 1 and len(dms(bot, "U0NOZONE")) == 1
    assert len(parents(bot)) == 1


def test_mode_and_questions_are_set_and_listed_and_bad_input_is_explained(bot: RunningBot) -> None:
    set_up = command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice>")
    assert "1 member (" in set_up and "1 members" not in set_up
    assert "mode thread" in command(bot, "list")
    assert "by DM at 09:30 in their own time zone" in command(bot, "mode 1 dm")
    listed = command(bot, "list")
    assert "mode dm" in listed and "next prompts" in listed and "at 09:30, each member's own time (by DM)" in listed
    assert "next post" not in listed  # one Berlin time would mislead the New York and Tokyo members
    assert "`/standup mode 1 dm` or `/standup mode 1 thread`" in command(bot, "mode 1 carrier-pigeon")
    assert "There is no stand-up 7" in command(bot, "mode 7 dm")
    # An edit keeps the mode unless it names one.
    assert "mode dm" in command(bot, "edit 1 10:00 Europe/Berlin mon-fri <@U0ALICE|alice>")
    assert "mode thread" in command(bot, "edit 1 10:00 Europe/Berlin mon-fri <@U0ALICE|alice> thread")
    [row] = rows(bot, Standup)
    assert row.mode == "thread"


def test_the_setup_form_offers_the_mode(bot: RunningBot) -> None:
    assert bot.driver.command("/standup", "setup").status == 200
    bot.runtime.settle()
    view = bot.driver.open_view()
    assert "mode" in {b["block_id"] for b in view["blocks"]}
    assert bot.driver.submit({"Time zone": "Europe/Berlin", "Members": "U0BOB,U0KENJI", "Ask": "dm",
                              "Questions": "genai"}).status == 200
    bot.runtime.settle()
    [row] = rows(bot, Standup)
    assert row.mode == "dm" and row.questions[2] == "Any data or labelling blockers?"


def say_in_dm(bot: RunningBot, user: str, text: str) -> dict:
    """A member types in pmbot's DM, as Slack sends it (`message.im`, text escaped)."""
    channel = dm_of(bot, user)
    with bot.sandbox.lock:
        message = bot.sandbox.ws.post(bot.sandbox.channels[channel], user, {"text": text})
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    bot.driver.event({"type": "message", "channel": channel, "user": user, "text": escaped, "ts": message["ts"],
                      "channel_type": "im"})
    bot.runtime.settle()
    return message


def test_an_answer_typed_in_the_dm_counts_and_goes_to_the_thread(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> <@U0BOB|bob> dm")
    run(bot, clock, "2026-10-23T07:30+00:00")
    [parent] = parents(bot)
    clock.now = datetime(2026, 10, 23, 7, 40, tzinfo=UTC)
    say_in_dm(bot, ALICE, "Yesterday: shipped the <eval> harness\nToday: prompt v13\nBlockers: waiting on legal")
    [answered] = rows(bot, StandupAnswer)
    assert answered.user_id == ALICE and answered.blocker == "waiting on legal"
    assert answered.answers["What did you do yesterday?"] == "shipped the <eval> harness"
    [posted] = thread(bot, parent["ts"])
    assert posted["text"].startswith(f"<@{ALICE}> answered:") and "&lt;eval&gt;" in posted["text"]
    assert "is in the stand-up thread" in dms(bot, ALICE)[-1]["text"]
    assert "1/2 answered · 1 blocker" in bot.sandbox.ws.message("C0GENERAL", parent["ts"])["text"]
    say_in_dm(bot, ALICE, "thanks!")  # said after answering: not a new answer
    assert [a.blocker for a in rows(bot, StandupAnswer)] == ["waiting on legal"]
    assert "press *Answer* in my message above" in dms(bot, ALICE)[-1]["text"]
    clock.now = datetime(2026, 10, 23, 7, 50, tzinfo=UTC)
    bot.driver.press("Answer", user=ALICE, channel=dm_of(bot, ALICE))
    bot.runtime.settle()
    form = bot.driver.open_view(user=ALICE)
    assert "shipped the <eval> harness" in json.dumps(form)  # the form opens with what she typed
    bot.driver.submit({"Anything blocking you?": "none"}, user=ALICE)
    bot.runtime.settle()
    assert [a.blocker for a in rows(bot, StandupAnswer)] == [None]
    [posted] = thread(bot, parent["ts"])  # the same message, changed
    assert "waiting on legal" not in posted["text"] and "*Anything blocking you?*\nnone" in posted["text"]


def test_a_members_zone_is_asked_of_slack_once_a_day_and_a_move_is_followed(bot: RunningBot,
                                                                            clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0BOB|bob> dm")
    for minute in ("13:00", "13:05", "13:10", "13:30"):
        run(bot, clock, f"2026-10-23T{minute}+00:00")
    infos = [c for c in bot.sandbox.calls_to("users.info") if c.args.get("user") == BOB]
    assert len(infos) == 1 and len(dms(bot, BOB)) == 1  # four runs, one look-up
    bot.sandbox.ws.users[BOB].tz = "Europe/London"  # Bob moved: Monday he is asked at 09:30 London (GMT)
    assert asked(run(bot, clock, "2026-10-26T09:30+00:00")) == 1
    assert [z.timezone for z in rows(bot, MemberZone)] == ["Europe/London"]
