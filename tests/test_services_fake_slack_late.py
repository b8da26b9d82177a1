"""The services converted to the port last (stand-ups, the Jira mirror's people) against FakeSlack, with no raw
client at all: what they ask Slack, by the port's names, and Slack's refusals turned into what they were before.
The same flows run end to end through the sandbox in test_standup.py and test_jira.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.deps import Deps
from bot.errors import UserInputError
from bot.metrics import Metrics
from bot.mirror import people
from bot.standups import service as standups
from storage.db import make_engine
from tests.conftest import make_settings
from tests.fake_slack import BOT_USER, FakeSlack

TEAM = "T0TEAM"
# A Wednesday, a minute after a 09:30 UTC stand-up's post time.
WEDNESDAY_0931 = datetime(2026, 3, 4, 9, 31, tzinfo=UTC)

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def slack() -> FakeSlack:
    fake = FakeSlack()
    fake.add_user("U0ALICE", "alice", email="alice@example.com")
    fake.add_channel("C0TEAM", "team", bot_member=False, members=("U0ALICE",))
    return fake


@pytest.fixture
def deps(tmp_path: Path, sqlite_template: Path, slack: FakeSlack) -> Iterator[Deps]:
    """Deps on a fresh SQLite database, FakeSlack as `slack` and no raw client: a raw call would fail at once."""
    path = tmp_path / "pmbot.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Deps(settings=make_settings(database_url=f"sqlite:///{path}"), engine=engine, metrics=Metrics(),
               client=None, slack=slack, commands=(), jobs={})  # type: ignore[arg-type]
    engine.dispose()


def _setup(deps: Deps, text: str = "#team 09:30 UTC mon-fri @alice"):
    return standups.setup(deps, team_id=TEAM, user_id="U0ALICE", channel_id="C0ELSEWHERE", text=text)


# --- stand-ups -----------------------------------------------------------------------------------------------


def test_a_stand_up_set_up_by_names_finds_them_and_joins_its_public_channel(deps: Deps, slack: FakeSlack) -> None:
    standup = _setup(deps)
    assert (standup.channel_id, standup.members) == ("C0TEAM", ["U0ALICE"])
    assert [c.method for c in slack.calls] == ["list_channels", "list_users", "channel_info", "join_channel"]
    assert BOT_USER in slack.channels["C0TEAM"]["members"]


def test_a_private_channel_pmbot_is_not_in_is_refused_at_set_up(deps: Deps, slack: FakeSlack) -> None:
    slack.add_channel("G0SECRET", "secret", private=True, bot_member=False)
    with pytest.raises(UserInputError, match="private channel"):
        _setup(deps, "#secret 09:30 UTC mon-fri @alice")
    assert slack.calls_to("join_channel") == []


def test_a_channel_slack_cannot_show_is_told_with_its_code(deps: Deps, slack: FakeSlack) -> None:
    slack.fail("channel_info", "channel_not_found")
    with pytest.raises(UserInputError, match="channel_not_found"):
        _setup(deps)


def test_the_days_post_goes_out_once_and_an_answer_redraws_it(deps: Deps, slack: FakeSlack) -> None:
    _setup(deps)
    assert standups.run_due(deps, WEDNESDAY_0931).posted == 1
    assert standups.run_due(deps, WEDNESDAY_0931).posted == 0
    [parent] = slack.posted_in("C0TEAM")
    found = standups.day_by_parent(deps, "C0TEAM", parent["ts"])
    assert found is not None
    standup, day = found
    standups.record(deps, standup, day, user_id="U0ALICE", answers={standup.questions[0]: "shipped the export"})
    assert slack.calls_to("update_message")[-1]["ts"] == parent["ts"]


def test_two_answers_at_the_same_moment_leave_the_post_showing_both(deps: Deps, slack: FakeSlack) -> None:
    """Alice's redraw reaches Slack after Bob's answer was stored and drawn: the older count must not win."""
    slack.add_user("U0BOB", "bob")
    _setup(deps, "#team 09:30 UTC mon-fri @alice @bob")
    standups.run_due(deps, WEDNESDAY_0931)
    [parent] = slack.posted_in("C0TEAM")
    standup, day = standups.day_by_parent(deps, "C0TEAM", parent["ts"])
    draw = FakeSlack.update_message
    bob_answered: list[bool] = []

    def bob_lands_while_alice_redraws(self, channel, ts, **kwargs):
        if not bob_answered:  # Alice's first redraw: Bob's answer is stored and drawn before hers reaches Slack
            bob_answered.append(True)
            standups.record(deps, standup, day, user_id="U0BOB", answers={standup.questions[0]: "fixed the build"})
        return draw(self, channel, ts, **kwargs)

    slack.update_message = bob_lands_while_alice_redraws.__get__(slack)  # type: ignore[method-assign]
    standups.record(deps, standup, day, user_id="U0ALICE", answers={standup.questions[0]: "shipped the export"})
    [post] = [m for m in slack.posted_in("C0TEAM") if m["ts"] == parent["ts"]]
    assert "2/2 answered" in post["text"], post["text"]


def test_slack_trouble_on_the_days_post_waits_for_a_later_try(deps: Deps, slack: FakeSlack) -> None:
    _setup(deps)
    slack.fail("post_message", "internal_error")
    done = standups.run_due(deps, WEDNESDAY_0931)
    assert (done.posted, done.waiting, done.given_up) == (0, 1, 0)
    assert slack.posted_in("C0TEAM") == []


# --- the Jira mirror's people --------------------------------------------------------------------------------


def test_a_jira_accounts_slack_user_is_found_by_email_and_remembered(deps: Deps, slack: FakeSlack) -> None:
    assert people.slack_user_for(deps, TEAM, "jira-alice", "alice@example.com") == "U0ALICE"
    assert people.slack_user_for(deps, TEAM, "jira-alice", "alice@example.com") == "U0ALICE"
    assert len(slack.calls_to("user_by_email")) == 1


def test_nobody_in_slack_with_that_email_is_no_match(deps: Deps, slack: FakeSlack) -> None:
    assert people.slack_user_for(deps, TEAM, "jira-zoe", "zoe@example.com") is None
    slack.fail("user_by_email", "internal_error")
    assert people.slack_user_for(deps, TEAM, "jira-zoe", "zoe@example.com") is None
