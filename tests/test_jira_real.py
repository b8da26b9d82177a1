"""The Jira mirror against Jira as it really behaves: webhooks out of order, issues deleted or moved, a project
known only by its names, and people on both sides. The real bot and the real `jira` client talk to the
stateful stand-in; webhook bodies are the stand-in's, built in the shapes Atlassian publishes
(tests/data/jira_webhooks, checked by tests/test_jira_stub_shapes.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from sqlmodel import select

from bot.mirror import sync
from storage.db import session_scope
from storage.models import Bug, Incident, JiraPerson, Risk
from tests.conftest import RunningBot
from tests.helpers import bot_env, pmbot
from tests.jira_stub import JiraStub
from tests.test_jira import command, deliver, dump, get, jira_settings, links, rows, thread

SECRET = "hook-secret"
ZERO_CONFIG = {"jira_issue_types": "", "jira_priorities": ""}


@pytest.fixture
def jira():
    stub = JiraStub()
    yield stub
    stub.down()


@pytest.fixture
def bot(bot_factory, jira: JiraStub) -> RunningBot:
    return bot_factory(**jira_settings(jira, jira_webhook_secret=SECRET))


def hook(bot: RunningBot, payload: dict) -> tuple[int, str]:
    """Deliver a webhook as Jira does: a JSON POST to the bot's endpoint, the secret in the URL."""
    request = Request(f"{bot.url}/jira/webhook?secret={SECRET}", data=json.dumps(payload).encode(), method="POST",
                      headers={"Content-Type": "application/json"})
    try:
        with urlopen(request, timeout=10) as response:
            code, text = response.status, response.read().decode().strip()
    except HTTPError as exc:
        code, text = exc.code, exc.read().decode()
    bot.runtime.settle()
    return code, text


def issue_calls(jira: JiraStub, issue_id: str) -> list[tuple]:
    return [r for r in jira.requests if f"/issue/{issue_id}" in r[1]]


def card_text(bot: RunningBot, item) -> str:
    return dump(next(m for m in bot.sandbox.messages if m["ts"] == item.message_ts)["blocks"])


def two_deliveries(jira: JiraStub, key: str, first: str, then: str, *, gap: timedelta) -> tuple[dict, dict]:
    """The webhooks of two status changes, `gap` apart (0: in the same millisecond): (older, newer)."""
    start = datetime.now(UTC) + timedelta(seconds=5)
    jira.set_status(key, first, at=start)
    older = jira.event("updated", key)
    jira.set_status(key, then, at=start + gap)
    return older, jira.event("updated", key)


# --- 1. order ----------------------------------------------------------------------------------------


