"""A person's reply in a thread, read from every kind of `message` event Slack sends for one.

Slack sends a thread reply as a plain message, as `thread_broadcast` ("also send to channel"), as
`file_share` (a screenshot, with or without text) and, when it is edited, as `message_changed` carrying
the new message inside. `message_deleted`, bot messages and other subtypes are not replies. The event's
text has been decoded once at the edge (`bot.edge.Event.data`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Subtypes a person's own reply can have (None: an ordinary message).
REPLY_SUBTYPES = (None, "thread_broadcast", "file_share")


@dataclass(frozen=True)
class ThreadReply:
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    files: tuple[str, ...]  # the names of the files shared with it
    edited: bool

    def answer_text(self) -> str:
        """What the reply says: its text, or, for a file shared without text, a line naming the file."""
        if self.text.strip() or not self.files:
            return self.text
        return f"(shared a file: {', '.join(self.files)})"


def thread_reply(data: dict[str, Any], *, bot_user_id: str = "") -> ThreadReply | None:
    """The reply a `message` event carries (an edit carries the new version), or None when it is not one."""
    message = data
    if data.get("subtype") == "message_changed":
        message = data.get("message") or {}
        if not _changed(message, data.get("previous_message") or {}):
            return None  # Slack also sends message_changed when it adds a link preview: nothing new was said
    elif data.get("subtype") not in REPLY_SUBTYPES:
        return None
    if message.get("subtype") not in REPLY_SUBTYPES or message.get("bot_id") or message.get("bot_profile"):
        return None
    user, thread_ts, ts = message.get("user") or "", message.get("thread_ts") or "", message.get("ts") or ""
    if not user or user == bot_user_id or not thread_ts or thread_ts == ts:
        return None
    return ThreadReply(channel=data.get("channel") or message.get("channel") or "", thread_ts=thread_ts, ts=ts,
                       user=user, text=message.get("text") or "", files=_file_names(message),
                       edited=message is not data)


def _changed(message: dict[str, Any], previous: dict[str, Any]) -> bool:
    if not previous:
        return True
    return message.get("text") != previous.get("text") or _file_names(message) != _file_names(previous)


def _file_names(message: dict[str, Any]) -> tuple[str, ...]:
    names = []
    for file in message.get("files") or []:
        if isinstance(file, dict):
            names.append(str(file.get("name") or file.get("title") or file.get("id") or "file"))
        else:
            names.append(str(file))  # a bare file id
    return tuple(names)
