"""`/quality` through Slack: a plan from a template, targets and metrics changed by the right people, a token
that works with the API, runs logged by hand and judged, status with trends, go / no-go recorded with who
asked, two versions compared, and clear answers to what cannot be used. Real bot, sandbox, both databases."""

from __future__ import annotations

import json
import urllib.request

import pytest
from sqlmodel import select

from bot.bugs.service import CARD_EVENT
from storage.db import session_scope
from storage.models import Bug, QualityGate, QualityRun
from tests.conftest import RunningBot


def say(bot: RunningBot, text: str, *, user: str = "U0ALICE", channel: str = "C0GENERAL") -> str:
    response = bot.driver.command("/quality", text, user=user, channel=channel)
    assert response.status == 200
    bot.runtime.settle(30)
    return bot.driver.answer(response).get("text", "")


def public(bot: RunningBot) -> list[str]:
    return [m["text"] for m in bot.sandbox.messages if m["channel"] == "C0GENERAL" and "thread_ts" not in m]


def test_a_plan_from_a_template_judges_runs_logged_by_hand(bot: RunningBot) -> None:
    assert "No quality plan yet" in say(bot, "plan show") and "`chatbot`" in say(bot, "plan")
    answer = say(bot, "plan support")
    assert "*Customer support chatbot* template" in answer and "<#C0GENERAL>" in answer
    assert "*hallucination_rate* ≤ 5 %" in answer and "breach is grade 1" in answer

    first = say(bot, "log hallucination_rate=3% toxicity_rate=0.5% pii_leaks=0 latency_p95=450ms "
                     "cost_per_inference=$0.008 --model support-bot --version v41")
    assert "Recorded run 1 of support-bot" in first and "🔴" not in first
    second = say(bot, "log hallucination_rate=6.5% toxicity_rate=0.5% pii_leaks=0 latency_p95=0.38s "
                      "cost_per_inference=0.008 --model support-bot --version v42")
    assert "🔴 *hallucination_rate* 6.5 % (target ≤ 5 %) ↑ worse" in second
    assert "✅ *latency_p95* 380 ms (target ≤ 500 ms) ↓ better" in second
    assert "Bugs: filed B-1." in second
    [bug] = _bugs(bot)
    assert bug.grade == 2 and bug.grade_source == "plan" and bug.title.startswith("Quality breach: hallucination")
    assert any((m.get("metadata") or {}).get("event_type") == CARD_EVENT for m in bot.sandbox.messages)

    status = say(bot, "status")
    assert status.startswith("*Quality of support-bot v42* — run 2") and "↑ worse" in status
    assert say(bot, "") == status  # `/quality` alone is the status

    compared = say(bot, "compare v41 v42")
    assert "• *hallucination_rate* (≤ 5 %): ✅ 3 % → 🔴 6.5 % — worse" in compared

    say(bot, "gate v42", user="U0BOB")
    assert any("*NO-GO* for v42: hallucination_rate not met" in t and "asked by <@U0BOB>" in t for t in public(bot))
    say(bot, "gate v41")
    assert any("*GO* for v41" in t for t in public(bot))
    with session_scope(bot.runtime.deps.engine) as session:
        gates = session.exec(select(QualityGate).order_by(QualityGate.id)).all()
    assert [(g.version, g.go, g.asked_by, g.failed) for g in gates] == [
        ("v42", False, "U0BOB", ["hallucination_rate"]), ("v41", True, "U0ALICE", [])]


def test_targets_and_metrics_change_only_by_the_owner_or_an_admin(bot: RunningBot) -> None:
    say(bot, "plan rag", user="U0BOB")  # anyone may start the team's first plan
    assert "*hallucination_rate*: target ≤ 3 %, breach is grade 1" in say(
        bot, "target hallucination_rate 3% grade 1", user="U0BOB")
    refused = say(bot, "target hallucination_rate 9%", user="U0CARLOS")
    assert "Only the person who set the quality plan last, or a workspace admin" in refused
    assert "*Quality plan* of <@U0BOB>" in say(bot, "plan show", user="U0CARLOS")
    assert "*answer_accuracy* is in the plan: ≥ 0.8 (higher is better), breach is grade 2" in say(
        bot, "metric answer_accuracy score higher 0.8 grade 2")  # alice is a workspace admin
    assert "Removed *throughput*" in say(bot, "metric remove throughput")
    plan = say(bot, "plan show")
    assert "*answer_accuracy* ≥ 0.8" in plan and "throughput" not in plan
    assert "*hallucination_rate* ≤ 3 %" in plan


