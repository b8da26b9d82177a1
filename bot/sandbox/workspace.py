"""The sandbox's in-memory workspace and its Web API methods, with Slack's shapes and error codes.

Each `api_<method>` (dots as underscores) takes the decoded arguments and returns the response fields
beside `"ok": true`, or raises SlackApiFailure with Slack's error string.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote

TEAM_ID = "T0SANDBOX"
BOT_USER_ID = "U0PMBOT"
BOT_ID = "B0PMBOT"
CHANNEL_NAME = re.compile(r"^[a-z0-9_\-]+$")
CHANNEL_NAME_MAX = 80
TOPIC_MAX = 250
TRIGGER_LIFETIME_SECONDS = 3.0
# conversations.history: 100 messages a page unless asked, 999 at most (Slack's method page).
HISTORY_LIMIT_DEFAULT = 100
HISTORY_LIMIT_MAX = 999
# Message metadata: "event_type can contain letters, numbers, underscores, and hyphens" (Slack's metadata guide);
# another one is ignored with the warning invalid_metadata_schema, the message is still posted.
EVENT_TYPE = re.compile(r"^[A-Za-z0-9_\-]+$")
CURSOR_PREFIX = "next_ts:"
SNAPSHOT_VERSION = 1
# Where url_private points until the sandbox's HTTP server is up (then it is the server's own base URL).
FILE_HOST = "https://files.slack.local/"
FILES_PATH = "files-pri/"
MIMETYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
             "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "md": "text/markdown",
             "json": "application/json"}


class SlackApiFailure(Exception):
    def __init__(self, error: str, *, messages: list[str] | None = None):
        super().__init__(error)
        self.error = error
        self.messages = messages or []


@dataclass
class User:
    id: str
    name: str
    tz: str = "UTC"
    is_bot: bool = False
    email: str | None = None
    is_admin: bool = False
    is_owner: bool = False

    def to_api(self, team_id: str) -> dict[str, Any]:
        # Slack's owners are admins too; the primary owner (one per workspace) is not modelled.
        return {"id": self.id, "team_id": team_id, "name": self.name, "real_name": self.name, "tz": self.tz,
                "is_bot": self.is_bot, "deleted": False, "is_admin": self.is_admin or self.is_owner,
                "is_owner": self.is_owner, "is_primary_owner": False,
                "profile": {"display_name": self.name, "real_name": self.name, "email": self.email}}


@dataclass
class Usergroup:
    """A user group's name and @handle; its members stay in `Workspace.usergroups` (id → user ids), the
    shape callers already read and write."""

    id: str
    handle: str
    name: str
    description: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    created_by: str = "USLACKBOT"

    def to_api(self, team_id: str, users: list[str], *, with_users: bool) -> dict[str, Any]:
        """Slack's subteam object (the fields the 2020 spec requires, plus user_count and, if asked, users)."""
        group: dict[str, Any] = {
            "id": self.id, "team_id": team_id, "is_usergroup": True, "is_subteam": True, "name": self.name,
            "description": self.description, "handle": self.handle, "is_external": False,
            "date_create": self.created, "date_update": self.created, "date_delete": 0, "auto_type": None,
            "auto_provision": False, "enterprise_subteam_id": "", "created_by": self.created_by,
            "updated_by": self.created_by, "deleted_by": None, "prefs": {"channels": [], "groups": []},
            "user_count": len(users)}
        if with_users:
            group["users"] = list(users)
        return group


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    pins: list[str] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    creator: str = ""  # who made the channel (Slack's conversations.info says it)

    def to_api(self, viewer: str = BOT_USER_ID) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "is_channel": not self.is_private and not self.is_im,
                "is_group": self.is_private, "is_im": self.is_im, "is_private": self.is_private or self.is_im,
                "is_archived": self.is_archived, "is_member": viewer in self.members, "created": self.created,
                "num_members": len(self.members), "creator": self.creator,
                "topic": {"value": self.topic, "creator": "", "last_set": 0},
                "purpose": {"value": self.purpose, "creator": "", "last_set": 0}}


