"""The Slack port: what pmbot asks of Slack, one named and typed method each, in one place.

The primitives make exactly one Web API call each, through `bot.gateways.slack.call`, so every failure is translated
there once: our typed `SlackError` kinds (`NameTaken`, `NotInChannel`, `RateLimited` with Slack's Retry-After,
`SlackUnavailable`, `MissingScope`, told once to the admin channel), or `IntegrationUnavailable` when Slack cannot be
reached. The methods after them combine primitives (join a channel and post again, page through a list, look for a
post that may have reached Slack already). Services reach the port as `deps.slack`; fast tests swap in
`tests.fake_slack.FakeSlack`, which keeps the primitives in memory and inherits the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.errors import IntegrationUnavailable, MissingScope, NotInChannel, SlackError
from bot.gateways.slack import RATE_LIMIT_RETRIES, WEB_TIMEOUT_SECONDS, call

if TYPE_CHECKING:
    from bot.settings import Settings

logger = logging.getLogger(__name__)

Blocks = list[dict[str, Any]]
# find_own_post reads this many pages of this many messages, newest first, before it says "not there".
OWN_POST_PAGES = 3
OWN_POST_PAGE_SIZE = 200
PAGE_SIZE = 200  # users and channels per page when looking one up by name


@dataclass(frozen=True)
class Posted:
    """Where a message landed: the channel's id (a DM's id when pmbot wrote to a person) and the message's `ts`."""

    channel: str
    ts: str


def _given(**args: Any) -> dict[str, Any]:
    """The optional arguments that were given: a request carries what the caller said, nothing more."""
    return {name: value for name, value in args.items() if value is not None}


def _slack_ts(value: str | float) -> str:
    """A Slack timestamp argument from a ts string or epoch seconds."""
    return value if isinstance(value, str) else f"{float(value):.6f}"


