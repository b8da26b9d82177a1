"""The Slack Web API edge: one client factory, one error mapping."""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.errors import (
    ChannelNotFound,
    IntegrationUnavailable,
    MissingScope,
    NameTaken,
    NotInChannel,
    RateLimited,
    SlackError,
)
from bot.settings import Settings

logger = logging.getLogger(__name__)

WEB_TIMEOUT_SECONDS = 10
RATE_LIMIT_RETRIES = 2

_TYPED_ERRORS: dict[str, type[SlackError]] = {
    "channel_not_found": ChannelNotFound,
    "not_in_channel": NotInChannel,
    "name_taken": NameTaken,
    "ratelimited": RateLimited,
}


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
        channel = admin_channel(client, self._settings)
        if channel is None:
            logger.error("%s (no admin channel to tell: set PMBOT_ADMIN_CHANNEL)", text)
            return
        try:
            post_in_channel(client, channel, text=text)
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


def translate(exc: SlackApiError | SlackClientError, method: str) -> SlackError | IntegrationUnavailable:
    """Our typed error for a slack_sdk failure."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        code = str(response.get("error") or "unknown_error")
        # The method Slack answered for: files_upload_v2 is two methods, usergroups_users_list has two dots.
        method = _answered_method(response) or method
        if code == "missing_scope":
            return MissingScope(code, method, scope=str(response.get("needed") or "unknown"),
                                provided=str(response.get("provided") or ""))
        return _TYPED_ERRORS.get(code, SlackError)(code, method)
    return IntegrationUnavailable(f"Slack could not be reached ({method}). Please try again in a minute.")


def _answered_method(response: Any) -> str | None:
    api_url = getattr(response, "api_url", None)
    return api_url.rsplit("/", 1)[-1] if isinstance(api_url, str) and "/" in api_url else None


def call(client: WebClient, method: str, **kwargs: Any) -> dict[str, Any]:
    """Call a Web API method by its slack_sdk name (`chat_postMessage`); raise our typed errors."""
    api_name = method.replace("_", ".", 1)
    try:
        response = getattr(client, method)(**kwargs)
    except (SlackApiError, SlackClientError) as exc:
        error = translate(exc, api_name)
        if isinstance(error, MissingScope) and isinstance(client, PmbotWebClient):
            # The one place a missing scope is noticed: admins hear it here, the caller still gets the error.
            client.scope_notices.tell(client, error)
        raise error from exc
    except OSError as exc:
        raise IntegrationUnavailable(f"Slack could not be reached ({api_name}).") from exc
    return response.data if isinstance(response.data, dict) else {}


def is_workspace_admin(client: WebClient, user_id: str) -> bool:
    """True for the workspace's admins and owners (users.info)."""
    user = call(client, "users_info", user=user_id).get("user") or {}
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


def admin_channel(client: WebClient, settings: Settings) -> str | None:
    """The id of the channel where pmbot tells admins what needs a person (PMBOT_ADMIN_CHANNEL, else
    PMBOT_ESCALATION_CHANNEL); None when neither is set or Slack cannot find it."""
    ref = settings.pmbot_admin_channel or settings.pmbot_escalation_channel
    if not ref:
        return None
    try:
        return resolve_channel(client, ref)
    except SlackError:
        return None


def resolve_channel(client: WebClient, ref: str) -> str | None:
    """A channel id from an id or a `#name`; None when no channel has that name."""
    ref = ref.strip().lstrip("#")
    if ref[:1] in ("C", "G") and ref[1:].isalnum() and ref.isupper():
        return ref
    cursor = None
    while True:
        page = call(client, "conversations_list", types="public_channel,private_channel", limit=200,
                    exclude_archived=True, cursor=cursor)
        for channel in page.get("channels", []):
            if channel.get("name") == ref:
                return channel["id"]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None


def post_in_channel(client: WebClient, channel: str, **message) -> dict:
    """chat.postMessage; joins a public channel first when the bot is not in it yet."""
    try:
        return call(client, "chat_postMessage", channel=channel, **message)
    except NotInChannel:
        call(client, "conversations_join", channel=channel)
        return call(client, "chat_postMessage", channel=channel, **message)


def tell_privately(client: WebClient, user_id: str, channel: str | None, **message) -> None:
    """An ephemeral note in the channel, or a DM when the bot cannot post there."""
    if channel:
        try:
            call(client, "chat_postEphemeral", channel=channel, user=user_id, **message)
            return
        except SlackError:
            pass
    dm = call(client, "conversations_open", users=user_id)["channel"]["id"]
    call(client, "chat_postMessage", channel=dm, **message)


def upload_file(client: WebClient, channel: str, *, content: bytes, filename: str, title: str,
                comment: str | None = None, thread_ts: str | None = None) -> dict:
    """files_upload_v2 into a channel (by id), joining a public channel first when the bot is not in it.

    Slack refuses the last step with not_in_channel before sharing anything, so a retry cannot double-post.
    """
    kwargs = {"channel": channel, "file": content, "filename": filename, "title": title}
    if comment:
        kwargs["initial_comment"] = comment
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    try:
        return call(client, "files_upload_v2", **kwargs)
    except NotInChannel:
        call(client, "conversations_join", channel=channel)
        return call(client, "files_upload_v2", **kwargs)


def find_usergroup(client: WebClient, name: str) -> str | None:
    """The id of the user group whose handle or name is `name` (case-insensitive, `@` optional)."""
    wanted = name.lstrip("@").strip().lower()
    groups = call(client, "usergroups_list").get("usergroups") or []
    return next((g["id"] for g in groups if wanted in (str(g.get("handle", "")).lower(),
                                                       str(g.get("name", "")).lower())), None)


def find_user(client: WebClient, name: str) -> str | None:
    """The id of the active member whose handle, display name or real name is `name` (case-insensitive)."""
    wanted = name.lstrip("@").strip().lower()
    cursor = None
    while True:
        page = call(client, "users_list", limit=200, **({"cursor": cursor} if cursor else {}))
        for member in page.get("members") or []:
            profile = member.get("profile") or {}
            names = {member.get("name"), profile.get("display_name"), profile.get("real_name")}
            if not member.get("deleted") and wanted in {n.lower() for n in names if n}:
                return member["id"]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
