"""Payloads in Slack's published shapes (tests/slack_payloads.py), replayed through the real bot: signed HTTP →
Bolt → our listeners → the sandbox, on both databases. Each asserts what the payload should cause, not only 200.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.bugs import blocks as bug_blocks
from bot.edge import channel_kind, installation_team
from storage.db import session_scope
from storage.models import Bug, BugGradeChange, Incident, IncidentEvent, StandupAnswer
from tests import slack_payloads as slack
from tests.conftest import RunningBot

TEAM = "T0SANDBOX"
VARIANTS = {"plain": {}, "grid": {"grid": True}, "shared": {"shared": True}, "grid+shared": {"grid": True,
                                                                                               "shared": True}}


def send(bot: RunningBot, encoded: tuple[str, str]) -> int:
    response = bot.driver.post(*encoded)
    bot.runtime.settle()
    return response.status


def bot_output(bot: RunningBot) -> int:
    """How many things the bot has said anywhere (messages, ephemeral notes, response_url answers)."""
    said = [m for m in bot.sandbox.messages if m.get("user") == "U0PMBOT"]
    return len(said) + len(bot.sandbox.ephemeral) + len(bot.sandbox.responses)


def errors_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# --- events -------------------------------------------------------------------------------------------------


def _war_room(bot: RunningBot) -> Incident:
    assert bot.driver.command("/incident", "declare Model leaks emails grade 2").status == 200
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:
        [incident] = session.exec(select(Incident)).all()
    assert incident.channel_id
    return incident


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_pushpin_lands_on_the_timeline_from_any_kind_of_channel(bot: RunningBot, variant: str) -> None:
    incident = _war_room(bot)
    with bot.sandbox.lock:
        said = bot.sandbox.ws.post(bot.sandbox.channels[incident.channel_id], "U0BOB",
                                   {"text": "Rolled the summariser back to v11"})
    reaction = slack.reaction_added("U0BOB", "pushpin", incident.channel_id, said["ts"], item_user="U0BOB")
    body = slack.event_callback(reaction, **VARIANTS[variant])
    assert send(bot, slack.as_event(body)) == 200
    with session_scope(bot.runtime.deps.engine) as session:
        pinned = session.exec(select(IncidentEvent).where(IncidentEvent.kind == "pinned")).all()
    assert [p.text for p in pinned] == ["Rolled the summariser back to v11"]


def _standup_thread(bot: RunningBot) -> str:
    assert bot.driver.command("/standup", "setup 09:30 UTC mon-fri <@U0BOB|bob>").status == 200
    bot.runtime.settle()
    [result] = bot.runtime.scheduler.run_now("standup", datetime(2027, 3, 29, 9, 30, tzinfo=UTC))
    assert result.status == "ok", result.detail
    bot.runtime.settle()
    [parent] = [m for m in bot.sandbox.messages if m["text"].startswith("Stand-up —")]
    return parent["ts"]


@pytest.mark.parametrize("legacy", [True, False], ids=["bot_message", "app_bot_user"])
def test_a_bot_message_in_a_standup_thread_is_not_an_answer(bot: RunningBot, legacy: bool) -> None:
    parent_ts = _standup_thread(bot)
    before = bot_output(bot)
    text = "Yesterday: deploys\nToday: more deploys\nBlockers: none"
    event = slack.bot_message("C0GENERAL", text, thread_ts=parent_ts, legacy=legacy)
    assert send(bot, slack.as_event(slack.event_callback(event))) == 200
    with session_scope(bot.runtime.deps.engine) as session:
        assert session.exec(select(StandupAnswer)).all() == []
    assert bot_output(bot) == before
    assert "0/1 answered" in bot.sandbox.ws.message("C0GENERAL", parent_ts)["text"]


def test_deleted_and_edited_messages_and_files_outside_threads_are_quiet(bot: RunningBot, caplog) -> None:
    caplog.set_level(logging.INFO)
    parent_ts = _standup_thread(bot)
    before = bot_output(bot)
    plain = slack.message("C0GENERAL", "U0ALICE", "lunch at 12?")
    reply = slack.message("C0GENERAL", "U0CARLOS", "nice", thread_ts=parent_ts)
    for event in (plain, slack.message_changed("C0GENERAL", plain, "lunch at 1?"),
                  slack.message_deleted("C0GENERAL", plain), slack.message_deleted("C0GENERAL", reply),
                  slack.file_share("C0GENERAL", "U0ALICE", "the new logo"),
                  slack.thread_broadcast("C0GENERAL", "U0CARLOS", "good luck, all", thread_ts=parent_ts)):
        assert send(bot, slack.as_event(slack.event_callback(event))) == 200, event.get("subtype")
    assert bot_output(bot) == before
    with session_scope(bot.runtime.deps.engine) as session:
        assert session.exec(select(StandupAnswer)).all() == []
    assert errors_logged(caplog) == []


@pytest.mark.parametrize("variant", ["plain", "grid", "org_install"])
def test_app_home_opened_publishes_the_home_view(bot: RunningBot, variant: str) -> None:
    options = {"plain": {}, "grid": {"grid": True}, "org_install": {"org_install": True}}[variant]
    body = slack.event_callback(slack.app_home_opened("U0BOB"), **options)
    assert send(bot, slack.as_event(body)) == 200
    home = bot.sandbox.home_views["U0BOB"]
    assert home["type"] == "home" and "/bug" in str(home["blocks"])


def test_the_messages_tab_publishes_nothing(bot: RunningBot) -> None:
    assert send(bot, slack.as_event(slack.event_callback(slack.app_home_opened("U0BOB", tab="messages")))) == 200
    assert "U0BOB" not in bot.sandbox.home_views


def test_app_rate_limited_is_acked_and_logged(bot: RunningBot, caplog) -> None:
    caplog.set_level(logging.WARNING)
    response = bot.driver.post(*slack.as_event(slack.app_rate_limited(minute=1_893_456_060)))
    assert response.status == 200
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("T0SANDBOX" in line and "1893456060" in line for line in warned), warned


# --- interactivity ------------------------------------------------------------------------------------------


def _bug_card(bot: RunningBot) -> dict:
    assert bot.driver.command("/bug", "the summary button is misaligned on mobile").status == 200
    bot.runtime.settle()
    [card] = [m for m in bot.sandbox.messages if m.get("user") == "U0PMBOT" and m["channel"] == "C0GENERAL"]
    return card


@pytest.mark.parametrize("variant", ["plain", "grid", "shared"])
def test_a_button_press_in_any_shape_confirms_the_grade(bot: RunningBot, variant: str) -> None:
    card = _bug_card(bot)
    button = next(e for block in card["blocks"] if block.get("type") == "actions" for e in block["elements"]
                  if e.get("action_id") == bug_blocks.ACTION_CONFIRM)
    action = {"type": "button", "action_id": button["action_id"], "block_id": "b", "text": button["text"],
              "value": button["value"]}
    options = {"plain": {}, "grid": {"grid": True}, "shared": {"shared": True}}[variant]
    payload = slack.block_actions("U0BOB", action, message=card, trigger_id=bot.sandbox.ws.issue_trigger("U0BOB"),
                                  response_url=bot.sandbox.new_response_url("C0GENERAL", "U0BOB",
                                                                            message_ts=card["ts"]), **options)
    assert send(bot, slack.as_interaction(payload)) == 200
    with session_scope(bot.runtime.deps.engine) as session:
        changes = session.exec(select(BugGradeChange).where(BugGradeChange.kind == "confirm")).all()
    assert [(c.team_id, c.user_id) for c in changes] == [(TEAM, "U0BOB")]


@pytest.mark.parametrize("variant", ["plain", "grid"])
def test_a_modal_submitted_with_grid_fields_files_the_bug_for_our_team(bot: RunningBot, variant: str) -> None:
    assert bot.driver.command("/bug").status == 200
    bot.runtime.settle()
    view = bot.driver.open_view()
    values = {"title": {"title": {"type": "plain_text_input", "value": "Export drops rows"}},
              "what": {"what": {"type": "plain_text_input", "value": "The CSV export drops every 100th row."}}}
    payload = slack.view_submission("U0ALICE", view, values, trigger_id=bot.sandbox.ws.issue_trigger("U0ALICE"),
                                    **({"grid": True} if variant == "grid" else {}))
    response = bot.driver.post(*slack.as_interaction(payload))
    assert response.status == 200 and response.json().get("response_action") != "errors"
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:
        [bug] = session.exec(select(Bug)).all()
    assert (bug.team_id, bug.title) == (TEAM, "Export drops rows")


def test_view_closed_is_acked_and_changes_nothing(bot: RunningBot) -> None:
    assert bot.driver.command("/bug").status == 200
    bot.runtime.settle()
    view = bot.driver.open_view()
    before = bot_output(bot)
    response = bot.driver.post(*slack.as_interaction(slack.view_closed("U0ALICE", view, grid=True)))
    assert response.status == 200
    bot.runtime.settle()
    assert bot_output(bot) == before


@pytest.mark.parametrize("kind", ["global", "message", "message_shared"])
def test_a_shortcut_the_app_does_not_have_is_acked_and_logged(bot: RunningBot, kind: str, caplog) -> None:
    caplog.set_level(logging.INFO)
    with bot.sandbox.lock:
        said = bot.sandbox.ws.post(bot.sandbox.channels["C0GENERAL"], "U0BOB", {"text": "the demo is at 3"})
    if kind == "global":
        payload = slack.global_shortcut("U0ALICE", "pmbot_new_risk", grid=True)
    else:
        payload = slack.message_shortcut("U0ALICE", "pmbot_file_bug", said, shared=kind == "message_shared",
                                         response_url=bot.sandbox.new_response_url("C0GENERAL", "U0ALICE"))
    before = bot_output(bot)
    response = bot.driver.post(*slack.as_interaction(payload))
    assert response.status == 200 and response.body == ""
    bot.runtime.settle()
    assert bot_output(bot) == before
    assert any("nothing handles it" in r.getMessage() and payload["callback_id"] in r.getMessage()
               for r in caplog.records)


# --- Enterprise Grid: an org-wide install keys rows by the organisation ---------------------------------------


def _command(bot: RunningBot, text: str, *, team: str, **options) -> dict:
    form = slack.slash_command("/bug", text, user="U0ALICE", channel="C0GENERAL", channel_name="general",
                               response_url=bot.sandbox.new_response_url("C0GENERAL", "U0ALICE"),
                               trigger_id=bot.sandbox.ws.issue_trigger("U0ALICE"), team=team, **options)
    response = bot.driver.post(*slack.as_command(form))
    assert response.status == 200
    bot.runtime.settle()
    return response.json() if response.body.startswith("{") else {}


def test_an_org_wide_install_shares_its_rows_across_the_orgs_workspaces(bot: RunningBot) -> None:
    _command(bot, "the answer cites a retired policy", team=TEAM, org_install=True)
    with session_scope(bot.runtime.deps.engine) as session:
        [bug] = session.exec(select(Bug)).all()
    assert bug.team_id == slack.ENTERPRISE_ID
    listed = _command(bot, "list", team="T0OTHERWS", org_install=True)
    assert bug.readable_id in listed["text"]
    assert "none" in _command(bot, "list", team=TEAM)["text"]  # a workspace install of the same team is its own


# --- the one rule for "which team": unit level, over every shape ---------------------------------------------


@pytest.mark.parametrize(("body", "team"), [
    (slack.event_callback(slack.app_uninstalled()), TEAM),
    (slack.event_callback(slack.app_uninstalled(), shared=True), TEAM),  # outer team_id is the partner's
    (slack.event_callback(slack.app_uninstalled(), grid=True, shared=True), TEAM),
    (slack.event_callback(slack.app_uninstalled(), org_install=True), slack.ENTERPRISE_ID),
    (slack.slash_command("/bug", "", user="U0ALICE", channel="C1", channel_name="general", response_url="",
                         trigger_id="1", grid=True), TEAM),
    (slack.slash_command("/bug", "", user="U0ALICE", channel="C1", channel_name="general", response_url="",
                         trigger_id="1", org_install=True), slack.ENTERPRISE_ID),
    (slack.block_actions("U0ALICE", {"action_id": "x"}, shared=True), TEAM),
    (slack.block_actions("U0ALICE", {"action_id": "x"}, org_install=True), slack.ENTERPRISE_ID),
    (slack.view_submission("U0ALICE", {"id": "V1"}, {}, grid=True), TEAM),
    (slack.app_rate_limited(), TEAM),
], ids=["event", "event-shared", "event-grid-shared", "event-org", "command-grid", "command-org",
        "action-shared", "action-org", "view-grid", "rate-limited"])
def test_installation_team_is_the_team_our_rows_are_keyed_by(body: dict, team: str) -> None:
    assert installation_team(body) == team


@pytest.mark.parametrize(("channel", "name", "kind"), [
    ("D0ALICEBOB", "directmessage", "im"), ("G0MPIM01", "mpdm-alice--bob--carlos-1", "mpim"),
    ("C0MPIM02", "mpdm-alice--bob-1", "mpim"), ("G0SECRET", "privategroup", "private"),
    ("C0SECRET", "privategroup", "private"), ("C0GENERAL", "general", "channel"),
])
def test_channel_kind_from_the_payloads_channel_name(channel: str, name: str, kind: str) -> None:
    assert channel_kind(channel, name) == kind
