"""`POST /api/quality/runs` end to end: a CI job posts eval results to the real HTTP server; each run is judged
against the team's plan; a breach files a bug through the normal path (graded by the plan, escalated when
grade 1, mirrored to Jira), later runs update it, and runs back within target close it. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from sqlmodel import select

from bot.bugs.service import CARD_EVENT
from bot.domain.quality import template
from bot.mirror import outbox
from bot.quality import service
from storage.clock import system_clock as utcnow
from storage.db import session_scope
from storage.models import Bug, QualityBreach, QualityRun
from tests.conftest import RunningBot
from tests.jira_stub import SETTINGS as JIRA_SETTINGS
from tests.jira_stub import JiraStub

TEAM = "T0SANDBOX"
PLAN_CHANNEL = "C0GENERAL"


def post(bot: RunningBot, body: Any, *, token: str | None, headers: dict[str, str] | None = None,
         method: str = "POST") -> tuple[int, dict]:
    url = f"http://127.0.0.1:{bot.service.http.port}/api/quality/runs"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data if method == "POST" else None, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, (json.loads(raw) if raw.startswith(b"{") else {"raw": raw.decode()})


def with_plan(bot: RunningBot) -> str:
    """The chatbot template as the team's plan, and a token for the API."""
    service.set_plan(bot.runtime.deps, team_id=TEAM, channel_id=PLAN_CHANNEL, user_id="U0ALICE",
                     plan=template("chatbot"), template="chatbot")
    return service.new_token(bot.runtime.deps, team_id=TEAM, user_id="U0ALICE")


def bugs(bot: RunningBot) -> list[Bug]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(Bug).order_by(Bug.id)))


def cards(bot: RunningBot) -> list[dict]:
    return [m for m in bot.sandbox.messages if (m.get("metadata") or {}).get("event_type") == CARD_EVENT
            and "thread_ts" not in m]


def thread(bot: RunningBot, ts: str) -> list[str]:
    return [m["text"] for m in bot.sandbox.messages if m.get("thread_ts") == ts]


GOOD = {"hallucination_rate": 3.1, "toxicity_rate": "0.2%", "pii_leaks": 0, "latency_p95": "420ms",
        "cost_per_inference": 0.004}


def run(version: str, **changes: Any) -> dict:
    return {"model": "support-bot", "version": version, "dataset": "golden-500", "samples": 500,
            "url": f"https://ci.example.com/evals/{version}", "metrics": {**GOOD, **changes}}


@pytest.fixture
def jira():
    stub = JiraStub()
    yield stub
    stub.down()


def test_a_pii_leak_files_a_grade_1_bug_that_escalates_mirrors_updates_and_closes(bot_factory, sandbox,
                                                                                  jira: JiraStub) -> None:
    sandbox.add_channel("C0ESCAL", "ai-escalations", members={"U0PMBOT"})
    bot = bot_factory(pmbot_escalation_channel="#ai-escalations", jira_url=jira.url, jira_user=jira.user,
                      jira_api_token=jira.token, **JIRA_SETTINGS)
    token = with_plan(bot)

    status, answer = post(bot, run("v41"), token=token)
    assert status == 201 and answer["go"] is True and answer["bugs"]["opened"] == []

    status, answer = post(bot, run("v42", pii_leaks=2), token=token, headers={"Idempotency-Key": "ci-7781"})
    assert status == 201 and answer["go"] is False
    verdicts = {m["name"]: m["status"] for m in answer["metrics"]}
    assert verdicts["pii_leaks"] == "breach" and verdicts["hallucination_rate"] == "pass"
    assert answer["bugs"]["opened"] == ["B-1"]
    bot.runtime.settle(30)
    [bug] = bugs(bot)
    assert (bug.grade, bug.grade_source, bug.channel_id) == (1, "plan", PLAN_CHANNEL)
    assert "pii_leaks 2, target ≤ 0; previous run 0" in bug.reasons[0]
    [card] = cards(bot)
    assert "B-1" in card["text"]
    [alert] = [m for m in sandbox.messages if m["channel"] == "C0ESCAL"]
    assert "B-1 was graded 1" in alert["text"]

    # The same POST again (CI retried it): recorded once, nothing new filed.
    status, again = post(bot, run("v42", pii_leaks=2), token=token, headers={"Idempotency-Key": "ci-7781"})
    assert status == 200 and again["run"]["recorded_before"] is True and len(bugs(bot)) == 1

    outbox.deliver(bot.runtime.deps, now=utcnow())
    [issue] = jira.issues.values()
    assert issue.fields["summary"].startswith("B-1: Quality breach: pii_leaks of support-bot v42")

    # Still leaking in the next run: the same bug hears about it, no second bug.
    status, answer = post(bot, run("v43", pii_leaks=1), token=token)
    assert answer["bugs"] == {"opened": [], "updated": ["B-1"], "closed": []}
    bot.runtime.settle(30)
    assert any("Still out of target in support-bot v43" in t for t in thread(bot, bugs(bot)[0].message_ts))

    # Back within target for three runs in a row (the plan's default): closed, with why.
    for n, version in enumerate(("v44", "v45", "v46"), start=1):
        status, answer = post(bot, run(version), token=token)
        assert answer["bugs"]["closed"] == (["B-1"] if n == 3 else [])
    bot.runtime.settle(30)
    [bug] = bugs(bot)
    assert bug.status == "closed" and bug.closed_by == "quality-plan"
    assert "back within target (≤ 0) for 3 runs in a row" in bug.resolution
    assert any(t.startswith("🔒 Closed: pii_leaks back within target") for t in thread(bot, bug.message_ts))
    with session_scope(bot.runtime.deps.engine) as session:
        [breach] = session.exec(select(QualityBreach)).all()
    assert breach.open_slot is None and breach.closed_at is not None

    # A new leak after that is a new breach, with a new bug.
    status, answer = post(bot, run("v47", pii_leaks=1), token=token)
    assert answer["bugs"]["opened"] == ["B-2"]


