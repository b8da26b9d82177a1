"""Block Kit builders: pure functions returning dicts, kept inside Slack's limits."""

from __future__ import annotations

from typing import Any

from bot.domain.text import readable, split_text, truncate

SECTION_TEXT_LIMIT = 3000
MAX_MESSAGE_BLOCKS = 50
FALLBACK_TEXT_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
HEADER_TEXT_LIMIT = 150

Block = dict[str, Any]


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def plain(text: str, limit: int = SECTION_TEXT_LIMIT) -> dict[str, Any]:
    """A plain_text object. Slack shows plain_text as it is, so mentions and links are spelt out first."""
    return {"type": "plain_text", "text": truncate(readable(text) or " ", limit), "emoji": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_TEXT_LIMIT)}


def sections(text: str) -> list[Block]:
    """One or more mrkdwn sections holding `text` (already escaped where it is untrusted)."""
    return [{"type": "section", "text": mrkdwn(chunk or " ")} for chunk in split_text(text, SECTION_TEXT_LIMIT)]


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(truncate(text, SECTION_TEXT_LIMIT))]}


def divider() -> Block:
    return {"type": "divider"}


def button(label: str, action_id: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(label, BUTTON_TEXT_LIMIT),
        "action_id": action_id,
        "value": value[:2000],
    }
    if style in ("primary", "danger"):
        element["style"] = style
    return element


def actions(*elements: dict[str, Any]) -> Block:
    return {"type": "actions", "elements": list(elements)[:25]}


def message(text: str, blocks: list[Block] | None = None) -> dict[str, Any]:
    """A message payload: fallback `text` for notifications plus at most 50 blocks."""
    payload: dict[str, Any] = {"text": truncate(text, FALLBACK_TEXT_LIMIT)}
    if blocks:
        if len(blocks) > MAX_MESSAGE_BLOCKS:
            blocks = blocks[: MAX_MESSAGE_BLOCKS - 1] + [context("…more was cut to fit one message.")]
        payload["blocks"] = blocks
    return payload


def jira_line(link: Any) -> str:
    """`🔗 Jira: PM-12`, linked, for an item that has a Jira twin (a JiraLink row)."""
    return f"🔗 Jira: <{link.url}|{link.jira_key}>"
