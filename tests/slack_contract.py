"""The contract check: every Web API request the bot made is checked against Slack's published spec,
and every Block Kit payload against slack_sdk's own models and Slack's documented limits.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator
from slack_sdk.models.blocks import Block

from bot.sandbox.server import Call

SPEC_PATH = Path(__file__).parent / "specs" / "slack_web_openapi3.harness.json"

# Methods newer than the 2020 spec. Each is named with where its arguments are documented; the
# sandbox still checks their required arguments and answers with Slack's errors.
NOT_IN_SPEC = {
    "apps.connections.open": "Socket Mode (2020-12), no arguments besides the app token",
    "bookmarks.add": "channel bookmarks (2021): channel_id, title, type, link, emoji",
    "bookmarks.list": "channel bookmarks (2021): channel_id",
}
# Arguments newer than the 2020 spec, per method, each named with where it is documented; checked by shape here.
NEWER_ARGS = {
    "chat.postMessage": {"metadata": "message metadata (2022): {event_type, event_payload}"},
    "chat.update": {"metadata": "message metadata (2022)"},
    "conversations.history": {"include_all_metadata": "message metadata (2022): boolean"},
}
# Sent by slack_sdk itself, not by our code: `token` (when not a header) and `team_id`, which the
# per-request client Bolt builds adds to every call (Slack accepts it on all methods for org-wide apps).
TRANSPORT_ARGS = frozenset({"token", "team_id"})
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
VIEW_TITLE_MAX = 24
PRIVATE_METADATA_MAX = 3000


@cache
def _operations() -> dict[str, dict[str, Any]]:
    spec = json.loads(SPEC_PATH.read_text())
    return {path.lstrip("/"): ops["post"]["requestBody"]["content"] for path, ops in spec["paths"].items()
            if "post" in ops}


def check_call(call: Call) -> list[str]:
    """Every way this request breaks the spec or Block Kit, as readable lines."""
    problems = _check_spec(call)
    problems += _check_blocks(call)
    return [f"{call.method}: {p}" for p in problems]


def _check_spec(call: Call) -> list[str]:
    content = _operations().get(call.method)
    if content is None:
        return [] if call.method in NOT_IN_SPEC else ["method is not in Slack's spec"]
    media = content.get(call.content_type) or content.get("application/x-www-form-urlencoded")
    validator = OAS30Validator(media["schema"])
    newer = NEWER_ARGS.get(call.method, {})
    body = {k: v for k, v in call.raw.items() if k not in TRANSPORT_ARGS and k not in newer}
    problems = [f"{'/'.join(map(str, e.path)) or 'request'}: {e.message}" for e in validator.iter_errors(body)]
    return problems + [p for name in newer if name in call.raw for p in _check_newer(name, call.raw[name])]


def _check_newer(name: str, value: Any) -> list[str]:
    """Arguments the spec predates, checked against their documented shape."""
    if name == "include_all_metadata":
        return [] if str(value).lower() in ("true", "false", "1", "0") else [f"{name}: not a boolean"]
    metadata = json.loads(value) if isinstance(value, str) else value
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str) \
            or not isinstance(metadata.get("event_payload"), dict):
        return [f"{name}: needs event_type (a string) and event_payload (an object)"]
    return []


# What the bot may put between < and > in mrkdwn: mentions, channel links, dates, user groups and URLs.
# Anything else (a literal "<command>", an unescaped "<!channel>" from user text) renders wrongly or pings.
_CONTROL = re.compile(r"<([^<>]*)>")
_ALLOWED_CONTROL = re.compile(r"^(@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|!date\^|!subteam\^|https?://|mailto:)")


def _check_mrkdwn(text: str, where: str) -> list[str]:
    return [f"{where}: unescaped <{inner}> in mrkdwn" for inner in _CONTROL.findall(text)
            if not _ALLOWED_CONTROL.match(inner)]


def _mrkdwn_texts(value: Any, where: str) -> list[tuple[str, str]]:
    """Every mrkdwn string inside blocks, with a path for the message."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append((value["text"], where))
        for key, inner in value.items():
            found += _mrkdwn_texts(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _mrkdwn_texts(inner, f"{where}[{index}]")
    return found


def _check_blocks(call: Call) -> list[str]:
    problems: list[str] = []
    if isinstance(call.args.get("text"), str):
        problems += _check_mrkdwn(call.args["text"], "text")
    for text, where in _mrkdwn_texts(call.args.get("blocks"), "blocks") + _mrkdwn_texts(call.args.get("view"),
                                                                                        "view"):
        problems += _check_mrkdwn(text, where)
    blocks = call.args.get("blocks")
    if isinstance(blocks, list):
        if len(blocks) > MESSAGE_BLOCKS_MAX:
            problems.append(f"{len(blocks)} blocks in a message (max {MESSAGE_BLOCKS_MAX})")
        problems += _invalid_blocks(blocks)
    view = call.args.get("view")
    if isinstance(view, dict):
        problems += _check_view(view)
    return problems


def _check_view(view: dict[str, Any]) -> list[str]:
    problems = _invalid_blocks(view.get("blocks") or [])
    if len(view.get("blocks") or []) > VIEW_BLOCKS_MAX:
        problems.append(f"view has more than {VIEW_BLOCKS_MAX} blocks")
    for key in ("title", "submit", "close"):
        text = (view.get(key) or {}).get("text", "")
        if len(text) > VIEW_TITLE_MAX:
            problems.append(f"view {key} longer than {VIEW_TITLE_MAX} characters: {text!r}")
    if len(view.get("private_metadata") or "") > PRIVATE_METADATA_MAX:
        problems.append("private_metadata longer than 3000 characters")
    if view.get("type") == "modal" and not view.get("title"):
        problems.append("modal without a title")
    return problems


def _invalid_blocks(blocks: list[Any]) -> list[str]:
    problems = []
    for index, raw in enumerate(blocks):
        if not isinstance(raw, dict) or "type" not in raw:
            problems.append(f"block {index} has no type")
            continue
        block = Block.parse(raw)
        if block is None:
            problems.append(f"block {index} is not a known Block Kit block: {raw.get('type')!r}")
            continue
        try:
            block.validate_json()
        except Exception as exc:  # noqa: BLE001 — slack_sdk raises SlackObjectFormationError and others
            problems.append(f"block {index} ({raw['type']}): {exc}")
    return problems


def violations(calls: list[Call]) -> list[str]:
    """All contract problems in a test's traffic."""
    return [problem for call in calls for problem in check_call(call)]
