"""Stand-up counts that add up (issue #21, point 4): away days are neither missed nor in the total, each day's post
counts only that day, a second stand-up in the same channel at the same time is refused, `HH:MM City` is read as a
time zone, and `/standup list` shows each stand-up's next post. End to end on both databases, the bot's clock (and
the sandbox's) moved by the test; the set-up line's parsing also as pure unit tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from bot.domain import standup as rules
from bot.domain.standup import SetupError, next_post, parse_setup
from storage.db import session_scope
from storage.models import Standup, StandupDay
from tests.conftest import RunningBot
from tests.helpers import MovableClock

ADMINS = "C0PMADMIN"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # a Monday


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory(pmbot_admin_channel=ADMINS, pmbot_misfire_grace_seconds=120)
    clock.drive(running)
    running.sandbox.add_channel(ADMINS, "pm-admins", members={"U0PMBOT", "U0ALICE"})
    return running


def command(bot: RunningBot, text: str, **options) -> str:
    response = bot.driver.command("/standup", text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)["text"]


def open_form(bot: RunningBot) -> None:
    assert bot.driver.command("/standup", "setup").status == 200
    bot.runtime.settle()
    assert bot.driver.open_view()["callback_id"] == "standup.setup_modal"


def run(bot: RunningBot, clock: MovableClock, when: str) -> str:
    clock.now = datetime.fromisoformat(when).astimezone(UTC)
    [result] = bot.runtime.scheduler.run_now("standup", clock.now)
    bot.runtime.settle()
    return f"{result.status}: {result.detail}"


def reply(bot: RunningBot, clock: MovableClock, when: str, text: str, user: str) -> None:
    clock.now = datetime.fromisoformat(when).astimezone(UTC)
    bot.driver.reply(parents(bot)[-1]["ts"], text, user=user)
    bot.runtime.settle()


def parents(bot: RunningBot) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL" and m["text"].startswith("Stand-up —")]


def shown(bot: RunningBot) -> str:
    """The count on the latest day's post, as Slack shows it now."""
    return bot.sandbox.ws.message("C0GENERAL", parents(bot)[-1]["ts"])["text"].split(" · ", 1)[1]


def standups(bot: RunningBot) -> list[Standup]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(Standup).order_by(Standup.id)))


# --- away days and each day's own count ---------------------------------------------------------------------

FINE = "Yesterday: evals\nToday: rollout\nBlockers: none"