def kept_state(values: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """Slack keeps what was typed in an updated modal's inputs whose block_id and action_id are unchanged."""
    kept: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") if block.get("type") == "input" else None
        if not isinstance(element, dict) or "block_id" not in block:
            continue
        action_id = element.get("action_id") or "a"
        entry = (values.get(block["block_id"]) or {}).get(action_id)
        if entry is not None:
            kept.setdefault(block["block_id"], {})[action_id] = entry
    return {"values": kept}


def required(args: dict[str, Any], *keys: str) -> None:
    """Slack's answer to a call that lacks an argument it needs."""
    missing = [k for k in keys if args.get(k) in (None, "")]
    if missing:
        raise SlackApiFailure("invalid_arguments",
                              messages=[f"[ERROR] missing required field: {k}" for k in missing])


def _bool(value: Any) -> bool:
    return value in (True, "true", "1", 1, "True")


def _ts_value(value: Any, arg: str) -> Decimal:
    """A Slack timestamp (`"1712345678.000100"`, or a number) as an exact number: float would blur the last digits."""
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise SlackApiFailure("invalid_arguments", messages=[f"[ERROR] {arg} must be a timestamp"]) from None


def _metadata(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """(metadata to store, warning) from a `metadata` argument, as Slack takes it: a JSON object with an
    `event_type` and an `event_payload` object. Not JSON at all is an error; a bad event type or payload is
    dropped with the warning `invalid_metadata_schema`, and the message is posted without it."""
    if value in (None, ""):
        return None, None
    if not isinstance(value, dict):
        raise SlackApiFailure("invalid_metadata_format")
    event_type, payload = value.get("event_type"), value.get("event_payload")
    if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type) or not isinstance(payload, dict):
        return None, "invalid_metadata_schema"
    return {"event_type": event_type, "event_payload": payload}, None


def shown(message: dict[str, Any], *, with_metadata: bool) -> dict[str, Any]:
    """A stored message as a method returns it: its `metadata` only where the caller asked for all metadata."""
    if with_metadata or "metadata" not in message:
        return message
    return {k: v for k, v in message.items() if k != "metadata"}


def _cursor(ts: str) -> str:
    """Slack's history cursors are opaque base64 (`bmV4dF90czo…` decodes to `next_ts:…`); ours say the same."""
    return base64.b64encode((CURSOR_PREFIX + ts).encode()).decode()


def _cursor_ts(cursor: str) -> Decimal:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise SlackApiFailure("invalid_cursor") from None
    if not decoded.startswith(CURSOR_PREFIX):
        raise SlackApiFailure("invalid_cursor")
    try:
        return Decimal(decoded[len(CURSOR_PREFIX):])
    except InvalidOperation:
        raise SlackApiFailure("invalid_cursor") from None


def _limit(args: dict[str, Any]) -> int:
    """`limit` as Slack reads it: 100 when not given, at most 999; not a number is `invalid_limit`."""
    raw = args.get("limit")
    if raw in (None, ""):
        return HISTORY_LIMIT_DEFAULT
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise SlackApiFailure("invalid_limit") from None
    if limit < 1:
        raise SlackApiFailure("invalid_limit")
    return min(limit, HISTORY_LIMIT_MAX)


def _replace(target: dict[str, Any], items: dict[str, Any]) -> None:
    target.clear()
    target.update(items)


def _b64(content: bytes | None) -> str | None:
    return None if content is None else base64.b64encode(content).decode("ascii")


def _unb64(content: str | None) -> bytes | None:
    return None if content is None else base64.b64decode(content)


def file_kind(name: str) -> tuple[str, str]:
    """(filetype, mimetype) Slack would give a file of this name; unknown kinds are `binary`."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension in MIMETYPES:
        return extension, MIMETYPES[extension]
    return (extension or "binary"), "application/octet-stream"


def _within(ts: Decimal, oldest: Decimal, latest: Decimal | None, inclusive: bool, inclusive_latest: bool) -> bool:
    """Whether a message's ts falls in a history window; the ends count only when asked (`inclusive`)."""
    after = ts >= oldest if inclusive else ts > oldest
    if latest is None:
        return after
    return after and (ts <= latest if inclusive_latest else ts < latest)


class Workspace:
    """Users, channels, messages, views and files of one team."""

    def __init__(self, team_id: str = TEAM_ID):
        self.team_id = team_id
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, list[str]] = {}  # id → members; names and handles in usergroup_info
        self.usergroup_info: dict[str, Usergroup] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: list[dict[str, Any]] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_stacks: dict[str, list[str]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.file_host = FILE_HOST  # the sandbox server puts its base URL here, so url_private can be fetched
        self.triggers: dict[str, tuple[str, float]] = {}
        # Seconds since the epoch for message ts: the real time, or the shell's clock (so `time +36m` moves it).
        self.clock: Callable[[], float] = time.time
        # Plain counters, not itertools.count: a snapshot carries them on, so ids never repeat after a restart.
        self._counters = {"ts": 0, "id": 0}
        self._seed()

    # --- set-up -------------------------------------------------------------------------------

    def _seed(self) -> None:
        self.add_user(BOT_USER_ID, "pmbot", is_bot=True)
        self.add_user("U0ALICE", "alice", tz="Europe/Berlin", is_admin=True)
        self.add_user("U0BOB", "bob", tz="America/New_York")
        self.add_user("U0CARLOS", "carlos", tz="America/Mexico_City")
        self.add_channel("C0GENERAL", "general", members={BOT_USER_ID, "U0ALICE", "U0BOB", "U0CARLOS"})
        self.add_channel("C0RANDOM", "random", members={"U0ALICE", "U0BOB"})
        self.add_usergroup("S0ONCALL", "oncall", ["U0ALICE", "U0BOB"], name="On-call")

    def add_user(self, user_id: str, name: str, *, tz: str = "UTC", is_bot: bool = False, is_admin: bool = False,
                 is_owner: bool = False) -> User:
        self.users[user_id] = User(user_id, name, tz, is_bot, email=None if is_bot else f"{name}@example.com",
                                   is_admin=is_admin, is_owner=is_owner)
        return self.users[user_id]

    def add_usergroup(self, group_id: str, handle: str, users: list[str], *, name: str | None = None,
                      description: str = "") -> Usergroup:
        """A user group people mention as @handle. Handles are unique in a workspace, as in Slack."""
        handle = handle.lstrip("@")
        taken = self.usergroup_by_handle(handle)
        if taken is not None and taken.id != group_id:
            raise ValueError(f"the handle @{handle} belongs to {taken.id}")
        self.usergroup_info[group_id] = Usergroup(group_id, handle, name or handle, description)
        self.usergroups[group_id] = list(users)
        return self.usergroup_info[group_id]

    def usergroup(self, group_id: str) -> Usergroup:
        """The group's name and handle; a group put straight into `usergroups` gets its id as both."""
        found = self.usergroup_info.get(group_id)
        return found if found is not None else Usergroup(group_id, group_id.lower(), group_id, created=0)

    def usergroup_by_handle(self, handle: str) -> Usergroup | None:
        handle = handle.lstrip("@")
        return next((self.usergroup(g) for g in self.usergroups if self.usergroup(g).handle == handle), None)

    def add_channel(self, channel_id: str, name: str, *, members: set[str] | None = None,
                    is_private: bool = False) -> Channel:
        self.channels[channel_id] = Channel(channel_id, name, is_private, members=set(members or ()))
        return self.channels[channel_id]

    def next_ts(self) -> str:
        return f"{int(self.clock())}.{self._count('ts'):06d}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0{self._count('id'):07d}"

    def issue_trigger(self, user_id: str) -> str:
        trigger = f"{self._count('id')}.{int(time.time())}.sandbox"
        self.triggers[trigger] = (user_id, time.monotonic())
        return trigger

    def _count(self, key: str) -> int:
        self._counters[key] += 1
        return self._counters[key]

    # --- persistence --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What must outlive a restart, as JSON-ready data: the ids the bot's database holds must still
        resolve (people, channels with their members and topics, messages and files) and new ids must not
        repeat. Modals, ephemeral messages and triggers are a client's passing state and are left out."""
        return {
            "version": SNAPSHOT_VERSION, "team_id": self.team_id, "counters": dict(self._counters),
            "users": [asdict(u) for u in self.users.values()],
            "usergroups": self.usergroups,
            "usergroup_info": [asdict(g) for g in self.usergroup_info.values()],
            "channels": [{**asdict(c), "members": sorted(c.members)} for c in self.channels.values()],
            "messages": self.messages,
            "files": [{**f, "content": _b64(f.get("content"))} for f in self.files.values()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take back a `snapshot()`: what it holds replaces the seeded workspace."""
        if data.get("version") != SNAPSHOT_VERSION or data.get("team_id") != self.team_id:
            raise ValueError(f"not a snapshot of team {self.team_id} (version {SNAPSHOT_VERSION})")
        # In place: the sandbox and the driver hold on to these containers.
        _replace(self.users, {u["id"]: User(**u) for u in data["users"]})
        _replace(self.usergroups, {k: list(v) for k, v in data["usergroups"].items()})
        # Snapshots from before handles existed have none: their groups fall back to their ids.
        _replace(self.usergroup_info, {g["id"]: Usergroup(**g) for g in data.get("usergroup_info", [])})
        _replace(self.channels, {c["id"]: Channel(**{**c, "members": set(c["members"])}) for c in data["channels"]})
        self.messages[:] = data["messages"]
        _replace(self.files, {f["id"]: {**f, "content": _unb64(f.get("content"))} for f in data["files"]})
        for key, value in data["counters"].items():
            self._counters[key] = max(self._counters.get(key, 0), int(value))

    # --- lookups ------------------------------------------------------------------------------

    def channel(self, args: dict[str, Any], key: str = "channel") -> Channel:
        channel = self.channels.get(str(args.get(key) or ""))
        if channel is None:
            raise SlackApiFailure("channel_not_found")
        return channel

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def user(self, args: dict[str, Any], key: str = "user") -> User:
        user = self.users.get(str(args.get(key) or ""))
        if user is None:
            raise SlackApiFailure("user_not_found")
        return user

    def user_by_name(self, name: str) -> User | None:
        name = name.lstrip("@")
        return next((u for u in self.users.values() if u.name == name or u.id == name), None)

    def message(self, channel_id: str, ts: str) -> dict[str, Any]:
        for message in self.messages:
            if message["channel"] == channel_id and message["ts"] == ts:
                return message
        raise SlackApiFailure("message_not_found")

    def writable(self, channel: Channel) -> Channel:
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        if BOT_USER_ID not in channel.members:
            raise SlackApiFailure("not_in_channel")
        return channel

    def thread(self, channel_id: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel_id and (m["ts"] == ts or m.get("thread_ts") == ts)]

    # --- auth ---------------------------------------------------------------------------------

    def api_auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://sandbox.slack.local/", "team": "Sandbox", "user": "pmbot", "team_id": self.team_id,
                "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    # --- messages -----------------------------------------------------------------------------

    def post(self, channel: Channel, user_id: str, args: dict[str, Any]) -> dict[str, Any]:
        """Store a message (from the bot or a person) and return it."""
        thread_ts = args.get("thread_ts")
        if thread_ts not in (None, ""):
            parent = self.message(channel.id, str(thread_ts))
            if parent.get("thread_ts") not in (None, parent["ts"]):
                parent = self.message(channel.id, parent["thread_ts"])  # a reply's ts: Slack threads on the parent
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent.setdefault("thread_ts", parent["ts"])
            thread_ts = parent["ts"]
        message: dict[str, Any] = {"type": "message", "channel": channel.id, "ts": self.next_ts(), "user": user_id,
                                   "text": args.get("text") or "", "blocks": args.get("blocks") or []}
        if user_id == BOT_USER_ID:
            message["bot_id"] = BOT_ID
        if thread_ts not in (None, ""):
            message["thread_ts"] = str(thread_ts)
        if args.get("files"):
            message["files"] = args["files"]
        if args.get("metadata"):
            message["metadata"] = args["metadata"]  # checked by the caller (`_metadata`); apps only, as in Slack
        self.messages.append(message)
        return message

    def api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        """Post as the bot; `metadata` (event type + payload) is kept on the message for conversations.history
        with include_all_metadata."""
        channel = self.writable(self.channel(args))
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackApiFailure("no_text")
        if isinstance(args.get("blocks"), list) and len(args["blocks"]) > 50:
            raise SlackApiFailure("invalid_blocks")
        metadata, warning = _metadata(args.get("metadata"))
        message = self.post(channel, BOT_USER_ID, {**args, "metadata": metadata})
        answer = {"channel": channel.id, "ts": message["ts"], "message": message}
        return {**answer, "warning": warning} if warning else answer

    def api_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        user = self.user(args)
        if user.id not in channel.members:
            raise SlackApiFailure("user_not_in_channel")
        if not args.get("text") and not args.get("blocks"):
            raise SlackApiFailure("no_text")
        message = {"channel": channel.id, "user": user.id, "ts": self.next_ts(), "text": args.get("text") or "",
                   "blocks": args.get("blocks") or [], "source": "chat.postEphemeral"}
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        self.ephemeral.append(message)
        return {"message_ts": message["ts"]}

    def api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        required(args, "ts")
        message = self.message(channel.id, str(args["ts"]))
        if message["user"] != BOT_USER_ID:
            raise SlackApiFailure("cant_update_message")
        for key in ("text", "blocks"):
            if key in args:
                message[key] = args[key]
        if args.get("metadata"):
            metadata, _warning = _metadata(args["metadata"])
            if metadata is not None:
                message["metadata"] = metadata
        message["edited"] = {"user": BOT_USER_ID, "ts": self.next_ts()}
        return {"channel": channel.id, "ts": message["ts"], "text": message["text"]}

    def api_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        required(args, "ts")
        message = self.message(channel.id, str(args["ts"]))
        if message["user"] != BOT_USER_ID:
            raise SlackApiFailure("cant_delete_message")
        self.messages.remove(message)
        return {"channel": channel.id, "ts": message["ts"]}

    def api_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        if (channel.is_private or channel.is_im) and BOT_USER_ID not in channel.members:
            raise SlackApiFailure("channel_not_found")  # as Slack: a conversation the bot cannot see is not found
        required(args, "message_ts")
        message = self.message(channel.id, str(args["message_ts"]))
        link = f"https://sandbox.slack.local/archives/{channel.id}/p{message['ts'].replace('.', '')}"
        return {"channel": channel.id, "permalink": link}

    # --- conversations ------------------------------------------------------------------------

    def api_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        if not name:
            raise SlackApiFailure("invalid_name_required")
        if len(name) > CHANNEL_NAME_MAX:
            raise SlackApiFailure("invalid_name_maxlength")
        if not CHANNEL_NAME.match(name):
            raise SlackApiFailure("invalid_name_specials")
        if any(c.name == name for c in self.channels.values()):  # archived channels keep their names
            raise SlackApiFailure("name_taken")
        private = _bool(args.get("is_private"))
        channel = self.add_channel(self.new_id("G" if private else "C"), name, members={BOT_USER_ID},
                                   is_private=private)
        channel.creator = BOT_USER_ID
        return {"channel": channel.to_api()}

    def api_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "channel", "users")
        channel = self.writable(self.channel(args))
        ids = [u.strip() for u in str(args["users"]).split(",") if u.strip()]
        if len(ids) > 1000:
            raise SlackApiFailure("too_many_users")
        for user_id in ids:
            if user_id == BOT_USER_ID:
                raise SlackApiFailure("cant_invite_self")
            if user_id not in self.users:
                raise SlackApiFailure("user_not_found")
            if user_id in channel.members:
                raise SlackApiFailure("already_in_channel")
        channel.members.update(ids)
        return {"channel": channel.to_api()}

    def api_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        if channel.is_private or channel.is_im:
            raise SlackApiFailure("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        already = BOT_USER_ID in channel.members
        channel.members.add(BOT_USER_ID)
        result: dict[str, Any] = {"channel": channel.to_api()}
        if already:
            result["warning"] = "already_in_channel"
        return result

    def api_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        if channel.is_private and BOT_USER_ID not in channel.members:
            raise SlackApiFailure("channel_not_found")
        return {"channel": channel.to_api()}

    def api_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = str(args.get("types") or "public_channel").split(",")
        exclude_archived = _bool(args.get("exclude_archived"))
        found = []
        for channel in self.channels.values():
            kind = "im" if channel.is_im else "private_channel" if channel.is_private else "public_channel"
            if kind not in types or (exclude_archived and channel.is_archived):
                continue
            if kind != "public_channel" and BOT_USER_ID not in channel.members:
                continue
            found.append(channel.to_api())
        return {"channels": found, "response_metadata": {"next_cursor": ""}}

    def api_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        if channel.is_private and BOT_USER_ID not in channel.members:  # Slack hides it from a bot outside it
            raise SlackApiFailure("channel_not_found")
        return {"members": sorted(channel.members), "response_metadata": {"next_cursor": ""}}

    def _set_text(self, args: dict[str, Any], key: str) -> dict[str, Any]:
        required(args, "channel", key)
        channel = self.writable(self.channel(args))
        value = str(args[key])
        if len(value) > TOPIC_MAX:
            raise SlackApiFailure("too_long")
        setattr(channel, key, value)
        return {"channel": channel.to_api()}

    def api_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._set_text(args, "topic")

    def api_conversations_setPurpose(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._set_text(args, "purpose")

    def api_conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        if channel.is_archived:
            raise SlackApiFailure("already_archived")
        if BOT_USER_ID not in channel.members:
            raise SlackApiFailure("not_in_channel")
        channel.is_archived = True
        return {}

    def api_conversations_unarchive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        if not channel.is_archived:
            raise SlackApiFailure("not_archived")
        channel.is_archived = False
        return {}

    def api_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """The channel's messages (thread replies stay in their threads), newest first, between `oldest` and
        `latest` (both left out unless `inclusive`), `limit` a page with a `next_cursor` while `has_more`;
        message metadata only with `include_all_metadata`."""
        channel = self.channel(args)
        if BOT_USER_ID not in channel.members:
            raise SlackApiFailure("not_in_channel")
        oldest = _ts_value(args.get("oldest") or "0", "oldest")
        latest = _ts_value(args["latest"], "latest") if args.get("latest") not in (None, "") else None
        inclusive = _bool(args.get("inclusive"))
        if args.get("cursor"):
            latest, inclusive_latest = _cursor_ts(str(args["cursor"])), False  # the page after the cursor's message
        else:
            inclusive_latest = inclusive
        limit = _limit(args)
        top = [m for m in self.messages if m["channel"] == channel.id and m.get("thread_ts") in (None, m["ts"])]
        found = [m for m in sorted(top, key=lambda m: _ts_value(m["ts"], "ts"), reverse=True)
                 if _within(_ts_value(m["ts"], "ts"), oldest, latest, inclusive, inclusive_latest)]
        page, more = found[:limit], len(found) > limit
        with_metadata = _bool(args.get("include_all_metadata"))
        return {"messages": [shown(m, with_metadata=with_metadata) for m in page], "has_more": more,
                "pin_count": len(channel.pins),
                "response_metadata": {"next_cursor": _cursor(page[-1]["ts"]) if more else ""}}

    def api_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        required(args, "ts")
        self.message(channel.id, str(args["ts"]))
        with_metadata = _bool(args.get("include_all_metadata"))
        return {"messages": [shown(m, with_metadata=with_metadata) for m in self.thread(channel.id, str(args["ts"]))],
                "has_more": False}

    def api_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "users")
        user = self.user({"user": str(args["users"]).split(",")[0]})
        for channel in self.channels.values():
            if channel.is_im and channel.members == {BOT_USER_ID, user.id}:
                return {"channel": {"id": channel.id}, "already_open": True}
        channel = self.add_channel(self.new_id("D"), user.id, members={BOT_USER_ID, user.id})
        channel.is_im = True
        return {"channel": {"id": channel.id}}

    # --- reactions, pins, bookmarks -----------------------------------------------------------

    def react(self, channel_id: str, ts: str, name: str, user_id: str) -> dict[str, Any]:
        message = self.message(channel_id, ts)
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if user_id in reaction["users"]:
            raise SlackApiFailure("already_reacted")
        reaction["users"].append(user_id)
        reaction["count"] += 1
        return message

    def api_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "channel", "timestamp", "name")
        channel = self.channel(args)
        self.react(channel.id, str(args["timestamp"]), str(args["name"]).strip(":"), BOT_USER_ID)
        return {}

    def api_reactions_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "channel", "timestamp", "name")
        message = self.message(self.channel(args).id, str(args["timestamp"]))
        for reaction in message.get("reactions", []):
            if reaction["name"] == str(args["name"]).strip(":") and BOT_USER_ID in reaction["users"]:
                reaction["users"].remove(BOT_USER_ID)
                reaction["count"] -= 1
                return {}
        raise SlackApiFailure("no_reaction")

    def api_reactions_get(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "channel", "timestamp")
        channel = self.channel(args)
        message = self.message(channel.id, str(args["timestamp"]))
        return {"type": "message", "channel": channel.id, "message": shown(message, with_metadata=False)}

    def api_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "channel", "timestamp")
        channel = self.writable(self.channel(args))
        ts = str(args["timestamp"])
        self.message(channel.id, ts)
        if ts in channel.pins:
            raise SlackApiFailure("already_pinned")
        channel.pins.append(ts)
        return {}

    def api_pins_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "channel", "timestamp")
        channel = self.channel(args)
        if str(args["timestamp"]) not in channel.pins:
            raise SlackApiFailure("no_pin")
        channel.pins.remove(str(args["timestamp"]))
        return {}

    def api_pins_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args)
        items = [{"type": "message", "channel": channel.id,
                  "message": shown(self.message(channel.id, ts), with_metadata=False)} for ts in channel.pins]
        return {"items": items}

    def api_bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "channel_id", "title", "type")
        channel = self.writable(self.channel(args, "channel_id"))
        if args["type"] == "link" and not args.get("link"):
            raise SlackApiFailure("invalid_link")
        bookmark = {"id": self.new_id("Bk"), "channel_id": channel.id, "title": str(args["title"]),
                    "link": args.get("link"), "emoji": args.get("emoji"), "type": args["type"]}
        channel.bookmarks.append(bookmark)
        return {"bookmark": bookmark}

    def api_bookmarks_list(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "channel_id")
        return {"bookmarks": list(self.channel(args, "channel_id").bookmarks)}

    # --- users ------------------------------------------------------------------------------------

    def api_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "user")
        return {"user": self.user(args).to_api(self.team_id)}

    def api_users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 (Slack's name)
        """Slack matches the address case-insensitively and answers `users_not_found` when nobody has it."""
        required(args, "email")
        wanted = str(args["email"]).casefold()
        user = next((u for u in self.users.values() if u.email and u.email.casefold() == wanted), None)
        if user is None:
            raise SlackApiFailure("users_not_found")
        return {"user": user.to_api(self.team_id)}

    def api_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"members": [u.to_api(self.team_id) for u in self.users.values()],
                "response_metadata": {"next_cursor": ""}}

    def api_usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every group with its handle and user_count; `include_users` adds the members. Disabled groups are
        not modelled, so include_disabled changes nothing."""
        with_users = _bool(args.get("include_users"))
        return {"usergroups": [self.usergroup(g).to_api(self.team_id, users, with_users=with_users)
                               for g, users in self.usergroups.items()]}

    def api_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "usergroup")
        users = self.usergroups.get(str(args["usergroup"]))
        if users is None:
            raise SlackApiFailure("no_such_subteam")
        return {"users": list(users)}

    # --- views --------------------------------------------------------------------------------

    def _view(self, view: Any, user_id: str, *, root: str | None = None, previous: str | None = None) -> dict:
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise SlackApiFailure("invalid_arguments", messages=["[ERROR] view must be a modal or home view"])
        view_id = self.new_id("V")
        stored = {**view, "id": view_id, "team_id": self.team_id, "user": user_id, "hash": f"{time.time_ns()}",
                  "state": {"values": {}}, "root_view_id": root or view_id, "previous_view_id": previous,
                  "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", "")}
        self.views[view_id] = stored
        return stored

    def _trigger_user(self, args: dict[str, Any]) -> str:
        required(args, "trigger_id")
        found = self.triggers.get(str(args["trigger_id"]))
        if found is None:
            raise SlackApiFailure("invalid_trigger_id")
        user_id, issued = found
        if time.monotonic() - issued > TRIGGER_LIFETIME_SECONDS:
            raise SlackApiFailure("expired_trigger_id")
        return user_id

    def api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = self._trigger_user(args)
        required(args, "view")
        view = self._view(args["view"], user_id)
        self.view_stacks[user_id] = [view["id"]]
        return {"view": view}

    def api_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = self._trigger_user(args)
        stack = self.view_stacks.get(user_id) or []
        if not stack:
            raise SlackApiFailure("not_found")
        if len(stack) >= 3:
            raise SlackApiFailure("push_limit_reached")
        view = self._view(args.get("view"), user_id, root=stack[0], previous=stack[-1])
        stack.append(view["id"])
        return {"view": view}

    def api_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next((v["id"] for v in self.views.values() if v.get("external_id") == args["external_id"]), None)
        old = self.views.get(str(view_id or ""))
        if old is None:
            raise SlackApiFailure("not_found")
        if args.get("hash") and args["hash"] != old["hash"]:
            raise SlackApiFailure("hash_conflict")
        new = self._view(args.get("view"), old["user"], root=old["root_view_id"], previous=old["previous_view_id"])
        del self.views[new["id"]]
        new["id"] = old["id"]
        new["state"] = kept_state(old["state"]["values"], new)
        self.views[old["id"]] = new
        return {"view": new}

    def api_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "user_id", "view")
        user = self.user(args, "user_id")
        if not isinstance(args["view"], dict) or args["view"].get("type") != "home":
            raise SlackApiFailure("invalid_arguments", messages=["[ERROR] a published view must be of type home"])
        shown = self.home_views.get(user.id)
        if args.get("hash") and shown is not None and args["hash"] != shown["hash"]:
            raise SlackApiFailure("hash_conflict")  # published again since that hash was read
        view = self._view(args["view"], user.id)
        self.home_views[user.id] = view
        return {"view": view}

    # --- files --------------------------------------------------------------------------------

    def api_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "filename", "length")
        try:
            length = int(args["length"])
        except (TypeError, ValueError):
            raise SlackApiFailure("invalid_arguments") from None
        file = self.add_file(str(args["filename"]), None, user=BOT_USER_ID, size=length)
        return {"file_id": file["id"], "upload_url": f"/upload/v1/{file['id']}"}

    def add_file(self, name: str, content: bytes | None, *, user: str, size: int | None = None,
                 title: str | None = None) -> dict[str, Any]:
        """Store a file: complete when its bytes are here (a person's upload), pending when they are still to
        come (files.getUploadURLExternal)."""
        filetype, mimetype = file_kind(name)
        file_id = self.new_id("F")
        self.files[file_id] = {"id": file_id, "name": name, "title": title or name,
                               "size": len(content) if content is not None else (size or 0), "content": content,
                               "shares": {}, "completed": content is not None, "user": user,
                               "created": int(self.clock()), "filetype": filetype, "mimetype": mimetype}
        return self.files[file_id]

    def upload(self, file_id: str, content: bytes) -> bool:
        file = self.files.get(file_id)
        if file is None or file["completed"]:
            return False
        file["content"] = content
        return True

    def api_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "files")
        entries = args["files"]
        if isinstance(entries, str):
            entries = json.loads(entries)
        channel = self.writable(self.channel(args, "channel_id")) if args.get("channel_id") else None
        done = []
        for entry in entries:
            file = self.files.get(str(entry.get("id")))
            if file is None or file["content"] is None:
                raise SlackApiFailure("file_not_found")
            if file["completed"]:
                raise SlackApiFailure("file_already_completed")
            file.update(completed=True, title=entry.get("title") or file["name"])
            done.append(file)
        if channel is not None:
            shared = self.post(channel, BOT_USER_ID, {"text": args.get("initial_comment") or "",
                                                      "thread_ts": args.get("thread_ts"),
                                                      "files": [f["id"] for f in done]})
            for file in done:
                file["shares"] = {"public": {channel.id: [{"ts": shared["ts"]}]}}
        return {"files": [self.file_api(f) for f in done]}

    def api_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        required(args, "file")
        file = self.files.get(str(args["file"]))
        if file is None or not file["completed"]:
            raise SlackApiFailure("file_not_found")
        return {"file": self.file_api(file), "comments": []}

    def file_url(self, file: dict[str, Any], *, download: bool = False) -> str:
        """Slack's url_private / url_private_download shape (`files-pri/<team>-<file>/[download/]<name>`),
        on the sandbox's own server, which serves them to the bot token."""
        prefix = f"{self.file_host}{FILES_PATH}{self.team_id}-{file['id']}/"
        return prefix + ("download/" if download else "") + quote(file["name"])

    def file_api(self, file: dict[str, Any]) -> dict[str, Any]:
        """A file object as files.info and message events carry it: what a downloader needs (the URLs,
        mimetype, size, who shared it where) and the rest of Slack's hosted-file fields."""
        filetype, mimetype = file_kind(file["name"])
        filetype, mimetype = file.get("filetype", filetype), file.get("mimetype", mimetype)
        user, created, shares = file.get("user", BOT_USER_ID), file.get("created", 0), file["shares"]
        return {"id": file["id"], "created": created, "timestamp": created, "name": file["name"],
                "title": file["title"], "mimetype": mimetype, "filetype": filetype, "pretty_type": filetype.upper(),
                "user": user, "user_team": self.team_id, "editable": False, "size": file["size"], "mode": "hosted",
                "is_external": False, "external_type": "", "is_public": "public" in shares,
                "public_url_shared": False, "display_as_bot": False, "username": "",
                "url_private": self.file_url(file), "url_private_download": self.file_url(file, download=True),
                "permalink": f"https://sandbox.slack.local/files/{user}/{file['id']}/{quote(file['name'])}",
                "is_starred": False, "has_rich_preview": False, "shares": shares,
                "channels": sorted(shares.get("public", {})), "groups": sorted(shares.get("private", {})),
                "ims": []}

    def message_files(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The file objects of a stored message (it keeps only their ids), as Slack's payloads carry them."""
        return [self.file_api(self.files[f]) for f in message.get("files") or [] if f in self.files]

    def file_at(self, path: str) -> tuple[dict[str, Any], bool] | None:
        """(file, as an attachment?) for a url_private path, or None when no complete file is there."""
        if not path.startswith("/" + FILES_PATH):
            return None
        key, _, rest = path[len(FILES_PATH) + 1:].partition("/")
        team, _, file_id = key.rpartition("-")
        download = rest.startswith("download/")
        name = unquote(rest[len("download/"):] if download else rest)
        file = self.files.get(file_id)
        if team != self.team_id or file is None or not file["completed"] or name != file["name"]:
            return None
        return file, download

    # --- dispatch -----------------------------------------------------------------------------

    def method(self, name: str):
        return getattr(self, "api_" + name.replace(".", "_"), None)
