"""The sandbox answers the real slack_sdk client with Slack's shapes and error codes."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.sandbox import Driver, SlackSandbox
from bot.sandbox.composer import to_wire
from bot.sandbox.server import BOT_TOKEN
from bot.sandbox.workspace import BOT_USER_ID, Workspace
from tests.conftest import RunningBot, make_settings
from tests.slack_contract import violations


@pytest.fixture
def sandbox(unchecked_sandbox: SlackSandbox) -> SlackSandbox:
    """These tests send wrong requests on purpose, to see Slack's errors: no contract check."""
    return unchecked_sandbox


@pytest.fixture
def client(sandbox: SlackSandbox) -> WebClient:
    from bot.gateways.slack_port import build_web_client

    return build_web_client(make_settings(slack_api_url=sandbox.api_url))


def error_of(fn, **kwargs) -> str:
    with pytest.raises(SlackApiError) as excinfo:
        fn(**kwargs)
    return excinfo.value.response["error"]


def test_wrong_token_is_invalid_auth(sandbox: SlackSandbox) -> None:
    client = WebClient(token="xoxb-wrong", base_url=sandbox.api_url)
    assert error_of(client.auth_test) == "invalid_auth"


def test_channel_names_follow_slack_rules(client: WebClient) -> None:
    created = client.conversations_create(name="inc-20261201-1-model-leak")["channel"]
    assert created["name"] == "inc-20261201-1-model-leak" and created["is_member"] is True
    assert error_of(client.conversations_create, name="Has Spaces") == "invalid_name_specials"
    assert error_of(client.conversations_create, name="x" * 81) == "invalid_name_maxlength"
    assert error_of(client.conversations_create, name="inc-20261201-1-model-leak") == "name_taken"


def test_archived_channels_keep_their_names(client: WebClient) -> None:
    channel = client.conversations_create(name="war-room")["channel"]["id"]
    client.conversations_archive(channel=channel)
    assert error_of(client.conversations_create, name="war-room") == "name_taken"
    assert error_of(client.chat_postMessage, channel=channel, text="hi") == "is_archived"
    assert error_of(client.conversations_archive, channel=channel) == "already_archived"
    client.conversations_unarchive(channel=channel)
    assert client.conversations_info(channel=channel)["channel"]["is_archived"] is False


def test_invites_topic_purpose_and_their_errors(client: WebClient) -> None:
    channel = client.conversations_create(name="inc-room")["channel"]["id"]
    client.conversations_invite(channel=channel, users=["U0ALICE", "U0BOB"])
    assert error_of(client.conversations_invite, channel=channel, users="U0ALICE") == "already_in_channel"
    assert error_of(client.conversations_invite, channel=channel, users="U0NOBODY") == "user_not_found"
    assert error_of(client.conversations_invite, channel="C0NOPE", users="U0ALICE") == "channel_not_found"
    client.conversations_setTopic(channel=channel, topic="Grade 1 · commander @alice")
    client.conversations_setPurpose(channel=channel, purpose="War room")
    info = client.conversations_info(channel=channel)["channel"]
    assert info["topic"]["value"] == "Grade 1 · commander @alice" and info["purpose"]["value"] == "War room"
    assert info["num_members"] == 3
    assert error_of(client.conversations_setTopic, channel=channel, topic="t" * 251) == "too_long"


def test_not_in_channel_until_joined(client: WebClient) -> None:
    assert error_of(client.chat_postMessage, channel="C0RANDOM", text="hi") == "not_in_channel"
    client.conversations_join(channel="C0RANDOM")
    assert client.chat_postMessage(channel="C0RANDOM", text="hi")["ok"]


