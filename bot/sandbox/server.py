"""A stand-in for the Slack Web API on loopback: HTTP in front of the in-memory Workspace.

The bot's ordinary slack_sdk client reaches it through SLACK_API_URL. Besides `/api/<method>` it
serves `response_url` posts (`/response/<id>`), the upload step of files_upload_v2 (`/upload/v1/<id>`) and
files' `url_private`/`url_private_download` (`GET /files-pri/...`) to the bot token.
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
from urllib.parse import parse_qs, quote

from bot.sandbox.limits import RateLimits
from bot.sandbox.socket_mode import SocketModeServer
from bot.sandbox.workspace import BOT_ID, BOT_USER_ID, TEAM_ID, SlackApiFailure, User, Usergroup, Workspace

__all__ = ["APP_TOKEN", "BOT_ID", "BOT_TOKEN", "BOT_USER_ID", "TEAM_ID", "Call", "Download", "SlackSandbox"]

BOT_TOKEN = "xoxb-sandbox-token"
APP_TOKEN = "xapp-sandbox-token"
JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "files")
RESPONSE_URL_USES = 5
# What Slack answers a url_private request without a valid token: a redirect to the workspace's sign-in
# page, whose HTML a careless downloader then saves instead of the file (slackapi/bolt-js#2585,
# drewminns/slackdeletron#48, wee-slack/wee-slack#767; the header rule: Slack's platform blog post
# "Important Changes to Files in the Web API", 2015).
SIGN_IN_PAGE = (b"<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body>"
                b"<h1>Sign in to Sandbox</h1><p>Sign in to see this file.</p></body></html>")
# What Slack's edge answers when Slack is down: an HTML error page with HTTP 500, not the Web API's JSON
# (slack-ruby/slack-ruby-client#358/#359 record the page from a real outage; slackapi/python-slack-sdk#1454 the
# "non-JSON format" error slack_sdk raises for it).
SERVER_ERROR_PAGE = (b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Server Error | Slack"
                     b"</title><meta name=\"author\" content=\"Slack\"></head><body></body></html>")
EVERY_METHOD = "*"


@dataclass
class Call:
    """One Web API request as the sandbox received it: decoded args, and the raw ones for contract checks."""

    method: str
    args: dict[str, Any]
    token: str | None
    content_type: str
    raw: dict[str, Any]
    at: float = field(default_factory=time.monotonic)  # when it arrived
    status: int = 0  # the HTTP status it was answered with


@dataclass
class Download:
    """One GET of a file URL: which file (None if the path named none), the bearer token sent, the status."""

    path: str
    file_id: str | None
    token: str | None
    status: int


@dataclass
class Fault:
    """How a failing method answers: HTTP `status` with Slack's JSON `error`, or the edge's HTML page if None."""

    status: int
    error: str | None
    times: int = 1  # for `fail`: how many calls are left to fail


@dataclass
class ResponseUrl:
    channel: str
    user: str
    message_ts: str | None  # the message the interaction came from, for replace_original
    ephemeral: bool
    uses: int = 0


class SlackSandbox:
    """Workspace + HTTP server. `start()` returns the base URL for SLACK_API_URL."""

    def __init__(self, *, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN, team_id: str = TEAM_ID,
                 limits: bool = True):
        self.bot_token = bot_token
        self.app_token = app_token
        self.ws = Workspace(team_id)
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []
        self.downloads: list[Download] = []
        self.rate_limits: dict[str, tuple[int, int]] = {}  # method → (next calls answered 429, Retry-After)
        self.limits = RateLimits(enabled=limits)  # Slack's published limits, per method tier and per channel
        self.withheld_scopes: dict[str, tuple[str, str]] = {}  # method → (needed, provided)
        self.failures: dict[str, Fault] = {}  # method (or "*") → the next calls' failure
        self.delays: dict[str, float] = {}  # method (or "*") → seconds to wait before answering
        self.response_delay = 0.0  # seconds before a response_url post is applied
        self._outage: tuple[float, Fault] | None = None  # (until, in ws.clock seconds; how calls fail)
        self.socket_mode: SocketModeServer | None = None
        self.lock = threading.RLock()
        self._response_urls: dict[str, ResponseUrl] = {}
        self._response_ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # --- the workspace, for tests and the shell -----------------------------------------------

    @property
    def team_id(self) -> str:
        return self.ws.team_id

    @property
    def users(self) -> dict[str, User]:
        return self.ws.users

    @property
    def channels(self):
        return self.ws.channels

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.ws.messages

    @property
    def ephemeral(self) -> list[dict[str, Any]]:
        return self.ws.ephemeral

    @property
    def home_views(self) -> dict[str, dict[str, Any]]:
        return self.ws.home_views

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        return self.ws.views

    def add_user(self, user_id: str, name: str, *, tz: str = "UTC", is_bot: bool = False, is_admin: bool = False,
                 is_owner: bool = False) -> User:
        with self.lock:
            return self.ws.add_user(user_id, name, tz=tz, is_bot=is_bot, is_admin=is_admin, is_owner=is_owner)

    def add_usergroup(self, group_id: str, handle: str, users: list[str], *, name: str | None = None) -> Usergroup:
        """A user group people mention as @handle, e.g. `add_usergroup("S0PMLEADS", "pm-leads", ["U0ALICE"])`."""
        with self.lock:
            return self.ws.add_usergroup(group_id, handle, users, name=name)

    def add_channel(self, channel_id: str, name: str, *, members: set[str] | None = None, is_private: bool = False):
        with self.lock:
            return self.ws.add_channel(channel_id, name, members=members, is_private=is_private)

    # --- switches for tests -------------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 `ratelimited` and `Retry-After`."""
        with self.lock:
            self.rate_limits[method] = (times, retry_after)

    def fail(self, method: str, *, times: int = 1, status: int = 500, error: str | None = None) -> None:
        """Answer the next `times` calls of `method` (`"*"`: of every method) with HTTP `status`, the way Slack
        answers while it has trouble: by default the edge's HTML error page (slack_sdk then raises SlackApiError
        whose `error` says it "Received a response in a non-JSON format"); with `error`, Slack's JSON body
        `{"ok": false, "error": error}`, e.g. `fatal_error`, `internal_error`, `service_unavailable` or
        `request_timeout` (the common errors on every method page). Failed calls are still in `calls`."""
        with self.lock:
            self.failures[method] = Fault(status, error, times)

    def outage(self, seconds: float, *, status: int = 500, error: str | None = None) -> None:
        """Fail every call for `seconds` of the workspace's clock (`ws.clock`), as `fail("*")` does. A test that
        points `ws.clock` at a clock it moves gets "45 s of 500s" without waiting; `outage(0)` ends one early."""
        with self.lock:
            self._outage = (self.ws.clock() + seconds, Fault(status, error)) if seconds > 0 else None

    def delay(self, method: str, seconds: float) -> None:
        """Answer calls of `method` (`"*"`: of every method) only after `seconds`: a slow Slack for some methods
        only (other calls are answered at once, on their own threads). `delay(method, 0)` removes it."""
        with self.lock:
            if seconds > 0:
                self.delays[method] = seconds
            else:
                self.delays.pop(method, None)

    def delay_of(self, method: str) -> float:
        """Seconds a call of `method` waits before it is answered (its own delay, else the `"*"` one)."""
        with self.lock:
            return self.delays.get(method, self.delays.get(EVERY_METHOD, 0.0))

    def withhold_scope(self, method: str, *, needed: str, provided: str) -> None:
        """Answer every call of `method` with `missing_scope`, as Slack does when the app lacks `needed`."""
        with self.lock:
            self.withheld_scopes[method] = (needed, provided)

    def new_response_url(self, channel: str = "C0GENERAL", user: str = "U0ALICE", *,
                         message_ts: str | None = None, ephemeral: bool = False) -> str:
        with self.lock:
            response_id = str(next(self._response_ids))
            self._response_urls[response_id] = ResponseUrl(channel, user, message_ts, ephemeral)
        return f"{self.base_url}response/{response_id}"

    def calls_to(self, method: str) -> list[Call]:
        with self.lock:
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
        with self.lock:
            self.ws.file_host = self.base_url
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

    def handle_api(self, method: str, call: Call) -> tuple[int, dict[str, str], dict[str, Any] | bytes]:
        """(HTTP status, headers, JSON body) for one Web API call; bytes for a body that is not JSON."""
        with self.lock:
            self.calls.append(call)
            answer = self._answer(method, call)
            call.status = answer[0]
            return answer

    def _answer(self, method: str, call: Call) -> tuple[int, dict[str, str], dict[str, Any] | bytes]:
        with self.lock:
            fault = self._fault_for(method)
            if fault is not None:
                if fault.error is None:
                    return fault.status, {}, SERVER_ERROR_PAGE
                return fault.status, {}, {"ok": False, "error": fault.error}
            limited = self.rate_limits.get(method)
            if limited and limited[0] > 0:
                self.rate_limits[method] = (limited[0] - 1, limited[1])
                return 429, {"Retry-After": str(limited[1])}, {"ok": False, "error": "ratelimited"}
            if method == "apps.connections.open":
                return 200, {}, self._apps_connections_open(call.token)
            handler = self.ws.method(method)
            if handler is None:
                return 200, {}, {"ok": False, "error": "unknown_method"}
            if call.token != self.bot_token:
                return 200, {}, {"ok": False, "error": "not_authed" if not call.token else "invalid_auth"}
            retry_after = self.limits.check(method, call.args)
            if retry_after is not None:
                return 429, {"Retry-After": str(retry_after)}, {"ok": False, "error": "ratelimited"}
            if method in self.withheld_scopes:
                needed, provided = self.withheld_scopes[method]
                return 200, {}, {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided}
            try:
                result = handler(call.args)
            except SlackApiFailure as failure:
                body: dict[str, Any] = {"ok": False, "error": failure.error}
                if failure.messages:
                    body["response_metadata"] = {"messages": failure.messages}
                return 200, {}, body
            if method == "files.getUploadURLExternal":
                result["upload_url"] = self.base_url + result["upload_url"].lstrip("/")
            return 200, {}, {"ok": True, **result}

    def _fault_for(self, method: str) -> Fault | None:
        """How this call fails, if an outage is on or `fail` armed it (its own method first, then `"*"`)."""
        if self._outage is not None:
            until, fault = self._outage
            if self.ws.clock() < until:
                return fault
            self._outage = None
        for key in (method, EVERY_METHOD):
            armed = self.failures.get(key)
            if armed is not None and armed.times > 0:
                armed.times -= 1
                if armed.times == 0:
                    del self.failures[key]
                return armed
        return None

    def _apps_connections_open(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth" if token.startswith("xapp-") else "not_allowed_token_type"}
        if self.socket_mode is None:
            self.socket_mode = SocketModeServer()
        return {"ok": True, "url": self.socket_mode.url}

    def handle_response_url(self, response_id: str, payload: dict[str, Any]) -> tuple[int, str]:
        """Apply a response_url post the way Slack does: ephemeral by default, in_channel, replace, delete."""
        if self.response_delay:
            time.sleep(self.response_delay)
        with self.lock:
            target = self._response_urls.get(response_id)
            if target is None:
                return 404, "no_such_url"
            if target.uses >= RESPONSE_URL_USES:
                return 404, "used_url"
            target.uses += 1
            self.responses.append({"response_id": response_id, **payload})
            self._apply_response(target, payload)
            return 200, "ok"

    def _apply_response(self, target: ResponseUrl, payload: dict[str, Any]) -> None:
        ws = self.ws
        original = None
        if target.message_ts is not None:
            pool = ws.ephemeral if target.ephemeral else ws.messages
            original = next((m for m in pool if m["channel"] == target.channel and m["ts"] == target.message_ts),
                            None)
        if _flag(payload.get("delete_original")) and original is not None:
            (ws.ephemeral if target.ephemeral else ws.messages).remove(original)
            return
        if _flag(payload.get("replace_original")) and original is not None:
            original["text"] = payload.get("text") or ""
            original["blocks"] = payload.get("blocks") or []
            return
        if payload.get("response_type") == "in_channel":
            channel = ws.channels.get(target.channel)
            if channel is not None:
                ws.post(channel, BOT_USER_ID, {"text": payload.get("text"), "blocks": payload.get("blocks"),
                                               "thread_ts": payload.get("thread_ts")})
            return
        ws.ephemeral.append({"channel": target.channel, "user": target.user, "ts": ws.next_ts(),
                             "text": payload.get("text") or "", "blocks": payload.get("blocks") or [],
                             "source": "response_url"})

    def handle_upload(self, file_id: str, content: bytes) -> bool:
        with self.lock:
            return self.ws.upload(file_id, content)

    def handle_download(self, path: str, authorization: str) -> tuple[int, dict[str, str], bytes, str]:
        """(status, headers, body, content type) for a GET of a url_private[_download]: the bytes for the bot
        token; otherwise Slack's redirect to its sign-in page, never the file. Every try is recorded."""
        token = authorization[7:] if authorization.startswith("Bearer ") else None
        with self.lock:
            found = self.ws.file_at(path)
            if token != self.bot_token:
                answer = 302, {"Location": f"{self.base_url}?redir={quote(path, safe='')}"}, b"", "text/html"
            elif found is None:
                answer = 404, {}, b"file_not_found", "text/plain"
            else:
                answer = _file_answer(*found)
            self.downloads.append(Download(path, found[0]["id"] if found else None, token, answer[0]))
        return answer


def _file_answer(file: dict[str, Any], attachment: bool) -> tuple[int, dict[str, str], bytes, str]:
    """A file's bytes with its mimetype; url_private_download asks the browser to save rather than show it."""
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file['name'])}"} if attachment else {}
    return 200, headers, file["content"], file.get("mimetype") or "application/octet-stream"


