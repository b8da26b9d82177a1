"""Sends Slack-shaped, correctly signed requests to the bot's real `POST /slack/events`."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.sandbox.server import TEAM_ID, SlackSandbox

HTTP_TIMEOUT = 10


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class Driver:
    """Plays Slack: builds payloads, signs them, posts them, and returns the bot's HTTP answer."""

    def __init__(self, events_url: str, signing_secret: str, sandbox: SlackSandbox | None = None,
                 *, team_id: str = TEAM_ID):
        self.events_url = events_url
        self.signer = SignatureVerifier(signing_secret)
        self.sandbox = sandbox
        self.team_id = team_id
        self._ids = itertools.count(1)

    def _next(self, prefix: str) -> str:
        return f"{prefix}{int(time.time() * 1000)}{next(self._ids):04d}"

    def post(self, body: str, content_type: str, *, timestamp: int | None = None, signature: str | None = None,
             retry_num: int | None = None) -> Response:
        """POST a raw body, signed now unless a timestamp or signature is forced."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self.signer.generate_signature(timestamp=ts, body=body),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        request = urllib.request.Request(self.events_url, data=body.encode("utf-8"), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as resp:
                return Response(resp.status, dict(resp.headers), resp.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            return Response(err.code, dict(err.headers), err.read().decode("utf-8"))

    def command(self, command: str, text: str = "", *, user: str = "U0ALICE", channel: str = "C0GENERAL",
                trigger_id: str | None = None, **post_options: Any) -> Response:
        """A slash command as Slack sends it (form-encoded, with trigger_id and response_url)."""
        response_url = self.sandbox.new_response_url() if self.sandbox else "http://127.0.0.1:9/response/0"
        channel_name = self.sandbox.channels[channel].name if self.sandbox and channel in self.sandbox.channels \
            else "unknown"
        form = {
            "token": "deprecated-verification-token",
            "team_id": self.team_id,
            "team_domain": "sandbox",
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": self.sandbox.users[user].name if self.sandbox and user in self.sandbox.users else user,
            "command": command,
            "text": text,
            "api_app_id": "A0PMBOT",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or self._next("13345224609."),
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **post_options)

    def event(self, event: dict[str, Any], *, event_id: str | None = None, **post_options: Any) -> Response:
        """An Events API callback wrapping `event`."""
        payload = {
            "token": "deprecated-verification-token",
            "team_id": self.team_id,
            "api_app_id": "A0PMBOT",
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or self._next("Ev"),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": "U0PMBOT", "is_bot": True}],
        }
        return self.post(json.dumps(payload), "application/json", **post_options)
