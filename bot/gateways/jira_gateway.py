"""The only code that talks to Jira. Never on the request path: the library's constructor calls the server.

Errors come out as two kinds: `JiraUnavailable` (down, timed out, 5xx, 429: waiting helps, and Retry-After
says how long) and `JiraRejected` (Jira answered no: a bad field, a missing transition; waiting does not
help, a person must fix the mapping or the workflow).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import requests
from jira import JIRA, JIRAError

from bot.settings import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT, READ_TIMEOUT = 3.05, 30
SYNC_FIELDS = ["summary", "status", "priority", "assignee", "labels", "updated"]


class JiraUnavailable(Exception):
    """Jira could not be reached or asked us to wait; `retry_after` is its own hint in seconds, if any."""

    def __init__(self, why: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(why)
        self.retry_after, self.status = retry_after, status


class JiraRejected(Exception):
    """Jira answered, and the answer was no."""


def build_jira_client(settings: Settings, *, max_retries: int = 0) -> JIRA:
    """A JIRA client with bounded timeouts and retries (the library's defaults can block for minutes).

    Cloud: JIRA_USER (e-mail) + JIRA_API_TOKEN. Data Center: JIRA_API_TOKEN alone, a personal access token.
    """
    if not settings.jira_url or settings.jira_api_token is None:
        raise ValueError("Jira is not configured")
    token = settings.jira_api_token.get_secret_value()
    auth = {"basic_auth": (settings.jira_user, token)} if settings.jira_user else {"token_auth": token}
    # get_server_info stays on: Cloud detection depends on it, and search on Cloud needs that.
    return JIRA(server=settings.jira_url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), max_retries=max_retries,
                get_server_info=True, **auth)


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, JIRAError):
        status = exc.status_code or 0
        if status in (429, 502, 503, 504) or status >= 500 or status == 0:
            header = exc.response.headers.get("Retry-After") if exc.response is not None else None
            try:
                retry_after = float(header) if header is not None else None
            except ValueError:
                retry_after = None
            return JiraUnavailable(f"Jira answered HTTP {status}", retry_after, status)
        return JiraRejected(_jira_message(exc))
    if isinstance(exc, requests.RequestException):
        return JiraUnavailable(f"Jira is unreachable ({type(exc).__name__})")
    return exc


def _jira_message(exc: JIRAError) -> str:
    """Jira's own words (errorMessages and per-field errors), without the request dump the library adds."""
    try:
        body = exc.response.json() if exc.response is not None else {}
    except ValueError:
        body = {}
    words = list(body.get("errorMessages") or []) + [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
    return f"HTTP {exc.status_code}: " + ("; ".join(words) if words else (exc.text or "no details"))


class JiraGateway:
    """One lazily built client, shared by the jobs (built on first use, rebuilt after a failure)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client: JIRA | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self.settings.jira_configured

    def client(self) -> JIRA:
        with self._lock:
            if self._client is None:
                try:
                    self._client = build_jira_client(self.settings)
                except Exception as exc:
                    raise _translate(exc) from exc
            return self._client

    def reset(self) -> None:
        with self._lock:
            self._client = None

    def _do(self, action, *args, **kwargs):
        client = self.client()
        try:
            return action(client, *args, **kwargs)
        except (JIRAError, requests.RequestException) as exc:
            translated = _translate(exc)
            if isinstance(translated, JiraUnavailable):
                self.reset()
            raise translated from exc

    def browse_url(self, key: str) -> str:
        return f"{(self.settings.jira_url or '').rstrip('/')}/browse/{key}"

    # --- the calls ----------------------------------------------------------------------------------

    def search(self, jql: str, *, fields: list[str], limit: int = 100) -> list[dict[str, Any]]:
        """Issues matching a JQL query, as Jira's JSON (the search endpoint Jira Cloud still serves)."""

        def run(client: JIRA) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            token = None
            while len(found) < limit:
                page = client.enhanced_search_issues(jql, nextPageToken=token, maxResults=min(100, limit),
                                                     fields=list(fields), json_result=True)
                found.extend(page.get("issues", []))
                token = page.get("nextPageToken")
                if not token or page.get("isLast"):
                    break
            return found

        return self._do(run)

    def find_by_label(self, label: str) -> dict[str, Any] | None:
        project = self.settings.jira_project
        issues = self.search(f'project = "{project}" AND labels = "{label}"', fields=["summary", "status"], limit=2)
        return issues[0] if issues else None

    def create(self, fields: dict[str, Any]) -> tuple[str, str]:
        """Create an issue; its (id, key). Not idempotent: the caller looks for our label first."""
        issue = self._do(lambda c: c.create_issue(fields=fields, prefetch=False))
        return str(issue.id), str(issue.key)

    def edit(self, key: str, fields: dict[str, Any], *, update: dict[str, Any] | None = None) -> None:
        """Set fields, and apply `update` verbs (e.g. add/remove single labels) in the same request."""
        body: dict[str, Any] = {"fields": fields}
        if update:
            body["update"] = update

        def run(client: JIRA) -> None:
            client._session.put(client._get_url(f"issue/{key}"), data=json.dumps(body))

        self._do(run)

    def comment(self, key: str, body: str) -> None:
        self._do(lambda c: c.add_comment(key, body))

    def issue(self, key: str, *, fields: list[str]) -> dict[str, Any]:
        return self._do(lambda c: c.issue(key, fields=",".join(fields)).raw)

    def transition(self, key: str, names: list[str]) -> str | None:
        """Move an issue by the first of `names` its workflow offers now; the status it moved to (if Jira
        said), or JiraRejected."""

        def run(client: JIRA) -> str | None:
            offered = client.transitions(key)
            by_name = {t["name"].casefold(): t for t in offered}
            for name in names:
                chosen = by_name.get(name.casefold())
                if chosen is not None:
                    client.transition_issue(key, str(chosen["id"]))
                    return (chosen.get("to") or {}).get("name")
            offers = ", ".join(f"“{t['name']}”" for t in offered) or "none"
            raise JiraRejected(f"{key}'s workflow offers no transition named {' or '.join(names)} from its "
                               f"current status (it offers {offers}); set JIRA_TRANSITION_CLOSE / "
                               "JIRA_TRANSITION_REOPEN to names your workflow has")

        return self._do(run)

    def create_screen(self, issue_type_id: str) -> dict[str, bool]:
        """The create screen of our project for one issue type: field id → required."""

        def run(client: JIRA) -> dict[str, bool]:
            project = self.settings.jira_project
            answer = client._get_json(f"issue/createmeta/{project}/issuetypes/{issue_type_id}",
                                      params={"maxResults": 200})
            rows = answer.get("fields") or answer.get("values") or []
            return {row.get("fieldId") or row.get("key"): bool(row.get("required")) for row in rows}

        return self._do(run)