def _flag(value: Any) -> bool:
    return value in (True, "true", "1", 1)


def parse_args(body: bytes, content_type: str, query: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """(decoded, raw) Web API arguments from a form or JSON body (slack_sdk sends both)."""
    raw: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if body:
        if content_type.startswith("application/json"):
            raw.update(json.loads(body.decode("utf-8")))
        else:
            raw.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()})
    args = dict(raw)
    for key in JSON_FIELDS:
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except json.JSONDecodeError:
                pass
    return args, raw


class _Handler(BaseHTTPRequestHandler):
    sandbox: SlackSandbox
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — quiet test output
        pass

    def do_GET(self) -> None:  # noqa: N802 — http.server's name
        path, _, query = self.path.partition("?")
        if path.startswith("/files-pri/"):
            status, headers, body, kind = self.sandbox.handle_download(path, self.headers.get("Authorization", ""))
            self._send(status, body, kind, headers)
        elif path == "/":
            self._send(200, SIGN_IN_PAGE, "text/html; charset=utf-8")  # where a tokenless download ends up
        elif path.startswith("/api/"):
            self._api(path[5:], b"", "", query)  # Slack takes Web API calls as GET with a query string, too
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802 — http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        content_type = self.headers.get("Content-Type", "")
        if path.startswith("/api/"):
            self._api(path[5:], body, content_type, query)
        elif path.startswith("/response/"):
            try:
                payload = json.loads(body or b"{}")
            except json.JSONDecodeError:
                self._send(400, b"invalid_payload", "text/plain")
                return
            status, text = self.sandbox.handle_response_url(path[10:], payload)
            self._send(status, text.encode(), "text/plain")
        elif path.startswith("/upload/v1/"):
            ok = self.sandbox.handle_upload(path[11:], body)
            self._send(200 if ok else 404, b"OK - " + str(len(body)).encode() if ok else b"not found", "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def _api(self, method: str, body: bytes, content_type: str, query: str) -> None:
        try:
            args, raw = parse_args(body, content_type, query)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._send(200, json.dumps({"ok": False, "error": "invalid_json"}).encode(), "application/json")
            return
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", None)
        call = Call(method, args, token, content_type.split(";")[0], raw)
        wait = self.sandbox.delay_of(method)
        if wait:
            time.sleep(wait)  # on this request's own thread: other calls are answered meanwhile
        status, headers, payload = self.sandbox.handle_api(method, call)
        if isinstance(payload, bytes):
            self._send(status, payload, "text/html; charset=utf-8", headers)
        else:
            self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
