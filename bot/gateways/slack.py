"""The Slack Web API edge: one client factory, one error mapping."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
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
    SlackUnavailable,
)
from bot.settings import Settings
from bot.workpool import before_remote_call

logger = logging.getLogger(__name__)

WEB_TIMEOUT_SECONDS = 10
RATE_LIMIT_RETRIES = 2

_TYPED_ERRORS: dict[str, type[SlackError]] = {
    "channel_not_found": ChannelNotFound,
    "not_in_channel": NotInChannel,
    "name_taken": NameTaken,
    "ratelimited": RateLimited,
}
# The errors Slack's method pages list for trouble on its side (docs.slack.dev/reference/methods/chat.postMessage,
# "Errors"): the same call may succeed later. `rate_limited` is the older spelling some methods still answer.
SLACK_TROUBLE = frozenset({"fatal_error", "internal_error", "service_unavailable", "request_timeout"})
RATE_LIMITED = frozenset({"ratelimited", "rate_limited"})
# A scheduled post after a passing failure waits 30 s, then as long as it has been failing, at most an hour.
RETRY_FIRST = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
# find_own_post reads this many pages of this many messages, newest first, before it says "not there".
OWN_POST_PAGES = 3
OWN_POST_PAGE_SIZE = 200


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
        trouble = _trouble(response, code, method)
        if trouble is not None:
            return trouble
        if code == "missing_scope":
            return MissingScope(code, method, scope=str(response.get("needed") or "unknown"),
                                provided=str(response.get("provided") or ""))
        return _TYPED_ERRORS.get(code, SlackError)(code, method)
    return IntegrationUnavailable(f"Slack could not be reached ({method}). Please try again in a minute.")


def _trouble(response: Any, code: str, method: str) -> SlackError | None:
    """A passing failure, typed: a 429 that outlasted slack_sdk's own retries (with its Retry-After), or Slack
    having trouble — any HTTP 5xx (its body is usually the edge's HTML page: slack_sdk puts "Received a response in
    a non-JSON format: …" where the error code would be, so the code becomes `http_<status>`, never one that
    blames the channel), or one of the trouble codes in a JSON body. None for everything else."""
    status = getattr(response, "status_code", None)
    if status == 429 or code in RATE_LIMITED:
        limited = RateLimited("ratelimited", method)
        limited.retry_after = _retry_after_header(response)
        return limited
    if isinstance(status, int) and status >= 500:
        return SlackUnavailable(code if code in SLACK_TROUBLE else f"http_{status}", method, status=status)
    if code in SLACK_TROUBLE:
        return SlackUnavailable(code, method, status=status)
    return None


def _retry_after_header(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def is_transient(exc: BaseException) -> bool:
    """True when the failed Slack call may succeed if made again later: Slack's trouble (HTTP 5xx, `fatal_error`,
    `internal_error`, `service_unavailable`, `request_timeout`), `ratelimited`, or Slack not reachable at all.
    False for what only a person can fix (`not_in_channel`, `channel_not_found`, `is_archived`, `missing_scope`,
    `invalid_blocks`, …): trying again would fail the same way. slack_sdk's own errors are translated first."""
    if isinstance(exc, SlackApiError | SlackClientError):
        exc = translate(exc, "unknown")
    if isinstance(exc, SlackUnavailable | RateLimited):
        return True
    if isinstance(exc, SlackError):
        return exc.code in SLACK_TROUBLE or exc.code in RATE_LIMITED
    return isinstance(exc, IntegrationUnavailable | OSError)  # not reached: no answer at all


def retry_after(exc: BaseException) -> float | None:
    """The seconds Slack asked us to wait (Retry-After of a 429), when it said."""
    return exc.retry_after if isinstance(exc, RateLimited) else None


def retry_delay(exc: BaseException, *, failing_since: datetime, now: datetime) -> timedelta:
    """How long a scheduled post waits before its next try after a passing failure: 30 s, then as long as it has
    been failing (tries at 0, 30 s, 1 min, 2 min, 4 min … with no counter to store), at most an hour, and never
    less than Slack's Retry-After."""
    delay = min(RETRY_CAP, max(RETRY_FIRST, now - failing_since))
    asked = retry_after(exc)
    return max(delay, timedelta(seconds=asked)) if asked else delay