def test_the_token_is_shown_once_works_with_the_api_and_rotates(bot: RunningBot) -> None:
    assert "no quality plan yet" in say(bot, "token")
    say(bot, "plan chatbot")
    first = say(bot, "token")
    token = first.split("`")[1]
    assert token.startswith("pmq_") and "/api/quality/runs" in first
    assert "Only the person who set the quality plan last" in say(bot, "token", user="U0BOB")

    def post(with_token: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{bot.service.http.port}/api/quality/runs", method="POST",
            data=json.dumps({"model": "m", "metrics": {"pii_leaks": 0}}).encode(),
            headers={"Authorization": f"Bearer {with_token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert post(token) == 201
    second = say(bot, "token").split("`")[1]
    assert post(token) == 401 and post(second) == 201


@pytest.mark.parametrize(("text", "said"), [
    ("plan poetry", "There is no template `poetry`"),
    ("target hallucination_rate lots", "`lots` is not a number"),
    ("target made_up 3", "The plan has no metric `made_up`"),
    ("log hallucination_rate=abc", "`abc` is not a number"),
    ("log hallucination_rate 4", "`hallucination_rate` is not `metric=value`"),
    ("log <!channel>=3", "is not a metric name"),
    ("log pii_leaks=-1", "cannot be negative"),
    ("metric x score sideways 1", "`lower` or `higher`"),
    ("metric x parsecs lower 1", "`parsecs` is not a unit"),
    ("gate v99", "No run of `v99`"),
    ("statsu", "Did you mean `/quality status"),
])
def test_what_cannot_be_used_gets_a_clear_answer_and_changes_nothing(bot: RunningBot, text: str, said: str) -> None:
    say(bot, "plan chatbot")
    answer = say(bot, text)
    assert said in answer, answer
    with session_scope(bot.runtime.deps.engine) as session:
        assert session.exec(select(QualityRun)).all() == []


def _bugs(bot: RunningBot) -> list[Bug]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(Bug).order_by(Bug.id)))


def test_the_chart_shows_each_run_against_the_target_with_breaches_marked(bot: RunningBot) -> None:
    from matplotlib.figure import Figure

    from bot.domain.quality import template
    from bot.quality import chart

    say(bot, "plan chatbot")
    for version, rate in (("v1", "3%"), ("v2", "6%"), ("v3", "4.5%")):
        say(bot, f"log hallucination_rate={rate} --model bot --version {version}")
    assert "Drawing hallucination_rate over 3 runs" in say(bot, "chart hallucination_rate")
    [upload] = [f for f in bot.sandbox.ws.files.values() if f["title"].startswith("hallucination_rate per run")]
    assert upload["content"].startswith(b"\x89PNG")
    assert any("1 out of target (≤ 5 %)" in m["text"] for m in bot.sandbox.messages if m.get("files"))

    with session_scope(bot.runtime.deps.engine) as session:
        runs = list(session.exec(select(QualityRun)))
    drawn = chart.plan(template("chatbot").metric("hallucination_rate"), runs)
    assert [(p.label, p.value, p.breach) for p in drawn.points] == [("v1", 3, False), ("v2", 6, True),
                                                                      ("v3", 4.5, False)]
    figure = Figure()
    chart.draw(figure, drawn)
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["v1", "v2", "v3"]
    target_line = [line for line in axes.get_lines() if list(line.get_ydata()) == [5, 5]]
    assert target_line and target_line[0].get_linestyle() == "--"
    [breach_marks] = axes.collections
    assert [list(xy) for xy in breach_marks.get_offsets()] == [[1, 6]]
    assert "No run has measured toxicity_rate" in say(bot, "chart toxicity_rate")
    assert "The plan has no metric `nonsense`" in say(bot, "chart nonsense")


def test_the_plan_form_edits_metrics_line_by_line_and_says_what_is_wrong(bot: RunningBot) -> None:
    say(bot, "plan edit")  # no plan yet: an empty form, this channel picked
    bot.driver.submit({})
    assert "Write the metrics, one per line, or pick a template" in str(bot.driver.open_view()["errors"])
    bot.driver.submit({"Start from a template": "rag"})
    assert "*faithfulness* ≥ 0.85" in say(bot, "plan show")

    say(bot, "plan edit")
    form = bot.driver.open_view()
    lines = next(b for b in form["blocks"] if b["block_id"] == "metrics")["element"]["initial_value"]
    assert lines.splitlines()[0] == ("faithfulness score higher 0.85 grade 2 margin 0.02 | share of answer claims "
                                     "supported by the retrieved passages (judge model)")
    bad = bot.driver.submit({"metrics": "answer_accuracy score higher 0.8\nlatency_p95 ms sideways 900"})
    assert bad.json()["errors"] == {"metrics": "Line 2: `sideways` is not a direction: say `lower` or `higher` "
                                               "(which is better)."}
    bot.driver.submit({"metrics": "answer_accuracy score higher 0.8 grade 2 | judge model on golden-300\n"
                                  "latency_p95 ms lower 900ms", "recover": "2"})
    shown = say(bot, "plan show")
    assert "closed after 2 runs back within target" in shown
    assert "*answer_accuracy* ≥ 0.8 (higher is better) — breach is grade 2. _judge model on golden-300_" in shown
    assert "*latency_p95* ≤ 900 ms" in shown and "faithfulness" not in shown
    assert "Only the person who set the quality plan last" in say(bot, "plan edit", user="U0BOB")