def test_missing_required_argument(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("conversations.invite", params={"channel": "C0GENERAL"})
    assert excinfo.value.response["error"] == "invalid_arguments"
    assert "users" in excinfo.value.response["response_metadata"]["messages"][0]


def test_threads_updates_and_deletes(client: WebClient, sandbox: SlackSandbox) -> None:
    parent = client.chat_postMessage(channel="C0GENERAL", text="parent")["ts"]
    reply = client.chat_postMessage(channel="C0GENERAL", text="reply", thread_ts=parent)["ts"]
    # Replying to a reply's ts lands in the same thread, as in Slack.
    client.chat_postMessage(channel="C0GENERAL", text="reply 2", thread_ts=reply)
    thread = client.conversations_replies(channel="C0GENERAL", ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["parent", "reply", "reply 2"]
    assert {m.get("thread_ts") for m in thread} == {parent}
    history = client.conversations_history(channel="C0GENERAL")["messages"]
    assert [m["text"] for m in history] == ["parent"] and history[0]["reply_count"] == 2
    client.chat_update(channel="C0GENERAL", ts=parent, text="edited")
    assert sandbox.ws.message("C0GENERAL", parent)["text"] == "edited"
    assert error_of(client.chat_update, channel="C0GENERAL", ts="1.999999", text="x") == "message_not_found"
    client.chat_delete(channel="C0GENERAL", ts=reply)
    assert error_of(client.chat_delete, channel="C0GENERAL", ts=reply) == "message_not_found"
    link = client.chat_getPermalink(channel="C0GENERAL", message_ts=parent)["permalink"]
    assert link.endswith(parent.replace(".", ""))


def test_no_permalink_for_a_conversation_the_bot_cannot_see(client: WebClient, sandbox: SlackSandbox) -> None:
    # chat.getPermalink answers channel_not_found where the token cannot see the conversation: a private channel
    # the bot is not in, a DM between people; a public channel it is not in is still visible to it.
    sandbox.add_channel("G0HIDDEN", "hidden", members={"U0ALICE"}, is_private=True)
    with sandbox.lock:
        hidden = sandbox.ws.post(sandbox.channels["G0HIDDEN"], "U0ALICE", {"text": "not for bots"})["ts"]
        public = sandbox.ws.post(sandbox.channels["C0RANDOM"], "U0ALICE", {"text": "for anyone"})["ts"]
    assert error_of(client.chat_getPermalink, channel="G0HIDDEN", message_ts=hidden) == "channel_not_found"
    assert client.chat_getPermalink(channel="C0RANDOM", message_ts=public)["permalink"].endswith(
        public.replace(".", ""))
    sandbox.channels["G0HIDDEN"].members.add(BOT_USER_ID)  # invited: now it sees it
    assert client.chat_getPermalink(channel="G0HIDDEN", message_ts=hidden)["permalink"]


def test_reactions_pins_and_bookmarks(client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0GENERAL", text="runbook")["ts"]
    client.reactions_add(channel="C0GENERAL", timestamp=ts, name="white_check_mark")
    assert error_of(client.reactions_add, channel="C0GENERAL", timestamp=ts, name="white_check_mark") == \
        "already_reacted"
    client.pins_add(channel="C0GENERAL", timestamp=ts)
    assert error_of(client.pins_add, channel="C0GENERAL", timestamp=ts) == "already_pinned"
    assert [i["message"]["ts"] for i in client.pins_list(channel="C0GENERAL")["items"]] == [ts]
    client.pins_remove(channel="C0GENERAL", timestamp=ts)
    assert error_of(client.pins_remove, channel="C0GENERAL", timestamp=ts) == "no_pin"
    bookmark = client.bookmarks_add(channel_id="C0GENERAL", title="Jira AI-12", type="link",
                                    link="https://jira.example.com/browse/AI-12")["bookmark"]
    assert client.bookmarks_list(channel_id="C0GENERAL")["bookmarks"] == [bookmark]


def test_users_and_groups(client: WebClient) -> None:
    assert client.users_info(user="U0ALICE")["user"]["tz"] == "Europe/Berlin"
    assert error_of(client.users_info, user="U0NOBODY") == "user_not_found"
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0ALICE", "U0BOB"]
    dm = client.conversations_open(users="U0BOB")["channel"]["id"]
    assert client.conversations_open(users="U0BOB")["channel"]["id"] == dm
    assert client.chat_postMessage(channel=dm, text="psst")["ok"]


def test_files_upload_v2_three_steps(client: WebClient, sandbox: SlackSandbox) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    parent = client.chat_postMessage(channel="C0GENERAL", text="Weekly budget")["ts"]
    result = client.files_upload_v2(channel="C0GENERAL", file=png, filename="budget.png", title="Budget",
                                    thread_ts=parent, initial_comment="This week")
    file_id = result["file"]["id"]
    assert sandbox.ws.files[file_id]["content"] == png
    shared = [m for m in sandbox.messages if m.get("files") == [file_id]]
    assert len(shared) == 1 and shared[0]["thread_ts"] == parent
    assert [c.method for c in sandbox.calls][-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert error_of(client.files_upload_v2, channel="C0RANDOM", file=png, filename="x.png") == "not_in_channel"


def test_views_open_push_update_and_trigger_expiry(client: WebClient, sandbox: SlackSandbox,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Risk"}, "blocks": []}
    trigger = sandbox.ws.issue_trigger("U0ALICE")
    opened = client.views_open(trigger_id=trigger, view=modal)["view"]
    pushed = client.views_push(trigger_id=trigger, view=modal)["view"]
    assert pushed["root_view_id"] == opened["id"] and pushed["previous_view_id"] == opened["id"]
    updated = client.views_update(view_id=opened["id"], view={**modal, "title": {"type": "plain_text",
                                                                                  "text": "Risk R-3"}})["view"]
    assert updated["id"] == opened["id"] and sandbox.views[opened["id"]]["title"]["text"] == "Risk R-3"
    assert error_of(client.views_update, view_id="V0NOPE", view=modal) == "not_found"
    assert error_of(client.views_open, trigger_id="0.0.bogus", view=modal) == "invalid_trigger_id"
    stale = sandbox.ws.issue_trigger("U0ALICE")
    user, issued = sandbox.ws.triggers[stale]
    sandbox.ws.triggers[stale] = (user, issued - 4)
    assert error_of(client.views_open, trigger_id=stale, view=modal) == "expired_trigger_id"


def test_rate_limited_call_is_retried_after_retry_after(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.rate_limit("chat.postMessage", times=1, retry_after=1)
    started = time.monotonic()
    assert client.chat_postMessage(channel="C0GENERAL", text="patient")["ok"]
    assert time.monotonic() - started >= 0.9  # slack_sdk waited for Retry-After before trying again
    assert len(sandbox.calls_to("chat.postMessage")) == 2
    assert len([m for m in sandbox.messages if m["text"] == "patient"]) == 1


# --- Slack having trouble: fail, outage, delay -------------------------------------------------------------


def test_fail_answers_like_slacks_edge_on_an_outage(sandbox: SlackSandbox) -> None:
    """A 5xx from Slack's edge is an HTML page; slack_sdk raises SlackApiError with the status and a
    "non-JSON format" error in place of a code. With `error`, the body is Slack's JSON error."""
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)  # no retry handlers: one call, one answer
    sandbox.fail("chat.postMessage", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="C0GENERAL", text="lost")
        assert raised.value.response.status_code == 500
        assert raised.value.response["error"].startswith("Received a response in a non-JSON format")
    assert client.chat_postMessage(channel="C0GENERAL", text="kept")["ok"]  # times=2: the third call goes through
    sandbox.fail("chat.postMessage", status=503, error="service_unavailable")
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0GENERAL", text="lost")
    assert (raised.value.response.status_code, raised.value.response["error"]) == (503, "service_unavailable")
    assert client.auth_test()["ok"]  # other methods were never affected
    assert [m["text"] for m in sandbox.messages] == ["kept"]
    assert len(sandbox.calls_to("chat.postMessage")) == 4  # failed calls are recorded too


def test_fail_every_method_and_a_json_error_with_status_200(sandbox: SlackSandbox) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    sandbox.fail("*", times=2, status=200, error="internal_error")
    assert error_of(client.auth_test) == "internal_error"
    assert error_of(client.conversations_list) == "internal_error"
    assert client.auth_test()["ok"]


def test_an_outage_follows_the_workspace_clock(sandbox: SlackSandbox) -> None:
    """"45 s of 500s" without waiting 45 s: the outage ends when `ws.clock` passes it."""
    now = [1_900_000_000.0]
    sandbox.ws.clock = lambda: now[0]
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    sandbox.outage(45)
    now[0] += 44
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C0GENERAL", text="during")
    assert raised.value.response.status_code == 500
    assert error_of(client.auth_test).startswith("Received a response in a non-JSON format")
    now[0] += 1
    assert client.chat_postMessage(channel="C0GENERAL", text="after")["ok"]
    sandbox.outage(60, status=503, error="service_unavailable")
    assert error_of(client.auth_test) == "service_unavailable"
    sandbox.outage(0)  # over early
    assert client.auth_test()["ok"]


def test_a_delay_slows_only_its_method(sandbox: SlackSandbox) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    sandbox.delay("chat.postMessage", 0.6)
    slow_done: list[float] = []
    started = time.monotonic()
    slow = threading.Thread(target=lambda: (client.chat_postMessage(channel="C0GENERAL", text="slow"),
                                            slow_done.append(time.monotonic() - started)))
    slow.start()
    time.sleep(0.05)
    assert client.auth_test()["ok"]
    fast = time.monotonic() - started
    slow.join()
    assert fast < 0.5 and slow_done[0] >= 0.55  # answered while the slow call still waited
    sandbox.delay("chat.postMessage", 0)
    sandbox.delay("*", 0.3)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.3


# --- message metadata and history -----------------------------------------------------------------------


def test_metadata_is_kept_and_shown_only_when_asked_for(client: WebClient) -> None:
    metadata = {"event_type": "pmbot_bug_card", "event_payload": {"id": "B-12", "team": "T0SANDBOX"}}
    posted = client.chat_postMessage(channel="C0GENERAL", text="card", metadata=metadata)
    assert posted["message"]["metadata"] == metadata
    plain = client.conversations_history(channel="C0GENERAL")["messages"]
    assert [m["text"] for m in plain] == ["card"] and "metadata" not in plain[0]
    full = client.conversations_history(channel="C0GENERAL", include_all_metadata=True)["messages"]
    assert full[0]["metadata"] == metadata
    client.chat_postMessage(channel="C0GENERAL", text="reply", thread_ts=posted["ts"])
    replies = client.conversations_replies(channel="C0GENERAL", ts=posted["ts"])["messages"]
    assert "metadata" not in replies[0]
    # An event type with a period is not Slack's: the message goes out without it, with a warning.
    odd = client.chat_postMessage(channel="C0GENERAL", text="odd", metadata={"event_type": "bug.card",
                                                                              "event_payload": {"id": "B-1"}})
    assert odd["warning"] == "invalid_metadata_schema" and "metadata" not in odd["message"]
    assert error_of(client.chat_postMessage, channel="C0GENERAL", text="x", metadata="not json") == \
        "invalid_metadata_format"


def test_history_pages_newest_first_between_oldest_and_latest(client: WebClient, sandbox: SlackSandbox) -> None:
    now = [1_900_000_000.0]
    sandbox.ws.clock = lambda: now[0]
    stamps = []
    for n in range(5):
        now[0] += 10
        stamps.append(client.chat_postMessage(channel="C0GENERAL", text=f"m{n}")["ts"])

    def texts(**args) -> list[str]:
        return [m["text"] for m in client.conversations_history(channel="C0GENERAL", **args)["messages"]]

    assert texts() == ["m4", "m3", "m2", "m1", "m0"]
    assert texts(oldest=stamps[1], latest=stamps[3]) == ["m2"]
    assert texts(oldest=stamps[1], latest=stamps[3], inclusive=True) == ["m3", "m2", "m1"]
    assert texts(oldest=1_900_000_035) == ["m4", "m3"]  # epoch seconds as a number, too
    first = client.conversations_history(channel="C0GENERAL", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(channel="C0GENERAL", limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    last = client.conversations_history(channel="C0GENERAL", limit=2, cursor=second["response_metadata"]["next_cursor"])
    assert [m["text"] for m in last["messages"]] == ["m0"] and last["has_more"] is False
    assert last["response_metadata"]["next_cursor"] == ""
    assert error_of(client.conversations_history, channel="C0GENERAL", cursor="bm90IGEgY3Vyc29y") == "invalid_cursor"
    assert error_of(client.conversations_history, channel="C0GENERAL", limit="many") == "invalid_limit"


def test_response_url_semantics(sandbox: SlackSandbox) -> None:
    from slack_sdk.webhook import WebhookClient

    ts = sandbox.ws.post(sandbox.channels["C0GENERAL"], "U0PMBOT", {"text": "card"})["ts"]
    url = sandbox.new_response_url("C0GENERAL", "U0ALICE", message_ts=ts)
    hook = WebhookClient(url)
    hook.send(text="only you")
    assert sandbox.ephemeral[-1]["text"] == "only you" and sandbox.ephemeral[-1]["user"] == "U0ALICE"
    hook.send(text="card, confirmed", replace_original=True)
    assert sandbox.ws.message("C0GENERAL", ts)["text"] == "card, confirmed"
    hook.send(text="for everyone", response_type="in_channel")
    assert sandbox.messages[-1]["text"] == "for everyone"
    hook.send(text="x", delete_original=True)
    assert all(m["ts"] != ts for m in sandbox.messages)
    assert hook.send(text="fifth").status_code == 200
    assert hook.send(text="sixth").status_code == 404  # five uses per response_url
    assert WebhookClient(sandbox.base_url + "response/999").send(text="x").status_code == 404


def test_token_is_taken_from_the_body_when_no_header(sandbox: SlackSandbox) -> None:
    client = WebClient(base_url=sandbox.api_url)
    assert client.api_call("auth.test", params={"token": BOT_TOKEN})["ok"]


def test_snapshot_restores_the_workspace_and_carries_its_ids_on(client: WebClient, sandbox: SlackSandbox) -> None:
    room = client.conversations_create(name="inc-room")["channel"]["id"]
    client.conversations_invite(channel=room, users=["U0BOB"])
    client.conversations_setTopic(channel=room, topic="INC-1 · grade 1")
    ts = client.chat_postMessage(channel=room, text="runbook")["ts"]
    client.pins_add(channel=room, timestamp=ts)
    client.files_upload_v2(channel=room, file=b"\x89PNG", filename="chart.png", title="Chart")
    saved = json.loads(json.dumps(sandbox.ws.snapshot()))  # what goes to disk is plain JSON

    restored = Workspace()
    restored.restore(saved)
    channel = restored.channels[room]
    assert (channel.name, channel.topic, channel.members, channel.pins) == \
        ("inc-room", "INC-1 · grade 1", {"U0PMBOT", "U0BOB"}, [ts])
    assert restored.message(room, ts)["text"] == "runbook"
    assert [f["content"] for f in restored.files.values()] == [b"\x89PNG"]
    assert restored.users["U0ALICE"].is_admin and restored.usergroups["S0ONCALL"] == ["U0ALICE", "U0BOB"]
    assert restored.new_id("C") not in sandbox.channels  # counters continue: no id is handed out twice
    assert float(restored.next_ts()) > float(ts)
    with pytest.raises(ValueError):
        Workspace("T0OTHER").restore(saved)


def test_views_update_keeps_what_was_typed_in_unchanged_inputs(client: WebClient, sandbox: SlackSandbox) -> None:
    def modal(*block_ids: str) -> dict:
        return {"type": "modal", "title": {"type": "plain_text", "text": "Risk"},
                "blocks": [{"type": "input", "block_id": b, "label": {"type": "plain_text", "text": b},
                            "element": {"type": "plain_text_input", "action_id": "value"}} for b in block_ids]}

    view = client.views_open(trigger_id=sandbox.ws.issue_trigger("U0ALICE"), view=modal("owner", "impact"))["view"]
    typed = {"owner": {"value": {"type": "plain_text_input", "value": "bob"}},
             "impact": {"value": {"type": "plain_text_input", "value": "4"}}}
    sandbox.views[view["id"]]["state"] = {"values": typed}  # what the person has typed so far
    client.views_update(view_id=view["id"], view=modal("owner", "mitigation"))
    assert sandbox.views[view["id"]]["state"]["values"] == {"owner": typed["owner"]}


@pytest.mark.parametrize(("typed", "wire", "labelled"), [
    ("& or <1>", "&amp; or &lt;1&gt;", True),
    ("ask @bob, then #random.", "ask <@U0BOB|bob>, then <#C0RANDOM|random>.", True),
    ("ask @bob", "ask <@U0BOB>", False),
    ("@here @channel @everyone", "<!here> <!channel> <!everyone>", False),
    ("@zed in #nowhere, a@b and x#1", "@zed in #nowhere, a@b and x#1", False),
    ("see https://x.io/a?b=1&c=2.", "see <https://x.io/a?b=1&amp;c=2>.", False),
    ("mail ana.lima@example.com now", "mail <mailto:ana.lima@example.com|ana.lima@example.com> now", False),
    ("tipo «ñandú» 数据 & $5 *bold*", "tipo «ñandú» 数据 &amp; $5 *bold*", False),
])
def test_what_a_person_types_is_sent_in_slacks_wire_form(typed: str, wire: str, labelled: bool) -> None:
    assert to_wire(typed, users={"bob": "U0BOB"}, channels={"random": "C0RANDOM"}, labelled=labelled) == wire


# --- shortcuts, file downloads, user groups, admins ----------------------------------------------------------

SIGNING_SECRET = "capture-signing-secret"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


class Capture:
    """A stand-in for the bot's /slack/events that keeps what the driver sent, to look at the raw request."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args) -> None:  # noqa: A002 — quiet test output
                pass

            def do_POST(self) -> None:  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture.requests.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"

    def last(self) -> tuple[dict[str, str], str]:
        headers, body = self.requests[-1]
        return headers, body.decode("utf-8")

    def payload(self) -> dict:
        """The last interactivity payload, after checking its signature the way Bolt does."""
        headers, body = self.last()
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert SignatureVerifier(SIGNING_SECRET).is_valid(body, headers["X-Slack-Request-Timestamp"],
                                                          headers["X-Slack-Signature"])
        assert not SignatureVerifier("another-secret").is_valid(body, headers["X-Slack-Request-Timestamp"],
                                                                headers["X-Slack-Signature"])
        [payload] = parse_qs(body)["payload"]
        return json.loads(payload)

    def event(self) -> dict:
        return json.loads(self.last()[1])["event"]


@pytest.fixture
def capture() -> Iterator[Capture]:
    capture = Capture()
    yield capture
    capture.server.shutdown()
    capture.server.server_close()


@pytest.fixture
def driver(sandbox: SlackSandbox, capture: Capture) -> Driver:
    return Driver(capture.url, SIGNING_SECRET, sandbox)


def test_message_shortcut_is_a_signed_message_action_in_slacks_shape(driver: Driver, capture: Capture,
                                                                      sandbox: SlackSandbox,
                                                                      client: WebClient) -> None:
    _, said = driver.share_file("trace.png", PNG, text="the summariser leaks emails", user="U0BOB")
    shared_file = capture.event()["files"][0]
    assert driver.shortcut("pmbot_file_bug", message=said, user="U0CARLOS").status == 200
    payload = capture.payload()
    assert (payload["type"], payload["callback_id"], payload["message_ts"]) == \
        ("message_action", "pmbot_file_bug", said["ts"])
    assert payload["channel"] == {"id": "C0GENERAL", "name": "general"}
    assert payload["team"] == {"id": "T0SANDBOX", "domain": "sandbox"} and payload["token"]
    assert payload["user"]["id"] == "U0CARLOS" and payload["user"]["username"] == "carlos"
    message = payload["message"]
    assert (message["type"], message["user"], message["ts"], message["text"]) == \
        ("message", "U0BOB", said["ts"], "the summariser leaks emails")
    assert "channel" not in message and message["files"] == [shared_file]  # objects, as the event had them
    assert float(payload["action_ts"]) > 0
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "File a bug"}, "blocks": []}
    assert client.views_open(trigger_id=payload["trigger_id"], view=modal)["view"]["user"] == "U0CARLOS"
    assert WebhookClient(payload["response_url"]).send(text="Filed as B-1").status_code == 200
    assert (sandbox.ephemeral[-1]["user"], sandbox.ephemeral[-1]["channel"]) == ("U0CARLOS", "C0GENERAL")


def test_global_shortcut_has_no_channel_message_or_response_url(driver: Driver, capture: Capture,
                                                                 client: WebClient) -> None:
    assert driver.shortcut("pmbot_new_risk", user="U0BOB").status == 200
    payload = capture.payload()
    assert (payload["type"], payload["callback_id"], payload["user"]["id"]) == ("shortcut", "pmbot_new_risk", "U0BOB")
    assert not {"channel", "message", "message_ts", "response_url"} & set(payload)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "New risk"}, "blocks": []}
    assert client.views_open(trigger_id=payload["trigger_id"], view=modal)["ok"]


def test_the_bot_acks_both_kinds_of_shortcut(bot: RunningBot, caplog: pytest.LogCaptureFixture) -> None:
    """Through the real Bolt app, which checks the signature and routes on type and callback_id."""
    caplog.set_level(logging.INFO)
    said = bot.driver.say("the demo is at 3", user="U0BOB")[1]
    for callback_id, message in (("sandbox_global", None), ("sandbox_message", said)):
        response = bot.driver.shortcut(callback_id, message=message)
        assert (response.status, response.body) == (200, "")
        bot.runtime.settle()
        assert any(r.getMessage().startswith(f"shortcut {callback_id!r}") for r in caplog.records)
    assert bot.driver.shortcut("sandbox_global", timestamp=int(time.time()) - 600).status == 401


def test_files_are_served_to_the_bot_token_only(driver: Driver, capture: Capture, sandbox: SlackSandbox) -> None:
    driver.share_file("trace.png", PNG, user="U0BOB")
    shared = capture.event()["files"][0]
    assert shared["url_private"].startswith(sandbox.base_url) and shared["mimetype"] == "image/png"
    bearer = {"Authorization": f"Bearer {BOT_TOKEN}"}

    got = requests.get(shared["url_private"], headers=bearer, timeout=5)
    assert (got.status_code, got.content, got.headers["Content-Type"]) == (200, PNG, "image/png")
    saved = requests.get(shared["url_private_download"], headers=bearer, timeout=5)
    assert saved.content == PNG and saved.headers["Content-Disposition"].startswith("attachment")

    for headers in ({}, {"Authorization": "Bearer xoxb-wrong"}, {"Authorization": BOT_TOKEN}):
        refused = requests.get(shared["url_private"], headers=headers, timeout=5, allow_redirects=False)
        assert refused.status_code == 302 and refused.content != PNG
        followed = requests.get(shared["url_private"], headers=headers, timeout=5)  # what a careless bot saves
        assert followed.headers["Content-Type"].startswith("text/html") and PNG not in followed.content
    with urllib.request.urlopen(shared["url_private"], timeout=5) as page:  # urllib follows the redirect too
        assert b"Sign in" in page.read()

    gone = shared["url_private"].replace(shared["id"], "F0NOPE")
    assert requests.get(gone, headers=bearer, timeout=5).status_code == 404
    assert [(d.file_id, d.token, d.status) for d in sandbox.downloads[:3]] == \
        [(shared["id"], BOT_TOKEN, 200), (shared["id"], BOT_TOKEN, 200), (shared["id"], None, 302)]
    assert sandbox.downloads[-1].status == 404 and sandbox.downloads[-1].file_id is None


def test_files_info_carries_what_a_downloader_needs(driver: Driver, capture: Capture, sandbox: SlackSandbox,
                                                   client: WebClient) -> None:
    _, said = driver.share_file("eval report.pdf", b"%PDF-1.7 eval", user="U0ALICE")
    shared = capture.event()["files"][0]
    info = client.files_info(file=shared["id"])["file"]
    assert {k: info[k] for k in ("id", "name", "title", "mimetype", "filetype", "size", "user")} == \
        {"id": shared["id"], "name": "eval report.pdf", "title": "eval report.pdf", "mimetype": "application/pdf",
         "filetype": "pdf", "size": 13, "user": "U0ALICE"}
    assert info["url_private"] == shared["url_private"] and info["url_private_download"].endswith(
        "/download/eval%20report.pdf")
    assert info["created"] > 0 and info["shares"] == {"public": {"C0GENERAL": [{"ts": said["ts"]}]}}
    assert requests.get(info["url_private_download"], headers={"Authorization": f"Bearer {BOT_TOKEN}"},
                        timeout=5).content == b"%PDF-1.7 eval"
    assert error_of(client.files_info, file="F0NOPE") == "file_not_found"


def test_files_the_bot_uploaded_can_be_downloaded_again(client: WebClient) -> None:
    uploaded = client.files_upload_v2(channel="C0GENERAL", file=b"week,cost\n1,2\n", filename="costs.csv")
    info = client.files_info(file=uploaded["file"]["id"])["file"]
    assert (info["user"], info["mimetype"], info["channels"]) == ("U0PMBOT", "text/csv", ["C0GENERAL"])
    got = requests.get(info["url_private"], headers={"Authorization": f"Bearer {BOT_TOKEN}"}, timeout=5)
    assert got.content == b"week,cost\n1,2\n" and got.headers["Content-Type"] == "text/csv"


def test_usergroups_list_by_handle(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.add_usergroup("S0PMLEADS", "pm-leads", ["U0ALICE"], name="PM leads")
    groups = {g["handle"]: g for g in client.usergroups_list()["usergroups"]}
    assert {h: (g["id"], g["name"], g["user_count"], g["team_id"]) for h, g in groups.items()} == \
        {"oncall": ("S0ONCALL", "On-call", 2, "T0SANDBOX"), "pm-leads": ("S0PMLEADS", "PM leads", 1, "T0SANDBOX")}
    assert all("users" not in g for g in groups.values())
    with_users = {g["handle"]: g["users"] for g in client.usergroups_list(include_users=True)["usergroups"]}
    assert with_users == {"oncall": ["U0ALICE", "U0BOB"], "pm-leads": ["U0ALICE"]}
    assert client.usergroups_users_list(usergroup="S0PMLEADS")["users"] == ["U0ALICE"]
    assert violations(sandbox.calls_to("usergroups.list")) == []
    with pytest.raises(ValueError):
        sandbox.add_usergroup("S0OTHER", "@oncall", ["U0BOB"])


def test_groups_written_straight_into_usergroups_still_list(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.ws.usergroups["S0LEGACY"] = ["U0CARLOS"]  # how tests set groups before handles existed
    listed = {g["id"]: g for g in client.usergroups_list()["usergroups"]}
    assert (listed["S0LEGACY"]["handle"], listed["S0LEGACY"]["user_count"]) == ("s0legacy", 1)
    assert client.usergroups_users_list(usergroup="S0LEGACY")["users"] == ["U0CARLOS"]


def test_snapshot_keeps_handles_and_reads_snapshots_without_them(sandbox: SlackSandbox) -> None:
    sandbox.add_usergroup("S0PMLEADS", "pm-leads", ["U0ALICE"])
    saved = json.loads(json.dumps(sandbox.ws.snapshot()))
    restored = Workspace()
    restored.restore(saved)
    assert restored.usergroup_by_handle("@pm-leads").id == "S0PMLEADS"  # type: ignore[union-attr]
    del saved["usergroup_info"]
    older = Workspace()
    older.restore(saved)
    assert older.usergroups["S0PMLEADS"] == ["U0ALICE"] and older.usergroup("S0PMLEADS").handle == "s0pmleads"


def test_users_info_says_who_is_admin_or_owner(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.add_user("U0DANA", "dana", is_owner=True)
    sandbox.add_user("U0EVE", "eve", is_admin=True)
    flags = {u: (client.users_info(user=u)["user"]["is_admin"], client.users_info(user=u)["user"]["is_owner"])
             for u in ("U0ALICE", "U0BOB", "U0DANA", "U0EVE")}
    assert flags == {"U0ALICE": (True, False), "U0BOB": (False, False), "U0DANA": (True, True),
                     "U0EVE": (True, False)}
