"""The contract check itself must catch what it is there to catch."""

from __future__ import annotations

from bot.sandbox.server import Call
from tests.slack_contract import check_call


def call(method: str, raw: dict, args: dict | None = None, content_type: str = "application/json") -> Call:
    return Call(method, args if args is not None else raw, "xoxb-t", content_type, raw)


def test_a_good_message_passes() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    assert check_call(call("chat.postMessage", {"channel": "C1", "text": "hi", "blocks": blocks})) == []


def test_unknown_argument_is_a_violation() -> None:
    problems = check_call(call("chat.postMessage", {"channel": "C1", "text": "hi", "colour": "red"}))
    assert problems and "colour" in problems[0]


def test_missing_required_argument_is_a_violation() -> None:
    form = "application/x-www-form-urlencoded"
    problems = check_call(call("conversations.invite", {"channel": "C1"}, content_type=form))
    assert any("users" in p for p in problems)


def test_unknown_method_is_a_violation() -> None:
    assert check_call(call("chat.shout", {"channel": "C1"})) == ["chat.shout: method is not in Slack's spec"]


def test_invalid_block_kit_is_a_violation() -> None:
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert check_call(call("chat.postMessage", {"channel": "C1", "text": "x", "blocks": too_long}))
    assert check_call(call("chat.postMessage", {"channel": "C1", "text": "x", "blocks": [{"type": "banana"}]}))
    fifty_one = [{"type": "divider"}] * 51
    assert check_call(call("chat.postMessage", {"channel": "C1", "text": "x", "blocks": fifty_one}))


def test_modal_title_limit_is_checked() -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "A title far longer than Slack allows"},
            "blocks": []}
    problems = check_call(call("views.open", {"trigger_id": "1.2", "view": view}))
    assert any("title" in p for p in problems)


def test_unescaped_angle_brackets_in_mrkdwn_are_violations() -> None:
    good = "Owner <@U0ALICE>, see <#C0GENERAL> and <https://jira.example.com/browse/AI-1|AI-1>; 2 &lt; 3"
    assert check_call(call("chat.postMessage", {"channel": "C1", "text": good})) == []
    ping = [{"type": "section", "text": {"type": "mrkdwn", "text": "user wrote <!channel>"}}]
    assert check_call(call("chat.postMessage", {"channel": "C1", "text": "x", "blocks": ping}))
    literal = {"type": "home", "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "/<cmd> help"}]}]}
    assert check_call(call("views.publish", {"user_id": "U1", "view": literal}))
