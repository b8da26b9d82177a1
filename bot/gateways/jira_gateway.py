"""The only code that talks to Jira. Never on the request path: the library's constructor calls the server.

Errors come out as three kinds: `JiraUnavailable` (down, timed out, 5xx, 429: waiting helps, and Retry-After
says how long), `JiraRejected` (Jira answered no: a bad field, a missing transition; waiting does not
help, a person must fix the mapping or the workflow) and, of those, `JiraNotFound` (404: the issue was
deleted, or moved where our account cannot see it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from bot.workpool import before_remote_call

if TYPE_CHECKING:  # the jira library is loaded when a client is first built: a bot without Jira never loads it
    from jira import JIRA, JIRAError

    from bot.settings import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT, READ_TIMEOUT = 3.05, 30
SYNC_FIELDS = ["summary", "status", "priority", "assignee", "labels", "updated", "project"]
STATE_FIELDS = ["status", "priority", "assignee", "updated"]
META_TTL_SECONDS = 24 * 3600  # the project's issue types and priorities, read again once a day


class JiraUnavailable(Exception):
    """Jira could not be reached or asked us to wait; `retry_after` is its own hint in seconds, if any."""

    def __init__(self, why: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(why)
        self.retry_after, self.status = retry_after, status


class JiraRejected(Exception):
    """Jira answered, and the answer was no."""


class JiraNotFound(JiraRejected):
    """Jira answered 404: the issue (or whatever the call named) does not exist for our account."""


@dataclass(frozen=True)
class ProjectMeta:
    """What the project's create metadata says: its issue types (id, name; no sub-tasks) and the priorities
    its create screen offers (id, name, in Jira's order), for choosing by name."""

    issue_types: tuple[tuple[str, str], ...]
    priorities: tuple[tuple[str, str], ...]


def build_jira_client(settings: Settings, *, max_retries: int = 0) -> JIRA:
    """A JIRA client with bounded timeouts and retries (the library's defaults can block for minutes).

    Cloud: JIRA_USER (e-mail) + JIRA_API_TOKEN. Data Center: JIRA_API_TOKEN alone, a personal access token.
    """
    if not settings.jira_url or settings.jira_api_token is None:
        raise ValueError("Jira is not configured")
    token = settings.jira_api_token.get_secret_value()
    auth = {"basic_auth": (settings.jira_user, token)} if settings.jira_user else {"token_auth": token}
    from jira import JIRA

    # get_server_info stays on: Cloud detection depends on it, and search on Cloud needs that.
    return JIRA(server=settings.jira_url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), max_retries=max_retries,
                get_server_info=True, **auth)


def _jira_error() -> type[JIRAError]:
    from jira import JIRAError

    return JIRAError


def _translate(exc: Exception) -> Exception:
    if type(exc).__module__.startswith("jira") and isinstance(exc, _jira_error()):
        status = exc.status_code or 0
        if status in (429, 502, 503, 504) or status >= 500 or status == 0:
            header = exc.response.headers.get("Retry-After") if exc.response is not None else None
            try:
                retry_after = float(header) if header is not None else None
            except ValueError:
                retry_after = None
            return JiraUnavailable(f"Jira answered HTTP {status}", retry_after, status)
        if status == 404 and _jira_said(exc):  # a proxy's or a wrong path's 404 is not Jira saying "no such issue"
            return JiraNotFound(_jira_message(exc))
        return JiraRejected(_jira_message(exc))
    if isinstance(exc, requests.RequestException):
        return JiraUnavailable(f"Jira is unreachable ({type(exc).__name__})")
    return exc


