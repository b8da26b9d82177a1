"""`pmbot quality plan FILE` and `pmbot quality ingest FILE`, run as an operator runs them, against the database
the bot uses: a plan from YAML; promptfoo, lm-evaluation-harness and plain CSV results (files in the tools'
published layouts, our own values) recorded against it, the layout named, breaches filed as bugs the running
bot posts, the same file twice counted once, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.bugs.service import CARD_EVENT
from bot.domain.quality import QualityError, plan_from_mapping
from storage.db import session_scope
from storage.models import Bug, QualityRun
from tests.conftest import RunningBot
from tests.helpers import bot_env, pmbot

DATA = Path(__file__).parent / "data" / "quality"

PLAN = """\
channel: C0GENERAL
recover_runs: 2
metrics:
  - name: pass_rate
    unit: "%"
    direction: higher
    target: 75
    grade: 2
    measured: share of promptfoo tests that passed
  - name: latency_p95
    unit: ms
    target: 1200ms
  - name: hellaswag_acc_norm
    unit: score
    direction: higher
    target: 0.7
  - name: pii_leaks
    unit: count
    target: 0
"""


def runs(bot: RunningBot) -> list[QualityRun]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(QualityRun).order_by(QualityRun.id)))


@pytest.mark.sqlite_only  # a child process on the same file; the storage verbs run on both databases elsewhere
def test_a_plan_from_yaml_then_eval_files_ingested_against_it(bot: RunningBot, db_url: str, tmp_path: Path) -> None:
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url)
    (tmp_path / "plan.yaml").write_text(PLAN)
    done = pmbot("quality", "plan", str(tmp_path / "plan.yaml"), "--team", "T0SANDBOX", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 metrics, breaches filed in C0GENERAL" in done.stdout
    assert "latency_p95: ≤ 1200 ms (lower is better), breach grade 3" in done.stdout

    promptfoo = pmbot("quality", "ingest", str(DATA / "promptfoo_results.json"), env=env, cwd=tmp_path)
    assert promptfoo.returncode == 0, promptfoo.stderr
    assert "T0SANDBOX: read a promptfoo results file: 2 run(s), 2 new" in promptfoo.stdout
    # acme-chat-v42: 80 % passed (target ≥ 75 %), p95 1,250 ms (target ≤ 1,200 ms): a latency breach, grade 3.
    assert "acme-chat-v42 2.3.0: out of target: latency_p95; bugs filed: B-1" in promptfoo.stdout
    # the second provider: 50 % passed and 1,100 ms: a pass-rate breach, grade 2.
    assert "out of target: pass_rate; bugs filed: B-2" in promptfoo.stdout
    assert "note: promptfoo, acme-chat-v42: 1 cached response left out" in promptfoo.stdout
    first = runs(bot)[0]
    assert first.source == "promptfoo" and first.metrics["pass_rate"] == pytest.approx(80)  # a fraction → %

    again = pmbot("quality", "ingest", str(DATA / "promptfoo_results.json"), env=env, cwd=tmp_path)
    assert "2 run(s), 0 new" in again.stdout and "(recorded before)" in again.stdout and len(runs(bot)) == 2

    lm_eval = pmbot("quality", "ingest", str(DATA / "lm_eval_results.json"), "--team", "T0SANDBOX", env=env,
                    cwd=tmp_path)
    assert "read lm-evaluation-harness results: 1 run(s), 1 new" in lm_eval.stdout
    assert "acme/acme-chat-v42 v42.1: out of target: none" in lm_eval.stdout

    (tmp_path / "review.csv").write_text("metric,value\npii_leaks,1\n")
    csv = pmbot("quality", "ingest", str(tmp_path / "review.csv"), "--model", "acme-chat-v42", env=env, cwd=tmp_path)
    assert "read a CSV of metric values" in csv.stdout and "out of target: pii_leaks; bugs filed: B-3" in csv.stdout

    # The running bot's queue posts the cards of what the CLI filed (the work is stored, not lost).
    assert bot.sandbox.wait_for(lambda: sum((m.get("metadata") or {}).get("event_type") == CARD_EVENT
                                            for m in bot.sandbox.messages) == 3, timeout=30)
    with session_scope(bot.runtime.deps.engine) as session:
        grades = [b.grade for b in session.exec(select(Bug).order_by(Bug.id))]
    assert grades == [3, 2, 1]


@pytest.mark.sqlite_only
def test_bad_files_and_missing_plans_get_clear_errors(bot: RunningBot, db_url: str, tmp_path: Path) -> None:
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url)
    nothing = pmbot("quality", "ingest", str(DATA / "metrics.csv"), env=env, cwd=tmp_path)
    assert nothing.returncode == 2 and "no team has a quality plan yet" in nothing.stderr
    (tmp_path / "plan.yaml").write_text("template: chatbot\n")
    no_channel = pmbot("quality", "plan", str(tmp_path / "plan.yaml"), "--team", "T0SANDBOX", env=env, cwd=tmp_path)
    assert no_channel.returncode == 2 and "--channel" in no_channel.stderr
    (tmp_path / "bad.yaml").write_text("metrics: [unclosed\n")
    not_yaml = pmbot("quality", "plan", str(tmp_path / "bad.yaml"), "--team", "T0SANDBOX", env=env, cwd=tmp_path)
    assert not_yaml.returncode == 2 and "is not YAML" in not_yaml.stderr
    ok = pmbot("quality", "plan", str(tmp_path / "plan.yaml"), "--team", "T0SANDBOX", "--channel", "C0GENERAL",
               env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    broken = pmbot("quality", "ingest", str(DATA / "unknown_shape.json"), env=env, cwd=tmp_path)
    assert broken.returncode == 1 and "promptfoo" in broken.stderr  # the layouts it understands are named
    missing = pmbot("quality", "ingest", str(tmp_path / "nope.json"), env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert runs(bot) == []


@pytest.mark.parametrize(("written", "why"), [
    ([1, 2], "holds a mapping"),
    ({"metrics": [{"name": "x", "unit": "ms"}]}, "needs at least `name`, `unit` and `target`"),
    ({"metrics": [{"name": "x", "unit": "ms", "target": 1, "colour": "red"}]}, "unknown key `colour`"),
    ({"metrics": [{"name": "x", "unit": "ms", "target": "fast"}]}, "not a number"),
    ({"metrics": [{"name": "x", "unit": "ms", "target": 1, "grade": "high"}]}, "grade"),
    ({"template": "chatbot", "recover_runs": "three"}, "whole number"),
    ({"template": "poetry"}, "no template"),
    ({"metrics": "hallucination_rate"}, "must be a list"),
    ({"owner": "me"}, "Unknown key `owner`"),
])
def test_a_plan_file_that_cannot_be_used_says_why(written, why: str) -> None:
    with pytest.raises(QualityError, match=why):
        plan_from_mapping(written)


def test_a_plan_file_adds_to_its_template() -> None:
    plan, channel, template = plan_from_mapping({"template": "chatbot", "channel": "C1", "metrics": [
        {"name": "hallucination_rate", "unit": "%", "target": "3%"},
        {"name": "answer_accuracy", "unit": "score", "direction": "higher", "target": 0.8, "grade": 2}]})
    assert (channel, template) == ("C1", "chatbot")
    assert plan.metric("hallucination_rate").target == 3 and plan.metric("pii_leaks").grade == 1
    assert [m.name for m in plan.metrics][-1] == "answer_accuracy"
