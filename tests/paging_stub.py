"""Stand-ins for PagerDuty's Events API v2 and Opsgenie's Alert API, served over real HTTP, that check what the real
services check and keep the alerts they would open.

The shapes are the published ones:

- PagerDuty Events API v2, "Send an Alert Event" (PagerDuty/developer-docs, docs/events-API-v2/02-Trigger-Events.md)
  and its overview's response codes (01-Overview.md): POST https://events.pagerduty.com/v2/enqueue with
  `routing_key` (the integration key) and `event_action` (trigger | acknowledge | resolve) required; `dedup_key` at
  most 255 characters; a trigger needs `payload.summary` (at most 1024 characters), `payload.source` and
  `payload.severity` (critical | error | warning | info); `links` are objects with an `href`. 202 with
  {status: "success", message: "Event processed", dedup_key}; 400 for an invalid event (we answer it for an unknown
  routing key too); 429 and 5xx mean retry. Acknowledge and resolve apply to the open alert of that dedup_key.
- Opsgenie Alert API (docs.opsgenie.com/docs/alert-api; the CreateAlertRequest schema): `Authorization: GenieKey
  <key>` on every request; POST /v2/alerts with `message` required (at most 130 characters), `alias` (at most 512,
  the dedup key), `description` (at most 15000), `responders` (objects with a `type` of team, user, escalation or
  schedule and an id, name or username), `tags`, `details` (string to string), `priority` P1…P5; POST
  /v2/alerts/{identifier}/close|acknowledge?identifierType=id|alias|tiny. Requests are processed asynchronously: 202
  with {result: "Request will be processed", took, requestId}; 401 for a key it does not know, 422 for a body it
  cannot process. The EU instance is the same API at api.eu.opsgenie.com.

Failures on demand: `outage` answers the next requests with the statuses it lists (503, 429 with `retry_after`),
`stop()` takes the server down (connection refused) and `start()` brings it back on the same port.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
OG_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
OG_RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
OG_IDENTIFIER_TYPES = ("id", "alias", "tiny")


@dataclass
class Seen:
    """One request as it arrived, and what the stand-in answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Alert:
    key: str  # PagerDuty's dedup_key, Opsgenie's alias
    status: str  # triggered | acknowledged | resolved (PagerDuty); open | acknowledged | closed (Opsgenie)
    body: dict[str, Any]
    events: list[str] = field(default_factory=list)