def _jira_said(exc: JIRAError) -> bool:
    """Whether the answer is Jira's own JSON error (errorMessages / errors), not some other server's page."""
    try:
        body = exc.response.json() if exc.response is not None else None
    except ValueError:
        return False
    return isinstance(body, dict) and ("errorMessages" in body or "errors" in body)


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
        self._meta: tuple[float, ProjectMeta] | None = None

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

    def _call_jira(self, action, *args, **kwargs):
        """`action(client, …)`, its errors translated to ours; an unreachable Jira drops the client to rebuild."""
        before_remote_call()
        client = self.client()
        try:
            return action(client, *args, **kwargs)
        except (_jira_error(), requests.RequestException) as exc:
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
            if not client._is_cloud:  # Data Center keeps the search endpoint Cloud removed
                page = client.search_issues(jql, maxResults=limit, fields=list(fields), json_result=True)
                return list(page.get("issues", []))[:limit]
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

        return self._call_jira(run)

    def find_by_label(self, label: str) -> dict[str, Any] | None:
        # No project clause: an issue moved to another project keeps its labels.
        issues = self.search(f'labels = "{label}"', fields=["summary", "status"], limit=2)
        return issues[0] if issues else None

    def create(self, fields: dict[str, Any]) -> tuple[str, str]:
        """Create an issue; its (id, key). Not idempotent: the caller looks for our label first."""
        issue = self._call_jira(lambda c: c.create_issue(fields=fields, prefetch=False))
        return str(issue.id), str(issue.key)

    def edit(self, key: str, fields: dict[str, Any], *, update: dict[str, Any] | None = None) -> None:
        """Set fields, and apply `update` verbs (e.g. add/remove single labels) in the same request."""
        body: dict[str, Any] = {"fields": fields}
        if update:
            body["update"] = update

        def run(client: JIRA) -> None:
            client._session.put(client._get_url(f"issue/{key}"), data=json.dumps(body))

        self._call_jira(run)

    def assign(self, key: str, account: str | None) -> None:
        """Set the assignee by account (Cloud: accountId; Data Center: user name); None unassigns (through the
        issue's fields: the assignee resource's published schema takes no null)."""
        if account is None:
            self.edit(key, {"assignee": None})
            return

        def run(client: JIRA) -> None:
            body = {"accountId": account} if client._is_cloud else {"name": account}
            client._session.put(client._get_url(f"issue/{key}/assignee"), data=json.dumps(body))

        self._call_jira(run)

    def find_user(self, email: str) -> dict[str, Any] | None:
        """The active Jira user with this e-mail: Cloud matches it through `query` even when the address is
        hidden from us; Data Center through `username`. None when nobody, or nobody for sure."""

        def run(client: JIRA) -> list[dict[str, Any]]:
            params = {"query": email} if client._is_cloud else {"username": email}
            answer = client._get_json("user/search", params={**params, "maxResults": 10})
            return answer if isinstance(answer, list) else []

        try:
            users = [u for u in self._call_jira(run) if u.get("active", True)]
        except JiraNotFound:  # no user search here (or no such user): nobody to match
            return None
        exact = [u for u in users if str(u.get("emailAddress") or "").casefold() == email.casefold()]
        if exact:
            return exact[0]
        # Cloud hides e-mail addresses by default; one match for a full address is that person.
        hidden = [u for u in users if not u.get("emailAddress")]
        return hidden[0] if len(users) == 1 and hidden else None

    def can_see_project(self, key: str) -> bool:
        """Whether our account can still see a project (when every issue answers 404, it is the permission)."""
        try:
            self._call_jira(lambda c: c._get_json(f"project/{key}"))
        except JiraNotFound:
            return False
        return True

    def forget_meta(self, *, now: float | None = None, min_age: float = 300) -> None:
        """Read the project's metadata again at next use (a type may have been added), at most every few
        minutes."""
        now = time.monotonic() if now is None else now
        cached = self._meta
        if cached is not None and now - cached[0] >= min_age:
            self._meta = None

    def project_meta(self, *, now: float | None = None) -> ProjectMeta:
        """The project's issue types and priorities, read once and kept for a day."""
        now = time.monotonic() if now is None else now
        cached = self._meta
        if cached is not None and now - cached[0] < META_TTL_SECONDS:
            return cached[1]
        meta = self._call_jira(self._read_meta)
        self._meta = (now, meta)
        return meta

    def _read_meta(self, client: JIRA) -> ProjectMeta:
        project = self.settings.jira_project
        answer = client._get_json(f"issue/createmeta/{project}/issuetypes", params={"maxResults": 200})
        rows = answer.get("issueTypes") or answer.get("values") or []  # Cloud | Data Center
        types = tuple((str(t["id"]), str(t.get("name") or "")) for t in rows if not t.get("subtask"))
        priorities: tuple[tuple[str, str], ...] = ()
        for type_id, _name in types[:3]:  # the priority scheme is per project: any type's screen tells it
            screen = client._get_json(f"issue/createmeta/{project}/issuetypes/{type_id}", params={"maxResults": 200})
            for row in screen.get("fields") or screen.get("values") or []:
                if (row.get("fieldId") or row.get("key")) == "priority":
                    priorities = tuple((str(v["id"]), str(v.get("name") or "")) for v in row.get("allowedValues") or [])
            if priorities:
                break
        return ProjectMeta(types, priorities)

    def comment(self, key: str, body: str) -> None:
        self._call_jira(lambda c: c.add_comment(key, body))

    def link_issues(self, link_type: str, *, inward: str, outward: str) -> None:
        """Link two issues (by id or key) with an issue link type named `link_type` ("Relates"): POST issueLink.
        Posted as is: the client's `create_issue_link` first reads every link type, a call we do not need."""
        def ref(issue: str) -> dict[str, str]:
            return {"id": issue} if issue.isdigit() else {"key": issue}

        body = {"type": {"name": link_type}, "inwardIssue": ref(inward), "outwardIssue": ref(outward)}
        self._call_jira(lambda c: c._session.post(c._get_url("issueLink"), data=json.dumps(body)))

    def issue(self, key: str, *, fields: list[str]) -> dict[str, Any]:
        return self._call_jira(lambda c: c.issue(key, fields=",".join(fields)).raw)

    def transition(self, key: str, names: list[str], *, shown: str | None = None) -> str | None:
        """Move an issue (by id or key; `shown` is the key people know it by) by the first of `names` its
        workflow offers now; the status it moved to (if Jira said), or JiraRejected."""

        def run(client: JIRA) -> str | None:
            offered = client.transitions(key)
            by_name = {t["name"].casefold(): t for t in offered}
            for name in names:
                chosen = by_name.get(name.casefold())
                if chosen is not None:
                    client.transition_issue(key, str(chosen["id"]))
                    return (chosen.get("to") or {}).get("name")
            offers = ", ".join(f"“{t['name']}”" for t in offered) or "none"
            raise JiraRejected(f"{shown or key}'s workflow offers no transition named {' or '.join(names)} from its "
                               f"current status (it offers {offers}); set JIRA_TRANSITION_CLOSE / "
                               "JIRA_TRANSITION_REOPEN to names your workflow has")

        return self._call_jira(run)

    def create_screen(self, issue_type_id: str) -> dict[str, bool]:
        """The create screen of our project for one issue type: field id → required."""

        def run(client: JIRA) -> dict[str, bool]:
            project = self.settings.jira_project
            answer = client._get_json(f"issue/createmeta/{project}/issuetypes/{issue_type_id}",
                                      params={"maxResults": 200})
            rows = answer.get("fields") or answer.get("values") or []
            return {row.get("fieldId") or row.get("key"): bool(row.get("required")) for row in rows}

        return self._call_jira(run)