def test_away_days_are_neither_missed_nor_in_the_total_and_each_post_counts_its_own_day(
        bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0CARLOS|carlos> summary=60")
    command(bot, "digest 1 on")
    assert "Noted: away from Wed 02 Dec to Thu 03 Dec" in command(bot, "away 2026-12-02 2026-12-03", user="U0CARLOS")
    for day in ("2026-11-30", "2026-12-01"):  # everyone answers Monday and Tuesday; Bob is blocked on Tuesday
        run(bot, clock, f"{day}T09:30+00:00")
        assert shown(bot) == "0/3 answered · 0 blockers"
        reply(bot, clock, f"{day}T09:40+00:00", FINE, "U0ALICE")
        reply(bot, clock, f"{day}T09:41+00:00", FINE, "U0CARLOS")
        blocked = day == "2026-12-01"
        bobs = FINE.replace("none", "waiting for the GPU quota") if blocked else FINE
        reply(bot, clock, f"{day}T09:42+00:00", bobs, "U0BOB")
        assert shown(bot) == ("3/3 answered · 1 blocker" if blocked else "3/3 answered · 0 blockers")
        run(bot, clock, f"{day}T10:31+00:00")
    run(bot, clock, "2026-12-02T09:30+00:00")  # Carlos is away; Bob's blocker of yesterday is yesterday's count
    assert shown(bot) == "0/2 answered · 0 blockers"
    reply(bot, clock, "2026-12-02T09:45+00:00", FINE, "U0ALICE")
    assert shown(bot) == "1/2 answered · 0 blockers"
    run(bot, clock, "2026-12-02T10:31+00:00")
    run(bot, clock, "2026-12-03T09:30+00:00")
    reply(bot, clock, "2026-12-03T09:45+00:00", FINE, "U0ALICE")
    run(bot, clock, "2026-12-03T10:31+00:00")
    run(bot, clock, "2026-12-04T09:30+00:00")  # Friday: Carlos is back
    assert shown(bot) == "0/3 answered · 0 blockers"
    reply(bot, clock, "2026-12-04T09:45+00:00", FINE, "U0ALICE")
    reply(bot, clock, "2026-12-04T09:46+00:00", FINE, "U0CARLOS")
    assert "1 summaries" in run(bot, clock, "2026-12-04T10:31+00:00")
    [digest] = [m["text"] for m in bot.sandbox.messages if "Stand-up report" in m["text"]]
    assert "5 days posted" in digest
    assert "<@U0CARLOS>: 3 on time, 0 late, 0 missed, 2 away — 100% answered (3/3)" in digest
    assert "<@U0BOB>: 2 on time, 0 late, 3 missed — 40% answered (2/5)" in digest
    assert "<@U0ALICE>: 5 on time, 0 late, 0 missed — 100% answered (5/5)" in digest
    assert "Team: 77% answered (10/13)" in digest


def test_someone_away_who_answers_anyway_counts_as_answered(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0CARLOS|carlos> summary=60")
    command(bot, "away 2d", user="U0CARLOS")
    run(bot, clock, "2026-11-30T09:30+00:00")
    assert shown(bot) == "0/1 answered · 0 blockers"
    reply(bot, clock, "2026-11-30T09:40+00:00", "Yesterday: x\nToday: y\nBlockers: VPN is down", "U0CARLOS")
    assert shown(bot) == "1/2 answered · 1 blocker"
    run(bot, clock, "2026-11-30T10:31+00:00")
    report = command(bot, "report week")
    assert "<@U0CARLOS>: 1 on time, 0 late, 0 missed — 100% answered (1/1)" in report
    assert "<@U0ALICE>: 0 on time, 0 late, 1 missed — 0% answered (0/1)" in report


# --- one stand-up per channel and time ------------------------------------------------------------------------


def test_a_second_stand_up_at_the_same_time_in_the_same_channel_is_refused(bot: RunningBot) -> None:
    assert "Stand-up 1 is set" in command(bot, "setup <#C0GENERAL|general> 09:30 Europe/Berlin mon-fri <@U0BOB|bob>")
    refused = command(bot, "setup <#C0GENERAL|general> 9:30 Berlin mon-fri <@U0ALICE|alice>")
    assert refused.startswith("Stand-up 1 already posts in <#C0GENERAL> at 09:30 Europe/Berlin")
    assert "`/standup edit 1 …`" in refused
    # Paris keeps Berlin's clock: the same moment. Weekends only do not meet mon-fri; another channel is fine.
    assert "Stand-up 1 already posts" in command(bot, "setup 09:30 Europe/Paris mon,wed <@U0ALICE|alice>")
    assert "Stand-up 2 is set" in command(bot, "setup 09:30 Europe/Berlin sat-sun <@U0ALICE|alice>")
    assert "Stand-up 3 is set" in command(bot, "setup <#C0RANDOM|random> 09:30 Berlin mon-fri <@U0ALICE|alice>")
    assert "Stand-up 4 is set" in command(bot, "setup 10:00 Berlin mon-fri <@U0ALICE|alice>")
    # An edit may not move one onto another's slot, but may keep its own.
    assert "Stand-up 1 already posts" in command(bot, "edit 4 09:30 Europe/Berlin mon-fri <@U0ALICE|alice>")
    assert "Stand-up 1 updated" in command(bot, "edit 1 09:30 Berlin mon-fri <@U0BOB|bob> <@U0ALICE|alice>")
    assert [(s.id, s.channel_id, s.time) for s in standups(bot)] == [
        (1, "C0GENERAL", "09:30"), (2, "C0GENERAL", "09:30"), (3, "C0RANDOM", "09:30"), (4, "C0GENERAL", "10:00")]


def test_the_setup_form_refuses_a_duplicate_under_the_channel(bot: RunningBot) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0BOB|bob>")
    open_form(bot)
    refused = bot.driver.submit({"Time zone": "Berlin", "Members": "U0ALICE"}).json()
    assert refused["response_action"] == "errors"
    assert refused["errors"]["channel"].startswith("Stand-up 1 already posts in <#C0GENERAL> at 09:30")


# --- `HH:MM City` -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "zone"), [
    ("Berlin", "Europe/Berlin"), ("berlin", "Europe/Berlin"), ("New York", "America/New_York"),
    ("new_york", "America/New_York"), ("NEW_YORK", "America/New_York"), ("Tokyo", "Asia/Tokyo"),
    ("São Paulo", "America/Sao_Paulo"), ("Sao Paulo", "America/Sao_Paulo"), ("sao_paulo", "America/Sao_Paulo"),
    ("Zürich", "Europe/Zurich"), ("Ho Chi Minh", "Asia/Ho_Chi_Minh"), ("Port-au-Prince", "America/Port-au-Prince"),
    ("Buenos Aires", "America/Argentina/Buenos_Aires"), ("europe/berlin", "Europe/Berlin"), ("UTC", "UTC"),
])
def test_a_city_names_its_time_zone(typed: str, zone: str) -> None:
    found = parse_setup(f"<#C0GENERAL|general> 09:30 {typed} mon-fri <@U0BOB|bob>", default_timezone="UTC")
    assert (found.timezone, found.time, found.workdays, found.members) == (zone, "09:30", [0, 1, 2, 3, 4], ["U0BOB"])


