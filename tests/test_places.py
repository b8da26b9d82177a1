"""Every place Slack can call pmbot from: the bot's own DM, a DM between people, a group DM, a private channel
pmbot is not in, a channel pmbot created itself, and a team that uninstalled it. End to end, both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from storage.db import session_scope
from storage.models import Bug, Risk, Standup
from tests import slack_payloads as slack
from tests.conftest import RunningBot

GREETING = "Hi! I'm pmbot"


def command(bot: RunningBot, name: str, text: str, *, channel: str, channel_name: str, user: str = "U0ALICE",
            **options) -> dict:
    """A slash command as Slack sends it from that place (its `channel_name` says what kind of place)."""
    form = slack.slash_command(name, text, user=user, channel=channel, channel_name=channel_name,
                               response_url=bot.sandbox.new_response_url(channel, user),
                               trigger_id=bot.sandbox.ws.issue_trigger(user), **options)
    response = bot.driver.post(*slack.as_command(form))
    assert response.status == 200
    bot.runtime.settle()
    return response.json() if response.body.startswith("{") else {}


def private_texts(bot: RunningBot, channel: str) -> list[str]:
    return [m["text"] for m in bot.sandbox.ephemeral if m["channel"] == channel]


def bot_messages(bot: RunningBot, channel: str) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel and m.get("user") == "U0PMBOT"]


# --- DMs and group DMs ------------------------------------------------------------------------------------------


def test_bug_in_my_dm_with_the_bot_is_posted_there(bot: RunningBot) -> None:
    with bot.sandbox.lock:
        dm = bot.sandbox.ws.api_conversations_open({"users": "U0ALICE"})["channel"]["id"]
    command(bot, "/bug", "the export button does nothing", channel=dm, channel_name="directmessage")
    [card] = bot_messages(bot, dm)
    assert "B-1" in card["text"]
    assert not any("invite" in t.lower() for t in private_texts(bot, dm))


def test_bug_in_a_dm_between_people_says_where_to_run_it(bot: RunningBot) -> None:
    command(bot, "/bug", "the export button does nothing", channel="D0ALICEBOB", channel_name="directmessage")
    notes = private_texts(bot, "D0ALICEBOB")
    hint = [t for t in notes if "direct message between people" in t]
    assert hint and "`/bug …` in a channel, or in your DM with me" in hint[0]
    assert not any("/invite" in t for t in notes)
    with session_scope(bot.runtime.deps.engine) as session:
        [bug] = session.exec(select(Bug)).all()  # kept: persist first, whatever happens to the card
    assert bug.readable_id == "B-1"


def test_bug_in_a_group_dm_pmbot_is_not_in_says_where_to_run_it(bot: RunningBot) -> None:
    command(bot, "/bug", "the export button does nothing", channel="G0MPIM01",
            channel_name="mpdm-alice--bob--carlos-1")
    notes = private_texts(bot, "G0MPIM01")
    assert any("a group DM I am not in" in t and "`/bug …`" in t for t in notes), notes
    assert not any("/invite" in t for t in notes)


def test_risk_in_a_dm_between_people_is_saved_and_says_where_to_run_it(bot: RunningBot) -> None:
    command(bot, "/risk", "the vendor may retire our model p=3 i=4", channel="D0ALICEBOB",
            channel_name="directmessage")
    notes = private_texts(bot, "D0ALICEBOB")
    assert any("R-1 is saved" in t and "direct message between people" in t and "`/risk …`" in t for t in notes), \
        notes
    with session_scope(bot.runtime.deps.engine) as session:
        assert [r.readable_id for r in session.exec(select(Risk))] == ["R-1"]


# --- a private channel pmbot is not in ------------------------------------------------------------------------


def test_a_private_channel_pmbot_is_not_in_gets_the_invite_hint_for_every_post(bot_factory) -> None:
    bot = bot_factory(pmbot_budget_admins="U0ALICE")
    bot.sandbox.add_channel("G0SECRET", "secret", members={"U0ALICE", "U0BOB"}, is_private=True)
    place = {"channel": "G0SECRET", "channel_name": "privategroup"}
    command(bot, "/bug", "the export button does nothing", **place)
    command(bot, "/risk", "the vendor may retire our model p=3 i=4", **place)
    command(bot, "/budget", "set 10000 USD month", **place)
    command(bot, "/budget", "chart", **place)
    notes = private_texts(bot, "G0SECRET")
    invite = [t for t in notes if "/invite @pmbot" in t]
    assert len(invite) == 3, notes  # the bug card, the risk card, the budget chart
    assert not any("Slack refused" in t or "went wrong" in t for t in notes), notes
    assert bot_messages(bot, "G0SECRET") == []


# --- channels pmbot created itself --------------------------------------------------------------------------


def test_pmbot_does_not_greet_a_war_room_it_made_but_greets_a_channel_it_is_invited_to(bot: RunningBot) -> None:
    assert bot.driver.command("/incident", "declare Model leaks emails grade 2").status == 200
    bot.runtime.settle()
    [room] = [c for c in bot.sandbox.channels.values() if c.name.startswith("inc-")]
    bot.driver.join("U0PMBOT", room.id)
    bot.runtime.settle()
    assert not any(GREETING in m["text"] for m in bot_messages(bot, room.id))
    bot.sandbox.add_channel("C0DESIGN", "design", members={"U0ALICE"})
    bot.driver.join("U0PMBOT", "C0DESIGN")
    bot.runtime.settle()
    assert [GREETING in m["text"] for m in bot_messages(bot, "C0DESIGN")] == [True]


def test_a_join_that_outruns_storing_the_room_is_still_not_greeted(bot: RunningBot) -> None:
    # The bot made the channel but its id is not stored yet (the event arrived first): Slack's creator says so.
    with bot.sandbox.lock:
        made = bot.sandbox.ws.api_conversations_create({"name": "drill-2027-03-29-1-model-outage"})["channel"]
    bot.driver.join("U0PMBOT", made["id"])
    bot.runtime.settle()
    assert bot_messages(bot, made["id"]) == []


def test_a_join_in_a_shared_channel_is_greeted_once(bot: RunningBot) -> None:
    bot.sandbox.add_channel("C0PARTNER", "acme-partner", members={"U0ALICE", "U0PMBOT"})
    event = slack.member_joined_channel("U0PMBOT", "C0PARTNER", inviter="U0ALICE")
    assert bot.driver.post(*slack.as_event(slack.event_callback(event, shared=True, grid=True))).status == 200
    bot.runtime.settle()
    assert [GREETING in m["text"] for m in bot_messages(bot, "C0PARTNER")] == [True]


# --- a team that uninstalled pmbot ------------------------------------------------------------------------------


def run_standup(bot: RunningBot, when: datetime) -> str:
    [result] = bot.runtime.scheduler.run_now("standup", when)
    assert result.status == "ok", result.detail
    bot.runtime.settle()
    return result.detail or ""


def goodbye(bot: RunningBot, event: dict) -> None:
    assert bot.driver.post(*slack.as_event(slack.event_callback(event))).status == 200
    bot.runtime.settle()


def test_an_uninstalled_team_gets_no_scheduled_posts_keeps_its_data_and_comes_back(bot: RunningBot) -> None:
    assert bot.driver.command("/standup", "setup 09:30 UTC mon-fri <@U0BOB|bob>").status == 200
    bot.runtime.settle()
    goodbye(bot, slack.app_uninstalled())
    assert "0 posted" in run_standup(bot, datetime(2027, 3, 29, 9, 30, tzinfo=UTC))
    with session_scope(bot.runtime.deps.engine) as session:
        assert len(session.exec(select(Standup)).all()) == 1  # its data is kept
    # Reinstalled: any command (or event) from the team means it is back.
    assert bot.driver.command("/standup", "list").status == 200
    bot.runtime.settle()
    assert "1 posted" in run_standup(bot, datetime(2027, 3, 30, 9, 30, tzinfo=UTC))


def test_only_a_revoked_bot_token_stops_scheduled_posts(bot: RunningBot) -> None:
    assert bot.driver.command("/standup", "setup 09:30 UTC mon-fri <@U0BOB|bob>").status == 200
    bot.runtime.settle()
    goodbye(bot, slack.tokens_revoked(oauth=["U0ALICE"]))  # a person's own token: nothing changes for pmbot
    assert "1 posted" in run_standup(bot, datetime(2027, 3, 29, 9, 30, tzinfo=UTC))
    goodbye(bot, slack.tokens_revoked(bot=["U0PMBOT"]))
    assert "0 posted" in run_standup(bot, datetime(2027, 3, 30, 9, 30, tzinfo=UTC))
