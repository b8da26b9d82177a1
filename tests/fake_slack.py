"""FakeSlack: the Slack port in memory, for fast service tests (no HTTP, no sandbox, no threads).

It implements every primitive of `bot.gateways.slack_port.SlackPort` as Slack answers it (channels and their members,
messages and threads, pins, bookmarks, views, files, people and user groups, with Slack's error codes: `name_taken`,
`not_in_channel`, `channel_not_found`, `already_in_channel`, …) and inherits the methods made of primitives, so a
service runs its real Slack logic. Every call is recorded under the port's method name; `fail` makes the next calls of
one fail with a Slack error code, raised as the real port raises it (the same translation, `bot.gateways.slack`).
End-to-end tests keep the sandbox (bot/sandbox), which speaks HTTP to the real slack_sdk client.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from bot.gateways.slack import translate
from bot.gateways.slack_port import Blocks, Posted, SlackPort

BOT_USER = "U0PMBOT"
BOT_ID = "B0PMBOT"
GENERAL = "C0GENERAL"
TOKEN = "xoxb-fake"

# The Web API method behind each primitive: the name a Slack error carries (`exc.method`), as in production.
SLACK_METHODS: dict[str, str] = {
    "identity": "auth.test",
    "post_message": "chat.postMessage",
    "update_message": "chat.update",
    "post_ephemeral": "chat.postEphemeral",
    "permalink": "chat.getPermalink",
    "open_view": "views.open",
    "update_view": "views.update",
    "publish_home": "views.publish",
    "create_channel": "conversations.create",
    "invite": "conversations.invite",
    "join_channel": "conversations.join",
    "set_topic": "conversations.setTopic",
    "set_purpose": "conversations.setPurpose",
    "archive_channel": "conversations.archive",
    "unarchive_channel": "conversations.unarchive",
    "pin": "pins.add",
    "add_bookmark": "bookmarks.add",
    "channel_info": "conversations.info",
    "list_channels": "conversations.list",
    "history": "conversations.history",
    "channel_members": "conversations.members",
    "replies": "conversations.replies",
    "open_dm": "conversations.open",
    "user_info": "users.info",
    "user_by_email": "users.lookupByEmail",
    "list_users": "users.list",
    "usergroups": "usergroups.list",
    "usergroup_members": "usergroups.users.list",
    "upload_file": "files.completeUploadExternal",  # files_upload_v2's last step: the one that shares (or refuses)
    "file_info": "files.info",
}


@dataclass(frozen=True)
class FakeCall:
    method: str  # the port's method, e.g. "post_message"
    args: dict[str, Any]  # what the caller gave it (None left out)


@dataclass
class _Failure:
    code: str
    times: int
    status: int
    retry_after: float | None
    needed: str | None


class FakeSlack(SlackPort):
    """A workspace with #general (pmbot in it) and pmbot's own user; add channels, people and groups as needed."""

    def __init__(self, *, page_size: int = 100) -> None:
        super().__init__(client=None)  # type: ignore[arg-type]  # every primitive is answered here, never by a client
        self.page_size = page_size
        self.calls: list[FakeCall] = []
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.homes: dict[str, dict[str, Any]] = {}
        self.pins: list[tuple[str, str]] = []
        self.bookmarks: list[dict[str, str]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, _Failure] = {}
        self._ids = itertools.count(1)
        self._last_us = 0
        self.add_user(BOT_USER, "pmbot", bot=True, channels=())
        self.add_channel(GENERAL, "general")

    # --- setting the scene ------------------------------------------------------------------------------

    def add_channel(self, channel_id: str, name: str, *, private: bool = False, bot_member: bool = True,
                    members: Iterable[str] = (), archived: bool = False) -> str:
        self.channels[channel_id] = {
            "id": channel_id, "name": name, "is_private": private, "is_archived": archived, "is_im": False,
            "creator": "U0SOMEONE", "topic": "", "purpose": "",
            "members": set(members) | ({BOT_USER} if bot_member else set())}
        return channel_id

    def add_user(self, user_id: str, name: str, *, real_name: str | None = None, email: str | None = None,
                 admin: bool = False, deleted: bool = False, bot: bool = False,
                 channels: Iterable[str] = (GENERAL,)) -> str:
        self.users[user_id] = {"id": user_id, "name": name, "deleted": deleted, "is_admin": admin, "is_bot": bot,
                               "profile": {"display_name": name, "real_name": real_name or name,
                                           **({"email": email} if email else {})}}
        for channel in channels:
            self.channels[channel]["members"].add(user_id)
        return user_id

    def add_usergroup(self, group_id: str, handle: str, users: Iterable[str], *, name: str | None = None) -> str:
        self.groups[group_id] = {"id": group_id, "handle": handle, "name": name or handle, "users": list(users)}
        return group_id

    def fail(self, method: str, code: str = "fatal_error", *, times: int = 1, status: int = 200,
             retry_after: float | None = None, needed: str | None = None) -> None:
        """The next `times` calls of the port's `method` fail with Slack's error `code` (HTTP `status`; a 429 with
        `retry_after` seconds; `needed` is the scope of a `missing_scope`)."""
        assert method in SLACK_METHODS, f"{method} is not a primitive of the port"
        self._failures[method] = _Failure(code, times, status, retry_after, needed)

    # --- reading what happened --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The arguments of each call of the port's `method`, in order (failed ones included)."""
        return [c.args for c in self.calls if c.method == method]

    def posted_in(self, channel: str) -> list[dict[str, Any]]:
        """The messages in `channel`, oldest first, thread replies included."""
        return [m for m in self.messages if m["channel"] == channel]

    # --- messages ---------------------------------------------------------------------------------------

    def post_message(self, channel: str, *, text: str, blocks: Blocks | None = None, thread_ts: str | None = None,
                     metadata: dict[str, Any] | None = None) -> Posted:
        self._call("post_message", channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, metadata=metadata)
        self._writable("post_message", channel)
        if thread_ts is not None:
            self._message("post_message", channel, thread_ts, missing="thread_not_found")
        message = {"type": "message", "channel": channel, "ts": self._ts(), "text": text, "user": BOT_USER,
                   "bot_id": BOT_ID, **_given(blocks=blocks, thread_ts=thread_ts, metadata=metadata)}
        self.messages.append(message)
        return Posted(channel, message["ts"])

    def update_message(self, channel: str, ts: str, *, text: str, blocks: Blocks | None = None) -> None:
        self._call("update_message", channel=channel, ts=ts, text=text, blocks=blocks)
        message = self._message("update_message", channel, ts)
        if message.get("bot_id") != BOT_ID:
            self._refuse("update_message", "cant_update_message")
        message.update(text=text, edited={"user": BOT_USER, "ts": self._ts()}, **_given(blocks=blocks))

    def post_ephemeral(self, channel: str, user: str, *, text: str, blocks: Blocks | None = None,
                       thread_ts: str | None = None) -> None:
        self._call("post_ephemeral", channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts)
        room = self._writable("post_ephemeral", channel)
        if user not in room["members"]:
            self._refuse("post_ephemeral", "user_not_in_channel")
        self.ephemerals.append({"channel": channel, "user": user, "text": text,
                                **_given(blocks=blocks, thread_ts=thread_ts)})

    def permalink(self, channel: str, ts: str) -> str:
        self._call("permalink", channel=channel, ts=ts)
        self._message("permalink", channel, ts)
        return f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    # --- views ------------------------------------------------------------------------------------------

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        self._call("open_view", trigger_id=trigger_id, view=view)
        if not trigger_id:
            self._refuse("open_view", "invalid_trigger_id")
        self.views.append(view)
        return f"V0FAKE{len(self.views):04d}"

    def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        self._call("update_view", view_id=view_id, view=view)
        number = int(view_id[6:]) if view_id.startswith("V0FAKE") and view_id[6:].isdigit() else 0
        if not 0 < number <= len(self.views):
            self._refuse("update_view", "not_found")
        self.views[number - 1] = view

    def publish_home(self, user_id: str, view: dict[str, Any], hash: str | None = None) -> None:  # noqa: A002
        self._call("publish_home", user_id=user_id, view=view, hash=hash)
        self._user("publish_home", user_id)
        self.homes[user_id] = view

    # --- channels ---------------------------------------------------------------------------------------

    def create_channel(self, name: str) -> str:
        self._call("create_channel", name=name)
        if any(c["name"] == name for c in self.channels.values()):  # archived channels keep their names
            self._refuse("create_channel", "name_taken")
        if not name or len(name) > 80 or name != name.lower() or " " in name:
            self._refuse("create_channel", "invalid_name_specials")
        channel_id = self.add_channel(f"C0FAKE{next(self._ids):04d}", name)
        self.channels[channel_id]["creator"] = BOT_USER
        return channel_id

    def invite(self, channel: str, user: str) -> None:
        self._call("invite", channel=channel, user=user)
        room = self._writable("invite", channel)
        if user == BOT_USER:
            self._refuse("invite", "cant_invite_self")
        self._user("invite", user)
        if user in room["members"]:
            self._refuse("invite", "already_in_channel")
        room["members"].add(user)

    def join_channel(self, channel: str) -> None:
        self._call("join_channel", channel=channel)
        room = self._channel("join_channel", channel)
        if room["is_private"] or room["is_im"]:
            self._refuse("join_channel", "method_not_supported_for_channel_type")
        if room["is_archived"]:
            self._refuse("join_channel", "is_archived")
        room["members"].add(BOT_USER)

    def set_topic(self, channel: str, topic: str) -> None:
        self._call("set_topic", channel=channel, topic=topic)
        self._writable("set_topic", channel)["topic"] = topic

    def set_purpose(self, channel: str, purpose: str) -> None:
        self._call("set_purpose", channel=channel, purpose=purpose)
        self._writable("set_purpose", channel)["purpose"] = purpose

    def archive_channel(self, channel: str) -> None:
        self._call("archive_channel", channel=channel)
        room = self._channel("archive_channel", channel)
        if room["is_archived"]:
            self._refuse("archive_channel", "already_archived")
        room["is_archived"] = True

    def unarchive_channel(self, channel: str) -> None:
        self._call("unarchive_channel", channel=channel)
        room = self._channel("unarchive_channel", channel)
        if not room["is_archived"]:
            self._refuse("unarchive_channel", "not_archived")
        room["is_archived"] = False

    def pin(self, channel: str, ts: str) -> None:
        self._call("pin", channel=channel, ts=ts)
        self._message("pin", channel, ts)
        if (channel, ts) in self.pins:
            self._refuse("pin", "already_pinned")
        self.pins.append((channel, ts))

    def add_bookmark(self, channel: str, *, title: str, link: str) -> None:
        self._call("add_bookmark", channel=channel, title=title, link=link)
        self._writable("add_bookmark", channel)
        self.bookmarks.append({"channel": channel, "title": title, "link": link})

    def channel_info(self, channel: str) -> dict[str, Any]:
        self._call("channel_info", channel=channel)
        return _shown(self._channel("channel_info", channel))

    def list_channels(self, cursor: str | None = None) -> dict[str, Any]:
        self._call("list_channels", cursor=cursor)
        listed = [_shown(c) for c in self.channels.values() if not c["is_im"] and not c["is_archived"]]
        return self._page("channels", listed, cursor)

    def channel_members(self, channel: str, cursor: str | None = None) -> dict[str, Any]:
        self._call("channel_members", channel=channel, cursor=cursor)
        room = self._channel("channel_members", channel)
        if room["is_private"] and BOT_USER not in room["members"]:
            self._refuse("channel_members", "channel_not_found")
        return self._page("members", sorted(room["members"]), cursor)  # type: ignore[arg-type]

    def history(self, channel: str, *, limit: int, oldest: str | None = None, latest: str | None = None,
                inclusive: bool = False, include_all_metadata: bool = False,
                cursor: str | None = None) -> dict[str, Any]:
        self._call("history", channel=channel, limit=limit, oldest=oldest, latest=latest, inclusive=inclusive or None,
                   include_all_metadata=include_all_metadata or None, cursor=cursor)
        room = self._channel("history", channel)
        if BOT_USER not in room["members"]:
            self._refuse("history", "not_in_channel")
        found = [_visible(m, include_all_metadata) for m in reversed(self.posted_in(channel))
                 if m.get("thread_ts", m["ts"]) == m["ts"] and _within(m["ts"], oldest, latest, inclusive)]
        start = int(cursor or 0)
        page = found[start:start + limit]
        more = start + limit < len(found)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def replies(self, channel: str, ts: str, *, limit: int) -> dict[str, Any]:
        self._call("replies", channel=channel, ts=ts, limit=limit)
        self._message("replies", channel, ts, missing="thread_not_found")
        thread = [m for m in self.posted_in(channel) if m["ts"] == ts or m.get("thread_ts") == ts]
        return {"ok": True, "messages": [_visible(m, False) for m in thread[:limit]],
                "has_more": len(thread) > limit}

    def open_dm(self, user: str) -> str:
        self._call("open_dm", user=user)
        self._user("open_dm", user)
        dm = "D" + user[1:]
        if dm not in self.channels:
            self.channels[dm] = {"id": dm, "name": None, "is_private": True, "is_archived": False, "is_im": True,
                                 "user": user, "creator": user, "topic": "", "purpose": "",
                                 "members": {BOT_USER, user}}
        return dm

    # --- people -----------------------------------------------------------------------------------------

    def identity(self) -> dict[str, str]:
        self._call("identity")
        return {"user_id": BOT_USER, "user": "pmbot", "team": "sandbox", "url": "https://sandbox.slack.com/"}

    def user_info(self, user: str) -> dict[str, Any]:
        self._call("user_info", user=user)
        return dict(self._user("user_info", user))

    def user_by_email(self, email: str) -> dict[str, Any]:
        self._call("user_by_email", email=email)
        found = next((u for u in self.users.values() if u["profile"].get("email") == email), None)
        if found is None:
            self._refuse("user_by_email", "users_not_found")
        return dict(found)

    def list_users(self, cursor: str | None = None) -> dict[str, Any]:
        self._call("list_users", cursor=cursor)
        return self._page("members", [dict(u) for u in self.users.values()], cursor)

    def usergroups(self) -> list[dict[str, Any]]:
        self._call("usergroups")
        return [{k: v for k, v in g.items() if k != "users"} for g in self.groups.values()]

    def usergroup_members(self, usergroup: str) -> list[str]:
        self._call("usergroup_members", usergroup=usergroup)
        if usergroup not in self.groups:
            self._refuse("usergroup_members", "no_such_subteam")
        return list(self.groups[usergroup]["users"])

    # --- files ------------------------------------------------------------------------------------------

    def upload_file(self, channel: str, *, content: bytes, filename: str, title: str, comment: str | None = None,
                    thread_ts: str | None = None) -> None:
        self._call("upload_file", channel=channel, content=content, filename=filename, title=title,
                   comment=comment, thread_ts=thread_ts)
        self._writable("upload_file", channel)
        file_id = f"F0FAKE{next(self._ids):04d}"
        self.files[file_id] = {"id": file_id, "name": filename, "title": title, "size": len(content),
                               "content": content, "filetype": filename.rsplit(".", 1)[-1], "channels": [channel]}
        self.messages.append({"type": "message", "channel": channel, "ts": self._ts(), "text": comment or "",
                              "user": BOT_USER, "bot_id": BOT_ID, "files": [{"id": file_id, "name": filename}],
                              **_given(thread_ts=thread_ts)})

    def file_info(self, file_id: str) -> dict[str, Any]:
        self._call("file_info", file_id=file_id)
        if file_id not in self.files:
            self._refuse("file_info", "file_not_found")
        return {k: v for k, v in self.files[file_id].items() if k != "content"}

    @property
    def token(self) -> str:
        return TOKEN

    # --- the workings -----------------------------------------------------------------------------------

    def _call(self, method: str, **args: Any) -> None:
        """Record the call; fail it when `fail` said so."""
        self.calls.append(FakeCall(method, _given(**args)))
        failure = self._failures.get(method)
        if failure is None:
            return
        failure.times -= 1
        if failure.times <= 0:
            del self._failures[method]
        self._refuse(method, failure.code, status=failure.status, retry_after=failure.retry_after,
                     needed=failure.needed)

    def _refuse(self, method: str, code: str, *, status: int = 200, retry_after: float | None = None,
                needed: str | None = None) -> NoReturn:
        """Raise what the real port raises when Slack answers `code`: slack_sdk's error, translated the same way."""
        api = SLACK_METHODS[method]
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        response = SlackResponse(client=None, http_verb="POST", api_url=f"https://slack.com/api/{api}", req_args={},
                                 data={"ok": False, "error": code, **_given(needed=needed)}, headers=headers,
                                 status_code=status)
        raise translate(SlackApiError(f"The request to the Slack API failed. ({api}: {code})", response), api)

    def _channel(self, method: str, channel: str) -> dict[str, Any]:
        room = self.channels.get(channel)
        if room is None:
            self._refuse(method, "channel_not_found")
        return room

    def _writable(self, method: str, channel: str) -> dict[str, Any]:
        """A channel pmbot may write in: it exists, is not archived, and pmbot is a member."""
        room = self._channel(method, channel)
        if room["is_archived"]:
            self._refuse(method, "is_archived")
        if BOT_USER not in room["members"]:
            self._refuse(method, "not_in_channel")
        return room

    def _message(self, method: str, channel: str, ts: str, *, missing: str = "message_not_found") -> dict[str, Any]:
        self._channel(method, channel)
        found = next((m for m in self.messages if m["channel"] == channel and m["ts"] == ts), None)
        if found is None:
            self._refuse(method, missing)
        return found

    def _user(self, method: str, user: str) -> dict[str, Any]:
        found = self.users.get(user)
        if found is None:
            self._refuse(method, "user_not_found")
        return found

    def _page(self, key: str, items: list[dict[str, Any]], cursor: str | None) -> dict[str, Any]:
        start = int(cursor or 0)
        end = start + self.page_size
        return {"ok": True, key: items[start:end],
                "response_metadata": {"next_cursor": str(end) if end < len(items) else ""}}

    def _ts(self) -> str:
        """A message ts as Slack makes them: the time it was posted (to the microsecond), unique in the workspace."""
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"


def _given(**args: Any) -> dict[str, Any]:
    return {name: value for name, value in args.items() if value is not None}


def _shown(room: dict[str, Any]) -> dict[str, Any]:
    """A channel as Slack shows it: members become `is_member`, topic and purpose are objects."""
    shown = {k: v for k, v in room.items() if k != "members"}
    shown.update(is_member=BOT_USER in room["members"], num_members=len(room["members"]),
                 topic={"value": room["topic"]}, purpose={"value": room["purpose"]})
    return shown


def _visible(message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
    """A message as conversations.history shows it: metadata only when asked for, no channel field."""
    return {k: v for k, v in message.items() if k != "channel" and (with_metadata or k != "metadata")}


def _within(ts: str, oldest: str | None, latest: str | None, inclusive: bool) -> bool:
    value = float(ts)
    if oldest is not None and (value < float(oldest) or (value == float(oldest) and not inclusive)):
        return False
    return latest is None or value < float(latest) or (value == float(latest) and inclusive)
