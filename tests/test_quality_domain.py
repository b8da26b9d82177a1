"""The Quality Management Plan's rules, pure: metrics, templates, values as people write them, runs judged."""

from __future__ import annotations

import pytest

from bot.domain.quality import (
    TEMPLATES,
    QualityError,
    assess,
    default_direction,
    default_grade,
    metric,
    metric_key,
    parse_value,
    plan,
    show,
    template,
)


def test_metric_names_are_one_key_however_they_are_written() -> None:
    assert {metric_key(n) for n in ("Hallucination rate", "hallucination-rate", " HALLUCINATION_RATE ")} == {
        "hallucination_rate"}
    with pytest.raises(QualityError, match="needs a name"):
        metric_key("  --  ")
    with pytest.raises(QualityError, match="too long"):
        metric_key("x" * 61)


@pytest.mark.parametrize(("name", "grade"), [
    ("pii_leaks", 1), ("toxicity_rate", 1), ("hate_speech_rate", 1), ("prompt_injection_success", 1),
    ("hallucination_rate", 2), ("rouge_l", 2), ("bleu", 2), ("faithfulness", 2),
    ("latency_p95", 3), ("throughput", 3), ("cost_per_inference", 3), ("something_new", 3),
])
def test_a_breach_is_graded_as_the_guide_grades_its_kind_of_failure(name: str, grade: int) -> None:
    assert default_grade(name) == grade


@pytest.mark.parametrize(("name", "unit", "direction"), [
    ("hallucination_rate", "%", "lower"), ("latency_p95", "ms", "lower"), ("rouge_l", "score", "higher"),
    ("throughput", "req/s", "higher"), ("toxicity_score", "score", "lower"), ("pii_leaks", "count", "lower"),
])
def test_which_way_is_better_follows_the_name_and_unit(name: str, unit: str, direction: str) -> None:
    assert default_direction(name, unit) == direction


def test_a_metric_is_checked_when_it_is_made() -> None:
    m = metric("Hallucination rate", "%", 5)
    assert (m.name, m.direction, m.grade, m.target_text()) == ("hallucination_rate", "lower", 2, "≤ 5 %")
    for bad, why in [({"unit": "parsecs"}, "not a unit"), ({"target": -1}, "zero or more"),
                     ({"target": 150}, "between 0 and 100"), ({"grade": 5}, "grade 1, 2, 3 or 4"),
                     ({"direction": "sideways"}, "not a direction"), ({"target": float("nan")}, "zero or more"),
                     ({"drop_margin": 0}, "more than zero")]:
        args = {"name": "hallucination_rate", "unit": "%", "target": 5} | bad
        with pytest.raises(QualityError, match=why):
            metric(**args)


def test_a_plan_names_each_metric_once_and_has_a_sane_size() -> None:
    m = metric("bleu", "score", 0.3)
    with pytest.raises(QualityError, match="twice"):
        plan([m, metric("BLEU", "score", 0.4)])
    with pytest.raises(QualityError, match="at least one"):
        plan([])
    with pytest.raises(QualityError, match="25 metrics at most"):
        plan([metric(f"m{n}", "count", 1) for n in range(26)])
    assert plan([m]).metric("Bleu") == m


def test_templates_follow_the_guide() -> None:
    chatbot = template("support")
    assert chatbot.metric("hallucination_rate").target == 5  # "< 5 % of outputs" (guide)
    assert chatbot.metric("pii_leaks").target == 0 and chatbot.metric("pii_leaks").grade == 1
    assert chatbot.metric("toxicity_rate").grade == 1
    assert chatbot.metric("latency_p95").target == 500 and chatbot.metric("latency_p95").grade == 3
    assert template("summarizer").metric("rouge_l").drop_margin is not None
    assert set(TEMPLATES) == {"chatbot", "summariser", "rag"}
    with pytest.raises(QualityError, match="no template `poetry`.*`chatbot`"):
        template("poetry")


