"""The Slack edge: error translation for listeners, typed errors from Web API calls, listeners registered
from their ids, and form fields read by name."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.app import build
from bot.edge import (
    Reply,
    Request,
    actions_under,
    command_listener,
    on_action,
    on_actions_under,
    on_command,
    on_event,
    on_shortcut,
    on_view,
)
from bot.errors import ChannelNotFound, IntegrationUnavailable, NotInChannel, SlackError, UserInputError
from bot.gateways.slack import call
from bot.gateways.slack_port import build_web_client
from bot.registry import CommandSpec
from bot.sandbox import SlackSandbox
from tests.conftest import SIGNING_SECRET, make_settings
from tests.slack_payloads import as_interaction, block_actions

SPEC = CommandSpec(name="/probe", summary="a command that misbehaves on purpose",
                   usage=(("boom", "fails unexpectedly"), ("late", "fails after the ack")))


def probe(request, reply: Reply, deps) -> None:
    if request.text == "boom":
        raise RuntimeError("database exploded: password=hunter2")
    if request.text == "late":
        reply.ack()
        raise UserInputError("That number <!here> is not a probability.")
    reply.ack("fine")


@pytest.fixture
def app(db_url: str, sandbox: SlackSandbox) -> App:
    runtime = build(make_settings(slack_api_url=sandbox.api_url, database_url=db_url))
    runtime.bolt.command(SPEC.name)(command_listener(runtime.deps, SPEC, probe))
    return runtime.bolt


def dispatch(app: App, sandbox: SlackSandbox, text: str):
    body = urlencode({"command": "/probe", "text": text, "team_id": "T0SANDBOX", "user_id": "U0ALICE",
                      "channel_id": "C0GENERAL", "trigger_id": f"t.{time.time_ns()}",
                      "response_url": sandbox.new_response_url()})
    ts = str(int(time.time()))
    headers = {"content-type": ["application/x-www-form-urlencoded"], "x-slack-request-timestamp": [ts],
               "x-slack-signature": [SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)]}
    return app.dispatch(BoltRequest(body=body, headers=headers))


def test_unexpected_error_shows_an_error_id_and_logs_the_traceback(app, sandbox, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        response = dispatch(app, sandbox, "boom")
    assert response.status == 200
    assert "error id `" in response.body and "hunter2" not in response.body
    error_id = response.body.split("error id `")[1].split("`")[0]
    record = next(r for r in caplog.records if error_id in r.getMessage())
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_typed_error_after_the_ack_goes_privately_through_response_url(app, sandbox) -> None:
    response = dispatch(app, sandbox, "late")
    assert response.status == 200 and response.body == ""
    answers = sandbox.wait_for(lambda: sandbox.responses)
    assert answers[0]["response_type"] == "ephemeral"
    assert answers[0]["text"] == "That number &lt;!here&gt; is not a probability."


def test_help_is_answered_for_every_command(app, sandbox) -> None:
    body = dispatch(app, sandbox, "help").body
    assert "/probe" in body and "boom" in body and "fails after the ack" in body


@pytest.fixture
def client(sandbox: SlackSandbox):
    return build_web_client(make_settings(slack_api_url=sandbox.api_url))


def test_slack_errors_become_typed_errors(client, sandbox: SlackSandbox) -> None:
    with pytest.raises(ChannelNotFound) as missing:
        call(client, "chat_postMessage", channel="C0NOPE", text="hi")
    assert missing.value.code == "channel_not_found" and missing.value.method == "chat.postMessage"
    sandbox.add_channel("C0SECRET", "secret", members={"U0ALICE"}, is_private=True)
    with pytest.raises(NotInChannel):
        call(client, "chat_postMessage", channel="C0SECRET", text="hi")
    with pytest.raises(SlackError) as other:
        call(client, "chat_update", channel="C0GENERAL", ts="1.000001", text="x")
    assert other.value.code == "message_not_found"


def test_unreachable_slack_is_integration_unavailable() -> None:
    client = build_web_client(make_settings(slack_api_url="http://127.0.0.1:9/api/"))
    with pytest.raises(IntegrationUnavailable) as excinfo:
        call(client, "auth_test")
    assert "could not be reached" in str(excinfo.value)


@pytest.mark.parametrize(
    ("line", "leaked"),
    [
        ("token xoxb-123-456-abcdef in a message", "xoxb-123-456-abcdef"),
        ("app xapp-1-A0-99-zz", "xapp-1-A0-99-zz"),
        ("openai sk-abcdefghijklmnopqrstu", "sk-abcdefghijklmnopqrstu"),
        ("database exploded: password=hunter2", "hunter2"),
        ("Secret: s3cr3t!", "s3cr3t!"),
        ("report text: card 4111 1111 1111 1111 shown", "4111 1111 1111 1111"),
        ("reporter wrote jane.doe@example.com", "jane.doe@"),
    ],
)
def test_log_lines_are_redacted(line: str, leaked: str) -> None:
    from bot.logs import RedactingFormatter

    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "%s", (line,), None)
    try:
        raise RuntimeError(line)
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    formatted = RedactingFormatter("%(message)s").format(record)
    assert leaked not in formatted
    assert "[redacted]" in formatted or "•" in formatted


# --- listeners registered from their ids ---------------------------------------------------------------


class RecordingApp:
    """Stands in for Bolt's App: records what each registration matches and the listener it wires."""

    def __init__(self) -> None:
        self.wired: list[tuple[str, Any, str]] = []

    def __getattr__(self, kind: str):
        def matching(matcher: Any):
            return lambda listener: self.wired.append((kind, matcher, listener.__name__))
        return matching


