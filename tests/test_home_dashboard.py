"""The App Home dashboard end to end: `app_home_opened` as Slack sends it → views.publish in the sandbox, on SQLite
and PostgreSQL; the review and Answer buttons pressed on the Home itself; Slack's limits with many items; Slack
refusing views.publish."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from bot.home_dashboard import MAX_BLOCKS
from bot.sandbox.workspace import TEAM_ID
from storage.bugs import create_bug
from storage.db import session_scope
from storage.models import Bug, Risk, StandupAnswer
from storage.risks import create_risk
from tests.conftest import RunningBot
from tests.helpers import MovableClock

MONDAY = datetime(2027, 3, 29, 10, 0, tzinfo=UTC)  # a Monday, after the 09:30 stand-up
WORKSPACE = "https://sandbox.slack.local/"  # the sandbox's auth.test `url`


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    return MovableClock(MONDAY).drive(bot_factory(pmbot_budget_admins="U0ALICE"))


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def home_of(bot: RunningBot, user: str) -> dict:
    bot.sandbox.ws.home_views.pop(user, None)
    assert bot.driver.open_home(user).status == 200
    bot.runtime.settle()
    assert bot.sandbox.wait_for(lambda: user in bot.sandbox.home_views)
    return bot.sandbox.home_views[user]


def dump(view: dict) -> str:
    return json.dumps(view, ensure_ascii=False)


def buttons(view: dict) -> list[dict]:
    found = []
    for block in view["blocks"]:
        found += [e for e in block.get("elements") or [] if e.get("type") == "button"]
        if (block.get("accessory") or {}).get("type") == "button":
            found.append(block["accessory"])
    return found


def bug_row(bot: RunningBot, readable_id: str) -> Bug:
    with session_scope(bot.runtime.deps.engine) as session:
        return session.exec(select(Bug).where(Bug.team_id == TEAM_ID, Bug.readable_id == readable_id)).one()


def risk_row(bot: RunningBot, readable_id: str) -> Risk:
    with session_scope(bot.runtime.deps.engine) as session:
        return session.exec(select(Risk).where(Risk.readable_id == readable_id)).one()


def seed_team(bot: RunningBot) -> None:
    """Alice's work in the sandbox team, made the way people make it: commands, a card's select, the stand-up job."""
    command(bot, "/bug", "Typo on the settings page", user="U0BOB")  # B-1, assigned to alice below
    bot.driver.choose("bug.assign", "U0ALICE", user="U0BOB")  # on the newest card: B-1's
    bot.runtime.settle()
    command(bot, "/bug", "Answers cite a refund policy that does not exist &amp; confuse customers")  # B-2, alice
    command(bot, "/bug", "Summary drops the last paragraph", user="U0CARLOS")  # B-3: not alice's
    command(bot, "/bug", "Button label cut off on mobile")  # B-4, closed below
    command(bot, "/bug", "close B-4 fixed in the CSS")
    command(bot, "/risk", "Vendor model deprecated before launch p=4 i=4 owner=<@U0ALICE|alice> due=2027-03-29")
    command(bot, "/risk", "GPU quota may run out in Q1 p=2 i=3 owner=<@U0ALICE|alice> due=2027-05-01")  # not due
    command(bot, "/risk", "Key annotator leaves mid-project p=3 i=3 owner=<@U0BOB|bob> due=2027-03-29")  # bob's
    command(bot, "/incident", "declare Assistant shows another customer's order grade 1")
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob>")
    [result] = bot.runtime.scheduler.run_now("standup", MONDAY.replace(hour=9, minute=30))
    assert result.status == "ok", result.detail
    command(bot, "/budget", "set 5000 USD month")
    command(bot, "/cost", "add 1200 compute")
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:  # a bug of alice's in another workspace
        create_bug(session, team_id="T0OTHERTEAM", delivery_key="other-1", channel_id="C0ELSEWHERE",
                   reporter_id="U0ALICE", title="Another team's crash", text="elsewhere", details={}, pii=[],
                   now=MONDAY)


def test_home_shows_each_section_for_a_user_with_data(bot: RunningBot) -> None:
    seed_team(bot)
    # As Slack publishes it: the event carries the tab and, after the first visit, the view shown last time.
    event = {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICEHOME", "tab": "home",
             "view": {"id": "V0OLDHOME", "team_id": TEAM_ID, "type": "home", "blocks": [], "private_metadata": "",
                      "callback_id": "", "hash": "1679.abc", "app_id": "A0PMBOT", "bot_id": "B0PMBOT"}}
    assert bot.driver.event(event).status == 200
    bot.runtime.settle()
    assert bot.sandbox.wait_for(lambda: "U0ALICE" in bot.sandbox.home_views)
    view = bot.sandbox.home_views["U0ALICE"]
    text = dump(view)
    assert view["type"] == "home" and len(view["blocks"]) <= MAX_BLOCKS
    assert bug_row(bot, "B-1").assignee_id == "U0ALICE"
    # My open bugs: assigned (B-1) and reported (B-2), linked to their cards; not carlos's, closed or other teams'.
    b1, b2 = bug_row(bot, "B-1"), bug_row(bot, "B-2")
    for bug in (b1, b2):
        # With the workspace's URL, as auth.test gives it and Slack writes permalinks.
        ts = bug.message_ts.replace(".", "")
        assert f"<{WORKSPACE}archives/{bug.message_channel}/p{ts}|*{bug.readable_id}*>" in text
    assert "https://slack.com/archives" not in text
    assert "My open bugs* (2)" in text and "assigned to you" in text and "you reported it" in text
    assert "B-3" not in text and "B-4" not in text and "Another team" not in text
    assert "&amp; confuse" in text  # the title, escaped for mrkdwn as typed
    # My risks due: R-1 only, with the review job's three buttons.
    r1 = risk_row(bot, "R-1")
    mine = text.split("Team*")[0]
    assert "My risks due for review* (1)" in text and "GPU quota" not in mine and "Key annotator" not in mine
    review = [b for b in buttons(view) if b["action_id"].startswith("home.risk")]
    assert {(b["text"]["text"], b["action_id"], b["value"]) for b in review} == {
        ("Still valid", "home.risk.still_valid", str(r1.id)), ("Update", "home.risk.update", str(r1.id)),
        ("Close", "home.risk.close", str(r1.id))}
    # Incidents I am in: INC-1, its war room and my role.
    assert "Incidents I am in* (1)" in text and "|*INC-1*> grade 1 · investigating" in text and "you: commander" in text
    # Today's stand-up, not answered, with the Answer button carrying the day's id.
    [answer] = [b for b in buttons(view) if b["action_id"] == "home.standup.answer"]
    assert answer["text"]["text"] == "Answer" and answer["value"].isdigit() and "not answered yet" in text
    # The budget of my channel, spent and forecast.
    assert "<#C0GENERAL>: 1,200.00 USD of 5,000.00 USD spent (24%)" in text and "forecast" in text
    # The team: criticals, top risks by score, active incidents; no quality plan → no quality line.
    assert "Open criticals (grade 1–2)" in text and "Top risks:" in text and "Active incidents: *1*" in text
    assert "Quality" not in text
    assert "`/bug`" in text and "`/pmbot help`" in text


def test_a_user_without_data_sees_one_friendly_line_per_section(bot: RunningBot) -> None:
    bot.sandbox.add_user("U0DANA", "dana")
    text = dump(home_of(bot, "U0DANA"))
    for line in ("Nothing open that you reported or are assigned", "`/bug &lt;what went wrong&gt;`", "None due today",
                 "No open incident has you in a role", "No stand-up of yours today", "No budget in the channels",
                 "Open criticals (grade 1–2): none", "Top risks: none open", "Active incidents: none"):
        assert line in text, line
    assert "home.risk" not in text and "home.standup.answer" not in text


def test_still_valid_pressed_on_the_home_reviews_the_risk_and_republishes(bot: RunningBot) -> None:
    command(bot, "/risk", "Eval set leaks into training p=4 i=4 owner=<@U0ALICE|alice> due=2027-03-29")
    assert "Eval set leaks" in dump(home_of(bot, "U0ALICE"))
    before = len([c for c in bot.sandbox.calls if c.method == "views.publish"])
    assert bot.driver.press("home.risk.still_valid", user="U0ALICE", channel=None).status == 200
    bot.runtime.settle()
    assert risk_row(bot, "R-1").review_on == date(2027, 3, 29) + timedelta(days=7)  # critical: weekly
    assert len([c for c in bot.sandbox.calls if c.method == "views.publish"]) == before + 1
    text = dump(bot.sandbox.home_views["U0ALICE"])
    assert "My risks due for review* (0)" in text and "home.risk.still_valid" not in text


def test_close_pressed_on_the_home_opens_the_risk_form_and_republishes(bot: RunningBot) -> None:
    command(bot, "/risk", "Prompt injection through uploads p=3 i=5 owner=<@U0ALICE|alice> due=2027-03-29")
    home_of(bot, "U0ALICE")
    bot.driver.press("home.risk.close", user="U0ALICE", channel=None)
    bot.runtime.settle()
    refused = bot.driver.submit({"Why is it closed?": ""}, user="U0ALICE").json()
    assert refused["response_action"] == "errors"  # the risk form's own check
    bot.driver.submit({"Why is it closed?": "uploads are scanned now"}, user="U0ALICE")
    bot.runtime.settle()
    risk = risk_row(bot, "R-1")
    assert (risk.status, risk.close_reason) == ("closed", "uploads are scanned now")
    assert "Prompt injection" not in dump(bot.sandbox.home_views["U0ALICE"]).split("Team*")[0]


def test_answer_on_the_home_answers_todays_standup(bot: RunningBot) -> None:
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice>")
    [result] = bot.runtime.scheduler.run_now("standup", MONDAY.replace(hour=9, minute=30))
    assert result.status == "ok", result.detail
    assert "not answered yet" in dump(home_of(bot, "U0ALICE"))
    bot.driver.press("home.standup.answer", user="U0ALICE", channel=None)  # not the thread's Answer: the Home's
    bot.runtime.settle()
    bot.driver.submit({"What did you do yesterday?": "eval harness", "What will you do today?": "rollout",
                       "Anything blocking you?": ""}, user="U0ALICE")
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:
        [answer] = session.exec(select(StandupAnswer)).all()
    assert answer.user_id == "U0ALICE" and answer.answers["What will you do today?"] == "rollout"
    view = bot.sandbox.home_views["U0ALICE"]  # published again after the answer, without opening the tab
    assert "✅ answered" in dump(view)
    assert [b["text"]["text"] for b in buttons(view) if b["action_id"] == "home.standup.answer"] == ["Edit answer"]
    bot.driver.press("home.standup.answer", user="U0ALICE", channel=None)
    bot.runtime.settle()
    form = bot.driver.open_view("U0ALICE")
    assert "rollout" in dump(form)  # the earlier answer, to edit


def test_many_items_stay_within_slacks_limits(bot: RunningBot) -> None:
    long_title = "Chat replies take 9 s at peak " + "and more words " * 20
    with session_scope(bot.runtime.deps.engine) as session:
        for n in range(40):
            bug, _ = create_bug(session, team_id=TEAM_ID, delivery_key=f"many-{n}", channel_id="C0GENERAL",
                                reporter_id="U0ALICE", title=long_title[:200], text="x", details={}, pii=[],
                                now=MONDAY - timedelta(hours=n))
            bug.grade = 1 + n % 5
            bug.message_channel, bug.message_ts = "C0GENERAL", f"{1800000000 + n}.000100"
        for n in range(15):
            create_risk(session, team_id=TEAM_ID, delivery_key=f"risk-{n}", now=MONDAY, channel_id="C0GENERAL",
                        title=long_title[:200], probability=5, impact=5, owner_id="U0ALICE",
                        review_on=date(2027, 3, 1) + timedelta(days=n), created_by="U0ALICE")
    view = home_of(bot, "U0ALICE")  # the sandbox refuses a view over Slack's limits
    text = dump(view)
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in view["blocks"])
    # Far below the ~13k characters past which Slack refuses blocks in practice (PITFALLS 1.14).
    assert sum(len(b.get("text", {}).get("text", "")) for b in view["blocks"]) < 8000
    assert "My open bugs* (40)" in text and "and 30 more — `/bug list mine`" in text
    assert "My risks due for review* (15)" in text and "and 10 more — `/risk list mine`" in text
    assert text.count("home.risk.still_valid") == 5
    first_bug_line = text.split("My open bugs* (40)")[1]
    assert first_bug_line.index("grade 1") < first_bug_line.index("grade 2")  # most severe first


def test_a_refused_views_publish_is_logged_and_the_next_open_works(bot: RunningBot, caplog) -> None:
    bot.sandbox.fail("views.publish", times=1, status=200, error="internal_error")
    assert bot.driver.open_home("U0ALICE").status == 200
    bot.runtime.settle()
    assert "U0ALICE" not in bot.sandbox.home_views
    assert any("views.publish for U0ALICE failed" in r.getMessage() for r in caplog.records)
    assert "Your pmbot dashboard" in dump(home_of(bot, "U0ALICE"))


def test_the_team_section_shows_quality_against_the_plan_when_there_is_one(bot: RunningBot) -> None:
    command(bot, "/quality", "plan support")
    text = dump(home_of(bot, "U0BOB"))
    assert "Quality: a plan, no evaluation yet" in text
    command(bot, "/quality", "log hallucination_rate=6.5% toxicity_rate=0.5% pii_leaks=0 latency_p95=450ms "
                             "cost_per_inference=$0.008 --model support-bot --version v42")
    bot.runtime.settle(30)
    text = dump(home_of(bot, "U0BOB"))
    assert "Quality of support-bot v42: ❌ 1 off target (hallucination_rate) · 1 open breach" in text


def test_a_team_with_many_budgets_shows_each_person_those_of_the_channels_they_are_in(bot: RunningBot) -> None:
    channels = [f"C0PROJ{n:04d}" for n in range(7)]
    for n, channel in enumerate(channels):  # bob is in two of them; alice, who sets every budget, in all
        bot.sandbox.add_channel(channel, f"proj-{n}", members={"U0PMBOT", "U0ALICE"} | ({"U0BOB"} if n in (1, 4)
                                                                                            else set()))
        command(bot, "/budget", "set 1000 USD month", channel=channel)
    text = dump(home_of(bot, "U0BOB"))
    assert "Budgets of my channels* (2)" in text and f"<#{channels[1]}>" in text and f"<#{channels[4]}>" in text
    assert f"<#{channels[0]}>" not in text and f"<#{channels[6]}>" not in text
    text = dump(home_of(bot, "U0ALICE"))  # in all seven: the first five, and where to see the others
    assert "Budgets of my channels* (7)" in text and "and 2 more — type `/budget status` in one of your other" in text


def test_a_private_channels_budget_is_shown_only_to_its_members(bot: RunningBot) -> None:
    bot.sandbox.add_channel("G0PAYROLL", "payroll-ai", members={"U0PMBOT", "U0ALICE"}, is_private=True)
    command(bot, "/budget", "set 5000 USD month")  # #general: bob is in it
    command(bot, "/budget", "set 98765 EUR quarter", channel="G0PAYROLL")
    bob = dump(home_of(bot, "U0BOB"))
    assert "Budgets of my channels* (1)" in bob and "<#C0GENERAL>" in bob
    assert "G0PAYROLL" not in bob and "98,765" not in bob  # two budgets in all: still only his channels'
    alice = dump(home_of(bot, "U0ALICE"))
    assert "Budgets of my channels* (2)" in alice and "<#G0PAYROLL>: 0.00 EUR of 98,765.00 EUR" in alice


def test_slack_not_saying_who_is_in_a_channel_leaves_the_budgets_out(bot: RunningBot, caplog) -> None:
    bot.sandbox.add_channel("G0PAYROLL", "payroll-ai", members={"U0PMBOT", "U0ALICE"}, is_private=True)
    command(bot, "/budget", "set 98765 EUR quarter", channel="G0PAYROLL")
    bot.sandbox.fail("conversations.members", times=5, status=200, error="internal_error")
    text = dump(home_of(bot, "U0BOB"))
    assert "Slack did not say which channels you are in" in text and "98,765" not in text
    assert "Your pmbot dashboard" in text  # the rest of the Home is there
    assert any("budgets on the Home of U0BOB are left out" in r.getMessage() for r in caplog.records)


def test_who_is_in_a_channel_and_the_workspace_url_are_asked_once_in_a_few_minutes(bot: RunningBot) -> None:
    command(bot, "/budget", "set 5000 USD month")
    calls = lambda method: len([c for c in bot.sandbox.calls if c.method == method])  # noqa: E731
    home_of(bot, "U0ALICE")
    members, auth = calls("conversations.members"), calls("auth.test")
    assert members >= 1
    home_of(bot, "U0BOB")
    home_of(bot, "U0ALICE")
    assert (calls("conversations.members"), calls("auth.test")) == (members, auth)
    bot.runtime.deps.clock.now += timedelta(minutes=6)
    home_of(bot, "U0ALICE")
    assert calls("conversations.members") == members + 1 and calls("auth.test") == auth + 1


def test_a_button_on_a_stale_home_says_why_by_dm_and_refreshes_the_home(bot: RunningBot) -> None:
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice>")
    [result] = bot.runtime.scheduler.run_now("standup", MONDAY.replace(hour=9, minute=30))
    assert result.status == "ok", result.detail
    assert "not answered yet" in dump(home_of(bot, "U0ALICE"))
    command(bot, "/standup", "remove 1")
    bot.driver.press("home.standup.answer", user="U0ALICE", channel=None)  # the Home still shows it
    bot.runtime.settle()
    ims = {c.id for c in bot.sandbox.ws.channels.values() if c.is_im and "U0ALICE" in c.members}
    assert any("no longer exists" in m["text"] for m in bot.sandbox.messages if m["channel"] in ims)
    assert "No stand-up of yours today" in dump(bot.sandbox.home_views["U0ALICE"])


def incident_row(bot: RunningBot, readable_id: str):
    from storage.models import Incident

    with session_scope(bot.runtime.deps.engine) as session:
        return session.exec(select(Incident).where(Incident.readable_id == readable_id)).one()


def test_incidents_and_standups_link_to_their_messages(bot_factory) -> None:
    bot = MovableClock(MONDAY).drive(bot_factory(pmbot_incident_channel="C0RANDOM"))
    command(bot, "/incident", "declare Retrieval returns stale prices grade 2")
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice>")
    [result] = bot.runtime.scheduler.run_now("standup", MONDAY.replace(hour=9, minute=30))
    assert result.status == "ok", result.detail
    text = dump(home_of(bot, "U0ALICE"))
    inc = incident_row(bot, "INC-1")
    assert inc.announcement_ts
    announcement = f"<{WORKSPACE}archives/{inc.announcement_channel}/p{inc.announcement_ts.replace('.', '')}|*INC-1*>"
    assert text.count(announcement) == 2  # mine, and the team's active incidents
    from storage.models import StandupDay

    with session_scope(bot.runtime.deps.engine) as session:
        [day] = session.exec(select(StandupDay)).all()
    assert day.parent_ts
    assert f"<{WORKSPACE}archives/C0GENERAL/p{day.parent_ts.replace('.', '')}|*Stand-up 1*>" in text


def test_without_an_announcement_an_incident_links_to_its_war_rooms_runbook(bot: RunningBot) -> None:
    command(bot, "/incident", "declare Retrieval returns stale prices grade 2")
    inc = incident_row(bot, "INC-1")
    assert inc.announcement_ts is None and inc.runbook_ts
    runbook = f"<{WORKSPACE}archives/{inc.channel_id}/p{inc.runbook_ts.replace('.', '')}|*INC-1*>"
    assert runbook in dump(home_of(bot, "U0ALICE"))


def test_a_drill_is_not_an_active_incident_of_the_team(bot: RunningBot) -> None:
    command(bot, "/incident", "drill pii-leak")
    text = dump(home_of(bot, "U0ALICE"))
    assert "Active incidents: none" in text
    assert "🧪 drill" in text.split("Team*")[0]  # still among the incidents she is in, marked


def test_a_responder_invited_to_the_war_room_sees_the_incident(bot: RunningBot) -> None:
    command(bot, "/incident", "declare Agent loops on refunds grade 2")
    inc = incident_row(bot, "INC-1")
    assert "Incidents I am in* (0)" in dump(home_of(bot, "U0BOB"))
    bot.sandbox.ws.channels[inc.channel_id].members.add("U0BOB")  # invited by hand after the declaration
    bot.runtime.deps.clock.now += timedelta(minutes=6)  # the members of the war room are asked again
    text = dump(home_of(bot, "U0BOB"))
    assert "Incidents I am in* (1)" in text and "you: in the war room" in text


def test_a_dm_standup_is_on_the_members_own_day(bot_factory) -> None:
    clock = MovableClock(datetime(2027, 3, 29, 0, 0, tzinfo=UTC))  # Mon 09:00 in Tokyo, Sun 17:00 in LA
    bot = clock.drive(bot_factory())
    bot.sandbox.ws.add_user("U0KENJI", "kenji", tz="Asia/Tokyo")
    command(bot, "/standup", "setup 09:00 America/Los_Angeles mon-fri <@U0KENJI|kenji> dm")
    for when in (datetime(2027, 3, 29, 0, 0, tzinfo=UTC), datetime(2027, 3, 30, 0, 0, tzinfo=UTC)):
        clock.now = when
        [result] = bot.runtime.scheduler.run_now("standup", when)
        assert result.status == "ok", result.detail
        bot.runtime.settle()
    clock.now = datetime(2027, 3, 30, 1, 0, tzinfo=UTC)  # Tue 10:00 in Tokyo, still Mon 18:00 in LA
    view = home_of(bot, "U0KENJI")
    from storage.models import StandupDay

    with session_scope(bot.runtime.deps.engine) as session:
        days = {d.day: d.id for d in session.exec(select(StandupDay)).all()}
    [answer] = [b for b in buttons(view) if b["action_id"] == "home.standup.answer"]
    assert answer["value"] == str(days[date(2027, 3, 30)])  # Tuesday: Kenji's today, not LA's Monday
    assert "(Asia/Tokyo)" in dump(view) and "not answered yet" in dump(view)


def test_someone_away_is_not_pressed_to_answer(bot: RunningBot) -> None:
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob>")
    command(bot, "/standup", "away 2027-03-29 2027-04-02", user="U0BOB")
    [result] = bot.runtime.scheduler.run_now("standup", MONDAY.replace(hour=9, minute=30))
    assert result.status == "ok", result.detail
    view = home_of(bot, "U0BOB")
    assert "you are away today" in dump(view) and "not answered yet" not in dump(view)
    [answer] = [b for b in buttons(view) if b["action_id"] == "home.standup.answer"]
    assert answer["text"]["text"] == "Answer anyway" and "style" not in answer


def test_a_card_in_the_reporters_dm_is_linked_for_the_reporter_only(bot: RunningBot) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        bug, _ = create_bug(session, team_id=TEAM_ID, delivery_key="dm-1", channel_id="D0BOBDM", reporter_id="U0BOB",
                            title="Export to CSV hangs", text="x", details={}, pii=[], now=MONDAY)
        bug.assignee_id, bug.grade = "U0ALICE", 3
        bug.message_channel, bug.message_ts = "D0BOBDM", "1806314400.000100"
    link = f"<{WORKSPACE}archives/D0BOBDM/p1806314400000100|*B-1*>"
    assert link in dump(home_of(bot, "U0BOB"))
    alice = dump(home_of(bot, "U0ALICE"))
    assert "*B-1*" in alice and "D0BOBDM" not in alice


def test_the_bots_llm_calls_are_summed_per_day_in_the_database(bot: RunningBot) -> None:
    from bot.budgets import service as budgets
    from storage.budgets import budget_of, llm_tokens_per_day
    from storage.models import LlmUsage

    command(bot, "/budget", "set 100 USD month")
    days = [datetime(2027, 3, 1, 0, 0, tzinfo=UTC), datetime(2027, 3, 1, 23, 59, tzinfo=UTC),
            datetime(2027, 3, 28, 23, 30, tzinfo=UTC), datetime(2027, 2, 28, 23, 59, tzinfo=UTC)]  # last: February
    with session_scope(bot.runtime.deps.engine) as session:
        for n in range(40):
            session.add(LlmUsage(team_id=TEAM_ID, feature="bug_grading", model="gpt-4o-mini",
                                 prompt_tokens=None if n == 6 else 10_000, completion_tokens=5_000, latency_ms=900,
                                 created_at=days[n % 4]))
    with session_scope(bot.runtime.deps.engine) as session:
        summed = sorted(llm_tokens_per_day(session, team_id=TEAM_ID, start=date(2027, 3, 1), end=date(2027, 3, 31)))
        budget = budget_of(session, team_id=TEAM_ID, channel_id="C0GENERAL")
    assert summed == [(date(2027, 3, 1), "gpt-4o-mini", 200_000, 100_000),
                      (date(2027, 3, 28), "gpt-4o-mini", 90_000, 50_000)]  # one call without a prompt count
    snap = budgets.snapshot(bot.runtime.deps, budget, MONDAY.date())
    # 20 calls: 200k × 0.00015 + 100k × 0.0006 per 1K = 0.09; 10 calls: 90k × … + 50k × … = 0.0435 → 0.04
    assert snap.spent == Decimal("0.13")
    assert "<#C0GENERAL>: 0.13 USD of 100.00 USD spent" in dump(home_of(bot, "U0ALICE"))


def test_a_home_built_from_a_stale_view_does_not_overwrite_a_newer_one(bot: RunningBot) -> None:
    shown = home_of(bot, "U0ALICE")

    def opened(hash_: str) -> dict:  # app_home_opened as Slack sends it: the view shown, with its hash
        event = {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICEHOME", "tab": "home",
                 "view": {"id": shown["id"], "team_id": TEAM_ID, "type": "home", "blocks": [], "hash": hash_,
                          "private_metadata": "", "callback_id": "", "app_id": "A0PMBOT", "bot_id": "B0PMBOT"}}
        assert bot.driver.event(event).status == 200
        bot.runtime.settle()
        assert bot.sandbox.wait_for(lambda: any(c.method == "views.publish" and c.args.get("hash") == hash_
                                                for c in bot.sandbox.calls))
        return bot.sandbox.home_views["U0ALICE"]

    assert opened("1700000000.stale")["id"] == shown["id"]  # refused with hash_conflict: the newer Home stays
    assert opened(shown["hash"])["id"] != shown["id"]  # the hash of the Home shown: published
