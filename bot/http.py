"""HTTP: a small WSGI router in front of Bolt, served by cheroot (threads, graceful stop)."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from cheroot.wsgi import Server as WSGIServer
from slack_bolt import App, BoltRequest
from sqlalchemy.engine import Engine

from bot import __version__
from bot.edge import RECEIVED
from bot.metrics import Metrics
from bot.workpool import AckQueue
from storage.db import ping

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
JIRA_WEBHOOK_PATH = "/jira/webhook"
MAX_BODY_BYTES = 1_000_000  # Slack payloads are far smaller; refuse anything absurd before reading it.
# Connections the kernel completes and holds until the accept loop takes them (listen()'s backlog; Linux cuts it
# to net.core.somaxconn). cheroot's default of 5 overflows when a burst of deliveries lands at once: the kernel
# drops the handshake and the sender tries again a second later, so a request that needed 15 ms took 1,015
# (bench/ack_latency.py: p99 about 1.04 s at 16 clients, for pmbot and for a bare Bolt app alike).
LISTEN_BACKLOG = 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

# Slack's signing headers: the timestamp is Unix seconds in ASCII digits, the signature printable ASCII (`v0=` and
# hex). slack_sdk calls int() on the timestamp (a 500 for `abc`, `1.5` or an empty value) and hmac refuses a
# non-ASCII signature with a TypeError, so a malformed header is refused here, as any bad signature is.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[\x21-\x7e]{1,256}")
REFUSED_BODY = b'{"error": "invalid request"}'  # what Bolt answers a bad signature with


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _request_kind(body: dict[str, Any]) -> str:
    """A low-cardinality label for the ack histogram: the command, or the payload/event type."""
    if "command" in body:
        return str(body["command"])
    if "event" in body:
        return "event:" + str((body.get("event") or {}).get("type", "unknown"))
    return str(body.get("type") or "other")


class WsgiApp:
    """Routes `/slack/events`, `/healthz`, `/metrics`, and `/jira/webhook` when a webhook secret is set. Slack
    requests are dispatched a few at a time, in arrival order (`acks`, see bot/workpool.py)."""

    def __init__(self, bolt: App, engine: Engine, metrics: Metrics, *, jira_webhook: JiraWebhook | None = None,
                 acks: AckQueue | None = None, apis: dict[str, JsonApi] | None = None):
        self.bolt = bolt
        self.engine = engine
        self.metrics = metrics
        self.jira_webhook = jira_webhook
        self.apis = apis or {}
        self.acks = acks or AckQueue()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST":
            return self._slack(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            return self._health(start_response)
        if path == JIRA_WEBHOOK_PATH and method == "POST" and self.jira_webhook is not None:
            return self._jira(environ, start_response)
        if path in self.apis:
            return self._api(self.apis[path], environ, start_response) if method == "POST" else \
                _respond(start_response, 405, b"method not allowed\n", "text/plain")
        if path == "/metrics" and method == "GET":
            return _respond(start_response, 200, self.metrics.render(), self.metrics.content_type)
        if path in (EVENTS_PATH, "/healthz", "/metrics"):
            return _respond(start_response, 405, b"method not allowed\n", "text/plain")
        return _respond(start_response, 404, b"not found\n", "text/plain")

    def _api(self, api: JsonApi, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = _read_body(environ)
        if body is None:
            return _respond(start_response, 413, b'{"ok": false, "error": "payload_too_large"}', "application/json")
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        try:
            status, answer = api(headers, body)
        except Exception:  # a bug or the database down: a clear 500, the details in the log only
            logger.exception("%s failed", environ.get("PATH_INFO"))
            status, answer = 500, {"ok": False, "error": "internal_error"}
        return _respond(start_response, status, json.dumps(answer).encode("utf-8"), "application/json")

    def _slack(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started, arrived = time.perf_counter(), time.monotonic()
        body = _read_body(environ)
        if body is None:
            return _respond(start_response, 413, b"payload too large\n", "text/plain")
        raw = body.decode("utf-8", errors="replace")
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        if not signing_headers_readable(headers):
            logger.info("refused a Slack request: its signing headers are malformed")
            self.metrics.requests.labels("signature", "refused").inc()
            return _respond(start_response, 401, REFUSED_BODY, "application/json")
        # When it arrived (its wait for a turn included), so a listener that starts too late to ack knows not to
        # act (bot/edge.py).
        request = BoltRequest(body=raw, query=parse_qs(environ.get("QUERY_STRING", "")), headers=headers,
                              context={RECEIVED: arrived})
        with self.acks.turn():
            response = self.bolt.dispatch(request)
        self.metrics.ack_seconds.labels(_request_kind(request.body)).observe(time.perf_counter() - started)
        body = (response.body or "").encode("utf-8")
        out_headers = [(k, v) for k, values in response.headers.items() for v in values
                       if k.lower() != "content-length"]
        out_headers.append(("Content-Length", str(len(body))))
        start_response(_status_line(response.status), out_headers)
        return [body]

    def _jira(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert self.jira_webhook is not None
        raw = _read_body(environ)
        if raw is None:
            return _respond(start_response, 413, b"payload too large\n", "text/plain")
        secret = (parse_qs(environ.get("QUERY_STRING", "")).get("secret") or [None])[0]
        signature = environ.get("HTTP_X_HUB_SIGNATURE")
        if not self.jira_webhook.authorised(body=raw, query_secret=secret, signature=signature):
            return _respond(start_response, 401, b"bad or missing secret\n", "text/plain")
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return _respond(start_response, 400, b"body is not JSON\n", "text/plain")
        if not isinstance(payload, dict):
            return _respond(start_response, 400, b"body is not a JSON object\n", "text/plain")
        try:
            said = self.jira_webhook.handle(payload)
        except Exception:
            logger.exception("jira webhook failed")
            return _respond(start_response, 500, b"could not apply the event; the poll will\n", "text/plain")
        return _respond(start_response, 200, (said + "\n").encode(), "text/plain")

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            ping(self.engine)
            status, database = 200, "ok"
        except Exception as exc:  # noqa: BLE001 — any failure means "not healthy", said as 503
            logger.warning("health check: database unreachable: %s", type(exc).__name__)
            status, database = 503, "unreachable"
        payload = {"status": "ok" if status == 200 else "unavailable", "database": database,
                   "version": __version__}
        return _respond(start_response, status, json.dumps(payload).encode(), "application/json")


def signing_headers_readable(headers: dict[str, str]) -> bool:
    """False when the timestamp or signature header is there but could not have come from Slack. Absent ones
    are left to Bolt, which refuses them too."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    return ((timestamp is None or _TIMESTAMP.fullmatch(timestamp) is not None)
            and (signature is None or _SIGNATURE.fullmatch(signature) is not None))


