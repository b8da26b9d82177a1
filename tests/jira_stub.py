"""A stateful Jira Cloud stand-in, served over real HTTP, for the real `jira` client to talk to.

It keeps issues, comments and a small workflow (To Do → In Progress → Done, Done → Reopen), checks what a
real Jira checks (auth, ids of issue types and priorities, string bodies on REST v2, labels without spaces,
transitions that exist from the current status), and can fail on demand: answer 429 with Retry-After or
503, drop the response of a create after storing the issue, or be down altogether.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PROJECT = {"id": "10000", "key": "PM", "name": "pmbot"}
ISSUE_TYPES = {"10004": "Bug", "10005": "Risk", "10006": "Incident"}
PRIORITIES = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}
STATUSES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
# transition name → (id, from statuses, to status)
WORKFLOW = {
    "In Progress": ("21", {"To Do"}, "In Progress"),
    "Done": ("31", {"To Do", "In Progress"}, "Done"),
    "Reopen": ("41", {"Done"}, "To Do"),
}
# The create screen per issue type: field id → required?
CREATE_SCREEN = {"summary": True, "issuetype": True, "project": True, "description": False, "priority": False,
                 "labels": False, "components": False, "reporter": True}
SETTINGS = {  # what the bot needs to be told to use this stand-in
    "jira_project": "PM",
    "jira_issue_types": "bug=10004; risk=10005; incident=10006",
    "jira_priorities": "1=1; 2=2; 3=3; 4=4; 5=5; critical=1; high=2; medium=3; low=4",
}


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class Fault:
    status: int
    method: str | None = None
    path: str | None = None  # a substring of the path
    retry_after: int | None = None
    times: int = 1
    drop: bool = False  # do the work, then close the connection without an answer


@dataclass
class Issue:
    id: str
    key: str
    fields: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))


class JiraStub:
    def __init__(self, user: str = "bot@example.com", token: str = "jira-token"):
        self.user, self.token = user, token
        self.issues: dict[str, Issue] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.faults: list[Fault] = []
        self.workflow = dict(WORKFLOW)
        self.create_screen = dict(CREATE_SCREEN)
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

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
        """Stop answering: connections are refused until `up()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def up(self) -> None:
        if self._server is None:
            self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- what tests set up and look at --------------------------------------------------------------

    def fail(self, status: int, *, method: str | None = None, path: str | None = None, retry_after: int | None = None,
             times: int = 1, drop: bool = False) -> None:
        self.faults.append(Fault(status, method, path, retry_after, times, drop))

    def calls(self, method: str, path_part: str) -> list[tuple[str, str, dict, Any]]:
        return [r for r in self.requests if r[0] == method and path_part in r[1]]

    def by_label(self, label: str) -> list[Issue]:
        return [i for i in self.issues.values() if label in i.fields.get("labels", [])]

    def set_status(self, key: str, status: str) -> None:
        """A person moves the issue in Jira."""
        with self.lock:
            issue = self.issues[key]
            issue.fields["status"] = _status(status)
            issue.updated = datetime.now(UTC)

    def set_priority(self, key: str, priority_id: str) -> None:
        with self.lock:
            issue = self.issues[key]
            issue.fields["priority"] = {"id": priority_id, "name": PRIORITIES[priority_id]}
            issue.updated = datetime.now(UTC)

    def set_assignee(self, key: str, name: str, email: str | None = None) -> None:
        with self.lock:
            issue = self.issues[key]
            issue.fields["assignee"] = {"accountId": f"acc-{name.lower()}", "displayName": name,
                                        "emailAddress": email}
            issue.updated = datetime.now(UTC)

    def add_issue(self, summary: str, *, labels: list[str] | None = None) -> Issue:
        """An issue someone made in Jira by hand."""
        with self.lock:
            return self._new_issue({"summary": summary, "labels": labels or [], "issuetype": {"id": "10004"},
                                    "project": {"id": PROJECT["id"]}})

    def _new_issue(self, fields: dict[str, Any]) -> Issue:
        number = len(self.issues) + 1
        issue_id, key = str(10000 + number), f"{PROJECT['key']}-{number}"
        stored = dict(fields)
        stored["issuetype"] = {"id": fields["issuetype"]["id"], "name": ISSUE_TYPES[fields["issuetype"]["id"]]}
        stored["project"] = dict(PROJECT)
        if "priority" in fields:
            stored["priority"] = {"id": fields["priority"]["id"], "name": PRIORITIES[fields["priority"]["id"]]}
        stored["status"] = _status("To Do")
        stored.setdefault("assignee", None)
        stored.setdefault("labels", [])
        issue = Issue(issue_id, key, stored)
        self.issues[key] = issue
        return issue


def _status(name: str) -> dict[str, Any]:
    return {"name": name, "statusCategory": {"key": STATUSES[name]}}


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
        import base64

        header = self.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.jira.user}:{self.jira.token}".encode()).decode()
        return header in (f"Basic {expected}", f"Bearer {self.jira.token}")

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
        base = "/rest/api/2/"
        if not path.startswith(base):
            return 404, {"errorMessages": [f"no such path {path}"]}
        rest = path[len(base):]
        if method == "GET" and rest == "serverInfo":
            return 200, {"baseUrl": stub.url, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                         "deploymentType": "Cloud", "buildNumber": 100217, "serverTitle": "stand-in"}
        if method == "GET" and rest == "myself":
            return 200, {"accountId": "acc-bot", "displayName": "pmbot", "emailAddress": stub.user}
        if method == "GET" and rest == "field":
            return 200, [{"id": f, "key": f, "name": f.title(), "custom": False} for f in CREATE_SCREEN]
        if method == "GET" and (m := re.fullmatch(r"issue/createmeta/([^/]+)/issuetypes/(\d+)", rest)):
            if m.group(1) not in (PROJECT["key"], PROJECT["id"]) or m.group(2) not in ISSUE_TYPES:
                return 404, {"errorMessages": ["Issue type or project not found"]}
            fields = [{"fieldId": f, "key": f, "name": f.title(), "required": req}
                      for f, req in stub.create_screen.items()]
            return 200, {"fields": fields, "maxResults": 50, "startAt": 0, "total": len(fields)}
        if method == "POST" and rest == "issue":
            return self._create(body)
        if method == "GET" and rest == "search/jql":
            return self._search(query)
        if not (m := re.fullmatch(r"issue/([^/]+)(/comment|/transitions)?", rest)):
            return 404, {"errorMessages": [f"no such path {path}"]}
        return self._issue_route(method, m.group(1), m.group(2), query, body)

    def _issue_route(self, method: str, key: str, sub: str | None, query: dict, body: Any) -> tuple[int, Any]:
        stub = self.jira
        issue = stub.issues.get(key) or next((i for i in stub.issues.values() if i.id == key), None)
        if issue is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        if sub is None and method == "GET":
            return 200, _issue_json(stub, issue, query.get("fields"))
        if sub is None and method == "PUT":
            return self._edit(issue, body)
        if sub == "/comment" and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"].strip():
                return 400, {"errors": {"comment": "Comment body can not be empty!"}}
            comment = {"id": str(len(issue.comments) + 1), "body": body["body"]}
            issue.comments.append(comment)
            issue.updated = datetime.now(UTC)
            return 201, comment
        if sub == "/transitions" and method == "GET":
            status = issue.fields["status"]["name"]
            offered = [{"id": tid, "name": name, "to": _status(to)}
                       for name, (tid, sources, to) in stub.workflow.items() if status in sources]
            return 200, {"transitions": offered}
        if sub == "/transitions" and method == "POST":
            wanted = str(((body or {}).get("transition") or {}).get("id", ""))
            status = issue.fields["status"]["name"]
            for _name, (tid, sources, to) in stub.workflow.items():
                if tid == wanted and status in sources:
                    issue.fields["status"] = _status(to)
                    issue.updated = datetime.now(UTC)
                    return 204, None
            return 400, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."]}
        return 405, {"errorMessages": ["method not allowed"]}

    def _check_fields(self, fields: dict[str, Any], *, creating: bool) -> dict[str, str]:
        errors = {}
        if creating:
            if (fields.get("project") or {}).get("id") != PROJECT["id"] and \
                    (fields.get("project") or {}).get("key") != PROJECT["key"]:
                errors["project"] = "valid project is required"
            if (fields.get("issuetype") or {}).get("id") not in ISSUE_TYPES:
                errors["issuetype"] = "valid issue type is required"
            if not str(fields.get("summary") or "").strip():
                errors["summary"] = "You must specify a summary of the issue."
        if "summary" in fields and len(str(fields["summary"])) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        if "summary" in fields and "\n" in str(fields["summary"]):
            errors["summary"] = "The summary is invalid because it contains newline characters."
        if "description" in fields and not isinstance(fields["description"], str | None):
            errors["description"] = "Operation value must be a string"
        if "priority" in fields and (fields["priority"] or {}).get("id") not in PRIORITIES:
            errors["priority"] = "The priority selected is invalid."
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
        errors = self._check_fields(fields, creating=False)
        for name, operations in verbs.items():
            if name != "labels" or not isinstance(operations, list):
                errors[name] = "the stand-in only updates labels with verbs"
            for operation in operations if isinstance(operations, list) else []:
                for verb, value in operation.items():
                    if verb not in ("add", "remove", "set") or not isinstance(value, str) or " " in value:
                        errors["labels"] = f"bad label operation {operation!r}"
        if errors:
            return 400, {"errorMessages": [], "errors": errors}
        for operation in verbs.get("labels", []):
            labels = issue.fields.setdefault("labels", [])
            if "add" in operation and operation["add"] not in labels:
                labels.append(operation["add"])
            if "remove" in operation and operation["remove"] in labels:
                labels.remove(operation["remove"])
        for name, value in fields.items():
            if name == "priority":
                value = {"id": value["id"], "name": PRIORITIES[value["id"]]}
            issue.fields[name] = value
        issue.updated = datetime.now(UTC)
        return 204, None

    def _search(self, query: dict) -> tuple[int, Any]:
        jql = (query.get("jql") or [""])[0]
        wanted = [f for value in query.get("fields", []) for f in value.split(",")]
        try:
            matches = [i for i in self.jira.issues.values() if _matches(jql, i)]
        except ValueError as exc:
            return 400, {"errorMessages": [str(exc)]}
        limit = int((query.get("maxResults") or ["50"])[0])
        start = int((query.get("nextPageToken") or ["0"])[0])
        page = sorted(matches, key=lambda i: int(i.id))[start:start + limit]
        answer: dict[str, Any] = {"issues": [_issue_json(self.jira, i, wanted) for i in page],
                                  "isLast": start + limit >= len(matches)}
        if start + limit < len(matches):
            answer["nextPageToken"] = str(start + limit)
        return 200, answer


def _issue_json(stub: JiraStub, issue: Issue, wanted: list[str] | None) -> dict[str, Any]:
    fields = dict(issue.fields, updated=_stamp(issue.updated), comment={"comments": issue.comments})
    if wanted and "*all" not in wanted:
        fields = {k: v for k, v in fields.items() if k in wanted}
    return {"id": issue.id, "key": issue.key, "self": f"{stub.url}/rest/api/2/issue/{issue.id}", "fields": fields}


def _matches(jql: str, issue: Issue) -> bool:
    """The JQL the bot writes: clauses joined by AND (project, labels, updated relative or absolute)."""
    jql = re.sub(r"\s+ORDER BY .*$", "", jql, flags=re.IGNORECASE)
    for clause in re.split(r"\s+AND\s+", jql.strip(), flags=re.IGNORECASE):
        if m := re.fullmatch(r'project\s*=\s*"?([A-Z0-9_]+)"?', clause):
            if m.group(1) not in (PROJECT["key"], PROJECT["id"]):
                return False
        elif m := re.fullmatch(r'labels\s*=\s*"([^"]+)"', clause):
            if m.group(1) not in issue.fields.get("labels", []):
                return False
        elif m := re.fullmatch(r'updated\s*>=\s*"?-(\d+)m"?', clause):
            if issue.updated < datetime.now(UTC) - timedelta(minutes=int(m.group(1))):
                return False
        elif m := re.fullmatch(r'key\s+in\s+\(([^)]*)\)', clause):
            if issue.key not in [k.strip().strip('"') for k in m.group(1).split(",")]:
                return False
        else:
            raise ValueError(f"The stand-in does not understand the JQL clause {clause!r}")
    return True