def test_each_listener_is_registered_in_one_call_from_its_id() -> None:
    app, deps = RecordingApp(), object()
    on_command(app, deps, SPEC, probe)
    on_action(app, deps, "probe.confirm", probe)
    on_shortcut(app, deps, "probe_import", probe)
    on_view(app, deps, "probe.form", lambda request, deps: None)
    on_event(app, deps, "reaction_added", lambda event, deps: None)
    assert app.wired == [("command", "/probe", "command_probe"), ("action", "probe.confirm", "action_probe_confirm"),
                         ("shortcut", "probe_import", "action_probe_import"), ("view", "probe.form", "view_probe_form"),
                         ("event", "reaction_added", "event_reaction_added")]


def test_a_family_of_action_ids_is_matched_from_its_prefix() -> None:
    pattern = actions_under("risk.answer")
    assert all(pattern.search(a) for a in ("risk.answer.owner", "risk.answer.impact.4"))
    assert not any(pattern.search(a) for a in ("risk.answer", "risk.answered.owner", "riskXanswer.owner",
                                               "my.risk.answer.owner"))
    app = RecordingApp()
    on_actions_under(app, object(), "risk.answer", probe)
    assert app.wired == [("action", pattern, "action_risk_answer")]


def test_a_family_of_buttons_reaches_its_handler_through_bolt(db_url: str, sandbox: SlackSandbox) -> None:
    deps = build(make_settings(slack_api_url=sandbox.api_url, database_url=db_url)).deps
    # A bare Bolt app: pmbot's own has a catch-all action listener registered before this one would be.
    bolt = App(client=deps.client, signing_secret=SIGNING_SECRET, token_verification_enabled=False,
               process_before_response=True)
    pressed: list[tuple[str, str]] = []

    def on_task(request, reply: Reply, deps) -> None:
        pressed.append((request.name, request.value))
        reply.ack()

    on_actions_under(bolt, deps, "probe.task", on_task)
    action = {"type": "button", "action_id": "probe.task.7", "block_id": "b", "value": "3:7"}
    body, content_type = as_interaction(block_actions("U0ALICE", action))
    ts = str(int(time.time()))
    headers = {"content-type": [content_type], "x-slack-request-timestamp": [ts],
               "x-slack-signature": [SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)]}
    assert bolt.dispatch(BoltRequest(body=body, headers=headers)).status == 200
    assert pressed == [("probe.task.7", "3:7")]


# --- form fields read by name ----------------------------------------------------------------------------

FORM_STATE = {
    "title": {"title": {"type": "plain_text_input", "value": "Model leaks e-mails"}},
    "empty": {"empty": {"type": "plain_text_input", "value": None}},
    "grade": {"grade": {"type": "static_select", "selected_option": {"text": {"text": "2"}, "value": "2"}}},
    "unchosen": {"unchosen": {"type": "static_select", "selected_option": None}},
    "owner": {"owner": {"type": "users_select", "selected_user": "U0BOB"}},
    "members": {"members": {"type": "multi_users_select", "selected_users": ["U0BOB", "U0ALICE"]}},
    "channel": {"channel": {"type": "conversations_select", "selected_conversation": "C0GENERAL"}},
    "review_on": {"review_on": {"type": "datepicker", "selected_date": "2026-12-15"}},
    "recover": {"recover": {"type": "number_input", "value": "3"}},
    "timezone": {"timezone_input": {"type": "plain_text_input", "value": "Europe/Berlin"}},
}


def form(**state: Any) -> Request:
    return Request(name="probe.form", text="", team_id="T0", user_id="U0ALICE", channel_id="", trigger_id="",
                   response_url="", state=state or FORM_STATE)


def test_a_request_reads_each_kind_of_input_by_its_block_id() -> None:
    request = form()
    assert request.field("title") == "Model leaks e-mails" and request.field("recover") == "3"
    assert request.selected("grade") == "2"
    assert request.selected_user("owner") == "U0BOB"
    assert request.selected_users("members") == ["U0BOB", "U0ALICE"]
    assert request.selected_conversation("channel") == "C0GENERAL"
    assert request.selected_date("review_on") == "2026-12-15"
    assert request.field("timezone", "timezone_input") == "Europe/Berlin"
    assert request.element("grade")["type"] == "static_select"


def test_an_input_left_empty_or_missing_reads_as_nothing() -> None:
    request = form()
    assert request.field("empty") == "" and request.selected("unchosen") == ""
    assert request.field("nowhere") == "" and request.selected("nowhere") == "" and request.element("nowhere") == {}
    assert request.selected_users("nowhere") == [] and request.selected_user("nowhere") == ""
    assert request.field("timezone") == ""  # its element is named otherwise
    assert form(title={"title": None}).field("title") == ""


def test_answer_reads_an_input_whatever_its_kind() -> None:
    request = form()
    assert [request.answer(b) for b in ("title", "grade", "owner", "channel", "review_on", "unchosen", "empty",
                                        "nowhere")] == ["Model leaks e-mails", "2", "U0BOB", "C0GENERAL", "2026-12-15",
                                                        "", "", ""]
