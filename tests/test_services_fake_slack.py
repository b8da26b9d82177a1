"""Services against FakeSlack: the bug card, escalation and a war room's opening, in milliseconds, with Slack failing
exactly where a test says. The same flows run end to end through the sandbox in test_bug.py and test_incident.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.bugs import service as bugs
from bot.bugs.service import CARD_EVENT, CardNotPosted
from bot.deps import Deps
from bot.incidents import service as incidents
from bot.metrics import Metrics
from storage.bugs import bug_by_id
from storage.db import make_engine, session_scope
from storage.incidents import tasks
from tests.conftest import make_settings
from tests.fake_slack import BOT_USER, GENERAL, FakeSlack

TEAM = "T0TEAM"

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def slack() -> FakeSlack:
    fake = FakeSlack()
    fake.add_user("U0ALICE", "alice")
    fake.add_user("U0BOB", "bob")
    return fake


@pytest.fixture
def make_deps(tmp_path: Path, sqlite_template: Path, slack: FakeSlack) -> Iterator[Callable[..., Deps]]:
    """Deps on a fresh SQLite database with FakeSlack as `slack`; no raw client at all."""
    engines = []

    def build(**settings) -> Deps:
        path = tmp_path / "pmbot.db"
        if not path.exists():
            shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        engines.append(engine)
        return Deps(settings=make_settings(database_url=f"sqlite:///{path}", **settings), engine=engine,
                    metrics=Metrics(), client=None, slack=slack, commands=(), jobs={})  # type: ignore[arg-type]

    yield build
    for engine in engines:
        engine.dispose()


def _report(deps: Deps, text: str, *, channel: str = GENERAL):
    intake = bugs.file_report(deps, team_id=TEAM, channel_id=channel, reporter_id="U0ALICE",
                              delivery_key=f"key-{text}", text=text)
    return intake, bugs.grade_and_post(deps, team_id=TEAM, bug_id=intake.bug_id)


# --- bugs ----------------------------------------------------------------------------------------------------


def test_a_bug_card_is_posted_with_metadata_to_find_it_again(make_deps, slack: FakeSlack) -> None:
    deps = make_deps()
    intake, bug = _report(deps, "typo on the pricing page")
    [card] = slack.posted_in(GENERAL)
    assert (bug.message_channel, bug.message_ts) == (GENERAL, card["ts"])
    assert card["metadata"] == {"event_type": CARD_EVENT, "event_payload": {"id": f"bug-{intake.bug_id}"}}
    assert intake.readable_id in card["text"] and card["blocks"]


def test_pmbot_joins_a_public_channel_it_is_not_in_before_posting_the_card(make_deps, slack: FakeSlack) -> None:
    slack.add_channel("C0QA", "qa", bot_member=False)
    _, bug = _report(make_deps(), "the export button does nothing", channel="C0QA")
    assert [c.method for c in slack.calls] == ["post_message", "join_channel", "post_message"]
    assert bug.message_ts == slack.posted_in("C0QA")[0]["ts"]


def test_a_card_slack_already_has_is_found_not_posted_twice(make_deps, slack: FakeSlack) -> None:
    deps = make_deps()
    intake, bug = _report(deps, "search results load slowly")
    with session_scope(deps.engine) as session:  # as if the process died before storing the card's ts
        row = bug_by_id(session, team_id=TEAM, bug_id=intake.bug_id)
        row.message_channel = row.message_ts = None
        session.add(row)
    again = bugs.grade_and_post(deps, team_id=TEAM, bug_id=intake.bug_id, maybe_posted=True)
    assert again.message_ts == bug.message_ts and len(slack.posted_in(GENERAL)) == 1
    assert slack.calls_to("history")[0]["include_all_metadata"] is True


def test_slack_trouble_on_the_card_is_a_passing_failure(make_deps, slack: FakeSlack) -> None:
    slack.fail("post_message", "anything", status=500)
    with pytest.raises(CardNotPosted) as failed:
        _report(make_deps(), "the chart legend overlaps")
    assert failed.value.transient and str(failed.value) == "http_500"
    assert slack.posted_in(GENERAL) == []


def test_a_channel_that_refuses_the_card_is_not_a_passing_failure(make_deps, slack: FakeSlack) -> None:
    slack.add_channel("C0OLD", "old-project", archived=True)
    with pytest.raises(CardNotPosted) as failed:
        _report(make_deps(), "the old dashboard is broken", channel="C0OLD")
    assert not failed.value.transient and str(failed.value) == "is_archived"


def test_grade_1_is_escalated_with_a_link_to_the_card(make_deps, slack: FakeSlack) -> None:
    slack.add_channel("C0ESCAL", "ai-escalations")
    _, bug = _report(make_deps(pmbot_escalation_channel="#ai-escalations"),
                     "the assistant shows other customers' home addresses")
    assert bug.grade == 1
    [alert] = slack.posted_in("C0ESCAL")
    assert f"{bug.readable_id} was graded 1" in alert["text"]
    assert f"p{bug.message_ts.replace('.', '')}|open the report" in alert["text"]


# --- incidents -----------------------------------------------------------------------------------------------


def _declare(deps: Deps, title: str, grade: int = 2):
    declared = incidents.declare(deps, team_id=TEAM, channel_id=GENERAL, user_id="U0ALICE",
                                 delivery_key=f"key-{title}", title=title, grade=grade)
    return incidents.open_war_room(deps, declared.incident.id, TEAM)


def test_a_war_room_is_opened_step_by_step(make_deps, slack: FakeSlack) -> None:
    slack.add_usergroup("S0ONCALL", "oncall", ["U0BOB", "U0ALICE"])
    deps = make_deps(pmbot_incident_responders="2=S0ONCALL", pmbot_incident_channel="#general")
    incident = _declare(deps, "Summaries drop the last paragraph")
    room = slack.channels[incident.channel_id]
    assert room["name"] == incident.channel_name and room["name"].startswith("inc-")
    assert incident.readable_id in room["topic"] and room["purpose"]
    assert room["members"] == {BOT_USER, "U0ALICE", "U0BOB"}
    [runbook] = slack.posted_in(incident.channel_id)
    assert slack.pins == [(incident.channel_id, runbook["ts"])] and incident.runbook_ts == runbook["ts"]
    with session_scope(deps.engine) as session:
        assert len(tasks(session, incident_id=incident.id)) > 0
    [announcement] = slack.posted_in(GENERAL)
    assert (incident.announcement_channel, incident.announcement_ts) == (GENERAL, announcement["ts"])


def test_a_taken_channel_name_moves_on_to_the_next_suffix(make_deps, slack: FakeSlack) -> None:
    slack.fail("create_channel", "name_taken")
    incident = _declare(make_deps(), "Model answers in the wrong language")
    first, second = (c["name"] for c in slack.calls_to("create_channel"))
    assert incident.channel_name == second == f"{first}-2"
    assert slack.channels[incident.channel_id]["name"] == second


def test_a_war_room_opens_though_the_pin_is_refused(make_deps, slack: FakeSlack) -> None:
    slack.fail("pin", "missing_scope", needed="pins:write")
    incident = _declare(make_deps(), "Latency doubled after the deploy", grade=3)
    assert incident.runbook_ts and slack.pins == []
    assert slack.posted_in(incident.channel_id)[0]["ts"] == incident.runbook_ts


def test_opening_again_resumes_instead_of_making_a_second_room(make_deps, slack: FakeSlack) -> None:
    deps = make_deps()
    incident = _declare(deps, "Refunds are double counted")
    again = incidents.open_war_room(deps, incident.id, TEAM)
    assert again.channel_id == incident.channel_id
    assert len(slack.calls_to("create_channel")) == 1 and len(slack.calls_to("pin")) == 1