class SlackPort:
    """Everything pmbot asks of Slack's Web API, by name; built once in the composition root over the WebClient."""

    def __init__(self, client: WebClient):
        self._client = client

    @property
    def token(self) -> str:
        """The bot token: Slack serves a shared file's `url_private_download` only to a request that carries it."""
        return getattr(self._client, "token", None) or ""

    # --- messages -----------------------------------------------------------------------------------

    def post_message(self, channel: str, *, text: str, blocks: Blocks | None = None, thread_ts: str | None = None,
                     metadata: dict[str, Any] | None = None) -> Posted:
        """chat.postMessage: a message, or a reply in `thread_ts`'s thread; `metadata` lets pmbot find it again."""
        answer = call(self._client, "chat_postMessage", channel=channel, text=text,
                      **_given(blocks=blocks, thread_ts=thread_ts, metadata=metadata))
        return Posted(str(answer["channel"]), str(answer["ts"]))

    def update_message(self, channel: str, ts: str, *, text: str, blocks: Blocks | None = None) -> None:
        """chat.update: a message pmbot posted, redrawn in place."""
        call(self._client, "chat_update", channel=channel, ts=ts, text=text, **_given(blocks=blocks))

    def post_ephemeral(self, channel: str, user: str, *, text: str, blocks: Blocks | None = None,
                       thread_ts: str | None = None) -> None:
        """chat.postEphemeral: a note in `channel` that only `user` sees."""
        call(self._client, "chat_postEphemeral", channel=channel, user=user, text=text,
             **_given(blocks=blocks, thread_ts=thread_ts))

    def permalink(self, channel: str, ts: str) -> str:
        """chat.getPermalink: the link that opens a message."""
        return str(call(self._client, "chat_getPermalink", channel=channel, message_ts=ts)["permalink"])

    # --- views ----------------------------------------------------------------------------------------

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """views.open: a modal, while the trigger of the click or command that asked for it is still fresh (3 s);
        its view id (for `update_view`)."""
        return str(call(self._client, "views_open", trigger_id=trigger_id, view=view)["view"]["id"])

    def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        """views.update: redraw an open modal (a form filled in after it opened). Slack keeps what the person
        already entered in inputs whose block and action ids stay the same."""
        call(self._client, "views_update", view_id=view_id, view=view)

    def publish_home(self, user_id: str, view: dict[str, Any], hash: str | None = None) -> None:  # noqa: A002
        """views.publish: the App Home tab `user_id` sees. With `hash` (the shown view's, from app_home_opened),
        Slack refuses with hash_conflict when the Home was published again meanwhile, so an older build never
        overwrites a newer one."""
        call(self._client, "views_publish", user_id=user_id, view=view, **_given(hash=hash))

    # --- channels -------------------------------------------------------------------------------------

    def create_channel(self, name: str) -> str:
        """conversations.create: a public channel (a war room); its id. `NameTaken` when the name is in use."""
        return str(call(self._client, "conversations_create", name=name)["channel"]["id"])

    def invite(self, channel: str, user: str) -> None:
        """conversations.invite: one person, so one who cannot be invited does not stop the others."""
        call(self._client, "conversations_invite", channel=channel, users=user)

    def join_channel(self, channel: str) -> None:
        """conversations.join: pmbot joins a public channel."""
        call(self._client, "conversations_join", channel=channel)

    def set_topic(self, channel: str, topic: str) -> None:
        """conversations.setTopic."""
        call(self._client, "conversations_setTopic", channel=channel, topic=topic)

    def set_purpose(self, channel: str, purpose: str) -> None:
        """conversations.setPurpose."""
        call(self._client, "conversations_setPurpose", channel=channel, purpose=purpose)

    def archive_channel(self, channel: str) -> None:
        """conversations.archive."""
        call(self._client, "conversations_archive", channel=channel)

    def unarchive_channel(self, channel: str) -> None:
        """conversations.unarchive."""
        call(self._client, "conversations_unarchive", channel=channel)

    def pin(self, channel: str, ts: str) -> None:
        """pins.add: a message pinned in its channel."""
        call(self._client, "pins_add", channel=channel, timestamp=ts)

    def add_bookmark(self, channel: str, *, title: str, link: str) -> None:
        """bookmarks.add: a link in the channel's header."""
        call(self._client, "bookmarks_add", channel_id=channel, title=title, type="link", link=link)

    def channel_info(self, channel: str) -> dict[str, Any]:
        """conversations.info: Slack's channel object (name, creator, is_private, is_member, …)."""
        return call(self._client, "conversations_info", channel=channel).get("channel") or {}

    def list_channels(self, cursor: str | None = None) -> dict[str, Any]:
        """conversations.list: one page of the public and private channels pmbot can see, archived ones left out
        (`channels`, and `response_metadata.next_cursor` while there are more)."""
        return call(self._client, "conversations_list", types="public_channel,private_channel", limit=PAGE_SIZE,
                    exclude_archived=True, cursor=cursor)

    def channel_members(self, channel: str, cursor: str | None = None) -> dict[str, Any]:
        """conversations.members: one page of a channel's member ids (`members`, `response_metadata.next_cursor`).
        A private channel pmbot is not in answers channel_not_found."""
        return call(self._client, "conversations_members", channel=channel, limit=PAGE_SIZE, **_given(cursor=cursor))

    def history(self, channel: str, *, limit: int, oldest: str | None = None, latest: str | None = None,
                inclusive: bool = False, include_all_metadata: bool = False,
                cursor: str | None = None) -> dict[str, Any]:
        """conversations.history: one page of a channel's top-level messages, newest first (`messages`, `has_more`,
        `response_metadata.next_cursor`)."""
        return call(self._client, "conversations_history", channel=channel, limit=limit,
                    **_given(oldest=oldest, latest=latest, inclusive=inclusive or None,
                             include_all_metadata=include_all_metadata or None, cursor=cursor))

    def replies(self, channel: str, ts: str, *, limit: int) -> dict[str, Any]:
        """conversations.replies: a thread, its parent first (`messages`)."""
        return call(self._client, "conversations_replies", channel=channel, ts=ts, limit=limit)

    def open_dm(self, user: str) -> str:
        """conversations.open: the id of pmbot's direct-message channel with one person."""
        return str(call(self._client, "conversations_open", users=user)["channel"]["id"])

    # --- people ---------------------------------------------------------------------------------------

    def identity(self) -> dict[str, str]:
        """auth.test: who pmbot is (`user_id`, `user`) and in which workspace (`team`, and its `url`, e.g.
        `https://acme.slack.com/`, the start of every message link); a bad token fails here."""
        answer = call(self._client, "auth_test")
        return {key: str(answer.get(key) or "") for key in ("user_id", "user", "team", "url")}

    def bot_user_id(self) -> str:
        """pmbot's own user id (who files what no person filed, e.g. a breach from a plan set with the CLI)."""
        return self.identity()["user_id"]

    def user_info(self, user: str) -> dict[str, Any]:
        """users.info: Slack's user object (name, profile, is_admin, is_owner, deleted, …)."""
        return call(self._client, "users_info", user=user).get("user") or {}

    def user_by_email(self, email: str) -> dict[str, Any]:
        """users.lookupByEmail: Slack's user object of the member with that email."""
        return call(self._client, "users_lookupByEmail", email=email).get("user") or {}

    def list_users(self, cursor: str | None = None) -> dict[str, Any]:
        """users.list: one page of the workspace's members (`members`, `response_metadata.next_cursor`)."""
        return call(self._client, "users_list", limit=PAGE_SIZE, **_given(cursor=cursor))

    def usergroups(self) -> list[dict[str, Any]]:
        """usergroups.list: the workspace's user groups (id, handle, name)."""
        return call(self._client, "usergroups_list").get("usergroups") or []

    def usergroup_members(self, usergroup: str) -> list[str]:
        """usergroups.users.list: the user ids in a user group."""
        return list(call(self._client, "usergroups_users_list", usergroup=usergroup).get("users") or [])

    # --- files ----------------------------------------------------------------------------------------

    def upload_file(self, channel: str, *, content: bytes, filename: str, title: str, comment: str | None = None,
                    thread_ts: str | None = None) -> None:
        """files_upload_v2 (files.getUploadURLExternal, the bytes, files.completeUploadExternal), shared in a channel
        by id, with `comment` as its message. `NotInChannel` before anything is shared (see `upload_in_channel`)."""
        call(self._client, "files_upload_v2", channel=channel, file=content, filename=filename, title=title,
             **_given(initial_comment=comment or None, thread_ts=thread_ts or None))

    def file_info(self, file_id: str) -> dict[str, Any]:
        """files.info: Slack's file object (name, filetype, size, url_private_download, …)."""
        return call(self._client, "files_info", file=file_id).get("file") or {}

    # --- made of the above ----------------------------------------------------------------------------

    def post_in_channel(self, channel: str, *, text: str, blocks: Blocks | None = None,
                        thread_ts: str | None = None, metadata: dict[str, Any] | None = None) -> Posted:
        """chat.postMessage; joins a public channel first when the bot is not in it yet."""

        def post() -> Posted:
            return self.post_message(channel, text=text, blocks=blocks, thread_ts=thread_ts, metadata=metadata)

        try:
            return post()
        except NotInChannel:
            self.join_channel(channel)
            return post()

    def upload_in_channel(self, channel: str, *, content: bytes, filename: str, title: str,
                          comment: str | None = None, thread_ts: str | None = None) -> None:
        """`upload_file`, joining a public channel first when the bot is not in it.

        Slack refuses the last step with not_in_channel before sharing anything, so a retry cannot double-post.
        """

        def upload() -> None:
            self.upload_file(channel, content=content, filename=filename, title=title, comment=comment,
                             thread_ts=thread_ts)

        try:
            upload()
        except NotInChannel:
            self.join_channel(channel)
            upload()

    def tell_privately(self, user_id: str, channel: str | None, *, text: str, blocks: Blocks | None = None) -> None:
        """An ephemeral note in the channel, or a DM when the bot cannot post there."""
        if channel:
            try:
                self.post_ephemeral(channel, user_id, text=text, blocks=blocks)
                return
            except SlackError:
                pass
        self.post_message(self.open_dm(user_id), text=text, blocks=blocks)

    def members_of(self, channel: str) -> set[str]:
        """Every member id of a channel (conversations.members, page by page)."""
        found: set[str] = set()
        cursor = None
        while True:
            page = self.channel_members(channel, cursor)
            found.update(str(m) for m in page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    def resolve_channel(self, ref: str) -> str | None:
        """A channel id from an id or a `#name`; None when no channel has that name."""
        ref = ref.strip().lstrip("#")
        if ref[:1] in ("C", "G") and ref[1:].isalnum() and ref.isupper():
            return ref
        cursor = None
        while True:
            page = self.list_channels(cursor)
            for channel in page.get("channels", []):
                if channel.get("name") == ref:
                    return channel["id"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def find_user(self, name: str) -> str | None:
        """The id of the active member whose handle, display name or real name is `name` (case-insensitive)."""
        wanted = name.lstrip("@").strip().lower()
        cursor = None
        while True:
            page = self.list_users(cursor)
            for member in page.get("members") or []:
                profile = member.get("profile") or {}
                names = {member.get("name"), profile.get("display_name"), profile.get("real_name")}
                if not member.get("deleted") and wanted in {n.lower() for n in names if n}:
                    return member["id"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def find_usergroup(self, name: str) -> str | None:
        """The id of the user group whose handle or name is `name` (case-insensitive, `@` optional)."""
        wanted = name.lstrip("@").strip().lower()
        return next((g["id"] for g in self.usergroups() if wanted in (str(g.get("handle", "")).lower(),
                                                                       str(g.get("name", "")).lower())), None)

    def is_workspace_admin(self, user_id: str) -> bool:
        """True for the workspace's admins and owners (users.info)."""
        user = self.user_info(user_id)
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    def find_own_post(self, channel: str, *, event_type: str, key: str | int, oldest: str | float) -> str | None:
        """The `ts` of pmbot's message in `channel` whose metadata is `event_type` with `event_payload["id"] ==
        key`, looking back from now to `oldest` (a Slack ts or epoch seconds), or None. Before posting again what may
        have reached Slack already (a crash during chat.postMessage, or a 500 after which Slack says part of the work
        may have happened), so the first post is kept rather than doubled. Reads top-level messages only (a card, a
        stand-up), a few pages at most; Slack's errors are raised as ours (`is_transient` tells which pass)."""
        wanted = str(key)

        def ours(message: dict[str, Any]) -> bool:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            return metadata.get("event_type") == event_type and str(payload.get("id")) == wanted

        return self.find_bot_message(channel, oldest=oldest, matches=ours, include_all_metadata=True)

    def find_bot_message(self, channel: str, *, oldest: str | float, matches: Callable[[dict[str, Any]], bool],
                         include_all_metadata: bool = False) -> str | None:
        """The `ts` of the newest message from a bot in `channel` since `oldest` that `matches`, or None: the pager
        behind `find_own_post`, for posts recognised by their content rather than metadata."""
        cursor = None
        for _ in range(OWN_POST_PAGES):
            page = self.history(channel, oldest=_slack_ts(oldest), inclusive=True, limit=OWN_POST_PAGE_SIZE,
                                include_all_metadata=include_all_metadata, cursor=cursor)
            for message in page.get("messages") or []:
                if message.get("bot_id") and matches(message):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None
        return None

    def admin_channel(self, settings: Settings) -> str | None:
        """The id of the channel where pmbot tells admins what needs a person (PMBOT_ADMIN_CHANNEL, else
        PMBOT_ESCALATION_CHANNEL); None when neither is set or Slack cannot find it."""
        ref = settings.pmbot_admin_channel or settings.pmbot_escalation_channel
        if not ref:
            return None
        try:
            return self.resolve_channel(ref)
        except SlackError:
            return None

    def tell_admins(self, settings: Settings, text: str, *, channel: str | None = None) -> bool:
        """Post `text` where admins read it: `channel` (a team's own admin channel) when given, else
        PMBOT_ADMIN_CHANNEL (or PMBOT_ESCALATION_CHANNEL). False when there is none or Slack refuses: the text is
        then logged as an error, so it is never lost silently. The caller makes sure it is said once."""
        where = channel or self.admin_channel(settings)
        if where is None:
            logger.error("%s (no admin channel to tell: set PMBOT_ADMIN_CHANNEL or /pmbot settings)", text)
            return False
        try:
            self.post_in_channel(where, text=text)
            return True
        except (SlackError, IntegrationUnavailable) as failure:
            logger.error("%s (telling the admin channel failed: %s)", text, getattr(failure, "code", failure))
            return False


# --- the client the port talks through -------------------------------------------------------------------


class ScopeNotices:
    """Tells the admin channel, once per scope, that Slack refused a call because the app lacks that scope.

    Remembered per process (one client, one workspace token): a restart tells once more, which is a fair reminder
    while the scope is still missing, and needs no table.
    """

    def __init__(self, settings: Settings):
        self._settings = settings
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def tell(self, client: WebClient, exc: MissingScope) -> None:
        """Post the notice the first time `exc.scope` is missing; later times only the caller's log line is left."""
        with self._lock:
            if exc.scope in self._told:
                return
            # Marked before posting: if the post itself lacks a scope, that notice is tried once and never loops.
            self._told.add(exc.scope)
        text = (f":warning: pmbot needs the Slack scope `{exc.scope}` for {exc.method}; add it to the app "
                "(`pmbot manifest` lists every scope pmbot uses) and reinstall it in this workspace.")
        port = SlackPort(client)
        channel = port.admin_channel(self._settings)
        if channel is None:
            logger.error("%s (no admin channel to tell: set PMBOT_ADMIN_CHANNEL)", text)
            return
        try:
            port.post_in_channel(channel, text=text)
        except SlackError as failure:
            logger.error("%s (telling the admin channel failed: %s)", text, failure.code)


class PmbotWebClient(WebClient):
    """slack_sdk's WebClient, plus whom to tell when Slack answers `missing_scope` (see `call`)."""

    def __init__(self, *, scope_notices: ScopeNotices, **kwargs: Any):
        super().__init__(**kwargs)
        self.scope_notices = scope_notices


def build_web_client(settings: Settings) -> WebClient:
    """The app's WebClient: Slack's base URL from settings, retries on dropped connections and 429s."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return PmbotWebClient(
        scope_notices=ScopeNotices(settings),
        token=token,
        base_url=settings.slack_api_url,
        timeout=WEB_TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )
