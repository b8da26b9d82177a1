"""A stand-in for the Slack Web API on loopback, with Slack's response shapes and error codes.

The bot's ordinary slack_sdk client reaches it through SLACK_API_URL. State lives in memory.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from bot.sandbox.socket_mode import SocketModeServer

TEAM_ID = "T0SANDBOX"
BOT_USER_ID = "U0PMBOT"
BOT_ID = "B0PMBOT"
BOT_TOKEN = "xoxb-sandbox-token"
APP_TOKEN = "xapp-sandbox-token"

JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


@dataclass
class User:
    id: str
    name: str
    tz: str = "UTC"
    is_bot: bool = False


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""


@dataclass
class Call:
    """One Web API request as the sandbox received it."""

    method: str
    args: dict[str, Any]
    token: str | None


class SlackApiFailure(Exception):
    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


class SlackSandbox:
    """In-memory workspace + HTTP server. `start()` returns the base URL for SLACK_API_URL."""

    def __init__(self, *, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN, team_id: str = TEAM_ID):
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_mode: SocketModeServer | None = None
        self.team_id = team_id
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: list[dict[str, Any]] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        self.responses: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.rate_limits: dict[str, tuple[int, int]] = {}
        self.response_delay = 0.0
        self._lock = threading.RLock()
        self._ts = itertools.count(1)
        self._response_ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "users.info": self._users_info,
            "views.publish": self._views_publish,
        }
        self._seed()

    # --- workspace ----------------------------------------------------------------------------

    def _seed(self) -> None:
        self.add_user("U0PMBOT", "pmbot", is_bot=True)
        self.add_user("U0ALICE", "alice", tz="Europe/Berlin")
        self.add_user("U0BOB", "bob", tz="America/New_York")
        self.add_channel("C0GENERAL", "general", members={"U0PMBOT", "U0ALICE", "U0BOB"})

    def add_user(self, user_id: str, name: str, *, tz: str = "UTC", is_bot: bool = False) -> User:
        with self._lock:
            self.users[user_id] = User(user_id, name, tz, is_bot)
            return self.users[user_id]

    def add_channel(self, channel_id: str, name: str, *, members: set[str] | None = None,
                    is_private: bool = False) -> Channel:
        with self._lock:
            self.channels[channel_id] = Channel(channel_id, name, is_private, members=set(members or ()))
            return self.channels[channel_id]

    # --- switches for tests -------------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 `ratelimited` and `Retry-After`."""
        with self._lock:
            self.rate_limits[method] = (times, retry_after)

    def new_response_url(self) -> str:
        return f"{self.base_url}response/{next(self._response_ids)}"

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 5.0) -> Any:
        """Poll until `predicate()` is truthy (work after an ack lands on another thread)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.01)

    # --- server -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    def start(self, port: int = 0) -> str:
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-sandbox",
                         daemon=True).start()
        return self.api_url

    def stop(self) -> None:
        if self.socket_mode is not None:
            self.socket_mode.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- dispatch -----------------------------------------------------------------------------

    def handle_api(self, method: str, args: dict[str, Any], token: str | None) -> tuple[int, dict, dict]:
        """(HTTP status, headers, JSON body) for one Web API call."""
        with self._lock:
            self.calls.append(Call(method, args, token))
            limited = self.rate_limits.get(method)
            if limited and limited[0] > 0:
                self.rate_limits[method] = (limited[0] - 1, limited[1])
                return 429, {"Retry-After": str(limited[1])}, {"ok": False, "error": "ratelimited"}
            if method == "apps.connections.open":
                return 200, {}, self._apps_connections_open(token)
            if method not in self._methods:
                return 200, {}, {"ok": False, "error": "unknown_method"}
            if token != self.bot_token:
                return 200, {}, {"ok": False, "error": "not_authed" if not token else "invalid_auth"}
            try:
                return 200, {}, {"ok": True, **self._methods[method](args)}
            except SlackApiFailure as failure:
                return 200, {}, {"ok": False, "error": failure.error}

    def handle_response_url(self, response_id: str, payload: dict[str, Any]) -> None:
        if self.response_delay:
            time.sleep(self.response_delay)
        with self._lock:
            self.responses.append({"response_id": response_id, **payload})

    # --- methods ------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _channel(self, args: dict[str, Any], key: str = "channel") -> Channel:
        channel_id = _required(args, key)
        channel = self.channels.get(channel_id)
        if channel is None:
            raise SlackApiFailure("channel_not_found")
        return channel

    def _user(self, args: dict[str, Any], key: str = "user") -> User:
        user = self.users.get(_required(args, key))
        if user is None:
            raise SlackApiFailure("user_not_found")
        return user

    def _apps_connections_open(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth" if token.startswith("xapp-") else "not_allowed_token_type"}
        if self.socket_mode is None:
            self.socket_mode = SocketModeServer()
        return {"ok": True, "url": self.socket_mode.url}

    def _auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://sandbox.slack.local/", "team": "Sandbox", "user": "pmbot",
                "team_id": self.team_id, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel.is_archived:
            raise SlackApiFailure("is_archived")
        if BOT_USER_ID not in channel.members:
            raise SlackApiFailure("not_in_channel")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackApiFailure("no_text")
        thread_ts = args.get("thread_ts")
        if thread_ts is not None and not any(m["ts"] == str(thread_ts) for m in self.messages):
            raise SlackApiFailure("thread_not_found")
        message = {"type": "message", "channel": channel.id, "ts": self._next_ts(), "user": BOT_USER_ID,
                   "bot_id": BOT_ID, "text": args.get("text", ""), "blocks": args.get("blocks") or []}
        if thread_ts is not None:
            message["thread_ts"] = str(thread_ts)
        self.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        user = self._user(args)
        if user.id not in channel.members:
            raise SlackApiFailure("user_not_in_channel")
        message = {"channel": channel.id, "user": user.id, "ts": self._next_ts(), "text": args.get("text", ""),
                   "blocks": args.get("blocks") or []}
        self.ephemeral.append(message)
        return {"message_ts": message["ts"]}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        ts = _required(args, "ts")
        for message in self.messages:
            if message["channel"] == channel.id and message["ts"] == ts:
                if "text" in args:
                    message["text"] = args["text"]
                if "blocks" in args:
                    message["blocks"] = args["blocks"]
                message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
                return {"channel": channel.id, "ts": ts, "text": message["text"]}
        raise SlackApiFailure("message_not_found")

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._user(args)
        return {"user": {"id": user.id, "team_id": self.team_id, "name": user.name, "real_name": user.name,
                         "tz": user.tz, "is_bot": user.is_bot, "deleted": False}}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._user(args, "user_id")
        view = args.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackApiFailure("invalid_arguments")
        self.home_views[user.id] = view
        return {"view": {"id": f"V{len(self.home_views):08d}", **view}}


def _required(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if value in (None, ""):
        raise SlackApiFailure("invalid_arguments")
    return str(value)


def parse_args(body: bytes, content_type: str, query: str = "") -> dict[str, Any]:
    """Web API arguments from a form or JSON body (slack_sdk sends both), JSON fields decoded."""
    args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if body:
        if content_type.startswith("application/json"):
            args.update(json.loads(body.decode("utf-8")))
        else:
            args.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()})
    for key in JSON_FIELDS:
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except json.JSONDecodeError:
                pass
    return args


class _Handler(BaseHTTPRequestHandler):
    sandbox: SlackSandbox
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — quiet test output
        pass

    def do_POST(self) -> None:  # noqa: N802 — http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        content_type = self.headers.get("Content-Type", "")
        if path.startswith("/api/"):
            auth = self.headers.get("Authorization", "")
            args = parse_args(body, content_type, query)
            token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", None)
            status, headers, payload = self.sandbox.handle_api(path[5:], args, token)
            self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)
        elif path.startswith("/response/"):
            self.sandbox.handle_response_url(path[10:], json.loads(body or b"{}"))
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
