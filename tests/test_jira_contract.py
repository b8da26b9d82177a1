"""Contract: the bot's Jira flows run against Prism serving Atlassian's published spec (REST v2 paths derived
from v3), and no request may break it. Prism keeps no state and answers with fixed examples, so this checks
what the bot *sends*; behaviour is tested against the stateful stand-in in test_jira.py.

`.ci/run` installs Prism (`.ci/prism`) and sets PMBOT_REQUIRE_PRISM=1, so in CI a missing Prism fails.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from sqlmodel import select

from bot.doctor import check_jira_mapping
from bot.mirror import content, mapping, outbox, sync
from storage.db import session_scope
from storage.models import Bug
from tests.helpers import free_port
from tests.jira_stub import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
PRISM = ROOT / ".ci" / "prism" / "node_modules" / ".bin" / "prism"
SPEC = ROOT / "tests" / "specs" / "jira_platform_openapi_v2v3.harness.json"


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not PRISM.exists():
        if os.environ.get("PMBOT_REQUIRE_PRISM"):
            raise RuntimeError(f"Prism is not installed at {PRISM}; .ci/run installs it")
        pytest.skip("Prism not installed: npm install --prefix .ci/prism @stoplight/prism-cli@5.14.2")
    port = free_port()
    log = tmp_path_factory.mktemp("prism") / "jira.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urlopen(f"{url}/rest/api/2/serverInfo", timeout=2).read()
            break
        except (URLError, OSError):
            if process.poll() is not None:
                raise RuntimeError("Prism exited:\n" + log.read_text()) from None
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("Prism did not start in 90 s:\n" + log.read_text())
    yield url, log
    process.terminate()
    process.wait(timeout=10)


def request_violations(log: Path, start: int) -> list[str]:
    lines = log.read_text().splitlines()[start:]
    return [line for line in lines if "Violation: request" in line]


def test_every_jira_request_the_bot_makes_matches_the_published_spec(bot_factory, prism) -> None:
    url, log = prism
    start = len(log.read_text().splitlines())
    # The example workflow offers "Close Issue"; the example issue is ED-1.
    bot = bot_factory(jira_url=url, jira_user="bot@example.com", jira_api_token="t", pmbot_admin_channel="C0RANDOM",
                      jira_transition_close="Done, Close Issue", jira_components="bug=10100", **SETTINGS)
    deps = bot.runtime.deps

    def command(name: str, text: str) -> None:
        assert bot.driver.command(name, text).status == 200
        bot.runtime.settle()

    command("/bug", "The assistant shows other users' chat history {code} [x|y] *bold*")
    command("/risk", "our only GPU vendor may raise prices p=4 i=5")
    command("/incident", "declare Support bot leaks order numbers grade 1")
    first = outbox.deliver(deps)
    assert first.failed == 0 and first.delivered == 3  # found by label (the example search hit), then linked
    with session_scope(deps.engine) as session:
        bug = session.exec(select(Bug).where(Bug.readable_id == "B-1")).one()
    # Prism's search always finds an issue, so the worker never reaches its create: send the very fields it
    # would, through the same gateway call.
    fields = content.create_fields(mapping.resolve(deps.settings, deps.jira), deps.mirror.of(bug), bug,
                                   permalink="https://example.slack.com/archives/C/p1")
    assert deps.jira.create(fields)[1]
    # People: the user search by e-mail and the assignee call (Prism's example user is inactive, so the worker
    # would not pick it; the call it makes is made here as it would be).
    assert deps.jira.find_user("alice@example.com") is None
    deps.jira.assign("ED-1", "5b10ac8d82e05b22cc7d4ef5")
    deps.jira.assign("ED-1", None)
    # A follow-up action's Task related to its incident's issue (the action mirror's own `relate` op).
    deps.jira.link_issues("Relates", inward="ED-1", outward="10002")
    command("/bug", "close B-1 fixed in the prompt")
    command("/risk", "update R-1 p=2")
    command("/bug", "another report for linking: the bot is slow")
    command("/bug", "link B-2 PM-5")
    second = outbox.deliver(deps)
    assert second.failed == 0, str(second)
    assert "changed in Jira" in sync.poll(deps)
    check_jira_mapping(deps.settings)  # the create screen per issue type
    # Zero-config: the project's issue types and its create screen, read for their names.
    zero = bot_factory(jira_url=url, jira_user="bot@example.com", jira_api_token="t", jira_project="PM")
    chosen = mapping.resolve(zero.runtime.deps.settings, zero.runtime.deps.jira)
    assert chosen.issue_type_id("bug") == "1"  # the example project's "Bug"
    text = log.read_text()
    # Prism logs each request as "[HTTP SERVER] <method> <path> …", the path without its query.
    for call in ("post /rest/api/2/issue ", "get /rest/api/2/search/jql", "/transitions", "/comment",
                 "get /rest/api/2/issue/createmeta/PM/issuetypes/10004",
                 "get /rest/api/2/issue/createmeta/PM/issuetypes/1 ",  # type 1 is known only from the list call
                 "get /rest/api/2/user/search", "put /rest/api/2/issue/ED-1/assignee", "post /rest/api/2/issueLink"):
        assert call in text, f"the flow never called {call}"
    assert "PUT        " + url + "/rest/api/2/issue/" in text
    problems = request_violations(log, start)
    assert problems == [], "requests that break Jira's published spec:\n" + "\n".join(problems)