class PagingStub:
    """Both services on one local server: PagerDuty under /v2/enqueue, Opsgenie under /v2/alerts."""

    def __init__(self, *, routing_keys: tuple[str, ...] = (), genie_keys: tuple[str, ...] = ()):
        self.routing_keys = set(routing_keys)
        self.genie_keys = set(genie_keys)
        self.requests: list[Seen] = []
        self.alerts: dict[str, Alert] = {}
        self.outage: list[int] = []  # statuses to answer, one per request, before serving again
        self.retry_after: str | None = None
        self.outage_message: str | None = None  # what an outage answer says (default: "Service unavailable, …")
        self._lock = threading.Lock()
        self._port = 0
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"stub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted(self, action: str | None = None) -> list[Seen]:
        """Requests answered 202, PagerDuty's of one event_action (or Opsgenie's of one path ending) if given."""
        found = [r for r in self.requests if r.status == 202]
        if action is None:
            return found
        return [r for r in found if (isinstance(r.body, dict) and r.body.get("event_action") == action)
                or urlsplit(r.path).path.rstrip("/").endswith("/" + action)
                or (action == "create" and urlsplit(r.path).path == "/v2/alerts")]

    # --- PagerDuty ----------------------------------------------------------------------------------------

    def enqueue(self, body: Any) -> tuple[int, dict[str, Any]]:
        problems = _pd_problems(body)
        if problems:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": problems}
        if body["routing_key"] not in self.routing_keys:
            return 400, {"status": "invalid event", "message": "Event object is invalid",
                         "errors": ["Invalid routing key"]}
        key = body.get("dedup_key") or uuid.uuid4().hex
        action = body["event_action"]
        with self._lock:
            alert = self.alerts.get(key)
            if action == "trigger":
                if alert is None or alert.status == "resolved":
                    self.alerts[key] = alert = Alert(key, "triggered", body)
                alert.events.append("trigger")
            elif alert is not None and alert.status != "resolved":  # else dropped, as PagerDuty drops it
                alert.status = "acknowledged" if action == "acknowledge" else "resolved"
                alert.events.append(action)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}

    # --- Opsgenie -----------------------------------------------------------------------------------------

    def opsgenie(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4())
        auth = headers.get("authorization", "")
        if not auth.startswith("GenieKey ") or auth.removeprefix("GenieKey ") not in self.genie_keys:
            return 401, {"message": "Could not authenticate", "took": 0.0, "requestId": request_id}
        parts = urlsplit(path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if segments == ["v2", "alerts"]:
            problems = _og_create_problems(body)
            if problems:
                return 422, {"message": "Request body is not processable. Please check the errors.",
                             "errors": problems, "took": 0.0, "requestId": request_id}
            key = body.get("alias") or request_id
            with self._lock:
                alert = self.alerts.get(key)
                if alert is None or alert.status == "closed":  # an open alert with that alias is deduplicated
                    self.alerts[key] = alert = Alert(key, "open", body)
                alert.events.append("create")
        elif len(segments) == 4 and segments[:2] == ["v2", "alerts"] and segments[3] in ("close", "acknowledge"):
            kind = (parse_qs(parts.query).get("identifierType") or ["id"])[0]
            if kind not in OG_IDENTIFIER_TYPES or not isinstance(body, dict):
                return 422, {"message": "Request body is not processable. Please check the errors.",
                             "errors": {"identifierType": f"{kind} is not one of id, alias, tiny"},
                             "took": 0.0, "requestId": request_id}
            with self._lock:  # processed later: an alert that does not exist fails in the request's status only
                alert = self.alerts.get(segments[2]) if kind == "alias" else None
                if alert is not None and alert.status != "closed":
                    alert.status = "closed" if segments[3] == "close" else "acknowledged"
                    alert.events.append(segments[3])
        else:
            return 404, {"message": "Could not find the requested resource", "took": 0.0, "requestId": request_id}
        return 202, {"result": "Request will be processed", "took": 0.01, "requestId": request_id}


def _pd_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["Event object is not a JSON object"]
    problems = []
    if not isinstance(body.get("routing_key"), str) or not body["routing_key"]:
        problems.append("'routing_key' is missing or blank")
    action = body.get("event_action")
    if action not in PD_ACTIONS:
        problems.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    key = body.get("dedup_key")
    if key is not None and (not isinstance(key, str) or len(key) > 255):
        problems.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not key:
        problems.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        problems += _pd_payload_problems(body.get("payload"))
    links = body.get("links")
    if links is not None and (not isinstance(links, list) or
                              not all(isinstance(x, dict) and isinstance(x.get("href"), str) for x in links)):
        problems.append("'links' must be a list of objects with an href")
    return problems


def _pd_payload_problems(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing"]
    problems = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary:
        problems.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        problems.append("'payload.summary' is longer than 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        problems.append("'payload.source' is missing or blank")
    if payload.get("severity") not in PD_SEVERITIES:
        problems.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        problems.append("'payload.custom_details' must be an object")
    return problems


def _og_create_problems(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        return {"body": "must be a JSON object"}
    problems = {}
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        problems["message"] = "Message can not be empty."
    elif len(message) > 130:
        problems["message"] = "Message can not be longer than 130 characters."
    for name, limit in (("alias", 512), ("description", 15000), ("entity", 512), ("source", 100)):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problems[name] = f"{name} must be a string of at most {limit} characters."
    if body.get("priority") is not None and body["priority"] not in OG_PRIORITIES:
        problems["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]"
    for responder in body.get("responders") or []:
        if (not isinstance(responder, dict) or responder.get("type") not in OG_RESPONDER_TYPES
                or not any(responder.get(k) for k in ("id", "name", "username"))):
            problems["responders"] = "Each responder needs a type (team, user, escalation, schedule) and an id, " \
                                     "a name or a username."
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        problems["tags"] = "Tags must be a list of strings."
    details = body.get("details")
    if details is not None and (not isinstance(details, dict)
                                or not all(isinstance(v, str) for v in details.values())):
        problems["details"] = "Details must map strings to strings."
    return problems


class _Handler(BaseHTTPRequestHandler):
    stub: PagingStub

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        seen = Seen("POST", self.path, headers, body)
        stub = self.stub
        with stub._lock:
            stub.requests.append(seen)
            failing = stub.outage.pop(0) if stub.outage else None
        extra = {}
        if failing is not None:
            status, answer = failing, {"status": "throttle" if failing == 429 else "error",
                                       "message": stub.outage_message or "Service unavailable, try again"}
            if failing == 429 and stub.retry_after is not None:
                extra["Retry-After"] = stub.retry_after
        elif urlsplit(self.path).path == "/v2/enqueue":
            status, answer = stub.enqueue(body)
        else:
            status, answer = stub.opsgenie(self.path, headers, body)
        seen.status = status
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
