"""The learned grader: trained by `pmbot grader train`, read without scikit-learn, the same as scikit-learn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import hstack

from bot import grader_train
from bot.cli import main
from bot.domain.grades import action_plan
from bot.domain.grading import grade_report
from bot.domain.textmodel import MODEL_PATH, load, shipped
from bot.grader_train import DEV_FILE, fit_sklearn, prepare, read_reports, training_set


def test_our_reading_of_the_model_gives_scikit_learns_probabilities() -> None:
    reports = read_reports()
    train, test = reports[::4], reports[1::17]
    vectorizers, heads = fit_sklearn(train)
    ours = grader_train.fit(train)
    texts = [prepare(r.text) for r in test]
    matrix = hstack([v.transform(texts) for v in vectorizers]).tocsr()
    for name in ("grade", "category"):
        expected = heads[name].predict_proba(matrix)
        got = [getattr(ours, name).probabilities(ours.vector(t)) for t in texts]
        got = np.array([[row[c] for c in heads[name].classes_] for row in got])
        assert np.allclose(got, expected, atol=1e-9), name


def test_the_shipped_model_is_what_training_on_the_repositorys_data_builds(tmp_path: Path) -> None:
    out = tmp_path / "model.npz"
    assert main(["grader", "train", "--out", str(out)]) == 0
    built, ours = load(out), shipped()
    assert built.meta["data_sha256"] == ours.meta["data_sha256"], "retrain: pmbot grader train"
    assert built.meta["held_out"] == ours.meta["held_out"]
    assert np.allclose(built.grade.coef, ours.grade.coef, atol=1e-4)
    assert np.allclose(built.category.coef, ours.category.coef, atol=1e-4)
    assert MODEL_PATH.stat().st_size < 5_000_000  # shipped inside the package


def test_train_from_a_folder_then_load_and_grade(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [json.loads(line) for line in (grader_train.DATA_DIR / "written.jsonl").read_text().splitlines()]
    (data / "mine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[::3]), encoding="utf-8")
    out = tmp_path / "m.npz"
    assert main(["grader", "train", "--data", str(data), "--out", str(out)]) == 0
    assert "Trained on 188 reports (mine.jsonl 188)" in capsys.readouterr().out
    model = load(out)
    verdict = grade_report("please add a dark theme to the settings", model=model)
    assert (verdict.grade, verdict.category, verdict.source) == (5, "feature", "model")


def test_training_refuses_an_empty_folder_and_a_bad_line(tmp_path: Path, capsys) -> None:
    assert main(["grader", "train", "--data", str(tmp_path), "--out", str(tmp_path / "m.npz")]) == 2
    assert "no labelled" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "text": "hi"}\n', encoding="utf-8")
    assert main(["grader", "train", "--data", str(tmp_path), "--out", str(tmp_path / "m.npz")]) == 2
    assert "bad.jsonl line 1" in capsys.readouterr().err


def test_the_held_out_fifth_is_a_fifth_of_the_dev_sets_repositories() -> None:
    reports = read_reports()
    dev = [r for r in reports if r.file == DEV_FILE]
    kept = {r.group for r in dev} - {r.group for r in training_set(reports)}
    assert 0.1 < len(kept) / len({r.group for r in dev}) < 0.3


@pytest.mark.parametrize(("text", "grade", "category"), [
    ("The assistant told a user to double their insulin dose", 1, "harmful"),
    ("Logged-out users can call /api/chat without a token", 1, "security"),
    ("聊天机器人把另一位用户的电话号码 +49 151 23456789 显示出来了", 1, "personal_data"),
    ("The chatbot showed another user's phone number +49 151 23456789", 1, "personal_data"),
    ("Responses got 3x slower since Tuesday's deploy", 3, "speed_cost"),
    ("SSO login returns a 500 error for everyone", 2, "no_answer"),
    ("The send button is misaligned on mobile", 4, "display"),
    ("Please add support for Gemini models", 5, "feature"),
])
def test_the_issues_examples_get_a_grade_and_a_kind(text: str, grade: int, category: str) -> None:
    verdict = grade_report(text)
    assert (verdict.grade, verdict.category) == (grade, category), verdict.reasons


def test_a_runaway_repetition_is_not_called_critical() -> None:
    verdict = grade_report("repeats the same paragraph over and over when the user uploads a long contract")
    assert verdict.grade in (2, 3) and verdict.category == "no_answer"


@pytest.mark.parametrize("text", ["Responses got 3x slower since Tuesday's deploy",
                                  "SSO login returns a 500 error for everyone"])
def test_the_plan_fits_the_kind_of_problem(text: str) -> None:
    verdict = grade_report(text)
    plan = " ".join(action_plan(verdict.grade, verdict.category))
    assert "fine-tuning" not in plan
    assert ("Optimise" in plan) if verdict.category == "speed_cost" else ("logs" in plan)


def test_every_grade_has_a_plan_for_every_kind() -> None:
    for grade in range(1, 6):
        for category in [*grader_train.CATEGORIES, None, "unknown"]:
            assert action_plan(grade, category)


def test_a_report_the_model_cannot_place_says_so() -> None:
    verdict = grade_report("Chat UI i18n: switching the language only works properly for English; the Korean and "
                           "Chinese versions are broken.")
    assert verdict.unsure is not None and verdict.grade in verdict.unsure
    assert any(r.startswith(f"not sure: {verdict.unsure[0]} or {verdict.unsure[1]}?") for r in verdict.reasons)


def test_a_wish_for_a_safeguard_is_never_critical_by_the_model() -> None:
    assert grade_report("Enhancement: detect prompt injection in uploaded documents").grade != 1
