"""Stand-ups end to end, the clock driven through the job runner (`Scheduler.run_now`), on both databases."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.domain.standup import blocker_of, parse_days, split_answer
from storage.db import session_scope
from storage.models import StandupAnswer, StandupBlocker, StandupDay
from tests.conftest import RunningBot

QUESTIONS = ["What did you do yesterday?", "What will you do today?", "Anything blocking you?"]


def test_days_and_answers_are_read_the_way_people_write_them() -> None:
    assert parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_days("sun-thu") == [0, 1, 2, 3, 6]
    assert parse_days("mon,wed,fri") == [0, 2, 4]
    split = split_answer("Yesterday: evals\nshipped v12\nToday: rollout\nBlockers: none", QUESTIONS)
    assert split == {QUESTIONS[0]: "evals\nshipped v12", QUESTIONS[1]: "rollout", QUESTIONS[2]: "none"}
    assert blocker_of(split, QUESTIONS) is None
    numbered = split_answer("1. fixed the tokenizer\n2. review\n3) waiting for GPU quota", QUESTIONS)
    assert blocker_of(numbered, QUESTIONS) == "waiting for GPU quota"
    assert split_answer("just a sentence", QUESTIONS) == {QUESTIONS[0]: "just a sentence"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def command(bot: RunningBot, text: str, **options) -> dict:
    response = bot.driver.command("/standup", text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def run(bot: RunningBot, when: str) -> str:
    [result] = bot.runtime.scheduler.run_now("standup", at(when))
    assert result.status == "ok", result.detail
    bot.runtime.settle()
    return result.detail or ""


def parents(bot: RunningBot, channel: str = "C0GENERAL") -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel and m["text"].startswith("Stand-up —")]


def days(bot: RunningBot) -> list[StandupDay]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(StandupDay).order_by(StandupDay.day)))


def test_set_up_is_checked_at_once(bot: RunningBot) -> None:
    assert "Mars/Base is not a time zone" in command(bot, "setup 09:30 Mars/Base mon-fri <@U0BOB|bob>")["text"]
    bot.sandbox.ws.add_channel("G0SECRET", "secret", members={"U0ALICE"}, is_private=True)
    refused = command(bot, "setup <#G0SECRET|secret> 09:30 Europe/Berlin mon-fri <@U0BOB|bob>")
    assert "Invite me with `/invite @pmbot`" in refused["text"]  # Slack hides private channels from non-members
    assert "not a holiday calendar" in command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob> holidays=XX")["text"]
    assert "Name the members" in command(bot, "setup 09:30 UTC mon-fri")["text"]
    ok = command(bot, "setup <#C0RANDOM|random> 09:30 Europe/Berlin mon-fri <@U0BOB|bob> <@U0ALICE|alice>")
    assert "Stand-up 1 is set" in ok["text"]
    assert "U0PMBOT" in bot.sandbox.ws.channels["C0RANDOM"].members  # joined the public channel at set-up


def test_posts_at_local_time_across_dst_and_skips_weekends(bot: RunningBot) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0BOB|bob> <@U0ALICE|alice>")
    assert "1 posted" in run(bot, "2027-03-26T08:30+00:00")  # Friday, CET: 09:30 local
    assert "0 posted" in run(bot, "2027-03-27T08:30+00:00")  # Saturday
    assert "0 posted" in run(bot, "2027-03-29T08:30+00:00")  # Monday after the change: that is 10:30 CEST
    assert "1 posted" in run(bot, "2027-03-29T07:30+00:00")  # 09:30 CEST
    assert "0 posted" in run(bot, "2027-03-29T07:35+00:00")  # the same day again: not twice
    assert [d.day for d in days(bot)] == [date(2027, 3, 26), date(2027, 3, 29)]
    assert "Mon 29 Mar" in parents(bot)[-1]["text"]


def test_sun_to_thu_week_in_new_york_across_its_dst_change(bot: RunningBot) -> None:
    command(bot, "setup 09:00 America/New_York sun-thu <@U0CARLOS|carlos>")
    assert "1 posted" in run(bot, "2027-03-11T14:00+00:00")  # Thursday, EST
    assert "0 posted" in run(bot, "2027-03-12T14:00+00:00")  # Friday: not a working day here
    assert "0 posted" in run(bot, "2027-03-14T14:00+00:00")  # Sunday after the change: 10:00 EDT
    assert "1 posted" in run(bot, "2027-03-14T13:00+00:00")  # 09:00 EDT
    assert [d.day.weekday() for d in days(bot)] == [3, 6]


def test_a_public_holiday_is_skipped_with_one_line_saying_why(bot: RunningBot) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0BOB|bob> holidays=DE-BY")
    assert "1 holiday notices" in run(bot, "2027-05-17T07:30+00:00")  # Whit Monday
    assert "0 holiday notices" in run(bot, "2027-05-17T07:40+00:00")
    notices = [m["text"] for m in bot.sandbox.messages if m["text"].startswith("No stand-up today")]
    assert notices == ["No stand-up today: Pentecost Monday (DE-BY)."]
    assert parents(bot) == []


def test_answers_typed_and_by_form_reminders_once_and_absences(bot: RunningBot) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0CARLOS|carlos> remind=60 summary=240")
    command(bot, "away 2027-03-29 2027-04-02", user="U0CARLOS")
    run(bot, "2027-03-29T09:30+00:00")
    [parent] = parents(bot)
    bot.driver.reply(parent["ts"], "Yesterday: eval harness\nToday: rollout\nBlockers: none", user="U0BOB")
    bot.runtime.settle()
    assert "1/2 answered" in bot.sandbox.ws.message("C0GENERAL", parent["ts"])["text"]  # carlos is away
    assert "3 reminders" not in (out := run(bot, "2027-03-29T10:31+00:00")) and "1 reminders" in out  # alice only
    assert "0 reminders" in run(bot, "2027-03-29T10:45+00:00")
    ims = {c.id for c in bot.sandbox.ws.channels.values() if c.is_im}
    reminded = [m for m in bot.sandbox.messages if m["channel"] in ims and "stand-up" in m["text"]]
    assert [next(iter(bot.sandbox.ws.channels[m["channel"]].members - {"U0PMBOT"})) for m in reminded] == ["U0ALICE"]
    bot.driver.press("Answer", user="U0ALICE")
    bot.runtime.settle()  # the form opens after the ack
    assert bot.driver.submit({"What did you do yesterday?": "", "What will you do today?": "",
                              "Anything blocking you?": ""}, user="U0ALICE").json()["response_action"] == "errors"
    bot.driver.submit({"What did you do yesterday?": "planning", "What will you do today?": "prompt v13",
                       "Anything blocking you?": "waiting for legal review of the new prompt"}, user="U0ALICE")
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:
        answers = {a.user_id: a for a in session.exec(select(StandupAnswer))}
    assert answers["U0BOB"].answers["What will you do today?"] == "rollout" and answers["U0BOB"].blocker is None
    assert answers["U0ALICE"].blocker == "waiting for legal review of the new prompt"
    assert "2/2 answered · 1 blocker" in bot.sandbox.ws.message("C0GENERAL", parent["ts"])["text"]
    assert "1 summaries" in run(bot, "2027-03-29T13:31+00:00")
    summary = [m for m in bot.sandbox.messages if m.get("thread_ts") == parent["ts"] and "summary" in m["text"]]
    assert summary and "Away: <@U0CARLOS>" in json.dumps(summary[0]["blocks"])


def test_blockers_are_carried_forward_with_their_age_and_become_risks(bot: RunningBot) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob> summary=60")
    run(bot, "2027-03-29T09:30+00:00")
    bot.driver.reply(parents(bot)[-1]["ts"], "1. evals\n2. evals\n3. waiting for GPU quota", user="U0BOB")
    bot.runtime.settle()
    run(bot, "2027-03-30T09:30+00:00")
    bot.driver.reply(parents(bot)[-1]["ts"], "1. evals\n2. more evals\n3. still waiting for the GPU quota",
                     user="U0BOB")
    bot.runtime.settle()
    run(bot, "2027-03-31T09:30+00:00")  # Bob does not answer today: the blocker stays open
    run(bot, "2027-03-31T10:31+00:00")
    summary = [m for m in bot.sandbox.messages if m.get("thread_ts") == parents(bot)[-1]["ts"]][-1]
    assert "still waiting for the GPU quota — day 3" in json.dumps(summary["blocks"], ensure_ascii=False)
    with session_scope(bot.runtime.deps.engine) as session:
        [blocker] = session.exec(select(StandupBlocker)).all()
    assert (blocker.first_day, blocker.resolved_on) == (date(2027, 3, 29), None)
    bot.driver.press("Make it a risk")
    bot.runtime.settle()  # the form opens after the ack, once the reporter's name is looked up
    view = bot.driver.open_view()
    assert view["callback_id"] == "risk.form_modal" and "still waiting for the GPU quota" in json.dumps(view)


def test_two_scheduler_instances_post_once(bot: RunningBot, bot_factory) -> None:
    other = bot_factory()
    command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob>")
    results = []

    def tick(runner: RunningBot) -> None:
        results.append(runner.runtime.scheduler.run_now("standup", at("2027-03-29T09:31+00:00"))[0].detail)

    threads = [threading.Thread(target=tick, args=(r,)) for r in (bot, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bot.runtime.settle()
    assert sorted(r.split(",")[0] for r in results) == ["0 posted", "1 posted"]
    assert len(parents(bot)) == 1


@pytest.mark.parametrize(("text", "answer"), [("away", "with an end"), ("away tomorrow", "with an end"),
                                              ("away 2020-01-01 2020-01-02", "not in the past"),
                                              ("away 3d", "Noted: away from")])
def test_absences_need_an_end_in_the_future(bot: RunningBot, text: str, answer: str) -> None:
    assert answer in command(bot, text)["text"]


def test_an_edit_replaces_the_answer_others_comments_are_not_answers_and_the_report_counts(bot: RunningBot) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)  # answers come right after the post: on time
    today = start.date()
    command(bot, f"setup {start:%H:%M} UTC daily <@U0BOB|bob> <@U0ALICE|alice>")
    run(bot, f"{start:%Y-%m-%dT%H:%M}+00:00")
    [parent] = parents(bot)
    _, reply = bot.driver.reply(parent["ts"], "Today: evals\nBlockers: quota", user="U0BOB")
    bot.driver.reply(parent["ts"], "good luck!", user="U0CARLOS")  # not a member
    bot.runtime.settle()
    bot.driver.edit(reply, "Today: evals\nBlockers: none")
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:
        [answer] = session.exec(select(StandupAnswer)).all()
        [blocker] = session.exec(select(StandupBlocker)).all()
    assert (answer.user_id, answer.blocker) == ("U0BOB", None)
    assert blocker.resolved_on == today
    report = command(bot, "report month")["text"]
    assert "<@U0BOB>: 1 on time, 0 late, 0 missed" in report
    # Today's summary is not out yet: Alice may still answer, so she has not missed it (yet).
    assert "<@U0ALICE>: 0 on time, 0 late, 0 missed — no day to answer" in report
    assert "paused until" in command(bot, "pause 1 until 2099-01-01")["text"]
    assert "0 posted" in run(bot, f"2099-01-01T{start:%H:%M}+00:00")
    assert "resumed" in command(bot, "resume 1")["text"]
    assert "1 posted" in run(bot, f"2099-01-01T{start:%H:%M}+00:00")


def test_the_setup_form_shows_problems_under_their_fields(bot: RunningBot) -> None:
    command(bot, "setup")
    view = bot.driver.open_view()
    assert view["callback_id"] == "standup.setup_modal"
    refused = bot.driver.submit({"Time zone": "Mars/Base", "Members": "U0BOB"}).json()
    assert refused["response_action"] == "errors" and "timezone" in refused["errors"]
    assert bot.driver.submit({"Time zone": "Europe/Berlin", "Members": "U0BOB,U0ALICE", "Working days": "sun-thu",
                              "Questions": "genai"}).status == 200
    bot.runtime.settle()
    listed = command(bot, "list")["text"]
    assert "1: <#C0GENERAL> at 09:30 Europe/Berlin on mon, tue, wed, thu, sun" in listed
    from storage.models import Standup

    with session_scope(bot.runtime.deps.engine) as session:
        [row] = session.exec(select(Standup)).all()
    assert row.members == ["U0BOB", "U0ALICE"] and len(row.questions) == 4


def test_the_weekly_digest_follows_the_friday_summary(bot: RunningBot) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0BOB|bob> summary=60")
    assert "on (Fridays)" in command(bot, "digest 1 on")["text"]
    run(bot, "2027-04-01T09:30+00:00")  # Thursday
    run(bot, "2027-04-01T10:31+00:00")
    assert not any("Stand-up report" in m["text"] for m in bot.sandbox.messages)
    run(bot, "2027-04-02T09:30+00:00")  # Friday
    run(bot, "2027-04-02T10:31+00:00")
    [digest] = [m["text"] for m in bot.sandbox.messages if "Stand-up report" in m["text"]]
    assert "2 days posted" in digest and "<@U0BOB>: 0 on time, 0 late, 2 missed" in digest


def test_names_typed_by_hand_are_looked_up(bot: RunningBot) -> None:
    ok = command(bot, "setup #random 09:30 Europe/Berlin mon-fri @alice @bob")
    assert "Stand-up 1 is set: <#C0RANDOM> at 09:30" in ok["text"] and "<@U0ALICE>, <@U0BOB>" in ok["text"]
    assert "I do not know @nobody" in command(bot, "setup 09:30 UTC mon-fri @nobody")["text"]
    assert "no channel #nowhere" in command(bot, "setup #nowhere 09:30 UTC mon-fri @bob")["text"]