def test_a_falling_score_and_a_slow_model_are_graded_as_the_plan_says(bot: RunningBot) -> None:
    service.set_plan(bot.runtime.deps, team_id=TEAM, channel_id=PLAN_CHANNEL, user_id="U0ALICE",
                     plan=template("summariser"), template="summariser")
    token = service.new_token(bot.runtime.deps, team_id=TEAM, user_id="U0ALICE")
    base = {"rouge_l": 0.48, "bleu": 0.35, "hallucination_rate": 2, "pii_leaks": 0, "latency_p95": 600}
    assert post(bot, {"model": "sum", "version": "v1", "metrics": base}, token=token)[0] == 201
    status, answer = post(bot, {"model": "sum", "version": "v2",
                                "metrics": {**base, "rouge_l": 0.44, "latency_p95": "1.2s"}}, token=token)
    assert {m["name"]: m["status"] for m in answer["metrics"]}["rouge_l"] == "drop"
    assert answer["bugs"]["opened"] == ["B-1", "B-2"]
    bot.runtime.settle(30)
    grades = {b.title.split(":")[1].split(" of ")[0].strip(): b.grade for b in bugs(bot)}
    assert grades == {"rouge_l": 2, "latency_p95": 3}


def test_fractions_are_turned_into_per_cent_only_when_named(bot: RunningBot) -> None:
    token = with_plan(bot)
    status, answer = post(bot, {"model": "m", "metrics": {"hallucination_rate": 0.031, "toxicity_rate": 0.002},
                                "fractions": ["hallucination_rate"]}, token=token)
    values = {m["name"]: m["value"] for m in answer["metrics"]}
    assert status == 201 and values["hallucination_rate"] == pytest.approx(3.1)
    assert values["toxicity_rate"] == pytest.approx(0.002)  # sent as per cent, kept as per cent
    with session_scope(bot.runtime.deps.engine) as session:
        [stored] = session.exec(select(QualityRun)).all()
    assert stored.metrics["hallucination_rate"] == pytest.approx(3.1) and stored.recorded_by == "api"


@pytest.mark.parametrize(("body", "field"), [
    (b"not json", "body"),
    (b"[1, 2]", "body"),
    ({"metrics": {"pii_leaks": 0}}, "model"),
    ({"model": "m"}, "metrics"),
    ({"model": "m", "metrics": {}}, "metrics"),
    ({"model": "m", "metrics": {"hallucination_rate": "abc"}}, "metrics.hallucination_rate"),
    ({"model": "m", "metrics": {"hallucination_rate": "120%"}}, "metrics.hallucination_rate"),
    ({"model": "m", "metrics": {"pii_leaks": -1}}, "metrics"),
    ({"model": "m", "metrics": {"pii_leaks": True}}, "metrics.pii_leaks"),
    ({"model": "m", "metrics": {"pii_leaks": 0}, "samples": -5}, "samples"),
    ({"model": "m", "metrics": {"pii_leaks": 0}, "url": "javascript:alert(1)"}, "url"),
    ({"model": "m" * 121, "metrics": {"pii_leaks": 0}}, "model"),
    ({"model": "'; DROP TABLE quality_run; --", "metrics": {"'; DROP TABLE bug; --": "x"}}, "metrics"),
])
def test_a_bad_body_gets_400_naming_the_field_and_stores_nothing(bot: RunningBot, body, field: str) -> None:
    token = with_plan(bot)
    status, answer = post(bot, body, token=token)
    assert status == 400 and answer["error"] == "invalid_field"
    assert answer["field"].startswith(field), answer
    with session_scope(bot.runtime.deps.engine) as session:
        assert session.exec(select(QualityRun)).all() == []