# A JSON POST route: (lower-cased headers, body) → (status, JSON answer), e.g. `POST /api/quality/runs`.
JsonApi = Callable[[dict[str, str], bytes], tuple[int, dict[str, Any]]]


class JiraWebhook:
    """What the Jira webhook route needs: a check of the secret and a handler for one event."""

    def __init__(self, authorised: Callable[..., bool], handle: Callable[[dict[str, Any]], str]):
        self.authorised = authorised
        self.handle = handle


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or None when its length is absurd (refused before reading it)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length < 0 or length > MAX_BODY_BYTES:
        return None
    return environ["wsgi.input"].read(length) if length else b""


def _respond(start_response: StartResponse, status: int, body: bytes, content_type: str) -> list[bytes]:
    start_response(_status_line(status), [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class HttpServer:
    """cheroot in a background thread; `stop()` stops accepting and waits for requests in flight."""

    def __init__(self, app: WsgiApp, *, host: str, port: int, threads: int, drain_seconds: float):
        self._server = WSGIServer((host, port), app, numthreads=threads, shutdown_timeout=drain_seconds,
                                  request_queue_size=LISTEN_BACKLOG)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.bind_addr[1]

    def start(self) -> None:
        self._server.prepare()  # binds now, so the port is known (port 0 picks a free one)
        self._thread = threading.Thread(target=self._server.serve, name="pmbot-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
