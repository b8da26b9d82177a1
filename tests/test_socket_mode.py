"""Socket Mode: with SLACK_APP_TOKEN set, the bot connects over a WebSocket and handles envelopes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.app import Service, build
from bot.sandbox import SlackSandbox
from bot.sandbox.server import APP_TOKEN
from tests.conftest import make_settings


@pytest.fixture
def socket_bot(db_url: str, sandbox: SlackSandbox) -> Iterator[Service]:
    settings = make_settings(slack_api_url=sandbox.api_url, database_url=db_url, slack_app_token=APP_TOKEN,
                             slack_signing_secret=None)
    service = Service(build(settings), host="127.0.0.1", port=0)
    service.start()
    assert sandbox.wait_for(lambda: sandbox.socket_mode is not None and sandbox.socket_mode.connected())
    yield service
    service.stop()


def test_slash_command_over_socket_mode_is_acked_with_help(socket_bot: Service, sandbox: SlackSandbox) -> None:
    assert [c.token for c in sandbox.calls_to("apps.connections.open")] == [APP_TOKEN]
    ack = sandbox.socket_mode.send_envelope("slash_commands", {
        "command": "/pmbot", "text": "help", "team_id": "T0SANDBOX", "user_id": "U0ALICE",
        "channel_id": "C0GENERAL", "trigger_id": "9.9.9", "response_url": sandbox.new_response_url(),
    })
    assert "`/pmbot`" in ack["payload"]["text"]


def test_repeated_event_over_socket_mode_is_handled_once(socket_bot: Service, sandbox: SlackSandbox) -> None:
    event = {"team_id": "T0SANDBOX", "type": "event_callback", "event_id": "Ev0SOCKET",
             "event": {"type": "app_home_opened", "user": "U0BOB", "tab": "home"}}
    sandbox.socket_mode.send_envelope("events_api", event)
    sandbox.socket_mode.send_envelope("events_api", event)
    assert sandbox.wait_for(lambda: "U0BOB" in sandbox.home_views)
    sandbox.wait_for(lambda: len(sandbox.calls_to("views.publish")) > 1, timeout=0.5)
    assert len(sandbox.calls_to("views.publish")) == 1
