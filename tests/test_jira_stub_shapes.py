"""The Jira stand-in against what Jira publishes: its webhooks have the key structure of the fixture deliveries
in tests/data/jira_webhooks (so it cannot drift from them), and its newer endpoints answer the real `jira` client
as Jira Cloud and Jira Server do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jira import JIRA, JIRAError

from tests.jira_stub import NO_ISSUE, PRIORITIES, JiraStub, _stamp

FIXTURES = Path(__file__).resolve().parent / "data" / "jira_webhooks"
SUMMARY = "B-7: the export button does nothing on Safari"
LABELS = ["pmbot", "pmbot-bug", "grade-2", "pmbot-T0EXAMPLE-B-7"]


@pytest.fixture
def cloud() -> Iterator[JiraStub]:
    stub = JiraStub()
    yield stub
    stub.down()


@pytest.fixture
def server() -> Iterator[JiraStub]:
    stub = JiraStub(deployment="Server")
    yield stub
    stub.down()


def client(stub: JiraStub) -> JIRA:
    if stub.deployment == "Cloud":
        return JIRA(server=stub.url, basic_auth=(stub.user, stub.token), max_retries=0)
    return JIRA(server=stub.url, token_auth=stub.token, max_retries=0)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where `actual`'s key structure differs from `expected`'s: dict keys recursively, lists by their first item
    (an empty list on either side says nothing about its items), values only by being a dict or list or not."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{path}: {key!r} is missing" for key in sorted(expected.keys() - actual.keys())]
        found += [f"{path}: {key!r} is not in the fixture" for key in sorted(actual.keys() - expected.keys())]
        for key in sorted(expected.keys() & actual.keys()):
            found += differences(expected[key], actual[key], f"{path}.{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        return differences(expected[0], actual[0], f"{path}[0]") if expected and actual else []
    if isinstance(expected, dict | list) or isinstance(actual, dict | list):
        return [f"{path}: {type(expected).__name__} in the fixture, {type(actual).__name__} from the stand-in"]
    return []


def issue_as_in_the_fixtures(stub: JiraStub) -> str:
    issue = stub.add_issue(SUMMARY, labels=list(LABELS))
    return issue.key


def status_changed(stub: JiraStub, key: str) -> dict[str, Any]:
    stub.set_status(key, "Done")
    return stub.event("updated", key)


def assigned(stub: JiraStub, key: str) -> dict[str, Any]:
    stub.set_assignee(key, "Ana Ruiz", "ana.ruiz@example.com")
    return stub.event("updated", key)


def moved(stub: JiraStub, key: str) -> dict[str, Any]:
    stub.move_issue(key, "OPS")
    return stub.event("updated", key)


def commented(stub: JiraStub, key: str) -> dict[str, Any]:
    stub.add_comment(key, "Reproduced on Safari 18; looking at the click handler now.")
    return stub.event("comment_created", key)


def deleted(stub: JiraStub, key: str) -> dict[str, Any]:
    stub.delete_issue(key)
    return stub.event("deleted", key)


SCENARIOS: dict[str, Callable[[JiraStub, str], dict[str, Any]]] = {
    "issue_updated_status.json": status_changed,
    "issue_assigned.json": assigned,
    "issue_moved.json": moved,
    "comment_created.json": commented,
    "issue_deleted.json": deleted,
}


# --- the webhook payloads --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_event_has_the_key_structure_jira_publishes(cloud: JiraStub, name: str) -> None:
    published = fixture(name)
    built = SCENARIOS[name](cloud, issue_as_in_the_fixtures(cloud))
    assert differences(published, built) == []
    for top in ("webhookEvent", "issue_event_type_name"):
        assert built.get(top) == published.get(top)
    if "changelog" in published:
        assert [i["field"] for i in built["changelog"]["items"]] == \
            [i["field"] for i in published["changelog"]["items"]]
    assert isinstance(built["timestamp"], int) and built["timestamp"] > 1_600_000_000_000  # milliseconds


def test_every_fixture_is_complete_and_invented() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(SCENARIOS)
    for name in SCENARIOS:
        text = (FIXTURES / name).read_text()
        payload = json.loads(text)
        assert {"timestamp", "webhookEvent", "issue"} <= payload.keys()
        assert isinstance(payload["timestamp"], int) and len(str(payload["timestamp"])) == 13
        hosts = set(re.findall(r"https?://([^/\"?]+)", text))
        assert hosts and all(h.endswith("example.com") for h in hosts), hosts
        assert all(e.endswith("@example.com") for e in re.findall(r"[\w.+-]+@[\w.-]+", text))
    move = fixture("issue_moved.json")
    key_item = move["changelog"]["items"][-1]
    assert key_item["field"] == "Key" and "fieldId" not in key_item
    assert (key_item["fromString"], key_item["toString"]) == ("PM-7", move["issue"]["key"])
    assert fixture("comment_created.json")["issue"]["fields"].keys() == \
        {"summary", "issuetype", "project", "assignee", "priority", "status"}


def test_a_payload_is_a_snapshot_so_deliveries_can_be_replayed_out_of_order(cloud: JiraStub) -> None:
    key = issue_as_in_the_fixtures(cloud)
    first_at = datetime(2026, 11, 30, 10, 0, 0, 123000, tzinfo=UTC)
    cloud.set_status(key, "In Progress", at=first_at)
    first = cloud.event("updated", key)
    cloud.set_status(key, "Done", at=first_at + timedelta(milliseconds=1))
    second = cloud.event("updated", key)
    cloud.set_priority(key, "1")
    assert first["issue"]["fields"]["status"]["name"] == "In Progress", "built before, untouched after"
    assert first["issue"]["fields"]["priority"]["id"] == second["issue"]["fields"]["priority"]["id"] == "3"
    assert first["issue"]["fields"]["updated"] == "2026-11-30T10:00:00.123+0000"
    assert second["issue"]["fields"]["updated"] == "2026-11-30T10:00:00.124+0000"
    assert second["timestamp"] - first["timestamp"] == 1
    assert int(first["changelog"]["id"]) < int(second["changelog"]["id"])
    assert [i["field"] for i in second["changelog"]["items"]] == ["resolution", "status"]
    assert cloud.event("updated", key, at=first_at)["timestamp"] == first["timestamp"]


def test_changelog_ids_grow_across_the_whole_site_and_name_their_author(cloud: JiraStub) -> None:
    jira = client(cloud)
    one, two = issue_as_in_the_fixtures(cloud), issue_as_in_the_fixtures(cloud)
    cloud.set_priority(one, "2")
    jira.transition_issue(two, "21")
    cloud.set_assignee(one, "Ana Ruiz")
    histories = cloud.issues[one].changelog + cloud.issues[two].changelog
    ids = sorted(int(h["id"]) for h in histories)
    assert len(set(ids)) == 3
    assert cloud.issues[two].changelog[0]["author"]["accountId"] == "acc-bot", "an API change is the bot's"
    assert cloud.issues[one].changelog[0]["author"]["displayName"] == "Dana Whitfield", "a change by hand is a person's"
    assert cloud.event("updated", one)["issue_event_type_name"] == "issue_assigned"


def test_a_comment_event_makes_a_comment_when_there_is_none(cloud: JiraStub) -> None:
    key = issue_as_in_the_fixtures(cloud)
    event = cloud.event("comment_created", key)
    assert event["comment"]["author"]["displayName"] == "Dana Whitfield"
    assert cloud.issues[key].comments == [event["comment"]]


def test_stamps_keep_milliseconds_in_utc() -> None:
    assert _stamp(datetime(2026, 11, 30, 10, 0, 0, 123999, tzinfo=UTC)) == "2026-11-30T10:00:00.123+0000"
    madrid = timezone(timedelta(hours=1))
    assert _stamp(datetime(2026, 11, 30, 11, 0, 0, 5000, tzinfo=madrid)) == "2026-11-30T10:00:00.005+0000"


# --- deployments, create metadata -------------------------------------------------------------------


def test_server_info_tells_cloud_from_server(cloud: JiraStub, server: JiraStub) -> None:
    assert client(cloud).deploymentType == "Cloud"
    on_server = client(server)
    assert on_server.deploymentType == "Server" and on_server._version == (9, 12, 0)
    assert on_server.server_info()["version"] == "9.12.0"


def test_cloud_lists_issue_types_under_issueTypes_and_priorities_in_the_create_screen(cloud: JiraStub) -> None:
    jira = client(cloud)
    cloud.issue_types["10010"] = "Story"
    page = jira._get_json("issue/createmeta/PM/issuetypes")
    assert page.keys() == {"issueTypes", "maxResults", "startAt", "total"}
    by_name = {t["name"]: t for t in page["issueTypes"]}
    assert {"Bug", "Risk", "Incident", "Task", "Sub-task", "Story"} == by_name.keys()
    assert by_name["Sub-task"]["subtask"] is True and by_name["Bug"]["subtask"] is False
    assert by_name["Bug"].keys() == {"id", "name", "subtask", "description", "iconUrl", "self"}
    assert jira._get_json("issue/createmeta/10001/issuetypes")["total"] == 6, "a project by its id"
    screen = jira._get_json("issue/createmeta/PM/issuetypes/10004")
    fields = {f["fieldId"]: f for f in screen["fields"]}
    assert [(v["id"], v["name"]) for v in fields["priority"]["allowedValues"]] == list(PRIORITIES.items())
    assert all({"id", "name", "self"} <= v.keys() for v in fields["priority"]["allowedValues"])
    assert fields["priority"]["schema"] == {"type": "priority", "system": "priority"}
    assert all("schema" in f and "key" in f for f in fields.values())
    with pytest.raises(JIRAError) as missing:
        jira._get_json("issue/createmeta/NOPE/issuetypes")
    assert missing.value.status_code == 404


def test_server_pages_create_metadata_under_values(server: JiraStub) -> None:
    jira = client(server)
    assert [t.name for t in jira.project_issue_types("PM")] == ["Bug", "Risk", "Incident", "Task", "Sub-task"]
    raw = jira._get_json("issue/createmeta/PM/issuetypes", params={"maxResults": 2})
    assert raw.keys() == {"values", "maxResults", "startAt", "total", "isLast"}
    assert raw["total"] == 5 and raw["isLast"] is False and len(raw["values"]) == 2
    fields = {f.fieldId: f.raw for f in jira.project_issue_fields("PM", "10005")}
    assert [v["name"] for v in fields["priority"]["allowedValues"]] == list(PRIORITIES.values())
    assert fields["summary"]["required"] is True


def test_creating_a_sub_task_without_a_parent_is_refused(cloud: JiraStub) -> None:
    with pytest.raises(JIRAError) as refused:
        client(cloud).create_issue(fields={"project": {"key": "PM"}, "issuetype": {"id": "10003"}, "summary": "x"})
    assert refused.value.status_code == 400 and "sub-task" in refused.value.text


# --- people -----------------------------------------------------------------------------------------


def test_cloud_finds_a_person_by_exact_email_even_when_hidden_or_by_name(cloud: JiraStub) -> None:
    ana = cloud.add_user("Ana Ruiz", "Ana.Ruiz@example.com", hide_email=True)
    assert ana["accountId"] == "acc-ana-ruiz" and ana["accountType"] == "atlassian" and ana["active"] is True
    assert "emailAddress" not in ana and ana["self"].endswith("user?accountId=acc-ana-ruiz")
    jira = client(cloud)
    [found] = jira.search_users(query="ana.ruiz@EXAMPLE.com")
    assert found.accountId == "acc-ana-ruiz" and "emailAddress" not in found.raw
    assert jira.search_users(query="ana.r") == [], "a hidden e-mail is matched only in full"
    assert [u.displayName for u in jira.search_users(query="rui")] == ["Ana Ruiz"]
    bea = cloud.add_user("Bea Okafor", "bea.okafor@example.com", account_id="712020:0000-bea")
    assert [u.accountId for u in jira.search_users(query="bea.oka")] == [bea["accountId"]]
    with pytest.raises(JIRAError) as gdpr:
        jira.search_users(user="ana")
    assert gdpr.value.status_code == 400


def test_server_finds_a_person_by_username_email_or_display_name(server: JiraStub) -> None:
    ana = server.add_user("Ana Ruiz", "ana.ruiz@example.com", name="aruiz")
    assert ana["name"] == "aruiz" and ana["key"].startswith("JIRAUSER") and "accountId" not in ana
    assert ana["emailAddress"] == "ana.ruiz@example.com"
    jira = client(server)
    for term in ("aru", "ana.ruiz@", "Ruiz"):
        assert [u.name for u in jira.search_users(user=term)] == ["aruiz"], term
    assert server.add_user("Carl Berg", "carl@example.com")["name"] == "carl-berg", "the default username"


def test_assigning_through_a_raw_put_sets_the_user_and_records_the_change(cloud: JiraStub) -> None:
    jira = client(cloud)
    key = jira.create_issue(fields={"project": {"key": "PM"}, "issuetype": {"id": "10004"}, "summary": "x"}).key
    ana = cloud.add_user("Ana Ruiz", "ana.ruiz@example.com")
    url = jira._get_url(f"issue/{key}/assignee")
    assert jira._session.put(url, data=json.dumps({"accountId": ana["accountId"]})).status_code == 204
    assert cloud.issues[key].fields["assignee"] == ana
    [history] = cloud.issues[key].changelog
    assert history["author"]["accountId"] == "acc-bot"
    assert [(i["field"], i["to"], i["toString"]) for i in history["items"]] == \
        [("assignee", ana["accountId"], "Ana Ruiz")]
    with pytest.raises(JIRAError) as unknown:
        jira._session.put(url, data=json.dumps({"accountId": "acc-nobody"}))
    assert unknown.value.status_code == 400 and "assignee" in unknown.value.response.json()["errors"]
    assert jira._session.put(url, data=json.dumps({"accountId": None})).status_code == 204
    assert cloud.issues[key].fields["assignee"] is None


def test_server_assigns_by_username(server: JiraStub) -> None:
    jira = client(server)
    key = jira.create_issue(fields={"project": {"key": "PM"}, "issuetype": {"id": "10004"}, "summary": "x"}).key
    server.add_user("Ana Ruiz", "ana.ruiz@example.com", name="aruiz")
    jira.assign_issue(key, "aruiz")
    assert server.issues[key].fields["assignee"]["name"] == "aruiz"


def test_set_assignee_adds_the_person_once_and_returns_their_json(cloud: JiraStub) -> None:
    key = issue_as_in_the_fixtures(cloud)
    first = cloud.set_assignee(key, "Ana Ruiz", "ana.ruiz@example.com")
    assert first is not None and first["emailAddress"] == "ana.ruiz@example.com"
    assert cloud.set_assignee(key, "Ana Ruiz") == first
    assert len([u for u in cloud.users.values() if u.display_name == "Ana Ruiz"]) == 1
    assert len(cloud.issues[key].changelog) == 1, "assigning the same person again changes nothing"


# --- moves, deletions, search -----------------------------------------------------------------------


def test_a_moved_issue_keeps_its_id_and_its_old_key_still_resolves(cloud: JiraStub) -> None:
    jira = client(cloud)
    created = jira.create_issue(fields={"project": {"key": "PM"}, "issuetype": {"id": "10004"}, "summary": "x",
                                        "labels": ["pmbot"]})
    assert cloud.move_issue("PM-1") == "OPS-1"
    assert "PM-1" not in cloud.issues and cloud.issues["OPS-1"].id == created.id
    assert cloud.issue_by_id(created.id).key == "OPS-1"
    fetched = jira.issue("PM-1")
    assert (fetched.key, fetched.id, fetched.fields.project.key) == ("OPS-1", created.id, "OPS")
    jira.add_comment("PM-1", "still reachable by the old key")
    assert cloud.issues["OPS-1"].comments[-1]["body"] == "still reachable by the old key"

    def keys(jql: str) -> list[str]:
        page = jira.enhanced_search_issues(jql, fields=["summary"], json_result=True)
        return [i["key"] for i in page["issues"]]

    assert keys('project = "OPS" AND labels = "pmbot"') == ["OPS-1"]
    assert keys('project = "PM"') == []
    assert keys('project in ("PM", "OPS")') == keys("project in (PM, OPS)") == ["OPS-1"]
    assert keys("key in (PM-1)") == ["OPS-1"]
    with pytest.raises(JIRAError) as unknown:
        keys('project = "NOPE"')
    assert unknown.value.status_code == 400
    event = cloud.event("updated", "PM-1")
    assert event["issue_event_type_name"] == "issue_moved" and event["issue"]["key"] == "OPS-1"
    assert jira.create_issue(fields={"project": {"key": "PM"}, "issuetype": {"id": "10004"},
                                     "summary": "y"}).key == "PM-2", "keys are never reused"


def test_a_deleted_issue_is_gone_for_every_call_but_its_event_can_still_be_built(cloud: JiraStub) -> None:
    jira = client(cloud)
    kept = jira.create_issue(fields={"project": {"key": "PM"}, "issuetype": {"id": "10004"}, "summary": "x"})
    moved_key = cloud.move_issue(kept.key)
    cloud.delete_issue(moved_key)
    for ref in (kept.key, moved_key, kept.id):
        with pytest.raises(JIRAError) as gone:
            jira.issue(ref)
        assert gone.value.status_code == 404 and NO_ISSUE in gone.value.text
    with pytest.raises(JIRAError):
        jira.add_comment(moved_key, "too late")
    with pytest.raises(JIRAError):
        jira.transitions(moved_key)
    assert cloud.issues == {}
    event = cloud.event("deleted", moved_key)
    assert event["webhookEvent"] == "jira:issue_deleted" and event["issue"]["id"] == kept.id
    assert event["user"]["displayName"] == "Dana Whitfield"
    by_the_api = jira.create_issue(fields={"project": {"key": "PM"}, "issuetype": {"id": "10004"}, "summary": "y"})
    by_the_api.delete()
    assert cloud.issues == {} and cloud.event("deleted", by_the_api.key)["user"]["accountId"] == "acc-bot"


def test_server_searches_through_the_legacy_endpoint(server: JiraStub) -> None:
    jira = client(server)
    for summary in ("one", "two", "three"):
        jira.create_issue(fields={"project": {"key": "PM"}, "issuetype": {"id": "10004"}, "summary": summary,
                                  "labels": ["pmbot"]})
    found = jira.search_issues('project = "PM" AND labels = "pmbot"', maxResults=2, fields="summary,status")
    assert [i.key for i in found] == ["PM-1", "PM-2"] and found.total == 3
    assert server.calls("GET", "/rest/api/2/search") and not server.calls("GET", "/search/jql")
    raw = jira._get_json("search", params={"jql": "project = PM", "startAt": 2, "maxResults": 5})
    assert raw.keys() == {"startAt", "maxResults", "total", "issues"} and [i["key"] for i in raw["issues"]] == ["PM-3"]


def test_cloud_has_removed_the_legacy_search(cloud: JiraStub) -> None:
    with pytest.raises(JIRAError) as removed:
        client(cloud)._get_json("search", params={"jql": "project = PM"})
    assert removed.value.status_code == 410