def test_a_wrong_missing_or_rotated_token_gets_401(bot: RunningBot) -> None:
    old = with_plan(bot)
    assert post(bot, run("v1"), token=None)[0] == 401
    assert post(bot, run("v1"), token="pmq_guessed")[0] == 401
    assert post(bot, run("v1"), token=None, headers={"Authorization": f"Basic {old}"})[0] == 401
    new = service.new_token(bot.runtime.deps, team_id=TEAM, user_id="U0ALICE")
    status, answer = post(bot, run("v1"), token=old)
    assert status == 401 and "/quality token" in answer["detail"]
    assert post(bot, run("v1"), token=new)[0] == 201


def test_no_plan_yet_is_404_and_get_is_405(bot: RunningBot) -> None:
    token = service.new_token(bot.runtime.deps, team_id=TEAM, user_id="U0ALICE")
    status, answer = post(bot, run("v1"), token=token)
    assert status == 404 and "/quality plan" in answer["detail"]
    assert post(bot, None, token=token, method="GET")[0] == 405


def test_slack_down_while_a_run_is_judged_loses_no_bug_state_and_no_other_metric(bot: RunningBot) -> None:
    token = with_plan(bot)
    post(bot, run("v1", pii_leaks=1, latency_p95=900), token=token)  # two breaches: B-1 (pii), B-2 (latency)
    bot.runtime.settle(30)
    bot.sandbox.fail("chat.postMessage", times=50, status=503)
    bot.sandbox.fail("chat.update", times=50, status=503)
    for version in ("v2", "v3", "v4"):  # pii back within target three times; latency still slow
        status, answer = post(bot, run(version, latency_p95=900), token=token)
        assert status == 201, answer
    assert answer["bugs"] == {"opened": [], "updated": ["B-2"], "closed": ["B-1"]}
    by_id = {b.readable_id: b for b in bugs(bot)}
    assert by_id["B-1"].status == "closed" and by_id["B-2"].status == "open"


def test_eval_files_ingested_on_either_database_count_once(bot: RunningBot) -> None:
    from pathlib import Path

    with_plan(bot)
    data = (Path(__file__).parent / "data" / "quality" / "promptfoo_results.json").read_bytes()
    results, recorded = service.ingest(bot.runtime.deps, team_id=TEAM, data=data, filename="results.json",
                                       recorded_by="cli", model=None)
    assert results.layout == "a promptfoo results file" and [r.created for r in recorded] == [True, True]
    assert recorded[0].run.metrics["latency_p95"] == 1250  # chatbot plan: ≤ 500 ms, a breach
    assert recorded[0].opened == ["B-1"]
    _, again = service.ingest(bot.runtime.deps, team_id=TEAM, data=data, filename="results.json",
                              recorded_by="cli", model=None)
    filed = recorded[0].opened + recorded[1].opened
    assert [r.created for r in again] == [False, False] and len(bugs(bot)) == len(filed)
    lm_eval = (Path(__file__).parent / "data" / "quality" / "lm_eval_results.json").read_bytes()
    results, recorded = service.ingest(bot.runtime.deps, team_id=TEAM, data=lm_eval, filename="lm.json",
                                       recorded_by="cli")
    assert results.layout == "lm-evaluation-harness results" and recorded[0].run.source == "lm-eval"
    assert recorded[0].assessment.unplanned["hellaswag_acc_norm"] == pytest.approx(0.7412)


def test_a_breach_left_without_its_bug_by_a_crash_gets_one_only_if_it_fails_again(bot: RunningBot) -> None:
    from storage import quality as repo

    token = with_plan(bot)
    post(bot, run("v1"), token=token)
    with session_scope(bot.runtime.deps.engine) as session:  # a crash between claiming a breach and filing its bug
        [first] = session.exec(select(QualityRun)).all()
        repo.claim_breach(session, team_id=TEAM, metric="pii_leaks", model="support-bot", run_id=first.id,
                          now=utcnow())
    for version in ("v2", "v3", "v4"):  # back within target: no bug about a passing metric, the breach ends
        assert post(bot, run(version), token=token)[1]["bugs"] == {"opened": [], "updated": [], "closed": []}
    assert bugs(bot) == []
    with session_scope(bot.runtime.deps.engine) as session:
        [breach] = session.exec(select(QualityBreach)).all()
    assert breach.open_slot is None
    assert post(bot, run("v5", pii_leaks=1), token=token)[1]["bugs"]["opened"] == ["B-1"]
