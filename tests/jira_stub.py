"""A stateful Jira stand-in (Cloud by default, or Server/Data Center), served over real HTTP, for the real `jira`
client to talk to.

It keeps issues, comments, people and a small workflow (To Do → In Progress → Done, Done → Reopen), checks what a
real Jira checks (auth, ids of projects, issue types and priorities, string bodies on REST v2, labels without
spaces, transitions that exist from the current status, users that exist), and can fail on demand: answer 429 with
Retry-After or 503, drop the response of a create after storing the issue, or be down altogether.

What real Jira does that the bot must survive is here too: every change leaves a changelog entry with an id that
grows across the whole site; an issue moved to another project gets a new key and keeps its id (the old key still
resolves); a deleted issue answers 404; and `event()` builds the webhook a change would have sent, in the shape of
the fixtures in tests/data/jira_webhooks (see the README there for the sources).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PROJECT = {"id": "10000", "key": "PM", "name": "pmbot"}
PROJECTS = {"PM": PROJECT, "OPS": {"id": "10001", "key": "OPS", "name": "Operations"}}
ISSUE_TYPES = {"10004": "Bug", "10005": "Risk", "10006": "Incident", "10002": "Task", "10003": "Sub-task"}
SUBTASK_TYPES = {"10003"}
PRIORITIES = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}
DEFAULT_PRIORITY = "3"  # what Jira sets when a create leaves the priority out
STATUSES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
STATUS_IDS = {"To Do": "10000", "In Progress": "3", "Done": "10001"}
# status category key → (id, colour, name), as Jira Cloud names them
CATEGORIES = {"new": (2, "blue-gray", "To Do"), "indeterminate": (4, "yellow", "In Progress"),
              "done": (3, "green", "Done")}
RESOLUTION_DONE = {"id": "10000", "name": "Done", "description": "Work has been completed on this issue."}
# transition name → (id, from statuses, to status)
WORKFLOW = {
    "In Progress": ("21", {"To Do"}, "In Progress"),
    "Done": ("31", {"To Do", "In Progress"}, "Done"),
    "Reopen": ("41", {"Done"}, "To Do"),
}
# The create screen per issue type: field id → required?
CREATE_SCREEN = {"summary": True, "issuetype": True, "project": True, "description": False, "priority": False,
                 "labels": False, "components": False, "reporter": True}
# The `schema` createmeta gives each system field (custom fields get a text-field schema).
FIELD_SCHEMAS = {
    "summary": {"type": "string", "system": "summary"},
    "issuetype": {"type": "issuetype", "system": "issuetype"},
    "project": {"type": "project", "system": "project"},
    "description": {"type": "string", "system": "description"},
    "priority": {"type": "priority", "system": "priority"},
    "labels": {"type": "array", "items": "string", "system": "labels"},
    "components": {"type": "array", "items": "component", "system": "components"},
    "reporter": {"type": "user", "system": "reporter"},
    "assignee": {"type": "user", "system": "assignee"},
}
SETTINGS = {  # what the bot needs to be told to use this stand-in
    "jira_project": "PM",
    "jira_issue_types": "bug=10004; risk=10005; incident=10006",
    "jira_priorities": "1=1; 2=2; 3=3; 4=4; 5=5; critical=1; high=2; medium=3; low=4",
}
NO_ISSUE = "Issue does not exist or you do not have permission to see it."
# Jira's stock issue link types: id → (name, inward, outward), as GET /rest/api/2/issueLinkType lists them.
LINK_TYPES = {"10000": ("Blocks", "is blocked by", "blocks"), "10001": ("Cloners", "is cloned by", "clones"),
              "10002": ("Duplicate", "is duplicated by", "duplicates"),
              "10003": ("Relates", "relates to", "relates to")}
# The fields a comment_created delivery carries for its issue (Jira sends no more).
COMMENT_EVENT_FIELDS = ("summary", "issuetype", "project", "assignee", "priority", "status")
AVATAR_SIZES = ("48x48", "24x24", "16x16", "32x32")


def _stamp(when: datetime) -> str:
    """Jira's timestamp, to the millisecond, so two changes in one second still differ."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def _epoch_ms(when: datetime) -> int:
    """A webhook's `timestamp`: milliseconds since the epoch."""
    return (when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "user"


def _when(at: datetime | None) -> datetime:
    """`at` (an aware datetime) in UTC, or now: the moment a change is recorded under."""
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("pass an aware datetime (e.g. datetime(..., tzinfo=UTC))")
    return at.astimezone(UTC)


@dataclass
class Fault:
    status: int
    method: str | None = None
    path: str | None = None  # a substring of the path
    retry_after: int | None = None
    times: int = 1
    drop: bool = False  # do the work, then close the connection without an answer
    page: bool = False  # answer with an HTML page, as a proxy in front of Jira does, instead of Jira's JSON


@dataclass
class Issue:
    id: str
    key: str
    fields: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    # {id, author, created, items}, oldest first; ids come from the stand-in's one counter
    changelog: list[dict[str, Any]] = field(default_factory=list)
    deleted: tuple[datetime, str] | None = None  # when, and by whom (the account id), once deleted


@dataclass
class _User:
    account_id: str
    name: str  # the Server username
    key: str  # the Server user key (JIRAUSER…), unlike the name never reused
    display_name: str
    email: str | None
    hide_email: bool = False


class JiraStub:
    def __init__(self, user: str = "bot@example.com", token: str = "jira-token", deployment: str = "Cloud"):
        if deployment not in ("Cloud", "Server"):
            raise ValueError("deployment is 'Cloud' or 'Server'")
        self.user, self.token, self.deployment = user, token, deployment
        self.issues: dict[str, Issue] = {}  # by current key
        self.deleted: dict[str, Issue] = {}  # by id: copies kept so a jira:issue_deleted event can be built
        self.old_keys: dict[str, str] = {}  # a key an issue had before a move → its id
        self.hidden_projects: set[str] = set()  # projects our account lost Browse on: they and their issues 404
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.faults: list[Fault] = []
        self.workflow = dict(WORKFLOW)
        self.create_screen = dict(CREATE_SCREEN)
        self.issue_types: dict[str, str] = dict(ISSUE_TYPES)
        self.subtask_types: set[str] = set(SUBTASK_TYPES)
        self.priorities: dict[str, str] = dict(PRIORITIES)
        self.projects: dict[str, dict[str, str]] = {key: dict(value) for key, value in PROJECTS.items()}
        self.users: dict[str, _User] = {}  # by account id
        self.links: list[dict[str, str]] = []  # issue links made: {"type", "inward", "outward"} (names and keys)
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self._numbers: dict[str, int] = {}  # project key → last issue number given
        self._next_issue_id = 10001
        self._next_history_id = 10100
        self._next_comment_id = 10200
        self._next_user_key = 10100
        self._held: socket.socket | None = None
        self.start()
        # The account the API calls act as (GET myself); what it changes is authored by it in the changelog.
        self.bot_account = self._add("pmbot", user, "acc-bot", "pmbot", False).account_id
        # Who makes the changes "by hand" (set_status, move_issue, …): an account id of a user added here.
        self.person = self._add("Dana Whitfield", "dana.whitfield@example.com", None, None, False).account_id

    # --- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        stub = self

        class Handler(_Handler):
            jira = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop answering: connections are refused until `up()`. The port stays ours meanwhile (a socket bound to it
        that does not listen, so a connection is refused as by a stopped server): a port left free could be taken
        by another test process, and `up()` could not start again where the bot looks."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._held.bind(("127.0.0.1", self.port))

    def up(self) -> None:
        if self._server is None:
            if self._held is not None:
                self._held.close()
                self._held = None
            self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cloud(self) -> bool:
        return self.deployment == "Cloud"

    # --- what tests set up and look at --------------------------------------------------------------

    def fail(self, status: int, *, method: str | None = None, path: str | None = None, retry_after: int | None = None,
             times: int = 1, drop: bool = False, page: bool = False) -> None:
        self.faults.append(Fault(status, method, path, retry_after, times, drop, page))

    def calls(self, method: str, path_part: str) -> list[tuple[str, str, dict, Any]]:
        return [r for r in self.requests if r[0] == method and path_part in r[1]]

    def by_label(self, label: str) -> list[Issue]:
        return [i for i in self.issues.values() if label in i.fields.get("labels", [])]

    def issue_by_id(self, issue_id: str) -> Issue | None:
        """A live issue by its id (which, unlike the key, survives a move)."""
        with self.lock:
            return next((i for i in self.issues.values() if i.id == str(issue_id)), None)

    def add_user(self, display_name: str, email: str | None, *, account_id: str | None = None,
                 name: str | None = None, hide_email: bool = False) -> dict[str, Any]:
        """A person with a Jira account; their JSON as this deployment shows it (Cloud leaves the e-mail out when
        the person hides it, as Cloud's privacy settings do). Adding the same account again returns it."""
        with self.lock:
            return self._user_json(self._add(display_name, email, account_id, name, hide_email))

    def user_json(self, ref: str) -> dict[str, Any]:
        """A user's JSON by account id, username, e-mail or display name."""
        with self.lock:
            found = self._find_user(ref)
            if found is None:
                raise KeyError(f"no user {ref!r}")
            return self._user_json(found)

    def set_status(self, key: str, status: str, *, at: datetime | None = None) -> None:
        """A person moves the issue in Jira (no workflow check: an admin can put it anywhere)."""
        with self.lock:
            issue, when = self._live(key), _when(at)
            self._record(issue, self.person, when, self._change_status(issue, status, when))

    def set_priority(self, key: str, priority_id: str, *, at: datetime | None = None) -> None:
        with self.lock:
            issue, when = self._live(key), _when(at)
            self._record(issue, self.person, when, self._change_priority(issue, priority_id))

    def set_assignee(self, key: str, name: str | None, email: str | None = None, *,
                     at: datetime | None = None) -> dict[str, Any] | None:
        """A person assigns the issue to `name` (added as a Jira user if there is none by that name or e-mail);
        None unassigns. The assignee's JSON."""
        with self.lock:
            issue, when = self._live(key), _when(at)
            person = None
            if name is not None:
                person = (self._find_user(email) if email else None) or self._find_user(name) \
                    or self._add(name, email, None, None, False)
            self._record(issue, self.person, when, self._change_assignee(issue, person))
            return issue.fields["assignee"]

    def add_issue(self, summary: str, *, labels: list[str] | None = None, project_key: str = "PM",
                  issue_type_id: str = "10004") -> Issue:
        """An issue someone made in Jira by hand."""
        with self.lock:
            return self._new_issue({"summary": summary, "labels": labels or [], "issuetype": {"id": issue_type_id},
                                    "project": {"key": project_key}}, by=self.person)

    def add_comment(self, key: str, body: str, *, at: datetime | None = None) -> dict[str, Any]:
        """A person comments on the issue in Jira."""
        with self.lock:
            return self._comment(self._live(key), body, self.person, _when(at))

    def move_issue(self, key: str, project_key: str = "OPS", *, at: datetime | None = None) -> str:
        """A person moves the issue to another project: a new key there, the same id; the old key keeps
        working, as in Jira. The new key."""
        with self.lock:
            issue, when = self._live(key), _when(at)
            if project_key not in self.projects:
                raise KeyError(f"no project {project_key!r}")
            old_project, new_project = issue.fields["project"], self._project_json(project_key)
            if old_project["key"] == project_key:
                raise ValueError(f"{issue.key} is in {project_key} already")
            old_key, new_key = issue.key, self._next_key(project_key)
            del self.issues[old_key]
            self.old_keys[old_key] = issue.id
            issue.key = new_key
            issue.fields["project"] = new_project
            self.issues[new_key] = issue
            self._record(issue, self.person, when, [
                _item("project", old_project["id"], old_project["name"], new_project["id"], new_project["name"]),
                {"field": "Key", "fieldtype": "jira", "from": None, "fromString": old_key, "to": None,
                 "toString": new_key},
            ])
            return new_key

    def delete_issue(self, key: str, *, at: datetime | None = None) -> None:
        """A person deletes the issue: every call for its key (old ones too) or id answers 404 from now on."""
        with self.lock:
            self._delete(self._live(key), self.person, _when(at))

    def event(self, kind: str, key: str, *, at: datetime | None = None) -> dict[str, Any]:
        """The webhook Jira would send for the issue's current state (a deep copy: later changes leave it be).

        kind "updated": jira:issue_updated with the latest changelog entry; "comment_created": the latest comment
        (one is made if there is none); "deleted": jira:issue_deleted (the issue must have been deleted).
        `timestamp` is `at`, else the issue's `updated` (for a deletion, when it was deleted)."""
        with self.lock:
            if kind == "updated":
                return copy.deepcopy(self._updated_event(self._live(key), at))
            if kind == "comment_created":
                return copy.deepcopy(self._comment_event(self._live(key), at))
            if kind == "deleted":
                return copy.deepcopy(self._deleted_event(key, at))
            raise ValueError(f"no such event kind {kind!r}: updated, comment_created or deleted")

    # --- people -------------------------------------------------------------------------------------

    def _add(self, display_name: str, email: str | None, account_id: str | None, name: str | None,
             hide_email: bool) -> _User:
        account_id = account_id or f"acc-{_slug(display_name)}"
        if account_id in self.users:
            return self.users[account_id]
        key = f"JIRAUSER{self._next_user_key}"
        self._next_user_key += 1
        person = _User(account_id, name or _slug(display_name), key, display_name, email, hide_email)
        self.users[account_id] = person
        return person

    def _find_user(self, ref: str | None) -> _User | None:
        if not ref:
            return None
        wanted = ref.casefold()
        for person in self.users.values():
            if ref in (person.account_id, person.name, person.key) or wanted == (person.email or "").casefold():
                return person
        return next((p for p in self.users.values() if p.display_name.casefold() == wanted), None)

    def _user_json(self, person: _User) -> dict[str, Any]:
        avatars = {size: f"{self.url}/secure/useravatar?size={size}&ownerId={person.key}" for size in AVATAR_SIZES}
        if self.cloud:
            answer = {"self": f"{self.url}/rest/api/2/user?accountId={person.account_id}",
                      "accountId": person.account_id}
            if person.email and not person.hide_email:
                answer["emailAddress"] = person.email
            answer.update(avatarUrls=avatars, displayName=person.display_name, active=True, timeZone="Etc/UTC",
                          accountType="atlassian")
            return answer
        return {"self": f"{self.url}/rest/api/2/user?username={person.name}", "name": person.name, "key": person.key,
                "emailAddress": person.email or "", "avatarUrls": avatars, "displayName": person.display_name,
                "active": True, "timeZone": "Etc/UTC"}

    def _user_from_body(self, value: Any) -> tuple[bool, _User | None]:
        """(known?, user) for an assignee given as Cloud's {"accountId"} or Server's {"name"}; None unassigns."""
        if value is None:
            return True, None
        id_key = "accountId" if self.cloud else "name"
        if not isinstance(value, dict) or id_key not in value:
            return False, None
        ref = value[id_key]
        if ref is None:
            return True, None
        found = self.users.get(ref) if self.cloud else next((p for p in self.users.values() if p.name == ref), None)
        return found is not None, found

    def _search_users(self, query: dict) -> tuple[int, Any]:
        """Cloud matches `query` against an e-mail exactly (even a hidden one), a visible e-mail's start or the
        start of a display name's word; Server matches `username` against username, e-mail or display name."""
        param = "query" if self.cloud else "username"
        if self.cloud and query.get("username"):
            return 400, {"errorMessages": ["The query parameter 'username' is not supported in GDPR strict mode."],
                         "errors": {}}
        term = ((query.get(param) or query.get("accountId") or [""])[0]).strip().casefold()
        if not term:
            return 400, {"errorMessages": [f"The {param} query parameter was not provided"], "errors": {}}
        found = [p for p in self.users.values() if self._user_matches(p, term, query)]
        start = int((query.get("startAt") or ["0"])[0])
        limit = int((query.get("maxResults") or ["50"])[0])
        return 200, [self._user_json(p) for p in found[start:start + limit]]

    def _user_matches(self, person: _User, term: str, query: dict) -> bool:
        email = (person.email or "").casefold()
        words = [person.display_name.casefold(), *person.display_name.casefold().split()]
        if self.cloud:
            if query.get("accountId"):
                return person.account_id.casefold() == term
            return term == email or (not person.hide_email and bool(email) and email.startswith(term)) \
                or any(w.startswith(term) for w in words)
        return any(value.startswith(term) for value in (person.name.casefold(), email, *words) if value)

    # --- issues and their changes ---------------------------------------------------------------------

    def _find(self, key_or_id: str) -> Issue | None:
        """A live issue by its key, a key it had before a move, or its id."""
        if key_or_id.upper() in self.issues:
            return self.issues[key_or_id.upper()]
        issue_id = self.old_keys.get(key_or_id.upper(), key_or_id)
        return next((i for i in self.issues.values() if i.id == issue_id), None)

    def _live(self, key: str) -> Issue:
        issue = self._find(key)
        if issue is None:
            raise KeyError(f"no live issue {key!r}")
        return issue

    def _next_key(self, project_key: str) -> str:
        self._numbers[project_key] = self._numbers.get(project_key, 0) + 1
        return f"{project_key}-{self._numbers[project_key]}"

    def _project_key(self, ref: dict[str, Any]) -> str | None:
        return next((k for k, p in self.projects.items() if ref.get("id") == p["id"] or ref.get("key") == k), None)

    def _new_issue(self, fields: dict[str, Any], *, by: str | None = None) -> Issue:
        now = datetime.now(UTC)
        project_key = self._project_key(fields.get("project") or {}) or PROJECT["key"]
        issue_id, key = str(self._next_issue_id), self._next_key(project_key)
        self._next_issue_id += 1
        creator = self._user_json(self.users[by or self.bot_account])
        stored = dict(fields)
        stored["issuetype"] = self._issuetype_json(fields["issuetype"]["id"])
        stored["project"] = self._project_json(project_key)
        stored["priority"] = self._priority_json((fields.get("priority") or {}).get("id") or DEFAULT_PRIORITY)
        stored["status"] = self._status_json("To Do")
        assignee = self._user_from_body(fields.get("assignee"))[1]
        stored["assignee"] = self._user_json(assignee) if assignee else None
        stored.update(resolution=None, resolutiondate=None, statuscategorychangedate=_stamp(now), creator=creator,
                      reporter=creator)
        stored.setdefault("description", None)
        stored.setdefault("labels", [])
        stored.setdefault("components", [])
        issue = Issue(issue_id, key, stored, updated=now, created=now)
        self.issues[key] = issue
        return issue

    def _record(self, issue: Issue, by: str, when: datetime, items: list[dict[str, Any]]) -> None:
        """One changelog entry for what changed, if anything did; the issue is `updated` at `when`."""
        issue.updated = when
        if items:
            issue.changelog.append({"id": str(self._next_history_id), "author": self._user_json(self.users[by]),
                                    "created": _stamp(when), "items": items})
            self._next_history_id += 1

    def _change_status(self, issue: Issue, status: str, when: datetime) -> list[dict[str, Any]]:
        before, after = issue.fields["status"], self._status_json(status)
        if before["name"] == after["name"]:
            return []
        items = []
        issue.fields["status"] = after
        done_before = before["statusCategory"]["key"] == "done"
        done_after = after["statusCategory"]["key"] == "done"
        if before["statusCategory"]["key"] != after["statusCategory"]["key"]:
            issue.fields["statuscategorychangedate"] = _stamp(when)
        if done_after and not done_before:
            issue.fields.update(resolution=self._resolution_json(), resolutiondate=_stamp(when))
            items.append(_item("resolution", None, None, RESOLUTION_DONE["id"], RESOLUTION_DONE["name"]))
        elif done_before and not done_after:
            issue.fields.update(resolution=None, resolutiondate=None)
            items.append(_item("resolution", RESOLUTION_DONE["id"], RESOLUTION_DONE["name"], None, None))
        items.append(_item("status", before["id"], before["name"], after["id"], after["name"]))
        return items

    def _change_priority(self, issue: Issue, priority_id: str) -> list[dict[str, Any]]:
        before, after = issue.fields.get("priority"), self._priority_json(priority_id)
        issue.fields["priority"] = after
        if before and before["id"] == after["id"]:
            return []
        return [_item("priority", before and before["id"], before and before["name"], after["id"], after["name"])]

    def _change_assignee(self, issue: Issue, person: _User | None) -> list[dict[str, Any]]:
        before = issue.fields.get("assignee")
        after = self._user_json(person) if person else None
        issue.fields["assignee"] = after
        if _user_id(before) == _user_id(after):
            return []
        item = _item("assignee", _user_id(before), before and before["displayName"], _user_id(after),
                     after and after["displayName"])
        if self.cloud:
            item.update(tmpFromAccountId=_user_id(before), tmpToAccountId=_user_id(after))
        return [item]

    def _comment(self, issue: Issue, body: str, by: str, when: datetime) -> dict[str, Any]:
        author = self._user_json(self.users[by])
        comment_id = str(self._next_comment_id)
        self._next_comment_id += 1
        comment = {"self": f"{self.url}/rest/api/2/issue/{issue.id}/comment/{comment_id}", "id": comment_id,
                   "author": author, "body": body, "updateAuthor": author, "created": _stamp(when),
                   "updated": _stamp(when)}
        if self.cloud:
            comment["jsdPublic"] = True
        issue.comments.append(comment)
        issue.updated = when
        return comment

    def _delete(self, issue: Issue, by: str, when: datetime) -> None:
        del self.issues[issue.key]
        issue.deleted = (when, by)
        self.deleted[issue.id] = copy.deepcopy(issue)

    # --- JSON as Jira shows it ------------------------------------------------------------------------

    def _issuetype_json(self, type_id: str) -> dict[str, Any]:
        name = self.issue_types[type_id]
        return {"self": f"{self.url}/rest/api/2/issuetype/{type_id}", "id": type_id,
                "description": f"A {name.lower()} tracked in Jira.",
                "iconUrl": f"{self.url}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{type_id}?size=medium",
                "name": name, "subtask": type_id in self.subtask_types, "avatarId": int(type_id),
                "hierarchyLevel": -1 if type_id in self.subtask_types else 0}

    def _project_json(self, project_key: str) -> dict[str, Any]:
        project = self.projects[project_key]
        avatars = {size: f"{self.url}/secure/projectavatar?size={size}&pid={project['id']}" for size in AVATAR_SIZES}
        return {"self": f"{self.url}/rest/api/2/project/{project['id']}", "id": project["id"], "key": project_key,
                "name": project["name"], "projectTypeKey": "software", "simplified": False, "avatarUrls": avatars}

    def _priority_json(self, priority_id: str) -> dict[str, Any]:
        name = self.priorities[priority_id]
        return {"self": f"{self.url}/rest/api/2/priority/{priority_id}",
                "iconUrl": f"{self.url}/images/icons/priorities/{name.lower()}.svg", "name": name, "id": priority_id}

    def _status_json(self, name: str) -> dict[str, Any]:
        return _status(name, self.url)

    def _resolution_json(self) -> dict[str, Any]:
        return {"self": f"{self.url}/rest/api/2/resolution/{RESOLUTION_DONE['id']}", **RESOLUTION_DONE}

    def _issue_snapshot(self, issue: Issue, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The issue as a webhook carries it: every field but the comments (or only `fields`)."""
        shown = _issue_json(self, issue, None)
        del shown["fields"]["comment"]
        if fields is not None:
            shown["fields"] = {name: shown["fields"].get(name) for name in fields}
        return shown

    def _updated_event(self, issue: Issue, at: datetime | None) -> dict[str, Any]:
        if not issue.changelog:
            raise ValueError(f"{issue.key} has no change to report")
        latest = issue.changelog[-1]
        changed = {item["field"] for item in latest["items"]}
        kind = "issue_moved" if changed & {"Key", "project"} else \
            "issue_assigned" if "assignee" in changed else "issue_generic"
        return {"timestamp": _epoch_ms(at or issue.updated), "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": kind, "user": latest["author"], "issue": self._issue_snapshot(issue),
                "changelog": {"id": latest["id"], "items": latest["items"]}}

    def _comment_event(self, issue: Issue, at: datetime | None) -> dict[str, Any]:
        if not issue.comments:
            self._comment(issue, "Looked at this in Jira.", self.person, _when(at))
        return {"timestamp": _epoch_ms(at or issue.updated), "webhookEvent": "comment_created",
                "comment": issue.comments[-1], "issue": self._issue_snapshot(issue, COMMENT_EVENT_FIELDS)}

    def _deleted_event(self, key: str, at: datetime | None) -> dict[str, Any]:
        issue_id = self.old_keys.get(key, key)
        issue = self.deleted.get(issue_id) or next((i for i in self.deleted.values() if i.key == key), None)
        if issue is None or issue.deleted is None:
            raise KeyError(f"{key!r} has not been deleted")
        when, by = issue.deleted
        return {"timestamp": _epoch_ms(at or when), "webhookEvent": "jira:issue_deleted",
                "issue_event_type_name": "issue_deleted", "user": self._user_json(self.users[by]),
                "issue": self._issue_snapshot(issue)}


def _item(name: str, old: str | None, old_text: str | None, new: str | None, new_text: str | None) -> dict:
    """One changelog item for a system field."""
    return {"field": name, "fieldtype": "jira", "fieldId": name, "from": old, "fromString": old_text, "to": new,
            "toString": new_text}


def _user_id(user: dict[str, Any] | None) -> str | None:
    """How a changelog names a user: the account id on Cloud, the user key on Server."""
    if not user:
        return None
    return user.get("accountId") or user.get("key")


def _status(name: str, base: str = "") -> dict[str, Any]:
    category = STATUSES.get(name, "indeterminate")
    category_id, colour, category_name = CATEGORIES[category]
    status_id = STATUS_IDS.get(name, str(10100 + sum(map(ord, name))))
    return {"self": f"{base}/rest/api/2/status/{status_id}", "description": "", "iconUrl": f"{base}/", "name": name,
            "id": status_id, "statusCategory": {"self": f"{base}/rest/api/2/statuscategory/{category_id}",
                                                "id": category_id, "key": category, "colorName": colour,
                                                "name": category_name}}


class _Handler(BaseHTTPRequestHandler):
    jira: JiraStub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        stub = self.jira
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(400, {"errorMessages": ["body is not JSON"]})
        with stub.lock:
            stub.requests.append((method, parts.path, query, body))
            fault = next((f for f in stub.faults
                          if f.method in (None, method) and (f.path is None or f.path in parts.path)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    stub.faults.remove(fault)
        if fault is not None and fault.page:
            return self._send_page(fault.status)
        if fault is not None and not fault.drop:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return self._send(fault.status, {"errorMessages": ["stand-in fault"]}, headers)
        if not self._authorised():
            return self._send(401, {"errorMessages": ["You are not authenticated."]})
        with stub.lock:
            status, answer = self._route(method, parts.path, query, body)
        if fault is not None and fault.drop:
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        return self._send(status, answer)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.jira.user}:{self.jira.token}".encode()).decode()
        return header in (f"Basic {expected}", f"Bearer {self.jira.token}")

    def _project(self, ref: str) -> tuple[int, Any]:
        """A project our account may browse (`hidden_projects`: ones whose Browse permission it lost)."""
        stub = self.jira
        key = next((k for k, p in stub.projects.items() if ref in (k, p["id"])), None)
        if key is None or key in stub.hidden_projects:
            return 404, {"errorMessages": [f"No project could be found with key '{ref}'."], "errors": {}}
        return 200, stub._project_json(key)

    def _send_page(self, status: int) -> None:
        data = f"<html><body><h1>{status}</h1><p>nginx</p></body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, status: int, answer: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # --- the API ------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        stub = self.jira
        base = next((b for b in ("/rest/api/2/", "/rest/api/latest/") if path.startswith(b)), None)
        if base is None:  # Jira serves `latest` as v2; the client uses it for a few calls (assign_issue)
            return 404, {"errorMessages": [f"no such path {path}"]}
        rest = path[len(base):]
        simple = {
            ("GET", "serverInfo"): lambda: (200, self._server_info()),
            ("GET", "myself"): lambda: (200, stub._user_json(stub.users[stub.bot_account])),
            ("GET", "field"): lambda: (200, [{"id": f, "key": f, "name": f.title(), "custom": False}
                                             for f in CREATE_SCREEN]),
            ("POST", "issue"): lambda: self._create(body),
            ("GET", "search/jql"): lambda: self._search(query),
            ("GET", "search"): lambda: self._legacy_search(query),
            ("GET", "user/search"): lambda: stub._search_users(query),
            ("GET", "user"): lambda: self._user(query),
            ("POST", "issueLink"): lambda: self._link(body),
            ("GET", "issueLinkType"): lambda: (200, {"issueLinkTypes": [
                {"id": i, "name": n, "inward": inward, "outward": outward,
                 "self": f"{stub.url}/rest/api/2/issueLinkType/{i}"}
                for i, (n, inward, outward) in LINK_TYPES.items()]}),
        }
        if (method, rest) in simple:
            return simple[(method, rest)]()
        if method == "GET" and (m := re.fullmatch(r"project/([^/]+)", rest)):
            return self._project(m.group(1))
        if method == "GET" and (m := re.fullmatch(r"issue/createmeta/([^/]+)/issuetypes(?:/([^/]+))?", rest)):
            return self._createmeta(m.group(1), m.group(2), query)
        if not (m := re.fullmatch(r"issue/([^/]+)(/comment|/transitions|/assignee)?", rest)):
            return 404, {"errorMessages": [f"no such path {path}"]}
        return self._issue_route(method, m.group(1), m.group(2), query, body)

    def _link(self, body: Any) -> tuple[int, Any]:
        """POST issueLink (LinkIssueRequestJsonBean): type by name or id, both issues by id or key; 201, no body."""
        stub = self.jira
        allowed = {"type", "inwardIssue", "outwardIssue", "comment"}
        if not isinstance(body, dict) or not {"type", "inwardIssue", "outwardIssue"} <= body.keys() \
                or not body.keys() <= allowed:
            return 400, {"errorMessages": ["type, inwardIssue and outwardIssue are required, nothing else"],
                         "errors": {}}
        wanted = body["type"] if isinstance(body["type"], dict) else {}
        link_type = next((n for i, (n, _, _) in LINK_TYPES.items() if wanted.get("id") == i or wanted.get("name") == n),
                         None)
        if link_type is None:
            return 404, {"errorMessages": [f"No issue link type with name '{wanted.get('name')}' found."], "errors": {}}
        ends = []
        for side in ("inwardIssue", "outwardIssue"):
            ref = body[side] if isinstance(body[side], dict) else {}
            issue = stub._find(str(ref.get("id") or ref.get("key") or ""))
            if issue is None or issue.deleted is not None:
                return 404, {"errorMessages": ["Issue Does Not Exist"], "errors": {}}
            ends.append(issue.key)
        stub.links.append({"type": link_type, "inward": ends[0], "outward": ends[1]})
        return 201, None

    def _server_info(self) -> dict[str, Any]:
        stub = self.jira
        if stub.cloud:
            return {"baseUrl": stub.url, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                    "deploymentType": "Cloud", "buildNumber": 100217, "serverTitle": "stand-in"}
        return {"baseUrl": stub.url, "version": "9.12.0", "versionNumbers": [9, 12, 0], "deploymentType": "Server",
                "buildNumber": 9120000, "serverTitle": "stand-in"}

    def _user(self, query: dict) -> tuple[int, Any]:
        stub = self.jira
        ref = (query.get("accountId") if stub.cloud else (query.get("username") or query.get("key"))) or [""]
        found = stub._find_user(ref[0])
        if found is None or ref[0] not in (found.account_id, found.name, found.key):
            return 404, {"errorMessages": [f"The user with the ID '{ref[0]}' does not exist."], "errors": {}}
        return 200, stub._user_json(found)

    def _createmeta(self, project_ref: str, type_id: str | None, query: dict) -> tuple[int, Any]:
        """Cloud pages under `issueTypes` / `fields`; Server (8.4+) under `values`, with `isLast`."""
        stub = self.jira
        project_key = stub._project_key({"id": project_ref, "key": project_ref})
        if project_key is None or (type_id is not None and type_id not in stub.issue_types):
            return 404, {"errorMessages": ["Issue type or project not found"], "errors": {}}
        if type_id is None:
            rows = [{k: v for k, v in stub._issuetype_json(t).items() if k not in ("avatarId", "hierarchyLevel")}
                    for t in stub.issue_types]
            items_key = "issueTypes" if stub.cloud else "values"
        else:
            rows = [self._field_meta(name, required, project_key, type_id)
                    for name, required in stub.create_screen.items()]
            items_key = "fields" if stub.cloud else "values"
        start = int((query.get("startAt") or ["0"])[0])
        limit = int((query.get("maxResults") or ["50"])[0])
        answer: dict[str, Any] = {items_key: rows[start:start + limit], "maxResults": limit, "startAt": start,
                                  "total": len(rows)}
        if not stub.cloud:
            answer["isLast"] = start + limit >= len(rows)
        return 200, answer

    def _field_meta(self, name: str, required: bool, project_key: str, type_id: str) -> dict[str, Any]:
        stub = self.jira
        custom = re.fullmatch(r"customfield_(\d+)", name)
        schema = FIELD_SCHEMAS.get(name) or (
            {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
             "customId": int(custom.group(1))} if custom else {"type": "any"})
        row: dict[str, Any] = {"required": required, "schema": schema, "name": name.title(), "fieldId": name}
        if stub.cloud:
            row["key"] = name
        row.update(hasDefaultValue=name == "priority", operations=["set"] if name != "labels" else
                   ["add", "set", "remove"])
        if name == "priority":
            row["allowedValues"] = [{"self": f"{stub.url}/rest/api/2/priority/{pid}", "id": pid, "name": pname}
                                    for pid, pname in stub.priorities.items()]
            row["defaultValue"] = {"self": f"{stub.url}/rest/api/2/priority/{DEFAULT_PRIORITY}",
                                   "id": DEFAULT_PRIORITY, "name": stub.priorities.get(DEFAULT_PRIORITY)}
        elif name == "issuetype":
            row["allowedValues"] = [stub._issuetype_json(type_id)]
        elif name == "project":
            row["allowedValues"] = [stub._project_json(project_key)]
        return row

    def _issue_route(self, method: str, key: str, sub: str | None, query: dict, body: Any) -> tuple[int, Any]:
        stub = self.jira
        issue = stub._find(key)
        if issue is None or issue.fields["project"]["key"] in stub.hidden_projects:
            return 404, {"errorMessages": [NO_ISSUE], "errors": {}}
        if sub is None and method == "GET":
            return 200, _issue_json(stub, issue, [f for value in query.get("fields", []) for f in value.split(",")])
        if sub is None and method == "PUT":
            return self._edit(issue, body)
        if sub is None and method == "DELETE":
            stub._delete(issue, stub.bot_account, datetime.now(UTC))
            return 204, None
        if sub == "/comment" and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"].strip():
                return 400, {"errors": {"comment": "Comment body can not be empty!"}}
            return 201, stub._comment(issue, body["body"], stub.bot_account, datetime.now(UTC))
        if sub == "/assignee" and method == "PUT":
            return self._assign(issue, body)
        if sub == "/transitions" and method == "GET":
            status = issue.fields["status"]["name"]
            offered = [{"id": tid, "name": name, "to": stub._status_json(to)}
                       for name, (tid, sources, to) in stub.workflow.items() if status in sources]
            return 200, {"transitions": offered}
        if sub == "/transitions" and method == "POST":
            wanted = str(((body or {}).get("transition") or {}).get("id", ""))
            status = issue.fields["status"]["name"]
            for _name, (tid, sources, to) in stub.workflow.items():
                if tid == wanted and status in sources:
                    now = datetime.now(UTC)
                    stub._record(issue, stub.bot_account, now, stub._change_status(issue, to, now))
                    return 204, None
            return 400, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."]}
        return 405, {"errorMessages": ["method not allowed"]}

    def _assign(self, issue: Issue, body: Any) -> tuple[int, Any]:
        """PUT …/assignee: Cloud names the person by {"accountId"}, Server by {"name"}; null unassigns."""
        stub = self.jira
        wanted = "accountId" if stub.cloud else "name"
        if not isinstance(body, dict) or wanted not in body:
            return 400, {"errorMessages": [], "errors": {"assignee": f"{wanted} must be given (null to unassign)"}}
        known, person = stub._user_from_body({wanted: body[wanted]} if body[wanted] is not None else None)
        if not known:
            return 400, {"errorMessages": [], "errors": {"assignee": f"User '{body[wanted]}' cannot be assigned "
                                                                     "issues."}}
        now = datetime.now(UTC)
        stub._record(issue, stub.bot_account, now, stub._change_assignee(issue, person))
        return 204, None

    def _check_create(self, fields: dict[str, Any]) -> dict[str, str]:
        """What only a create must have: a known project and issue type (a sub-task needs a parent), a summary."""
        stub = self.jira
        errors = {}
        if stub._project_key(fields.get("project") or {}) is None:
            errors["project"] = "valid project is required"
        type_id = (fields.get("issuetype") or {}).get("id")
        if type_id not in stub.issue_types:
            errors["issuetype"] = "valid issue type is required"
        elif type_id in stub.subtask_types and not fields.get("parent"):
            errors["issuetype"] = "Issue type is a sub-task but parent issue key or id not specified."
        if not str(fields.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        return errors

    def _check_fields(self, fields: dict[str, Any], *, creating: bool) -> dict[str, str]:
        stub = self.jira
        errors = self._check_create(fields) if creating else {}
        if "summary" in fields and len(str(fields["summary"])) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        if "summary" in fields and "\n" in str(fields["summary"]):
            errors["summary"] = "The summary is invalid because it contains newline characters."
        if "description" in fields and not isinstance(fields["description"], str | None):
            errors["description"] = "Operation value must be a string"
        if "priority" in fields and (fields["priority"] or {}).get("id") not in stub.priorities:
            errors["priority"] = "The priority selected is invalid."
        if "assignee" in fields and not stub._user_from_body(fields["assignee"])[0]:
            errors["assignee"] = f"User '{fields['assignee']}' cannot be assigned issues."
        for label in fields.get("labels", []):
            if not isinstance(label, str) or " " in label or not label:
                errors["labels"] = "The label can't contain spaces."
        return errors

    def _create(self, body: Any) -> tuple[int, Any]:
        fields = (body or {}).get("fields")
        if not isinstance(fields, dict) or not fields:
            return 400, {"errorMessages": ["fields are required"]}
        errors = self._check_fields(fields, creating=True)
        if errors:
            return 400, {"errorMessages": [], "errors": errors}
        issue = self.jira._new_issue(fields)
        return 201, {"id": issue.id, "key": issue.key, "self": f"{self.jira.url}/rest/api/2/issue/{issue.id}"}

    def _edit(self, issue: Issue, body: Any) -> tuple[int, Any]:
        fields = (body or {}).get("fields") or {}
        verbs = (body or {}).get("update") or {}
        errors = {**self._check_fields(fields, creating=False), **_check_verbs(verbs)}
        if errors:
            return 400, {"errorMessages": [], "errors": errors}
        now = datetime.now(UTC)
        labels_before = list(issue.fields.get("labels", []))
        _apply_label_verbs(issue, verbs.get("labels", []))
        items = [item for name, value in fields.items() for item in self._set_field(issue, name, value, now)]
        if issue.fields.get("labels", []) != labels_before:
            items.append(_item("labels", None, " ".join(labels_before), None, " ".join(issue.fields["labels"])))
        self.jira._record(issue, self.jira.bot_account, now, items)
        return 204, None

    def _set_field(self, issue: Issue, name: str, value: Any, now: datetime) -> list[dict[str, Any]]:
        """Set one field as an edit does; the changelog items it makes."""
        stub = self.jira
        if name == "priority":
            return stub._change_priority(issue, value["id"])
        if name == "assignee":
            return stub._change_assignee(issue, stub._user_from_body(value)[1])
        if name == "status":
            return stub._change_status(issue, (value or {}).get("name", ""), now)
        before = issue.fields.get(name)
        issue.fields[name] = value
        if name in ("summary", "description") and before != value:
            return [_item(name, None, before, None, value)]
        return []

    def _matching(self, query: dict) -> list[Issue]:
        jql = (query.get("jql") or [""])[0]
        matches = [i for i in self.jira.issues.values() if _matches(jql, i, self.jira)]
        return sorted(matches, key=lambda i: int(i.id))

    def _search(self, query: dict) -> tuple[int, Any]:
        """Cloud's GET search/jql: pages by nextPageToken, no total. Server has no such endpoint."""
        if not self.jira.cloud:
            return 404, {"errorMessages": ["null for uri: search/jql"]}
        try:
            page, start, limit, total = self._found(query, "nextPageToken")
        except ValueError as exc:  # JQL the stand-in does not understand, or an unknown project
            return 400, {"errorMessages": [str(exc)]}
        answer: dict[str, Any] = {"issues": page, "isLast": start + limit >= total}
        if start + limit < total:
            answer["nextPageToken"] = str(start + limit)
        return 200, answer

    def _legacy_search(self, query: dict) -> tuple[int, Any]:
        """Server's GET search: pages by startAt, with a total. Cloud has removed it."""
        if self.jira.cloud:
            return 410, {"errorMessages": ["The requested API has been removed. Please migrate to the "
                                           "/rest/api/2/search/jql API."]}
        try:
            page, start, limit, total = self._found(query, "startAt")
        except ValueError as exc:  # JQL the stand-in does not understand, or an unknown project
            return 400, {"errorMessages": [str(exc)]}
        return 200, {"startAt": start, "maxResults": limit, "total": total, "issues": page}

    def _found(self, query: dict, cursor: str) -> tuple[list, int, int, int]:
        """One page of what the JQL matches, from the `cursor` parameter on: (issues, start, limit, total)."""
        wanted = [f for value in query.get("fields", []) for f in value.split(",")]
        matches = self._matching(query)
        limit = int((query.get("maxResults") or ["50"])[0])
        start = int((query.get(cursor) or ["0"])[0])
        page = [_issue_json(self.jira, i, wanted) for i in matches[start:start + limit]]
        return page, start, limit, len(matches)


def _check_verbs(verbs: dict[str, Any]) -> dict[str, str]:
    """An edit's `update` verbs: the stand-in (like the bot) only adds and removes single labels."""
    errors = {}
    for name, operations in verbs.items():
        if name != "labels" or not isinstance(operations, list):
            errors[name] = "the stand-in only updates labels with verbs"
        for operation in operations if isinstance(operations, list) else []:
            for verb, value in operation.items():
                if verb not in ("add", "remove", "set") or not isinstance(value, str) or " " in value:
                    errors["labels"] = f"bad label operation {operation!r}"
    return errors


def _apply_label_verbs(issue: Issue, operations: list[dict[str, str]]) -> None:
    labels = issue.fields.setdefault("labels", [])
    for operation in operations:
        if "add" in operation and operation["add"] not in labels:
            labels.append(operation["add"])
        if "remove" in operation and operation["remove"] in labels:
            labels.remove(operation["remove"])


def _issue_json(stub: JiraStub, issue: Issue, wanted: list[str] | None) -> dict[str, Any]:
    comments = {"comments": issue.comments, "self": f"{stub.url}/rest/api/2/issue/{issue.id}/comment",
                "maxResults": len(issue.comments), "total": len(issue.comments), "startAt": 0}
    fields = dict(issue.fields, created=_stamp(issue.created), updated=_stamp(issue.updated), comment=comments)
    if wanted and "*all" not in wanted and "*navigable" not in wanted:
        fields = {k: v for k, v in fields.items() if k in wanted}
    return {"id": issue.id, "key": issue.key, "self": f"{stub.url}/rest/api/2/issue/{issue.id}", "fields": fields}


def _matches(jql: str, issue: Issue, stub: JiraStub | None = None) -> bool:
    """The JQL the bot writes: clauses joined by AND (project, labels, updated relative or absolute, keys)."""
    projects = stub.projects if stub is not None else PROJECTS
    keys = {issue.key, *([k for k, i in stub.old_keys.items() if i == issue.id] if stub is not None else [])}
    jql = re.sub(r"\s+ORDER BY .*$", "", jql, flags=re.IGNORECASE)
    return all(_clause_holds(clause, issue, projects, keys)
               for clause in re.split(r"\s+AND\s+", jql.strip(), flags=re.IGNORECASE))


def _clause_holds(clause: str, issue: Issue, projects: dict[str, dict[str, str]], keys: set[str]) -> bool:
    """One JQL clause; a clause the stand-in does not know is an error (a 400), as a typo is in Jira."""
    project = issue.fields["project"]["key"]
    tests: list[tuple[str, Any]] = [
        (r'project\s*=\s*"?([A-Za-z0-9_]+)"?', lambda v: project in _project_keys([v], projects)),
        (r'project\s+in\s*\(([^)]*)\)', lambda v: project in _project_keys(_listed(v), projects)),
        (r'labels\s*=\s*"([^"]+)"', lambda v: v in issue.fields.get("labels", [])),
        (r'updated\s*>=\s*"?-(\d+)m"?',
         lambda v: issue.updated >= datetime.now(UTC) - timedelta(minutes=int(v))),
        (r'updated\s*>=\s*"(\d{4}-\d\d-\d\d(?: \d\d:\d\d)?)"',
         lambda v: issue.updated >= datetime.fromisoformat(v).replace(tzinfo=UTC)),
        (r'(?:key|issuekey)\s+in\s+\(([^)]*)\)', lambda v: bool(keys & {k.upper() for k in _listed(v)})),
        (r'(?:key|issuekey)\s*=\s*"?([A-Za-z0-9_]+-\d+)"?', lambda v: v.upper() in keys),
    ]
    for pattern, holds in tests:
        if m := re.fullmatch(pattern, clause, flags=re.IGNORECASE):
            return holds(m.group(1))
    raise ValueError(f"The stand-in does not understand the JQL clause {clause!r}")


def _listed(text: str) -> list[str]:
    return [part.strip().strip('"').strip("'") for part in text.split(",") if part.strip()]


def _project_keys(refs: list[str], projects: dict[str, dict[str, str]]) -> set[str]:
    """The keys `refs` (keys or ids) name; Jira answers 400 for a project that does not exist."""
    keys = set()
    for ref in refs:
        key = next((k for k, p in projects.items() if ref.upper() == k or ref == p["id"]), None)
        if key is None:
            raise ValueError(f"The value '{ref}' does not exist for the field 'project'.")
        keys.add(key)
    return keys
