"""The Slack edge: error translation for listeners, and typed errors from Web API calls."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.app import build
from bot.edge import Reply, command_listener
from bot.errors import ChannelNotFound, IntegrationUnavailable, NotInChannel, SlackError, UserInputError
from bot.gateways.slack import call
from bot.gateways.slack_port import build_web_client
from bot.registry import CommandSpec
from bot.sandbox import SlackSandbox
from tests.conftest import SIGNING_SECRET, make_settings

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
