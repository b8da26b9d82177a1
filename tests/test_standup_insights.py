"""`/standup report` insights (issue #21, point 5): participation rate (answered of expected, away days and holidays
left out), median answer delay after the day's post, on-time streaks, blockers opened, their age when cleared and
the ones still open. End to end on both databases with the bot's clock moved by the test; the pure pieces alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.standups.insights import Person, blocker_lines, duration, person_line, team_line
from storage.models import StandupBlocker
from tests.conftest import RunningBot
from tests.helpers import MovableClock


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # a Monday


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory()
    clock.drive(running)
    return running


def command(bot: RunningBot, text: str, **options) -> str:
    response = bot.driver.command("/standup", text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)["text"]


def at(clock: MovableClock, day: str, hh_mm: str) -> None:
    clock.now = datetime.fromisoformat(f"{day}T{hh_mm}+00:00")


def run(bot: RunningBot, clock: MovableClock, day: str, hh_mm: str) -> None:
    at(clock, day, hh_mm)
    [result] = bot.runtime.scheduler.run_now("standup", clock.now)
    assert result.status == "ok", result.detail
    bot.runtime.settle()


def answer(bot: RunningBot, clock: MovableClock, day: str, hh_mm: str, user: str, blocker: str = "none") -> None:
    at(clock, day, hh_mm)
    [parent] = [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL"
                and m["text"].startswith("Stand-up —") and clock.now.strftime("%d %b") in m["text"]]
    bot.driver.reply(parent["ts"], f"Yesterday: evals\nToday: rollout\nBlockers: {blocker}", user=user)
    bot.runtime.settle()


VPN = "VPN to the lab is down, <@U0ALICE|alice> asked IT <!here>"

# Who answers when (minutes after the 09:30 post; the summary at 10:30 makes later answers late), with blockers.
WEEK = {
    "2026-11-30": [("09:42", "U0ALICE", "none"), ("09:50", "U0BOB", "waiting for the GPU quota")],
    "2026-12-01": [("09:35", "U0ALICE", "none"), ("10:00", "U0BOB", "waiting for the GPU quota"),
                   ("10:45", "U0CARLOS", "none")],
    "2026-12-02": [("11:00", "U0ALICE", "none"), ("09:40", "U0BOB", "none"), ("09:45", "U0CARLOS", VPN)],
    "2026-12-03": [("09:40", "U0ALICE", "none"), ("09:50", "U0CARLOS", VPN)],
}


def test_the_report_shows_rates_delays_streaks_and_blocker_ages(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0CARLOS|carlos> summary=60")
    for day, answers in WEEK.items():
        run(bot, clock, day, "09:30")
        for hh_mm, user, blocker in sorted(answers):
            if hh_mm < "10:31":
                answer(bot, clock, day, hh_mm, user, blocker)
        run(bot, clock, day, "10:31")
        for hh_mm, user, blocker in sorted(answers):
            if hh_mm >= "10:31":
                answer(bot, clock, day, hh_mm, user, blocker)
    at(clock, "2026-12-03", "12:00")
    report = command(bot, "report week")
    assert report.startswith("*Stand-up report — last 7 days*\nStand-up 1 in <#C0GENERAL>: 4 days posted\n")
    # 12, 5, 90, 10 min: median 11; on time, on time, late, on time: a streak of 1 now, 2 at best.
    assert ("<@U0ALICE>: 3 on time, 1 late, 0 missed — 100% answered (4/4) · median 11 min after the post · "
            "on-time streak 1 (longest 2)") in report
    assert ("<@U0BOB>: 3 on time, 0 late, 1 missed — 75% answered (3/4) · median 20 min after the post · "
            "on-time streak 0 (longest 3)") in report
    assert ("<@U0CARLOS>: 2 on time, 1 late, 1 missed — 75% answered (3/4) · median 20 min after the post · "
            "on-time streak 2 (longest 2)") in report
    assert "Team: 83% answered (10/12) · median answer 17 min after the post · 2 late" in report
    # Bob's blocker: Monday to Wednesday; Carlos's: since Wednesday, day 2 on Thursday. Named, nobody pinged.
    assert "Blockers: 2 opened, 1 cleared after 2 days (median; longest 2 days), 1 still open" in report
    assert "🚧 <@U0CARLOS>: VPN to the lab is down, @alice asked IT" in report
    assert "— open since Wed 02 Dec (day 2)" in report
    assert "<!here>" not in report and "<@U0ALICE|alice>" not in report


def test_away_days_and_holidays_leave_the_rate_alone(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 Europe/Berlin mon-fri <@U0ALICE|alice> <@U0BOB|bob> holidays=DE summary=60")
    command(bot, "away 2026-12-01 2026-12-01", user="U0BOB")
    for day in ("2026-11-30", "2026-12-01"):
        run(bot, clock, day, "08:30")
        answer(bot, clock, day, "08:40", "U0ALICE")
        if day != "2026-12-01":
            answer(bot, clock, day, "08:50", "U0BOB")
        run(bot, clock, day, "09:31")
    run(bot, clock, "2026-12-25", "08:30")  # Christmas Day: a holiday notice, no thread to answer
    at(clock, "2026-12-25", "12:00")
    report = command(bot, "report month")
    assert "2 days posted" in report
    assert "<@U0BOB>: 1 on time, 0 late, 0 missed, 1 away — 100% answered (1/1) · median 20 min" in report
    assert "<@U0ALICE>: 2 on time, 0 late, 0 missed — 100% answered (2/2) · median 10 min" in report
    assert "Team: 100% answered (3/3)" in report and "Blockers: none" in report


def test_a_report_with_nothing_yet_says_so_and_bad_requests_get_their_answer(bot: RunningBot) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0ALICE|alice>")
    report = command(bot, "report")
    assert "0 days posted" in report and "Team: nothing to count yet (no stand-up day to answer in this span)" in report
    assert "<@U0ALICE>: 0 on time, 0 late, 0 missed — no day to answer" in report and "Blockers: none" in report
    assert "There is no stand-up in that channel" in command(bot, "report week <#C0RANDOM|random>")
    assert "`/standup report [week|month] [#channel]`" in command(bot, "report year")


# --- the pure pieces --------------------------------------------------------------------------------------------


def test_durations_read_as_people_say_them() -> None:
    assert [duration(timedelta(minutes=m)) for m in (0, 4, 59, 65, 24 * 60 + 180)] == [
        "0 min", "4 min", "59 min", "1 h 05 min", "1 d 3 h"]


def test_a_person_and_a_team_without_days() -> None:
    nobody = Person("U0ANA", away=3)
    assert person_line(nobody) == "• <@U0ANA>: 0 on time, 0 late, 0 missed, 3 away — no day to answer"
    assert team_line([nobody]).startswith("Team: nothing to count yet")


def test_blocker_ages_cleared_the_same_day_and_open() -> None:
    today = date(2026, 12, 4)
    same_day = StandupBlocker(standup_id=1, user_id="U0ANA", text="quota", first_day=date(2026, 12, 1),
                              last_day=date(2026, 12, 1), resolved_on=date(2026, 12, 1))
    before = StandupBlocker(standup_id=1, user_id="U0BEN", text="legal", first_day=date(2026, 11, 20),
                            last_day=date(2026, 12, 4))
    lines = blocker_lines([same_day, before], date(2026, 11, 27), today)
    assert lines[0] == ("Blockers: 1 opened, 1 cleared after less than a day (median; longest less than a day), "
                        "1 still open")
    assert lines[1] == "  🚧 <@U0BEN>: legal — open since Fri 20 Nov (day 15)"
    assert blocker_lines([], date(2026, 11, 27), today) == ["Blockers: none"]


def test_the_delay_counts_from_the_first_answer_not_its_edits(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0ALICE|alice> summary=60")
    run(bot, clock, "2026-11-30", "09:30")
    for hh_mm, today in (("09:40", "evals"), ("10:20", "evals, then the rollout")):  # the form, then an edit by it
        at(clock, "2026-11-30", hh_mm)
        bot.driver.press("Answer", user="U0ALICE")
        bot.runtime.settle()  # the form opens after the ack
        bot.driver.submit({"What did you do yesterday?": "planning", "What will you do today?": today,
                           "Anything blocking you?": "none"}, user="U0ALICE")
        bot.runtime.settle()
    run(bot, clock, "2026-11-30", "10:31")
    report = command(bot, "report week")
    assert "<@U0ALICE>: 1 on time, 0 late, 0 missed — 100% answered (1/1) · median 10 min after the post" in report


def test_a_week_is_seven_days_so_last_mondays_stand_up_is_not_in_this_mondays_report(
        bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "setup 09:30 UTC mon-fri <@U0ALICE|alice> summary=60")
    for day in ("2026-11-30", "2026-12-07"):  # two Mondays, a week apart; nothing in between
        run(bot, clock, day, "09:30")
        answer(bot, clock, day, "09:40", "U0ALICE")
        run(bot, clock, day, "10:31")
    at(clock, "2026-12-07", "12:00")
    report = command(bot, "report week")
    assert report.startswith("*Stand-up report — last 7 days*\n")
    assert "<@U0ALICE>: 1 on time, 0 late, 0 missed — 100% answered (1/1)" in report  # 1 Dec to 7 Dec
