"""The Slack Web API edge: one client factory, one error mapping (`call`).

What pmbot asks of Slack is named in `bot.gateways.slack_port` (`deps.slack`), whose every call goes through `call`
here; `respond_later` answers through a request's response_url, which is no Web API method."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

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
        notices = getattr(client, "scope_notices", None)  # pmbot's client has them (bot.gateways.slack_port)
        if isinstance(error, MissingScope) and notices is not None:
            # The one place a missing scope is noticed: admins hear it here, the caller still gets the error.
            notices.tell(client, error)
        raise error from exc
    except OSError as exc:
        raise IntegrationUnavailable(f"Slack could not be reached ({api_name}).") from exc
    return response.data if isinstance(response.data, dict) else {}


def probe_identity(client: WebClient, api_url: str) -> tuple[bool, str]:
    """auth.test for `pmbot doctor`, in Slack's own words: the raw error code, or which kind of connection failure
    (the port would turn both into pmbot's errors, which say less to the person fixing the set-up)."""
    try:
        who = client.auth_test()
    except SlackApiError as exc:
        return False, f"auth.test refused: {exc.response.get('error')}"
    except (SlackClientError, OSError) as exc:
        return False, f"{api_url} unreachable: {type(exc).__name__}"
    return True, f"authenticated as {who.get('user')} in {who.get('team')}"


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