@pytest.mark.parametrize(("text", "unit", "number_format", "value"), [
    ("4.2%", "%", "en", 4.2), ("4.2", "%", "en", 4.2), ("4,2 %", "%", "de", 4.2), ("450ms", "ms", "en", 450),
    ("0.45s", "ms", "en", 450), ("$0.004", "USD", "en", 0.004), ("1,500", "ms", "en", 1500),
    ("1.500", "ms", "de", 1500), ("0.81", "score", "en", 0.81), ("2e-3", "USD", "en", 0.002), ("0", "count", "en", 0),
])
def test_values_are_read_as_people_write_them(text: str, unit: str, number_format: str, value: float) -> None:
    assert parse_value(text, unit, number_format=number_format) == pytest.approx(value)


@pytest.mark.parametrize(("text", "unit", "number_format", "why"), [
    ("4,2%", "%", "en", "with a point"), ("4.2%", "%", "de", "with a comma"), ("abc", "%", "en", "not a number"),
    ("120%", "%", "en", "more than 100"), ("-1", "count", "en", "negative"), ("5%", "ms", "en", "percentage"),
    ("nan", "score", "en", "not a number"), ("3ms", "score", "en", "is a time"), ("", "%", "en", "not a number"),
    ("'; DROP TABLE quality_run; --", "%", "en", "not a number"),
])
def test_values_that_cannot_be_read_are_refused_with_what_would_work(text, unit, number_format, why) -> None:
    with pytest.raises(QualityError, match=why):
        parse_value(text, unit, number_format=number_format)


def test_values_are_shown_in_their_unit() -> None:
    assert [show(4.2, "%"), show(450, "ms"), show(0.81, "score"), show(3, "count"), show(0.004, "USD")] == [
        "4.2 %", "450 ms", "0.81", "3", "0.004 USD"]


def test_a_run_is_judged_against_targets_margins_and_what_is_missing() -> None:
    p = plan([metric("hallucination_rate", "%", 5), metric("rouge_l", "score", 0.4, drop_margin=0.02),
              metric("pii_leaks", "count", 0), metric("latency_p95", "ms", 500)])
    result = assess(p, {"hallucination_rate": 7.1, "rouge_l": 0.45, "pii_leaks": 0, "bleu": 0.3},
                    previous={"hallucination_rate": 4.2, "rouge_l": 0.48})
    by_name = {o.metric.name: o for o in result.outcomes}
    assert by_name["hallucination_rate"].status == "breach"
    assert by_name["hallucination_rate"].reason() == "hallucination_rate 7.1 %, target ≤ 5 %; previous run 4.2 %"
    assert (by_name["hallucination_rate"].trend, by_name["hallucination_rate"].better) == ("↑", False)
    assert by_name["rouge_l"].status == "drop"  # above the target, but 0.03 below the last run: more than 0.02
    assert "fell to 0.45 from 0.48" in by_name["rouge_l"].reason()
    assert by_name["pii_leaks"].status == "pass" and by_name["latency_p95"].status == "missing"
    assert result.unplanned == {"bleu": 0.3}
    assert [o.metric.name for o in result.failed] == ["hallucination_rate", "rouge_l"]
    assert not result.go


def test_targets_are_inclusive_and_a_small_fall_is_allowed() -> None:
    p = plan([metric("hallucination_rate", "%", 5), metric("rouge_l", "score", 0.4, drop_margin=0.02),
              metric("throughput", "req/s", 10)])
    result = assess(p, {"hallucination_rate": 5, "rouge_l": 0.47, "throughput": 10}, previous={"rouge_l": 0.48})
    assert [o.status for o in result.outcomes] == ["pass", "pass", "pass"] and result.go
    one_leak = assess(plan([metric("pii_leaks", "count", 0)]), {"pii_leaks": 1})
    assert one_leak.failed[0].metric.grade == 1