def test_days_and_cities_side_by_side() -> None:
    found = parse_setup("09:30 sun-thu Los Angeles @ana", default_timezone="UTC")
    assert (found.timezone, found.workdays, found.members) == ("America/Los_Angeles", [0, 1, 2, 3, 6], ["@ana"])
    assert parse_setup("09:30 Tokyo monday,wed @ana", default_timezone="UTC").workdays == [0, 2]
    assert parse_setup("09:30 weekdays @ana", default_timezone="Europe/Berlin").timezone == "Europe/Berlin"


@pytest.mark.parametrize(("typed", "answer"), [
    ("Berlinn", "`Berlinn` is neither a day (mon … sun) nor a city I know as a time zone: write the zone as "
                "Europe/Berlin or a city like Berlin"),
    ("Pacific", "`Pacific` is neither a day"),  # an old alias area (US/Pacific), not a city
    ("Mars/Base", "Mars/Base is not a time zone I know; write the zone as Europe/Berlin or a city like Berlin"),
    ("mon-fry", "`mon-fry` is not a range of days like mon-fri"),
])
def test_an_unknown_city_says_how_to_write_the_zone(typed: str, answer: str) -> None:
    with pytest.raises(SetupError) as refused:
        parse_setup(f"09:30 {typed} <@U0BOB|bob>", default_timezone="UTC")
    assert str(refused.value).startswith(answer)


def test_a_city_two_different_zones_share_is_refused_with_both(monkeypatch: pytest.MonkeyPatch) -> None:
    # No two zones of today's database share a city and differ in clock; a future one could.
    monkeypatch.setattr(rules, "_cities", lambda: {"springfield": ("America/Chicago", "America/New_York")})
    with pytest.raises(SetupError, match="could be America/Chicago or America/New_York: write the zone itself"):
        parse_setup("09:30 Springfield <@U0BOB|bob>", default_timezone="UTC")


def test_hh_mm_city_in_the_line_the_edit_and_the_form(bot: RunningBot) -> None:
    assert "at 09:30 Europe/Berlin on mon" in command(bot, "setup 09:30 Berlin mon-fri <@U0BOB|bob>")
    assert "at 10:00 America/New_York on mon" in command(bot, "edit 1 10:00 New York mon-fri <@U0BOB|bob>")
    refused = command(bot, "edit 1 10:00 Nowhereville <@U0BOB|bob>")
    assert "write the zone as Europe/Berlin or a city like Berlin" in refused
    open_form(bot)
    refused = bot.driver.submit({"Time zone": "Berlinn", "Members": "U0ALICE"}).json()
    assert refused["response_action"] == "errors" and "city like Berlin" in refused["errors"]["timezone"]
    assert bot.driver.submit({"Time zone": "São Paulo", "Members": "U0ALICE"}).status == 200
    bot.runtime.settle()
    assert [(s.time, s.timezone) for s in standups(bot)] == [("10:00", "America/New_York"),
                                                              ("09:30", "America/Sao_Paulo")]


