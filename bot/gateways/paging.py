"""The only code that talks to a paging service: PagerDuty's Events API v2 or Opsgenie's Alert API, over requests.

One page per incident, known to the service by its dedup key (PagerDuty's `dedup_key`, Opsgenie's `alias`): a
trigger sent twice is still one alert, and the resolve (close) finds it by the same key.

Errors come out as pmbot's: `PagingUnavailable` (unreachable, timed out, 5xx, 429: waiting helps; `retry_after` is
the service's own hint) and `PagingRefused` (any other 4xx; `key_refused` when the key is wrong, 401/403 or
PagerDuty's 400 naming the routing key, else the service rejected this page; a person must look).
No message ever holds the key: the service's words are cleaned of it too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from bot.errors import IntegrationUnavailable
from bot.gateways.responses import json_object
from bot.settings import opsgenie_responders
from bot.workpool import before_remote_call

if TYPE_CHECKING:
    from bot.settings import Settings

CONNECT_TIMEOUT, READ_TIMEOUT = 3, 10
MAX_MESSAGE_CHARS = 300
# The published limits: PagerDuty's payload.summary and dedup_key; Opsgenie's message, alias and description.
PAGERDUTY_SUMMARY, PAGERDUTY_DEDUP = 1024, 255
OPSGENIE_MESSAGE, OPSGENIE_ALIAS, OPSGENIE_DESCRIPTION = 130, 512, 15000
SEVERITY = {1: "critical", 2: "error", 3: "warning"}  # PagerDuty's severities, by incident grade


class PagingUnavailable(IntegrationUnavailable):
    """The service could not be reached, or asked us to wait (429, 5xx)."""

    def __init__(self, why: str, retry_after: float | None = None):
        super().__init__(why)
        self.retry_after = retry_after


class PagingRefused(IntegrationUnavailable):
    """A 4xx other than 429: the key is refused, or the request is not what the service takes. Trying again
    cannot help."""

    def __init__(self, why: str, status: int, *, key_refused: bool = True):
        super().__init__(why)
        self.status = status
        self.key_refused = key_refused  # False: the key is fine, this page was rejected (say so, no doctor FAIL)


@dataclass(frozen=True)
class Page:
    """What the on-call is paged with: plain text (no Slack markup), already redacted."""

    dedup_key: str
    summary: str
    grade: int
    source: str
    description: str = ""
    details: dict[str, str] = field(default_factory=dict)
    link: str | None = None  # the war room, when it is open already
    link_text: str = "War room in Slack"
    timestamp: str | None = None  # ISO 8601, when the incident was declared


class Pager:
    """A requests session bound to one paging service and its key; bounded timeouts, no retries of its own (the
    work queue retries, with backoff, and survives restarts)."""

    name = ""
    key_setting = ""

    def __init__(self, base_url: str, key: str, *, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._session = session or requests.Session()

    @property
    def fingerprint(self) -> str:
        """A short hash of the service and key: tells a refused key from a new one without keeping the key."""
        return hashlib.sha256(f"{self.name}\n{self._key}".encode()).hexdigest()[:16]

    def trigger(self, page: Page) -> None:
        raise NotImplementedError

    def acknowledge(self, dedup_key: str) -> None:
        raise NotImplementedError

    def resolve(self, dedup_key: str) -> None:
        raise NotImplementedError

    def _post(self, path: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> dict[str, Any]:
        before_remote_call()
        try:
            response = self._session.post(self.base_url + path, json=body, headers=headers or {},
                                          timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.Timeout:
            raise PagingUnavailable(f"{self.name} did not answer in time.") from None
        except requests.RequestException as exc:
            raise PagingUnavailable(f"{self.name} cannot be reached ({type(exc).__name__}).") from None
        answer = json_object(response)
        status = response.status_code
        if 200 <= status < 300:
            return answer or {}
        said = self._clean(_message(answer))
        detail = f" ({said})" if said else ""
        if status == 429 or status >= 500 or status == 408:
            raise PagingUnavailable(f"{self.name} answered HTTP {status}{detail}; trying again later.",
                                    _retry_after(response))
        # 401/403 refuse the key; PagerDuty answers an unknown routing key with a 400 that says so.
        if status in (401, 403) or "routing key" in said.lower() or "routing_key" in said.lower():
            raise PagingRefused(f"{self.name} refused the key in {self.key_setting} (HTTP {status}){detail}.", status)
        raise PagingRefused(f"{self.name} rejected the page (HTTP {status}){detail}.", status, key_refused=False)

    def _clean(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text


class PagerDuty(Pager):
    """Events API v2: POST /v2/enqueue with the routing key in the body; 202 {status, message, dedup_key}."""

    name = "PagerDuty"
    key_setting = "PMBOT_PAGERDUTY_ROUTING_KEY"

    def trigger(self, page: Page) -> None:
        payload: dict[str, Any] = {"summary": _cut(page.summary, PAGERDUTY_SUMMARY), "source": page.source,
                                   "severity": SEVERITY.get(page.grade, "critical"),
                                   "class": f"incident grade {page.grade}", "custom_details": page.details}
        if page.timestamp:
            payload["timestamp"] = page.timestamp
        body: dict[str, Any] = {"routing_key": self._key, "event_action": "trigger",
                                "dedup_key": page.dedup_key[:PAGERDUTY_DEDUP], "payload": payload, "client": "pmbot"}
        if page.link:
            body["links"] = [{"href": page.link, "text": page.link_text}]
        self._post("/v2/enqueue", body)

    def acknowledge(self, dedup_key: str) -> None:
        self._event("acknowledge", dedup_key)

    def resolve(self, dedup_key: str) -> None:
        self._event("resolve", dedup_key)

    def _event(self, action: str, dedup_key: str) -> None:
        self._post("/v2/enqueue", {"routing_key": self._key, "event_action": action,
                                   "dedup_key": dedup_key[:PAGERDUTY_DEDUP]})


class Opsgenie(Pager):
    """Alert API: POST /v2/alerts (create), /v2/alerts/{alias}/close|acknowledge?identifierType=alias, with
    `Authorization: GenieKey …`; 202 {result, took, requestId} (processed asynchronously)."""

    name = "Opsgenie"
    key_setting = "PMBOT_OPSGENIE_API_KEY"

    def __init__(self, base_url: str, key: str, *, responders: list[dict[str, str]] | None = None,
                 session: requests.Session | None = None):
        super().__init__(base_url, key, session=session)
        self.responders = responders or []

    def trigger(self, page: Page) -> None:
        description = page.description + (f"\n\n{page.link_text}: {page.link}" if page.link else "")
        body: dict[str, Any] = {"message": _cut(page.summary, OPSGENIE_MESSAGE),
                                "alias": page.dedup_key[:OPSGENIE_ALIAS],
                                "description": _cut(description.strip() or page.summary, OPSGENIE_DESCRIPTION),
                                "tags": ["pmbot", f"grade-{page.grade}"], "details": page.details,
                                "source": page.source, "priority": f"P{min(max(page.grade, 1), 5)}"}
        if self.responders:
            body["responders"] = self.responders
        self._post("/v2/alerts", body, headers=self._auth())

    def acknowledge(self, dedup_key: str) -> None:
        self._action("acknowledge", dedup_key)

    def resolve(self, dedup_key: str) -> None:
        self._action("close", dedup_key)

    def _action(self, action: str, dedup_key: str) -> None:
        alias = quote(dedup_key[:OPSGENIE_ALIAS], safe="")
        self._post(f"/v2/alerts/{alias}/{action}?identifierType=alias",
                   {"source": "pmbot", "user": "pmbot", "note": f"{action.capitalize()}d from pmbot."},
                   headers=self._auth())

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"GenieKey {self._key}"}


def build_pager(settings: Settings) -> Pager | None:
    """The configured paging service, or None when paging is off. No network here."""
    if settings.pmbot_paging_provider == "pagerduty" and settings.pmbot_pagerduty_routing_key is not None:
        return PagerDuty(settings.pmbot_pagerduty_url, settings.pmbot_pagerduty_routing_key.get_secret_value())
    if settings.pmbot_paging_provider == "opsgenie" and settings.pmbot_opsgenie_api_key is not None:
        return Opsgenie(settings.pmbot_opsgenie_api_url, settings.pmbot_opsgenie_api_key.get_secret_value(),
                        responders=opsgenie_responders(settings.pmbot_opsgenie_responders))
    return None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"



def _message(body: dict[str, Any] | None) -> str:
    """What the service said: PagerDuty's message and errors, Opsgenie's message and field errors."""
    if not body:
        return ""
    parts = [str(body.get("message") or "")]
    errors = body.get("errors")
    if isinstance(errors, list):
        parts += [str(e) for e in errors]
    elif isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    text = " ".join(" ".join(p for p in parts if p).split())
    return _cut(text, MAX_MESSAGE_CHARS)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None