def _answered_method(response: Any) -> str | None:
    api_url = getattr(response, "api_url", None)
    return api_url.rsplit("/", 1)[-1] if isinstance(api_url, str) and "/" in api_url else None


def call(client: WebClient, method: str, **kwargs: Any) -> dict[str, Any]:
    """Call a Web API method by its slack_sdk name (`chat_postMessage`); raise our typed errors."""
    api_name = method.replace("_", ".", 1)
    before_remote_call()
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


def find_own_post(client: WebClient, channel: str, *, event_type: str, key: str | int,
                  oldest: str | float) -> str | None:
    """The `ts` of pmbot's message in `channel` whose metadata is `event_type` with `event_payload["id"] == key`,
    looking back from now to `oldest` (a Slack ts or epoch seconds), or None. Before posting again what may have
    reached Slack already (a crash during chat.postMessage, or a 500 after which Slack says part of the work may
    have happened), so the first post is kept rather than doubled. Reads top-level messages only (a card, a
    stand-up), a few pages at most; Slack's errors are raised as ours (`is_transient` tells which pass)."""
    wanted = str(key)

    def ours(message: dict[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        return metadata.get("event_type") == event_type and str(payload.get("id")) == wanted

    return find_bot_message(client, channel, oldest=oldest, matches=ours, include_all_metadata=True)


def find_bot_message(client: WebClient, channel: str, *, oldest: str | float,
                     matches: Callable[[dict[str, Any]], bool], include_all_metadata: bool = False) -> str | None:
    """The `ts` of the newest message from a bot in `channel` since `oldest` that `matches`, or None: the pager
    behind `find_own_post`, for posts recognised by their content rather than metadata."""
    args: dict[str, Any] = {"channel": channel, "oldest": _slack_ts(oldest), "inclusive": True,
                            "limit": OWN_POST_PAGE_SIZE}
    if include_all_metadata:
        args["include_all_metadata"] = True
    for _ in range(OWN_POST_PAGES):
        page = call(client, "conversations_history", **args)
        for message in page.get("messages") or []:
            if message.get("bot_id") and matches(message):
                return str(message["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return None
        args["cursor"] = cursor
    return None


def _slack_ts(value: str | float) -> str:
    """A Slack timestamp argument from a ts string or epoch seconds."""
    return value if isinstance(value, str) else f"{float(value):.6f}"


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


def tell_admins(client: WebClient, settings: Settings, text: str, *, channel: str | None = None) -> bool:
    """Post `text` where admins read it: `channel` (a team's own admin channel) when given, else PMBOT_ADMIN_CHANNEL
    (or PMBOT_ESCALATION_CHANNEL). False when there is none or Slack refuses: the text is then logged as an error,
    so it is never lost silently. The caller makes sure it is said once (a claim of its own)."""
    where = channel or admin_channel(client, settings)
    if where is None:
        logger.error("%s (no admin channel to tell: set PMBOT_ADMIN_CHANNEL or /pmbot settings)", text)
        return False
    try:
        post_in_channel(client, where, text=text)
        return True
    except (SlackError, IntegrationUnavailable) as failure:
        logger.error("%s (telling the admin channel failed: %s)", text, getattr(failure, "code", failure))
        return False


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


def respond_later(response_url: str, **message: Any) -> bool:
    """A private answer through a request's response_url, from work that runs after the request; False when
    Slack no longer takes it (a response_url lives 30 minutes and takes 5 answers) or cannot be reached."""
    from slack_sdk.webhook import WebhookClient

    try:
        response = WebhookClient(response_url, timeout=WEB_TIMEOUT_SECONDS).send(
            response_type="ephemeral", replace_original=False, **message)
    except (SlackClientError, OSError) as exc:
        logger.info("response_url unreachable (%s)", type(exc).__name__)
        return False
    return response.status_code == 200