def test_a_late_delivery_never_undoes_a_newer_one(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/bug", "the summariser invents quotes from the source")
    deliver(bot)
    older, newer = two_deliveries(jira, "PM-1", "In Progress", "Done", gap=timedelta(seconds=60))
    start = datetime.fromtimestamp(older["timestamp"] / 1000, UTC)  # when the In Progress was set
    assert hook(bot, newer) == (200, "1 change(s) applied")
    assert get(bot, Bug, "B-1").status == "closed"
    code, said = hook(bot, older)
    assert code == 200 and said == "ignored: older than what PM-1 last showed"
    bug = get(bot, Bug, "B-1")
    assert bug.status == "closed", "the In Progress of a minute earlier does not reopen it"
    notes = "\n".join(thread(bot, bug))
    assert "so B-1 is closed" in notes and "reopened" not in notes
    # The same for the poll: Jira's search is eventually consistent and may still show the older state.
    jira.set_status("PM-1", "In Progress", at=start + timedelta(seconds=30))
    assert "0 change(s) applied" in sync.poll(bot.runtime.deps)
    assert get(bot, Bug, "B-1").status == "closed"
    # A real change, newer than what was seen, still comes through.
    jira.set_status("PM-1", "To Do", at=start + timedelta(seconds=90))
    assert hook(bot, jira.event("updated", "PM-1"))[1] == "1 change(s) applied"
    assert get(bot, Bug, "B-1").status == "open"


def test_within_one_millisecond_the_changelog_id_decides(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/risk", "the labelling vendor may miss the December deadline p=3 i=4")
    deliver(bot)
    first, second = two_deliveries(jira, "PM-1", "Done", "To Do", gap=timedelta(0))
    assert int(second["changelog"]["id"]) > int(first["changelog"]["id"])
    assert first["issue"]["fields"]["updated"] == second["issue"]["fields"]["updated"]
    assert hook(bot, second)[1] == "0 change(s) applied"  # To Do is what R-1 is already
    assert hook(bot, first)[1] == "ignored: older than what PM-1 last showed"
    assert get(bot, Risk, "R-1").status == "open"


def test_our_own_change_is_not_undone_by_a_person_s_older_one(bot: RunningBot, jira: JiraStub) -> None:
    """Closed in Slack and delivered; a webhook for a status someone set before that arrives afterwards."""
    command(bot, "/bug", "the bot answers in French to German questions")
    deliver(bot)
    before = datetime.now(UTC) - timedelta(seconds=30)
    jira.set_status("PM-1", "In Progress", at=before)
    stale = jira.event("updated", "PM-1")
    command(bot, "/bug", "close B-1 prompt fixed")
    deliver(bot)
    assert jira.issues["PM-1"].fields["status"]["name"] == "Done"
    assert hook(bot, stale)[1] == "ignored: older than what PM-1 last showed"
    assert get(bot, Bug, "B-1").status == "closed"
    assert hook(bot, jira.event("updated", "PM-1"))[1] == "0 change(s) applied", "our own change is no news"


# --- 2. deleted ---------------------------------------------------------------------------------------


def test_a_deleted_issue_is_unlinked_and_later_changes_neither_retry_nor_block(bot: RunningBot,
                                                                              jira: JiraStub) -> None:
    command(bot, "/risk", "our eval set may leak into fine-tuning data p=3 i=4")
    command(bot, "/risk", "the GPU quota may not be raised in time p=2 i=3")
    deliver(bot)
    doomed = jira.issues["PM-1"]
    jira.delete_issue("PM-1")
    event = jira.event("deleted", "PM-1")
    assert event["webhookEvent"] == "jira:issue_deleted"
    assert hook(bot, event) == (200, "R-1 unlinked from PM-1")
    assert hook(bot, event)[1] == "ignored: not one of ours", "a repeated delivery changes nothing"
    risk = get(bot, Risk, "R-1")
    said = [t for t in thread(bot, risk) if "PM-1 was deleted in Jira" in t]
    assert len(said) == 1 and "/risk link R-1 KEY" in said[0]
    shown = command(bot, "/risk", "show R-1")
    assert "PM-1" not in shown["text"]
    sent = len(jira.requests)
    command(bot, "/risk", "update R-1 p=4")
    command(bot, "/risk", "update R-2 p=4")
    run = deliver(bot)
    assert run.failed == 0 and run.dropped == 2 and run.delivered == 2, str(run)
    assert issue_calls(jira, doomed.id) == [] and len(jira.requests) > sent, "R-2 went out; nothing for R-1"
    assert jira.issues["PM-2"].fields["priority"]["id"] == "2"
    assert deliver(bot, later=timedelta(hours=3)).failed == 0, "nothing is retried"
    assert not [m for m in bot.sandbox.messages if m["channel"] == "C0RANDOM"], "no admin alarm for a deletion"
    # It can be mirrored again, by linking another issue.
    fresh = jira.add_issue("GPU quota and eval leak follow-up")
    answer = command(bot, "/risk", f"link R-1 {fresh.key}")
    assert f"mirrored to Jira {fresh.key}" in answer["text"]
    deliver(bot)
    assert "pmbot-T0SANDBOX-R-1" in fresh.fields["labels"]
    command(bot, "/risk", "update R-1 i=5")
    deliver(bot)
    assert any(c["body"].startswith("Updated in Slack") for c in fresh.comments)


def test_a_404_unlinks_the_issue_once_and_drops_what_waits_for_it(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/bug", "the chatbot quotes prices in the wrong currency")
    deliver(bot)
    issue_id = jira.issues["PM-1"].id
    jira.delete_issue("PM-1")  # no webhook reaches us (none set up, or it was lost)
    command(bot, "/bug", "close B-1 fixed in the pricing prompt")
    command(bot, "/bug", "reopen B-1")
    run = deliver(bot)
    assert run.failed == 0 and run.dropped == 1 and run.delivered == 0, str(run)  # the reopen went with it
    assert len([r for r in issue_calls(jira, issue_id) if r[0] == "GET" and "/transitions" in r[1]]) <= 1
    bug = get(bot, Bug, "B-1")
    notes = [t for t in thread(bot, bug) if "PM-1 is not in Jira any more" in t]
    assert len(notes) == 1
    assert "PM-1" not in card_text(bot, bug), "the card no longer shows the dead key"
    assert {r.status for r in rows(bot) if r.op != "create"} == {"dropped"}
    [link] = links(bot)
    assert link.gone_at is not None


def test_a_dead_delivery_does_not_block_what_comes_after_it(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(**jira_settings(jira, jira_max_attempts=1))
    del jira.workflow["Done"]
    command(bot, "/bug", "the voice assistant cuts answers off after 30 seconds")
    deliver(bot)
    command(bot, "/bug", "close B-1 timeout raised")
    assert deliver(bot).failed == 1
    assert next(r for r in rows(bot) if r.op == "close").status == "dead"
    command(bot, "/bug", "reopen B-1")
    run = deliver(bot, later=timedelta(minutes=1))
    assert run.delivered == 1 and run.failed == 0
    assert jira.issues["PM-1"].comments[-1]["body"].startswith("Reopened in Slack.")
    assert jira.issues["PM-1"].fields["status"]["name"] == "To Do", "the item is open: the issue stays open"


def test_with_recreate_on_the_next_change_makes_a_new_issue(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(**jira_settings(jira, jira_webhook_secret=SECRET, jira_recreate_deleted=True))
    command(bot, "/bug", "the image model ignores the negative prompt")
    deliver(bot)
    jira.delete_issue("PM-1")
    assert hook(bot, jira.event("deleted", "PM-1"))[1] == "B-1 unlinked from PM-1"
    bug = get(bot, Bug, "B-1")
    assert any("next change here will create a new issue" in t for t in thread(bot, bug))
    command(bot, "/bug", "close B-1 negative prompt now honoured")
    assert deliver(bot).delivered >= 1
    [fresh] = [i for i in jira.issues.values() if "pmbot-T0SANDBOX-B-1" in i.fields["labels"]]
    assert fresh.key != "PM-1"
    [link] = links(bot)
    assert link.jira_key == fresh.key and link.gone_at is None
    assert fresh.key in card_text(bot, get(bot, Bug, "B-1"))


# --- 3. moved -----------------------------------------------------------------------------------------


def test_a_moved_issue_keeps_its_link_under_its_new_key(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/bug", "the assistant leaks the system prompt when asked nicely")
    deliver(bot)
    issue_id = jira.issues["PM-1"].id
    new_key = jira.move_issue("PM-1", "OPS")
    event = jira.event("updated", new_key)
    assert event["issue_event_type_name"] == "issue_moved"
    assert hook(bot, event)[1] == "1 change(s) applied"
    [link] = links(bot)
    assert link.jira_key == new_key and link.jira_id == issue_id and link.url.endswith(f"/browse/{new_key}")
    bug = get(bot, Bug, "B-1")
    assert any(f"PM-1 was moved to {new_key} (project Operations)" in t for t in thread(bot, bug))
    assert new_key in card_text(bot, bug)
    assert new_key in command(bot, "/bug", "show B-1")["text"]
    command(bot, "/bug", "close B-1 guard added")
    assert deliver(bot).delivered == 1
    assert jira.issues[new_key].fields["status"]["name"] == "Done"
    assert all(f"/issue/{issue_id}" in r[1] for r in jira.requests[-3:] if "/issue/" in r[1]), "calls use the id"


def test_the_poll_follows_a_move_it_was_not_told_about(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/risk", "a new EU rule may require model cards p=2 i=4")
    deliver(bot)
    new_key = jira.move_issue("PM-1", "OPS")
    jira.set_status(new_key, "Done")
    assert "2 change(s) applied" in sync.poll(bot.runtime.deps)
    bot.runtime.settle()
    [link] = links(bot)
    assert link.jira_key == new_key
    risk = get(bot, Risk, "R-1")
    assert risk.status == "closed" and new_key in risk.close_reason


# --- 4. zero-config mapping -----------------------------------------------------------------------------


def test_with_only_url_user_token_and_project_types_and_priorities_are_found_by_name(bot_factory,
                                                                                    jira: JiraStub) -> None:
    bot = bot_factory(**jira_settings(jira, **ZERO_CONFIG))
    command(bot, "/bug", "the assistant shows other users' invoices")  # grade 1
    command(bot, "/risk", "a key annotator may leave p=4 i=5")
    command(bot, "/incident", "declare Support bot leaks order numbers grade 1")
    run = deliver(bot)
    assert run.delivered == 3 and run.failed == 0, str(run)
    by_summary = {i.fields["summary"].split(":")[0]: i for i in jira.issues.values()}
    assert by_summary["B-1"].fields["issuetype"]["name"] == "Bug"
    assert by_summary["B-1"].fields["priority"]["name"] == "Highest"
    assert by_summary["R-1"].fields["issuetype"]["name"] == "Risk"
    assert by_summary["R-1"].fields["priority"]["name"] == "Highest"  # critical band
    assert by_summary["INC-1"].fields["issuetype"]["name"] == "Incident"
    command(bot, "/bug", "a typo on the pricing page: 'recieve'")
    deliver(bot)
    assert len([c for c in jira.requests if c[1].endswith("/issuetypes")]) == 1, "the metadata is read once"


def test_names_fall_back_and_explicit_ids_win(bot_factory, jira: JiraStub) -> None:
    del jira.issue_types["10005"]  # no Risk type: a Task
    del jira.issue_types["10006"]  # no Incident type: a Bug
    jira.priorities = {"11": "Blocker", "12": "Critical", "13": "Major", "14": "Minor", "15": "Trivial"}
    bot = bot_factory(**jira_settings(jira, jira_issue_types="bug=10002", jira_priorities=""))
    command(bot, "/bug", "the assistant shows other users' invoices")
    command(bot, "/risk", "a key annotator may leave p=1 i=2")
    command(bot, "/incident", "declare Support bot leaks order numbers grade 1")
    assert deliver(bot).failed == 0
    by_summary = {i.fields["summary"].split(":")[0]: i for i in jira.issues.values()}
    assert by_summary["B-1"].fields["issuetype"]["name"] == "Task", "JIRA_ISSUE_TYPES wins"
    assert by_summary["B-1"].fields["priority"]["name"] == "Blocker"
    assert by_summary["R-1"].fields["issuetype"]["name"] == "Task"
    assert by_summary["R-1"].fields["priority"]["name"] == "Minor"  # low band
    assert by_summary["INC-1"].fields["issuetype"]["name"] == "Bug"
    # A priority set in Jira maps back to a grade by the same names.
    jira.set_priority(by_summary["B-1"].key, "13")
    sync.poll(bot.runtime.deps)
    assert get(bot, Bug, "B-1").grade == 3


def test_a_project_without_a_bug_type_gets_a_clear_error_and_doctor_shows_the_mapping(
        bot_factory, jira: JiraStub, tmp_path) -> None:
    env = bot_env(DATABASE_URL=f"sqlite:///{tmp_path}/p.db", JIRA_URL=jira.url, JIRA_USER=jira.user,
                  JIRA_API_TOKEN=jira.token, JIRA_PROJECT="PM", JIRA_PRIORITIES="1=2")
    result = pmbot("doctor", env=env, cwd=tmp_path)
    line = next(x for x in result.stdout.splitlines() if "jira mapping" in x)
    assert "bug=10004 Bug (found by name)" in line and "risk=10005 Risk (found by name)" in line
    assert "1=2 High (set)" in line and "5=5 Lowest (found by name)" in line
    del jira.issue_types["10004"]
    bot = bot_factory(**jira_settings(jira, **ZERO_CONFIG))
    command(bot, "/bug", "the chatbot's answers are cut off mid-sentence")
    assert deliver(bot).failed == 1
    [row] = rows(bot)
    assert "project PM has no issue type named “Bug”" in row.last_error and "JIRA_ISSUE_TYPES" in row.last_error


def test_zero_config_on_data_center(bot_factory) -> None:
    server = JiraStub(deployment="Server")
    try:
        bot = bot_factory(**{**jira_settings(server, **ZERO_CONFIG), "jira_user": None})
        command(bot, "/bug", "the export button does nothing")
        run = deliver(bot)
        assert run.delivered == 1, str(run)
        [issue] = server.issues.values()
        assert issue.fields["issuetype"]["name"] == "Bug" and issue.fields["priority"]["name"] in {"Medium", "Low"}
        server.set_status(issue.key, "Done")
        assert "1 change(s) applied" in sync.poll(bot.runtime.deps)  # the search Data Center still has
    finally:
        server.down()


# --- 5. people -------------------------------------------------------------------------------------------


def test_an_assignee_travels_both_ways_by_e_mail(bot: RunningBot, jira: JiraStub) -> None:
    alice = jira.add_user("Alice Moreau", "alice@example.com", hide_email=True)  # Cloud hides it by default
    bob = jira.add_user("Bob Lindqvist", "Bob@Example.com")
    command(bot, "/bug", "the summariser drops the last paragraph")
    deliver(bot)
    bot.driver.choose("Assign", "U0ALICE", user="U0CARLOS")
    bot.runtime.settle()
    assert get(bot, Bug, "B-1").assignee_id == "U0ALICE"
    assert deliver(bot).delivered == 1
    assert (jira.issues["PM-1"].fields["assignee"] or {}).get("accountId") == alice["accountId"]
    assert hook(bot, jira.event("updated", "PM-1"))[1] == "0 change(s) applied", "our own assignment is no news"
    # Assigned in Jira to someone whose e-mail Jira shows: the Slack assignee follows.
    jira.set_assignee("PM-1", "Bob Lindqvist", "Bob@Example.com")
    assert hook(bot, jira.event("updated", "PM-1"))[1] == "1 change(s) applied"
    bug = get(bot, Bug, "B-1")
    assert bug.assignee_id == "U0BOB"
    assert any("assigned to Bob Lindqvist, so <@U0BOB> is B-1's assignee now" in t for t in thread(bot, bug))
    assert deliver(bot).delivered == 0, "not echoed back to Jira"
    # Someone unknown to Slack: said, and nothing changes here.
    jira.add_user("Zed Outside", "zed@partner.example", hide_email=True)
    jira.set_assignee("PM-1", "Zed Outside")
    hook(bot, jira.event("updated", "PM-1"))
    bug = get(bot, Bug, "B-1")
    assert bug.assignee_id == "U0BOB"
    assert any("Zed Outside, whom I cannot match to anyone in Slack" in t for t in thread(bot, bug))
    # Alice again, from Jira: known from the first look-up though Jira hides her e-mail.
    jira.set_assignee("PM-1", "Alice Moreau")
    hook(bot, jira.event("updated", "PM-1"))
    assert get(bot, Bug, "B-1").assignee_id == "U0ALICE"
    with session_scope(bot.runtime.deps.engine) as session:
        people = {p.slack_user_id: p.jira_account for p in session.exec(select(JiraPerson))}
    assert people["U0ALICE"] == alice["accountId"] and people["U0BOB"] == bob["accountId"]
    assert not any("@" in (p or "") for p in people.values()), "no e-mail is stored"


def test_a_risk_owner_goes_to_jira_and_a_slack_user_without_jira_account_is_said(bot: RunningBot,
                                                                                  jira: JiraStub) -> None:
    jira.add_user("Bob Lindqvist", "bob@example.com")
    command(bot, "/risk", "the annotation budget may run out p=3 i=3 owner=<@U0BOB|bob>")
    deliver(bot)
    assert deliver(bot).delivered == 1, "the assignment goes as its own row, after the create"
    assert jira.issues["PM-1"].fields["assignee"]["displayName"] == "Bob Lindqvist"
    command(bot, "/risk", "update R-1 owner=<@U0CARLOS|carlos>")
    deliver(bot)
    risk = get(bot, Risk, "R-1")
    assert any("could not find <@U0CARLOS> in Jira" in t for t in thread(bot, risk))
    assert jira.issues["PM-1"].fields["assignee"]["displayName"] == "Bob Lindqvist"


def test_assignees_on_data_center_go_by_user_name(bot_factory) -> None:
    server = JiraStub(deployment="Server")
    try:
        carol = server.add_user("Carlos Ruiz", "carlos@example.com", name="cruiz")
        bot = bot_factory(**{**jira_settings(server), "jira_user": None})
        command(bot, "/bug", "the export button does nothing")
        deliver(bot)
        bot.driver.choose("Assign", "U0CARLOS", user="U0ALICE")
        bot.runtime.settle()
        assert deliver(bot).delivered == 1
        [issue] = server.issues.values()
        assert issue.fields["assignee"]["name"] == carol["name"] == "cruiz"
        assert {"name": "cruiz"} in [r[3] for r in server.calls("PUT", "/assignee")]
    finally:
        server.down()


# --- 6. incidents as twins ------------------------------------------------------------------------------


def test_incident_link_makes_the_issue_its_twin(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(pmbot_incident_channel="C0RANDOM", **jira_settings(jira))
    existing = jira.add_issue("Order numbers visible to other customers", project_key="OPS")
    command(bot, "/incident", "declare Support bot leaks order numbers grade 1")
    incident = get(bot, Incident, "INC-1")
    answer = command(bot, "/incident", f"link {existing.key.lower()}", channel=incident.channel_id)
    assert f"INC-1 is now mirrored to Jira {existing.key}" in answer["text"]
    run = deliver(bot)
    assert run.failed == 0 and len(jira.issues) == 1, "the twin is the linked issue, no second one"
    assert {"pmbot", "pmbot-incident", "pmbot-T0SANDBOX-INC-1"} <= set(existing.fields["labels"])
    command(bot, "/incident", "update rolled back to the previous model", channel=incident.channel_id)
    command(bot, "/incident", "resolve rollback done, filter added", channel=incident.channel_id)
    bot.driver.press("Resolve anyway", channel=incident.channel_id)  # the runbook's steps are still open
    bot.runtime.settle()
    deliver(bot)
    bodies = [c["body"] for c in existing.comments]
    assert any("rolled back to the previous model" in b for b in bodies)
    assert existing.fields["status"]["name"] == "Done"
    other = command(bot, "/incident", "link OPS-77", channel=incident.channel_id)
    assert f"Jira twin is {existing.key}, so OPS-77 is linked as related" in other["text"]


# --- what must not unlink, and what goes wrong on the way ---------------------------------------------------


def test_a_404_that_is_not_about_the_issue_unlinks_nothing(bot: RunningBot, jira: JiraStub) -> None:
    """A proxy's 404 page, and a project our account can no longer browse (every issue then answers 404):
    failures to retry and report, not deletions."""
    command(bot, "/bug", "the assistant forgets the conversation after three turns")
    deliver(bot)
    jira.fail(404, path="/issue/", page=True)
    command(bot, "/bug", "close B-1 context window raised")
    run = deliver(bot)
    assert run.failed == 1 and run.dropped == 0, str(run)
    jira.hidden_projects.add("PM")
    run = deliver(bot, later=timedelta(minutes=5))
    assert run.failed == 1 and run.dropped == 0, str(run)
    [link] = links(bot)
    assert link.gone_at is None
    bug = get(bot, Bug, "B-1")
    assert not any("not in Jira any more" in t for t in thread(bot, bug))
    jira.hidden_projects.clear()
    assert deliver(bot, later=timedelta(hours=1)).delivered == 1
    assert jira.issues["PM-1"].fields["status"]["name"] == "Done"


def test_linking_a_key_that_does_not_exist_says_so(bot: RunningBot, jira: JiraStub) -> None:
    command(bot, "/bug", "the chatbot recommends a discontinued plan")
    assert "mirrored to Jira PM-999" in command(bot, "/bug", "link B-1 PM-999")["text"]
    run = deliver(bot)
    assert run.dropped == 1 and run.failed == 0, str(run)
    bug = get(bot, Bug, "B-1")
    [said] = [t for t in thread(bot, bug) if "PM-999" in t and "was not found" in t]
    assert "/bug link B-1 KEY" in said and "deleted" not in said


def test_an_incident_linked_to_a_bug_s_twin_gets_it_as_related(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(pmbot_incident_channel="C0RANDOM", **jira_settings(jira))
    command(bot, "/bug", "the assistant reads out other customers' addresses")
    deliver(bot)
    command(bot, "/incident", "declare Address leak in the voice assistant grade 1")
    incident = get(bot, Incident, "INC-1")
    answer = command(bot, "/incident", "link PM-1", channel=incident.channel_id)
    assert "PM-1 is B-1's Jira twin, so it is linked here as related" in answer["text"]
    assert "PM-1" in get(bot, Incident, "INC-1").links


def test_without_the_email_scope_the_thread_says_what_to_do(bot: RunningBot, jira: JiraStub) -> None:
    jira.add_user("Carlos Ruiz", "carlos@example.com")
    bot.sandbox.ws.users["U0CARLOS"].email = None  # what users.info shows an app without users:read.email
    command(bot, "/bug", "the summariser mixes up two documents")
    deliver(bot)
    bot.driver.choose("Assign", "U0CARLOS", user="U0ALICE")
    bot.runtime.settle()
    deliver(bot)
    bug = get(bot, Bug, "B-1")
    [said] = [t for t in thread(bot, bug) if "did not give me <@U0CARLOS>'s e-mail" in t]
    assert "users:read.email" in said
    assert jira.issues["PM-1"].fields["assignee"] is None


def test_a_failed_assignment_after_a_create_keeps_the_key_on_the_card(bot: RunningBot, jira: JiraStub) -> None:
    jira.add_user("Bob Lindqvist", "bob@example.com")
    command(bot, "/risk", "a key vendor may change its API terms p=3 i=3 owner=<@U0BOB|bob>")
    jira.fail(503, path="/assignee")
    run = deliver(bot)
    assert run.delivered == 0 or jira.issues, str(run)
    deliver(bot)  # the assignment is its own row: it fails (and pauses) without undoing the create
    risk = get(bot, Risk, "R-1")
    assert "PM-1" in card_text(bot, risk)
    assert deliver(bot, later=timedelta(hours=1)).failed == 0
    assert jira.issues["PM-1"].fields["assignee"]["displayName"] == "Bob Lindqvist"
    assert len(jira.issues) == 1


def test_without_updated_the_webhook_timestamp_orders_deliveries(bot: RunningBot, jira: JiraStub) -> None:
    """Some deliveries carry a trimmed issue: then the event's own `timestamp` says how new it is."""
    command(bot, "/risk", "the fine-tuning data may contain customer names p=3 i=5")
    deliver(bot)
    older, newer = two_deliveries(jira, "PM-1", "Done", "To Do", gap=timedelta(seconds=20))
    for event in (older, newer):
        del event["issue"]["fields"]["updated"]
    assert hook(bot, newer)[1] == "0 change(s) applied"  # To Do: R-1 is open already
    assert hook(bot, older)[1] == "ignored: older than what PM-1 last showed"
    assert get(bot, Risk, "R-1").status == "open"
