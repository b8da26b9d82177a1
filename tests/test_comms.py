"""`/pmbot comms` and the comms_digest job end to end: driver → signed HTTP → Bolt → handler → sandbox, on both
databases, the injected clock moved through the weeks. Digests go to a channel, or by DM to each member of a user
group read at send time; two schedulers on one database post each slot once; DST, month ends and the off week of a
biweekly plan; a passing Slack failure retries only the member it hit."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from bot.comms.service import MAX_PLANS
from bot.gateways.llm import TextOutcome
from bot.jobs.digest import LEASE
from storage import comms as repo
from storage.db import session_scope
from storage.models import CommsDelivery, CommsPlan, CommsSlot, DigestSnapshot
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
    # A monthly plan's first digest covers a month, not the default week.
    assert "the last 30 days (no earlier digest)" in digests(bot, "C0GENERAL")[0]["text"]
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


def test_a_slot_that_reached_part_of_a_group_by_the_late_limit_says_how_far_it_got(bot: RunningBot,
                                                                                   clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add <!subteam^S0EXEC|@exec-team> weekly mon 09:00")
    bot.sandbox.fail("chat.postMessage", times=1)  # Alice's DM meets a 500; nothing runs again for 3 hours
    tick(bot, clock, "2026-12-07T08:00+00:00")
    tick(bot, clock, "2026-12-07T11:05+00:00")  # 12:05 in Berlin: past the late limit
    assert [len(dm_digests(bot, u)) for u in (ALICE, BOB)] == [0, 1]
    told = [m["text"] for m in bot.sandbox.messages if "comms plan 1" in m["text"]]
    assert len(told) == 1 and "reached 1 of 2 recipients" in told[0] and "was missed" not in told[0]


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
    # Placeholders reach Slack escaped: a raw <#channel|@group> would be drawn as a link to a channel.
    assert "&lt;#channel|@group&gt;" in comms(bot, clock, "comms help")
    assert "<#channel" not in comms(bot, clock, "comms help")
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


# --- retries, leases and the kept digest (issue #23 fixes) -----------------------------------------------------


def plan_row(bot: RunningBot, plan_id: int = 1) -> CommsPlan:
    with session_scope(bot.runtime.deps.engine) as session:
        row = session.get(CommsPlan, plan_id)
        session.expunge(row)
    return row


def ledger(bot: RunningBot) -> set[tuple[str, str]]:
    with session_scope(bot.runtime.deps.engine) as session:
        return {(r.recipient, r.outcome) for r in session.exec(select(CommsDelivery))}


def test_a_failed_one_pager_upload_retries_the_upload_only(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00")
    bot.sandbox.fail("files.completeUploadExternal", times=1)
    [first] = tick(bot, clock, "2026-12-07T08:00+00:00")
    assert first.startswith("retry")
    assert len(digests(bot, "C0GENERAL")) == 1 and pngs(bot, "C0GENERAL") == []
    assert ledger(bot) == {("C0GENERAL", "posted")}
    tick(bot, clock, "2026-12-07T08:05+00:00")
    tick(bot, clock, "2026-12-07T08:10+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1 and len(pngs(bot, "C0GENERAL")) == 1
    assert ledger(bot) == {("C0GENERAL", "sent")}


def test_a_message_slack_kept_though_its_answer_was_lost_is_not_posted_again(bot: RunningBot,
                                                                            clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add <!subteam^S0EXEC|@exec-team> weekly mon 09:00")
    bot.sandbox.fail("chat.postMessage", times=1)  # Alice's message: Slack answers 500 …
    tick(bot, clock, "2026-12-07T08:00+00:00")
    assert ledger(bot) == {(ALICE, "sending"), (BOB, "sent")}
    # … though it had stored the message (a timeout after the write): it is in Alice's DM with its metadata.
    plan = plan_row(bot)
    slack = bot.runtime.deps.slack
    key = f"plan:1:{int(plan.created_at.timestamp())}:2026-12-07"
    slack.post_in_channel(slack.open_dm(ALICE), text="Project digest — kept by Slack",
                          metadata={"event_type": "pmbot_digest", "event_payload": {"id": key}})
    tick(bot, clock, "2026-12-07T08:05+00:00")
    assert [len(dm_digests(bot, u)) for u in (ALICE, BOB)] == [1, 1]
    ims = {c.id: next(iter(c.members - {"U0PMBOT"}), None) for c in bot.sandbox.ws.channels.values() if c.is_im}
    assert sorted(ims.get(m["channel"]) for m in bot.sandbox.messages if m.get("files")) == [ALICE, BOB]
    assert ledger(bot) == {(ALICE, "sent"), (BOB, "sent")}


def test_a_run_that_fails_after_its_claim_gives_the_slot_back(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00")

    def broken(_facts: str) -> TextOutcome:
        raise RuntimeError("the narrator broke")

    bot.runtime.deps.digest_narrator = broken
    [first] = tick(bot, clock, "2026-12-07T08:00+00:00")
    assert first.startswith("failed") and digests(bot, "C0GENERAL") == []
    assert plan_row(bot).claimed_on is None
    bot.runtime.deps.digest_narrator = None
    tick(bot, clock, "2026-12-07T08:05+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1 and len(pngs(bot, "C0GENERAL")) == 1
    assert plan_row(bot).claimed_at is None  # settled: no lease left on it


def test_a_claim_left_by_a_run_that_died_is_taken_again_once_its_lease_runs_out(bot: RunningBot,
                                                                                clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00")
    # A run claimed the slot at 09:00 Berlin, posted the message and was killed before the ledger said so.
    with session_scope(bot.runtime.deps.engine) as session:
        row = session.get(CommsPlan, 1)
        row.claimed_on, row.claimed_at = date(2026, 12, 7), datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        key = f"plan:1:{int(row.created_at.timestamp())}:2026-12-07"
        session.add(row)
        session.add(CommsDelivery(plan_id=1, slot_on=date(2026, 12, 7), recipient="C0GENERAL", outcome="sending",
                                  at=datetime(2026, 12, 7, 8, 0, tzinfo=UTC)))
    clock.now = datetime(2026, 12, 7, 8, 1, tzinfo=UTC)
    bot.runtime.deps.slack.post_in_channel("C0GENERAL", text="Project digest — from the run that died", metadata={
        "event_type": "pmbot_digest", "event_payload": {"id": key}})
    tick(bot, clock, "2026-12-07T08:10+00:00")  # the lease still holds
    assert pngs(bot, "C0GENERAL") == []
    tick(bot, clock, "2026-12-07T08:35+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1 and len(pngs(bot, "C0GENERAL")) == 1
    assert ledger(bot) == {("C0GENERAL", "sent")}


def test_every_recipient_and_every_retry_of_a_slot_get_the_same_digest(bot: RunningBot,
                                                                      clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add <!subteam^S0EXEC|@exec-team> weekly mon 09:00")
    calls: list[str] = []

    def narrator(_facts: str) -> TextOutcome:
        calls.append(_facts)
        return TextOutcome(text=f"Narrative number {len(calls)}.", failure=None, usage=None)

    bot.runtime.deps.digest_narrator = narrator
    bot.sandbox.fail("chat.postMessage", times=1)
    tick(bot, clock, "2026-12-07T08:00+00:00")
    tick(bot, clock, "2026-12-07T08:05+00:00")
    texts = [dm_digests(bot, u)[0]["text"] for u in (ALICE, BOB)]
    assert len(calls) == 1 and all("Narrative number 1." in t for t in texts)
    with session_scope(bot.runtime.deps.engine) as session:
        assert session.exec(select(CommsSlot)).all() == []  # dropped once the slot is settled
        [baseline] = session.exec(select(DigestSnapshot)).all()
    # The baseline is when the figures were taken (the first try), not the retry that finished the slot: what
    # happened in between is in the next digest.
    assert baseline.taken_at == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    tick(bot, clock, "2026-12-14T08:00+00:00")
    assert len(calls) == 2


def test_a_run_whose_lease_another_run_took_over_leaves_the_slot_to_it(bot: RunningBot) -> None:
    engine, day = bot.runtime.deps.engine, date(2026, 12, 7)
    a_at, b_at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC), datetime(2026, 12, 7, 8, 40, tzinfo=UTC)
    with session_scope(engine) as session:
        session.add(CommsPlan(team_id="T0SANDBOX", audience_kind="channel", audience_id="C0GENERAL",
                              audience_name="general", cadence="weekly", weekday=0, at_time="09:00",
                              anchor_on=day, sections=[], created_by=ALICE, created_at=a_at))
    with session_scope(engine) as session:
        plan_id = session.exec(select(CommsPlan)).one().id
        assert repo.claim_slot(session, plan_id=plan_id, slot_on=day, now=a_at, lease=LEASE)  # run A
    with session_scope(engine) as session:  # A stalls past its lease; B takes the slot over
        assert repo.claim_slot(session, plan_id=plan_id, slot_on=day, now=b_at, lease=LEASE)
    with session_scope(engine) as session:
        assert not repo.renew_lease(session, plan_id=plan_id, slot_on=day, held=a_at, now=b_at)
        repo.give_back_slot(session, plan_id=plan_id, slot_on=day, held=a_at, previous=None)
        repo.settle_slot(session, plan_id=plan_id, slot_on=day, held=a_at)
    with session_scope(engine) as session:
        plan = session.get(CommsPlan, plan_id)
        assert (plan.claimed_on, plan.claimed_at) == (day, b_at)  # still B's: A's give-back and settle did nothing
        assert repo.renew_lease(session, plan_id=plan_id, slot_on=day, held=b_at, now=b_at)


def test_a_new_plan_that_gets_a_removed_plans_id_has_its_own_baseline(bot: RunningBot,
                                                                      clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00")
    tick(bot, clock, "2026-12-07T08:00+00:00")
    comms(bot, clock, "comms remove 1")
    comms(bot, clock, "comms add #general weekly mon 09:00", at="2026-12-08T10:00+00:00")
    tick(bot, clock, "2026-12-14T08:00+00:00")
    with session_scope(bot.runtime.deps.engine) as session:
        keys = [r.audience_key for r in session.exec(select(DigestSnapshot))]
    assert len(keys) == 2 and len(set(keys)) == 2


def test_an_audience_refused_for_good_pauses_the_plan_tells_its_creator_and_keeps_the_baseline(
        bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00", user=ALICE)
    bot.sandbox.fail("chat.postMessage", times=1, status=200, error="is_archived")
    [first] = tick(bot, clock, "2026-12-07T08:00+00:00")
    assert first.startswith("ok") and "1 refused" in first
    assert plan_row(bot).paused and "paused" in comms(bot, clock, "comms")
    told = [m["text"] for m in bot.sandbox.messages if "is paused: Slack refused" in m["text"]]
    assert len(told) == 1 and "/pmbot comms resume 1" in told[0]
    with session_scope(bot.runtime.deps.engine) as session:
        assert session.exec(select(DigestSnapshot)).all() == []
    tick(bot, clock, "2026-12-14T08:00+00:00")
    assert len([m for m in bot.sandbox.messages if "is paused: Slack refused" in m["text"]]) == 1


def test_a_plan_resumed_after_todays_slot_does_not_post_it_late(bot: RunningBot, clock: MovableClock) -> None:
    team_zone(bot, "Europe/Berlin")
    comms(bot, clock, "comms add #general weekly mon 09:00")
    comms(bot, clock, "comms pause 1")
    tick(bot, clock, "2026-12-07T08:00+00:00")
    answer = comms(bot, clock, "comms resume 1", at="2026-12-07T09:00+00:00")  # 10:00 in Berlin
    assert "Mon 14 Dec 09:00" in answer
    tick(bot, clock, "2026-12-07T09:05+00:00")
    assert digests(bot, "C0GENERAL") == []
    tick(bot, clock, "2026-12-14T08:00+00:00")
    assert len(digests(bot, "C0GENERAL")) == 1


# --- the command (issue #23 fixes) -----------------------------------------------------------------------------


def test_a_second_plan_with_the_same_audience_and_schedule_is_refused(bot: RunningBot, clock: MovableClock) -> None:
    assert "Comms plan 1 is set" in comms(bot, clock, "comms add <#C0LEADS|leadership> weekly mon 09:00")
    twin = comms(bot, clock, "comms add #leadership every week on monday at 9am risks")
    assert "Comms plan 1 already sends the digest to <#C0LEADS>" in twin
    assert "Comms plan 2 is set" in comms(bot, clock, "comms add #leadership weekly mon 10:00")
    assert "Comms plan 3 is set" in comms(bot, clock, "comms add #general weekly mon 09:00")


def test_a_long_list_shows_every_plan(bot: RunningBot, clock: MovableClock) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        for n in range(MAX_PLANS):
            session.add(CommsPlan(team_id="T0SANDBOX", audience_kind="usergroup", audience_id="S0EXEC",
                                  audience_name="exec-team-with-a-rather-long-handle", cadence="monthly",
                                  day_of_month=n % 28 + 1, at_time=f"{n % 24:02d}:{n % 60:02d}",
                                  anchor_on=date(2026, 12, 1), sections=["risks", "bugs", "incidents", "budget"],
                                  created_by=ALICE, created_at=START))
    response = bot.driver.command("/pmbot", "comms", user=ALICE)
    bot.runtime.settle()
    answer = bot.driver.answer(response)
    shown = "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    assert len(shown) > 3000 and all(len(b["text"]["text"]) <= 3000 for b in answer["blocks"])
    assert all(f"• *{n}* —" in shown for n in range(1, MAX_PLANS + 1))


def test_the_schedule_grammar_reads_days_and_times_without_guessing(bot: RunningBot, clock: MovableClock) -> None:
    assert "monthly on day 15 at 09:00" in comms(bot, clock, "comms add #general monthly 15")
    assert "monthly on day 20 at 17:30" in comms(bot, clock, "comms add #leadership monthly 20 5:30 pm")
    assert "weekly on Tuesday at 09:00" in comms(bot, clock, "comms add #general weekly tue 9 am")
    assert "is unclear" in comms(bot, clock, "comms add #general biweekly fri 2")
    assert "is unclear" in comms(bot, clock, "comms add #general monthly day 3 14")
    assert "mean Monday to Friday" in comms(bot, clock, "comms help")


def test_audiences_slack_sends_without_a_name_and_a_typed_handle(bot: RunningBot, clock: MovableClock) -> None:
    assert "Comms plan 1 is set" in comms(bot, clock, "comms add <!subteam^S0EXEC> weekly mon 09:00")
    assert "Comms plan 2 is set" in comms(bot, clock, "comms add <#C0LEADS> weekly mon 09:00")
    assert "Comms plan 3 is set" in comms(bot, clock, "comms add @exec-team weekly tue 09:00")
    listed = comms(bot, clock, "comms")
    assert "each member of @exec-team, weekly on Monday" in listed and "S0EXEC" not in listed
    assert "<#C0LEADS>, weekly on Monday" in listed
    assert "each member of @exec-team, weekly on Tuesday" in listed


def test_the_plan_limit_is_checked_before_pmbot_joins_a_channel(bot: RunningBot, clock: MovableClock) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        for n in range(MAX_PLANS):
            session.add(CommsPlan(team_id="T0SANDBOX", audience_kind="channel", audience_id="C0GENERAL",
                                  audience_name="general", cadence="daily", at_time=f"{n // 60:02d}:{n % 60:02d}",
                                  anchor_on=date(2026, 12, 1), created_by=ALICE, created_at=START))
    answer = comms(bot, clock, "comms add <#C0RANDOM|random> daily 17:30")
    assert f"{MAX_PLANS} plans already" in answer and not bot.sandbox.calls_to("conversations.join")
