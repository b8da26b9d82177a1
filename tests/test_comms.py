"""`/pmbot comms` and the comms_digest job end to end: driver → signed HTTP → Bolt → handler → sandbox, on both
databases, the injected clock moved through the weeks. Digests go to a channel, or by DM to each member of a user
group read at send time; two schedulers on one database post each slot once; DST, month ends and the off week of a
biweekly plan; a passing Slack failure retries only the member it hit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import CommsDelivery
from storage.repos import save_team_settings
from tests.conftest import RunningBot
from tests.helpers import MovableClock

ALICE, BOB, CARLOS = "U0ALICE", "U0BOB", "U0CARLOS"  # Alice is a workspace admin, Bob and Carlos are not
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday 30 Nov 2026


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = clock.drive(bot_factory())
    running.sandbox.ws.add_channel("C0LEADS", "leadership", members={ALICE, "U0PMBOT"})
    running.sandbox.ws.add_channel("C0SECRET", "secret-plans", members={ALICE}, is_private=True)
    running.sandbox.ws.add_usergroup("S0EXEC", "exec-team", [ALICE, BOB], name="Exec team")
    return running


def team_zone(bot: RunningBot, zone: str) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        save_team_settings(session, team_id="T0SANDBOX", timezone=zone, admin_channel_id=None, updated_by=ALICE,
                           now=START)


def comms(bot: RunningBot, clock: MovableClock, text: str, *, user: str = ALICE, at: str | None = None) -> str:
    if at is not None:
        clock.now = datetime.fromisoformat(at)
    response = bot.driver.command("/pmbot", text, user=user)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)["text"]


def tick(bot: RunningBot, clock: MovableClock, when: str, *, others: tuple[RunningBot, ...] = ()) -> list[str]:
    """Run the job at `when` on this bot and, at the same moment in threads, on the `others` (more schedulers)."""
    clock.now = datetime.fromisoformat(when)
    results: list = []

    def one(runner: RunningBot) -> None:
        results.extend(runner.runtime.scheduler.run_now("comms_digest", clock.now))

    threads = [threading.Thread(target=one, args=(r,)) for r in (bot, *others)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bot.runtime.settle()
    return [f"{r.status}: {r.detail}" for r in results]


def built(results: list[str]) -> int:
    """How many digests the runs built, from their summaries (`ok: 2 digests, 3 posts`)."""
    return sum(int(r.split(": ", 1)[1].split()[0]) for r in results)


def digests(bot: RunningBot, channel: str) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel and m["text"].startswith("Project digest")]


def pngs(bot: RunningBot, channel: str) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel and m.get("files")]


def dm_digests(bot: RunningBot, user: str) -> list[dict]:
    ims = {c.id for c in bot.sandbox.ws.channels.values() if c.is_im and user in c.members}
    return [m for m in bot.sandbox.messages if m["channel"] in ims and m["text"].startswith("Project digest")]


# --- posting --------------------------------------------------------------------------------------------------


def test_weekly_channel_and_group_digests_post_once_at_berlin_time_with_two_schedulers(
        bot: RunningBot, bot_factory, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    other = bot_factory()
    other.runtime.deps.clock = clock
    ok = comms(bot, clock, "comms add <#C0LEADS|leadership> weekly mon 09:00")
    assert "Comms plan" in ok and "weekly on Monday at 09:00" in ok and "Mon 07 Dec 09:00" in ok
    comms(bot, clock, "comms add <!subteam^S0EXEC|@exec-team> every week on monday at 9:00 risks budget")
    tick(bot, clock, "2026-12-07T07:55+00:00", others=(other,))  # 08:55 in Berlin
    assert digests(bot, "C0LEADS") == [] and dm_digests(bot, ALICE) == []
    # 09:00 in Berlin (CET): each plan's digest is built by one scheduler only, then not again.
    assert built(tick(bot, clock, "2026-12-07T08:00+00:00", others=(other,))) == 2
    assert built(tick(bot, clock, "2026-12-07T08:05+00:00", others=(other,))) == 0
    assert len(digests(bot, "C0LEADS")) == 1 and len(pngs(bot, "C0LEADS")) == 1
    assert [len(dm_digests(bot, u)) for u in (ALICE, BOB, CARLOS)] == [1, 1, 0]
    sent = dm_digests(bot, BOB)[0]["text"]  # only the sections the plan asked for
    assert "*Top risks*" in sent and "*Budget*" in sent and "*Bugs*" not in sent and "*Incidents*" not in sent
    assert "*Bugs*" in digests(bot, "C0LEADS")[0]["text"]  # a plan without sections gets them all
    tick(bot, clock, "2026-12-08T08:00+00:00", others=(other,))  # Tuesday: nothing
    tick(bot, clock, "2026-12-14T08:00+00:00", others=(other,))
    assert len(digests(bot, "C0LEADS")) == 2 and [len(dm_digests(bot, u)) for u in (ALICE, BOB)] == [2, 2]


def test_dst_week_in_new_york_keeps_the_local_hour(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "America/New_York")
    comms(bot, clock, "comms add #general weekly mon 09:00", at="2026-10-20T12:00+00:00")
    tick(bot, clock, "2026-10-26T12:55+00:00")
    tick(bot, clock, "2026-10-26T13:00+00:00")  # 09:00 EDT
    assert len(digests(bot, "C0GENERAL")) == 1
    tick(bot, clock, "2026-11-02T13:00+00:00")  # 08:00 EST: the clocks went back on 1 Nov
    assert len(digests(bot, "C0GENERAL")) == 1
    tick(bot, clock, "2026-11-02T14:00+00:00")  # 09:00 EST
    assert len(digests(bot, "C0GENERAL")) == 2


def test_monthly_day_31_posts_on_the_last_day_of_a_30_day_month(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    answer = comms(bot, clock, "comms add #general monthly day 31 08:30", at="2026-11-02T10:00+00:00")
    assert "or the month's last day" in answer and "Mon 30 Nov 08:30" in answer
    tick(bot, clock, "2026-11-29T07:30+00:00")
    assert digests(bot, "C0GENERAL") == []
    tick(bot, clock, "2026-11-30T07:25+00:00")  # 08:25 in Berlin
    assert digests(bot, "C0GENERAL") == []
    tick(bot, clock, "2026-11-30T07:30+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1
    tick(bot, clock, "2026-12-30T07:30+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1  # December has its 31st
    tick(bot, clock, "2026-12-31T07:30+00:00")
    assert len(digests(bot, "C0GENERAL")) == 2


def test_biweekly_skips_the_off_week(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    answer = comms(bot, clock, "comms add #general every 2 weeks fri 16:00", at="2026-12-01T09:00+00:00")
    assert "every two weeks on Friday at 16:00" in answer and "Fri 04 Dec 16:00" in answer
    for day in ("04", "11", "18", "25"):
        tick(bot, clock, f"2026-12-{day}T15:00+00:00")
    posted = [m["ts"] for m in digests(bot, "C0GENERAL")]
    assert len(posted) == 2
    days = sorted(datetime.fromtimestamp(float(ts), UTC).day for ts in posted)
    assert days == [4, 18]


def test_a_missed_slot_posts_late_once_within_the_late_limit_and_earlier_days_are_not_caught_up(
        bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00")
    comms(bot, clock, "comms add #leadership daily 09:00")
    # The bot was down all of Monday morning: the 11:00 run posts Monday's digests, once.
    tick(bot, clock, "2026-12-07T10:00+00:00")
    tick(bot, clock, "2026-12-07T10:05+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1 and len(digests(bot, "C0LEADS")) == 1
    # Down again from Monday 11:00 to Thursday 10:00: Tuesday's and Wednesday's daily slots are gone.
    tick(bot, clock, "2026-12-10T09:00+00:00")
    assert len(digests(bot, "C0LEADS")) == 2 and len(digests(bot, "C0GENERAL")) == 1


def test_a_slot_later_than_the_late_limit_is_missed_and_its_creator_told_once(bot: RunningBot,
                                                                              clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00")
    tick(bot, clock, "2026-12-07T10:59+00:00")  # 11:59 in Berlin: 2 h 59 min late, still posted
    assert len(digests(bot, "C0GENERAL")) == 1
    comms(bot, clock, "comms add #leadership daily 09:00")
    tick(bot, clock, "2026-12-08T11:05+00:00")  # Tuesday 12:05 in Berlin: more than 3 hours late
    tick(bot, clock, "2026-12-08T11:10+00:00")
    assert digests(bot, "C0LEADS") == []
    told = [m["text"] for m in bot.sandbox.messages if "was missed" in m["text"]]
    assert len(told) == 1 and "comms plan 2" in told[0] and "Tue 08 Dec 09:00" in told[0]
    assert "next Wed 09 Dec 09:00" in comms(bot, clock, "comms")
    tick(bot, clock, "2026-12-09T08:00+00:00")
    assert len(digests(bot, "C0LEADS")) == 1


def test_a_slot_just_before_midnight_posts_after_midnight(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 23:58")
    tick(bot, clock, "2026-12-07T22:55+00:00")  # 23:55 in Berlin: not yet
    assert digests(bot, "C0GENERAL") == []
    tick(bot, clock, "2026-12-07T23:00+00:00")  # 00:00 on Tuesday: Monday's slot is still due
    tick(bot, clock, "2026-12-07T23:05+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1


def test_a_passing_failure_for_one_member_retries_only_that_member(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add <!subteam^S0EXEC|@exec-team> weekly mon 09:00")
    bot.sandbox.fail("chat.postMessage", times=1)  # the first member's post meets a 500
    [first] = tick(bot, clock, "2026-12-07T08:00+00:00")
    assert first.startswith("retry") and "1 waiting for Slack" in first
    assert [len(dm_digests(bot, u)) for u in (ALICE, BOB)] == [0, 1]
    tick(bot, clock, "2026-12-07T08:05+00:00")
    tick(bot, clock, "2026-12-07T08:10+00:00")
    assert [len(dm_digests(bot, u)) for u in (ALICE, BOB)] == [1, 1]
    with session_scope(bot.runtime.deps.engine) as session:
        ledger = {(r.recipient, r.outcome) for r in session.exec(select(CommsDelivery))}
    assert ledger == {(ALICE, "sent"), (BOB, "sent")}


def test_a_member_slack_refuses_for_good_is_skipped_and_the_rest_are_served(bot: RunningBot,
                                                                             clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add <!subteam^S0EXEC|@exec-team> weekly mon 09:00")
    bot.sandbox.fail("conversations.open", times=1, status=200, error="user_disabled")
    [first] = tick(bot, clock, "2026-12-07T08:00+00:00")
    assert first.startswith("ok") and "1 refused" in first
    tick(bot, clock, "2026-12-07T08:05+00:00")
    assert [len(dm_digests(bot, u)) for u in (ALICE, BOB)] == [0, 1]


def test_group_membership_is_read_at_each_post(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add <!subteam^S0EXEC|@exec-team> weekly mon 09:00")
    tick(bot, clock, "2026-12-07T08:00+00:00")
    bot.sandbox.ws.usergroups["S0EXEC"] = [ALICE, CARLOS]  # Bob left the group, Carlos joined
    tick(bot, clock, "2026-12-14T08:00+00:00")
    assert [len(dm_digests(bot, u)) for u in (ALICE, BOB, CARLOS)] == [2, 1, 1]
    tick(bot, clock, "2027-01-13T08:00+00:00")  # a Wednesday 37 days on: the ledger of 7 Dec is dropped
    with session_scope(bot.runtime.deps.engine) as session:
        kept = sorted({r.slot_on.isoformat() for r in session.exec(select(CommsDelivery))})
    assert kept == ["2026-12-14"]


def test_a_paused_plan_does_not_post_and_a_resumed_one_does(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00")
    assert "is paused" in comms(bot, clock, "comms pause 1")
    assert "paused" in comms(bot, clock, "comms")
    tick(bot, clock, "2026-12-07T08:00+00:00")
    assert digests(bot, "C0GENERAL") == []
    assert "is back on" in comms(bot, clock, "comms resume 1")
    tick(bot, clock, "2026-12-14T08:00+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1


# --- the command ----------------------------------------------------------------------------------------------


def test_list_shows_each_plan_with_its_next_post_in_team_time(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "America/New_York")
    assert "No comms plans yet" in comms(bot, clock, "comms")
    comms(bot, clock, "comms add #general weekly wed 10:00")
    comms(bot, clock, "comms add <!subteam^S0EXEC|@exec-team> monthly day 1 08:30 risks budget")
    listed = comms(bot, clock, "comms list")
    assert "times in America/New_York" in listed
    assert "<#C0GENERAL>, weekly on Wednesday at 10:00, all sections — next Wed 02 Dec 10:00" in listed
    assert "by DM to each member of @exec-team, monthly on day 1 at 08:30, risks, budget — next Tue 01 Dec 08:30" \
        in listed
    assert "<!subteam" not in listed  # the group is named, never pinged
    assert "risks, bugs" in comms(bot, clock, "comms sections 1 risks,bugs")
    assert "all sections" in comms(bot, clock, "comms sections 1 all")


def test_grammar_errors_say_how_to_fix_them(bot: RunningBot, clock: MovableClock) -> None:
    assert "Examples" in comms(bot, clock, "comms help") and "/pmbot comms add" in comms(bot, clock, "comms help")
    assert "`gossip` is not a section. Sections are risks, bugs" in comms(bot, clock, "comms sections 1 gossip")
    assert "/pmbot comms sections N" in comms(bot, clock, "comms sections 1")
    assert "Did you mean `/pmbot comms remove" in comms(bot, clock, "comms remvoe 1")
    assert "I do not know `gossip`" in comms(bot, clock, "comms add #general weekly mon 09:00 gossip")
    assert "not a time of day" in comms(bot, clock, "comms add #general weekly mon 25:00")
    assert "Say on which day" in comms(bot, clock, "comms add #general weekly 09:00")
    assert "Say how often" in comms(bot, clock, "comms add #general 09:00")
    assert "no user group @nobody-here" in comms(bot, clock, "comms add @nobody-here weekly mon 09:00")
    assert "/invite @pmbot" in comms(bot, clock, "comms add <#C0SECRET|secret-plans> weekly mon 09:00")
    assert "no channel #nowhere" in comms(bot, clock, "comms add #nowhere weekly mon 09:00")
    assert "not to one person" in comms(bot, clock, "comms add <@U0BOB|bob> weekly mon 09:00")
    assert "no comms plan" in comms(bot, clock, "comms remove 99")
    assert "no comms plan" in comms(bot, clock, "comms remove 99999999999999999999")
    assert "/pmbot comms remove N" in comms(bot, clock, "comms remove")
    markup = comms(bot, clock, "comms add #general weekly mon 09:00 <!channel>")
    assert "<!channel>" not in markup and "I do not know" in markup
    # A public channel pmbot is not in yet: it joins, and the plan is set.
    assert "Comms plan 1 is set" in comms(bot, clock, "comms add <#C0RANDOM|random> daily 17:30 blockers")
    assert bot.sandbox.calls_to("conversations.join")


def test_only_admins_add_and_only_admins_or_the_creator_change(bot: RunningBot, clock: MovableClock) -> None:
    refused = comms(bot, clock, "comms add #general weekly mon 09:00", user=BOB)
    assert "Only workspace admins" in refused
    assert "No comms plans yet" in comms(bot, clock, "comms", user=BOB)
    bot.sandbox.ws.users[CARLOS].is_admin = True
    assert "Comms plan 1 is set" in comms(bot, clock, "comms add #general weekly mon 09:00", user=CARLOS)
    bot.sandbox.ws.users[CARLOS].is_admin = False  # no longer an admin, still the plan's creator
    refused = comms(bot, clock, "comms remove 1", user=BOB)
    assert "Only workspace admins and the person who added it can change comms plan 1" in refused
    assert "Only workspace admins" in comms(bot, clock, "comms pause 1", user=BOB)
    assert "risks" in comms(bot, clock, "comms sections 1 risks", user=CARLOS)
    assert "is removed" in comms(bot, clock, "comms remove 1", user=ALICE)
    assert "No comms plans yet" in comms(bot, clock, "comms")