# --- `/standup list` ---------------------------------------------------------------------------------------------


def next_of(moment: str, **standup) -> datetime | None:
    settings = {"clock": "09:30", "zone": "Europe/Berlin", "workdays": [0, 1, 2, 3, 4], "paused_until": None,
                "holiday": lambda day: rules.holiday_name(day, "DE", None), **standup}
    return next_post(datetime.fromisoformat(moment), **settings)


def test_the_next_post_skips_weekends_holidays_and_pauses() -> None:
    berlin = "Europe/Berlin"
    assert f"{next_of('2026-11-30T08:00+00:00'):%Y-%m-%d %H:%M %Z}" == "2026-11-30 09:30 CET"  # today, still to come
    assert f"{next_of('2026-11-30T08:30+00:00'):%Y-%m-%d %H:%M}" == "2026-12-01 09:30"  # today's is out
    assert f"{next_of('2026-12-04T12:00+00:00'):%a %Y-%m-%d}" == "Mon 2026-12-07"  # the weekend
    assert f"{next_of('2026-12-24T12:00+00:00'):%a %Y-%m-%d}" == "Mon 2026-12-28"  # Christmas, then the weekend
    assert f"{next_of('2026-11-30T12:00+00:00', paused_until=date(2027, 1, 9)):%a %Y-%m-%d}" == "Mon 2027-01-11"
    assert next_of("2026-11-30T12:00+00:00", paused_until=date.max) is None
    summer = next_of("2027-03-26T12:00+00:00", zone=berlin)  # over the change to summer time, and Easter Monday
    assert f"{summer.astimezone(UTC):%a %Y-%m-%d %H:%M}" == "Tue 2027-03-30 07:30"
    sun_thu = next_of("2026-12-04T12:00+00:00", workdays=[6, 0, 1, 2, 3], zone="Asia/Jerusalem", holiday=lambda d: None)
    assert f"{sun_thu:%a %Y-%m-%d %H:%M}" == "Sun 2026-12-06 09:30"


def test_list_shows_each_stand_ups_next_post_in_its_zone(bot: RunningBot, clock: MovableClock) -> None:
    clock.now = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)  # Thursday, Christmas Eve
    command(bot, "setup 09:30 Berlin mon-fri <@U0BOB|bob> holidays=DE")
    command(bot, "setup <#C0RANDOM|random> 09:00 New York sun-thu <@U0ALICE|alice>")
    command(bot, "setup 16:00 Tokyo mon-fri <@U0CARLOS|carlos>")
    command(bot, "pause 3")
    listed = command(bot, "list")
    assert "• 1: <#C0GENERAL> at 09:30 Europe/Berlin" in listed
    assert "; next post Mon 28 Dec at 09:30 Europe/Berlin" in listed  # not the holidays, not the weekend
    assert "; next post Thu 24 Dec at 09:00 America/New_York" in listed  # 07:00 there: today's is still to come
    assert "no post coming: paused, `/standup resume 3` starts it again" in listed
    assert listed == command(bot, "")  # `/standup` alone lists too
    command(bot, "resume 3")
    clock.now = datetime(2026, 12, 28, 6, 0, tzinfo=UTC)  # 15:00 in Tokyo: today's is still to come
    assert "next post Mon 28 Dec at 16:00 Asia/Tokyo" in command(bot, "list")


# --- what the admins are told -----------------------------------------------------------------------------------


def test_a_post_given_up_names_its_window_in_utc(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Berlin mon-fri <@U0BOB|bob>")  # 08:30 UTC in winter; the window closes 2 min later
    clock.now = datetime(2026, 11, 30, 8, 29, 55, tzinfo=UTC)
    bot.sandbox.outage(600)
    run(bot, clock, "2026-11-30T08:30:05+00:00")
    bot.sandbox.outage(0)
    run(bot, clock, "2026-11-30T08:40:00+00:00")
    with session_scope(bot.runtime.deps.engine) as session:
        assert [d.kind for d in session.exec(select(StandupDay))] == ["missed"]
    [note] = [m["text"] for m in bot.sandbox.messages if m["channel"] == ADMINS]
    assert "(08:32 UTC" in note and "09:32" not in note
