"""Eval result files for the Quality Management Plan (#22): promptfoo's and lm-evaluation-harness's results JSON
and plain CSV/JSON of metric values, each recognised from its content and named; values, sample counts and
fraction flags as the file gives them; every way a file can be unusable refused with a message that says why.

Fixtures are in tests/data/quality/ (layouts and sources in LAYOUTS.md; every value invented). Each expected
value below is worked out by hand from the fixture, with the arithmetic shown."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.quality import QualityError, check_value
from bot.domain.quality_files import (
    CSV_VALUES,
    JSON_VALUES,
    LM_EVAL,
    MAX_BYTES,
    MAX_NOTES,
    PROMPTFOO,
    MetricValue,
    Results,
    RunValues,
    read_results,
)

DATA = Path(__file__).parent / "data" / "quality"


def _read(name: str, *, as_name: str | None = None) -> Results:
    return read_results((DATA / name).read_bytes(), filename=name if as_name is None else as_name)


def _values(run: RunValues) -> dict[str, float]:
    return {key: value.value for key, value in run.metrics.items()}


def _fractions(run: RunValues) -> set[str]:
    return {key for key, value in run.metrics.items() if value.fraction}


def _refused(data: bytes | str, filename: str = "") -> str:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(QualityError) as error:
        read_results(raw, filename=filename)
    return str(error.value)


# --- promptfoo ------------------------------------------------------------------------------------------------


def test_promptfoo_results_one_run_per_provider_named_by_label_else_id():
    results = _read("promptfoo_results.json")
    assert results.layout == PROMPTFOO == "a promptfoo results file"
    assert [run.model for run in results.runs] == ["acme-chat-v42", "https://llm.example.com/v1/chat"]
    for run in results.runs:
        assert run.version == "2.3.0"  # config.tags.version
        assert run.dataset == "file://tests/support_golden_v7.csv"  # config.tests
        assert run.url == "https://promptfoo.example.com/eval/eval-Xq7-2025-11-28T09:14:03"
        assert run.started_at == datetime(2025, 11, 28, 9, 14, 3, 512000, tzinfo=UTC)


def test_promptfoo_values_of_a_provider_with_a_failure_and_a_cache_hit():
    run = _read("promptfoo_results.json").runs[0]
    # res-0001..0005: successes 1, 2, 4, 5; res-0003 failed an assertion; res-0004 came from promptfoo's cache.
    assert run.samples == 5
    assert _values(run) == pytest.approx({
        "pass_rate": 4 / 5,
        "score": (1.0 + 0.9 + 0.4 + 1.0 + 0.8) / 5,
        # live answers only (not res-0004): 380, 420, 610, 1250 → nearest rank ceil(0.95 × 4) = 4th → 1250
        "latency_p95": 1250,
        "cost_per_inference": (0.0021 + 0.0024 + 0.0019 + 0.0030) / 4,
        "faithfulness": (1.0 + 0.9 + 0.3 + 1.0 + 0.8) / 5,
        "tone": (0.8 + 0.9 + 0.5 + 0.7 + 1.0) / 5,
    })
    assert _fractions(run) == {"pass_rate", "score", "faithfulness", "tone"}


def test_promptfoo_values_of_a_provider_with_an_error():
    run = _read("promptfoo_results.json").runs[1]
    # res-0006..0009: successes 6 and 8; res-0009 failed; res-0007 is an HTTP 503 (failureReason 2).
    assert run.samples == 4
    assert _values(run) == pytest.approx({
        "pass_rate": 2 / 4,  # the error counts as not passed
        "score": (1.0 + 0.0 + 0.7 + 0.5) / 4,
        # without the error's 30000 ms: 700, 900, 1100 → ceil(0.95 × 3) = 3rd → 1100
        "latency_p95": 1100,
        "cost_per_inference": (0.0008 + 0.0010 + 0.0006) / 3,
        "faithfulness": (1.0 + 0.6 + 0.5) / 3,
        "helpfulness": (4 + 5 + 3) / 3,
    })
    assert "helpfulness" not in _fractions(run)  # a 1-5 rubric is no fraction
    assert {"pass_rate", "score", "faithfulness"} <= _fractions(run)


def test_promptfoo_notes_say_what_was_left_out():
    notes = " ".join(_read("promptfoo_results.json").notes)
    assert "1 cached response left out of latency_p95" in notes
    assert "1 of 4 tests ended in an error" in notes


def test_promptfoo_summary_on_its_own_and_whatever_the_file_is_called():
    whole = json.loads((DATA / "promptfoo_results.json").read_text())
    summary_only = read_results(json.dumps(whole["results"]).encode(), filename="metrics.csv")
    assert summary_only.layout == PROMPTFOO
    assert [run.metrics for run in summary_only.runs] == [run.metrics for run in _read("promptfoo_results.json").runs]
    assert summary_only.runs[0].url is None  # the share url is on the outer file


def test_promptfoo_pools_several_prompts_and_says_so():
    whole = json.loads((DATA / "promptfoo_results.json").read_text())
    whole["results"]["results"][1]["promptIdx"] = 1
    results = read_results(json.dumps(whole).encode())
    assert any("2 prompts" in note for note in results.notes)
    assert results.runs[0].samples == 5


def test_promptfoo_rows_without_a_verdict_give_no_pass_rate():
    summary = {"version": 3, "timestamp": "2025-11-28T09:14:03Z", "stats": {"successes": 0, "failures": 0},
               "results": [{"provider": {"id": "acme-chat-v42"}, "latencyMs": 400, "score": 0.5},
                           {"provider": {"id": "acme-chat-v42"}, "latencyMs": 500, "score": 0.7}]}
    results = read_results(json.dumps(summary).encode())
    assert _values(results.runs[0]) == pytest.approx({"score": 0.6, "latency_p95": 500})  # ceil(1.9) = 2nd
    assert results.notes == ["promptfoo, acme-chat-v42: no test says whether it passed; pass_rate left out."]


# --- lm-evaluation-harness ------------------------------------------------------------------------------------


def test_lm_eval_results_named_with_model_version_tasks_and_date():
    results = _read("lm_eval_results.json")
    assert results.layout == LM_EVAL == "lm-evaluation-harness results"
    (run,) = results.runs
    assert run.model == "acme/acme-chat-v42"  # model_name
    assert run.version == "v42.1"  # revision= in model_args
    assert run.dataset == "hellaswag, gsm8k, acme_support, wikitext"  # the group, not its subtasks
    assert run.started_at == datetime(2025, 11, 28, 9, 14, 3, tzinfo=UTC)  # date 1764321243.0
    assert run.url is None
    # n-samples, `effective` (gsm8k was limited to 500 of 1319): 62 + 200 + 200 + 500 + 10042
    assert run.samples == 11004
    assert results.notes == []


def test_lm_eval_metric_keys_values_and_fractions():
    (run,) = _read("lm_eval_results.json").runs
    assert _values(run) == {
        "hellaswag_acc": 0.5731,
        "hellaswag_acc_norm": 0.7412,
        "gsm8k_exact_match_strict_match": 0.4268,  # a filter other than `none` stays in the key
        "gsm8k_exact_match_flexible_extract": 0.4511,
        "acme_support_acc": 0.815,
        "acme_support_refunds_acc": 0.79,
        "acme_support_shipping_acc": 0.84,
        "wikitext_word_perplexity": 14.2731,
        "wikitext_byte_perplexity": 1.6402,
        "wikitext_bits_per_byte": 0.7138,
    }  # no *_stderr, no alias
    assert _fractions(run) == {key for key in run.metrics if not key.startswith("wikitext")}


def test_lm_eval_model_from_model_args_when_no_model_name():
    data = json.loads((DATA / "lm_eval_results.json").read_text())
    del data["model_name"]
    data["config"]["model_args"] = {"pretrained": "acme/acme-chat-v43", "dtype": "bfloat16"}
    del data["config"]["model_revision"]
    (run,) = read_results(json.dumps(data).encode()).runs
    assert (run.model, run.version) == ("acme/acme-chat-v43", None)


def test_lm_eval_layout_before_0_4_and_its_bad_values():
    old = {
        "results": {"hellaswag": {"acc": 0.52, "acc_stderr": 0.005, "acc_norm": "N/A"},
                    "arc_easy": {"acc": float("nan")}},
        "versions": {"hellaswag": 0, "arc_easy": 0},
        "config": {"model": "hf-causal", "model_args": "pretrained=acme/acme-base-v7"},
    }
    results = read_results(json.dumps(old).encode())  # json.dumps writes NaN, as Python's json does
    assert results.layout == LM_EVAL
    (run,) = results.runs
    assert (run.model, run.samples, run.started_at) == ("acme/acme-base-v7", None, None)
    assert run.metrics == {"hellaswag_acc": MetricValue(0.52, fraction=True)}
    assert any("acc_norm is `N/A`" in note for note in results.notes)
    assert any("arc_easy" in note and "nan" in note for note in results.notes)


def test_lm_eval_task_name_too_long_for_a_metric_is_skipped_with_a_note():
    long_task = "leaderboard_bbh_logical_deduction_seven_objects_with_extra_words"
    data = {"results": {long_task: {"acc_norm,none": 0.4}, "hellaswag": {"acc,none": 0.5}}, "n-samples": {}}
    results = read_results(json.dumps(data).encode())
    assert list(results.runs[0].metrics) == ["hellaswag_acc"]
    assert any("cannot be a metric name" in note for note in results.notes)


# --- plain CSV ------------------------------------------------------------------------------------------------


def test_csv_metric_value_rows_one_run():
    results = _read("metrics.csv")
    assert results.layout == CSV_VALUES == "a CSV of metric values"
    (run,) = results.runs
    assert (run.model, run.version, run.dataset) == ("acme-chat-v42", "2.3.0", "support-golden-v7")
    assert _values(run) == {
        "hallucination_rate": 4.2,  # `4.2%`: per cent, as written
        "toxicity_rate": 0.5,
        "latency_p95": 450,
        "cost_per_inference": 0.0042,
        "pii_leaks": 0,
        "pr_cision": 0.91,  # `Précision` through metric_key
    }
    assert _fractions(run) == set()
    assert run.samples is None and run.started_at is None
    assert results.notes == ["row 8: `精度` cannot be a metric name (letters a-z, digits and `_`, at most 60); "
                             "skipped."]


def test_csv_one_row_per_run():
    results = _read("metrics_wide.csv")
    assert results.layout == CSV_VALUES
    assert [(run.model, run.version) for run in results.runs] == [
        ("acme-chat-v41", "2.2.0"), ("acme-chat-v42", "2.3.0"), ("acme-chat-v42-mini", "2.3.0")]
    assert _values(results.runs[0]) == {"hallucination_rate": 6.1, "latency_p95": 520,
                                        "cost_per_inference": 0.0051, "faithfulness": 0.84}
    # the blank line is skipped; the empty cost cell is "not measured"; a bare 7.9 is taken as written
    assert _values(results.runs[2]) == {"hallucination_rate": 7.9, "latency_p95": 310, "faithfulness": 0.79}
    assert all(not run.metrics[k].fraction for run in results.runs for k in run.metrics)


def test_csv_column_that_cannot_be_a_metric_is_noted_once_not_per_row():
    results = read_results("model,精度,latency_p95\nacme-a,0.9,450\nacme-b,0.8,470\n".encode())
    assert [_values(run) for run in results.runs] == [{"latency_p95": 450}, {"latency_p95": 470}]
    assert results.notes == ["column 2: `精度` cannot be a metric name (letters a-z, digits and `_`, at most 60); "
                             "skipped."]


def test_csv_with_semicolons_and_decimal_commas():
    (run,) = _read("metrics_semicolon.csv").runs
    assert _values(run) == {"hallucination_rate": 4.2, "latency_p95": 450, "faithfulness": 0.88}


def test_csv_metric_value_rows_for_two_models_make_two_runs_and_a_repeat_is_noted():
    text = ("metric,value,model\nlatency_p95,450,acme-chat-v42\nlatency_p95,520,acme-chat-v41\n"
            "Latency P95,999,acme-chat-v42\n")
    results = read_results(text.encode())
    assert [(run.model, _values(run)) for run in results.runs] == [
        ("acme-chat-v42", {"latency_p95": 450}), ("acme-chat-v41", {"latency_p95": 520})]
    assert results.notes == ["row 4: latency_p95 is given twice; kept the first value."]


def test_csv_with_a_bom_and_crlf_and_run_details():
    text = "\ufeffmodel,samples,url,started_at,latency_p95\r\nacme-chat-v42,400,https://ci.example.com/r/1," \
           "2025-11-28T09:00:00Z,450\r\n"
    (run,) = read_results(text.encode()).runs
    assert (run.samples, run.url) == (400, "https://ci.example.com/r/1")
    assert run.started_at == datetime(2025, 11, 28, 9, 0, tzinfo=UTC)
    assert _values(run) == {"latency_p95": 450}


def test_a_large_csv_is_read_whole():
    rows = 50_000
    lines = ["model,version,hallucination_rate,latency_p95"]
    lines += [f"acme-chat-v{n},1.{n},{n % 100 / 10}%,{300 + n % 700}" for n in range(rows)]
    results = read_results("\n".join(lines).encode(), filename="big.csv")
    assert results.layout == CSV_VALUES
    assert len(results.runs) == rows
    last = results.runs[-1]  # n = 49999: 99 / 10 = 9.9 %, 300 + 299
    assert (last.model, last.version, _values(last)) == (
        "acme-chat-v49999", "1.49999", {"hallucination_rate": 9.9, "latency_p95": 599})
    assert results.notes == []


def test_notes_are_capped_so_the_reply_fits():
    text = "model,latency_p95\n" + "".join(f"acme-chat-v{n},\n" for n in range(MAX_NOTES + 10)) + "acme-x,450\n"
    results = read_results(text.encode())
    assert len(results.runs) == 1
    assert len(results.notes) == MAX_NOTES + 1
    assert results.notes[0] == "row 2 has no metric value; skipped."
    assert results.notes[-1] == "… and 10 more like these."


# --- plain JSON -----------------------------------------------------------------------------------------------


def test_json_with_metrics_and_run_details():
    results = _read("metrics.json")
    assert results.layout == JSON_VALUES == "a JSON of metric values"
    (run,) = results.runs
    assert (run.model, run.version, run.dataset, run.samples) == (
        "acme-chat-v42", "2.3.0", "support-golden-v7", 400)
    assert run.url == "https://ci.example.com/acme/support-bot/runs/8812"
    assert run.started_at == datetime(2025, 11, 28, 9, 2, tzinfo=UTC)  # 10:02 at +01:00
    assert _values(run) == {"hallucination_rate": 4.2, "toxicity_rate": 0.5, "latency_p95": 450,
                            "cost_per_inference": 0.0042, "pii_leaks": 0, "rouge_l": 0.43}
    assert _fractions(run) == set()


def test_json_list_of_flat_objects():
    results = _read("metrics_list.json")
    assert results.layout == JSON_VALUES
    assert [(run.model, run.version, _values(run)) for run in results.runs] == [
        ("acme-chat-v41", "2.2.0", {"hallucination_rate": 6.1, "latency_p95": 520, "bleu": 0.31}),
        ("acme-chat-v42", "2.3.0", {"hallucination_rate": 4.2, "latency_p95": 450, "bleu": 0.33}),
    ]


def test_json_flat_object_with_a_null_and_a_version_number():
    (run,) = read_results(b'{"Model": "acme-chat-v42", "version": 42, "latency_p95": 450, "bleu": null}').runs
    assert (run.model, run.version, _values(run)) == ("acme-chat-v42", "42", {"latency_p95": 450})


def test_every_value_read_is_one_a_plan_can_take():
    for path in DATA.iterdir():
        try:
            results = read_results(path.read_bytes(), filename=path.name)
        except QualityError:
            continue
        for run in results.runs:
            for key, value in run.metrics.items():
                assert check_value(value.value, "score") == value.value, (path.name, key)
                assert not value.fraction or 0 <= value.value <= 1, (path.name, key)


# --- refused --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t ", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_empty_file(data):
    assert _refused(data, "empty.csv").startswith("`empty.csv` is empty.")


def test_the_empty_fixture():
    assert "is empty" in _refused((DATA / "empty.csv").read_bytes())


def test_text_that_is_neither_json_nor_csv():
    message = _refused((DATA / "not_csv.txt").read_bytes(), "not_csv.txt")
    assert message.startswith("`not_csv.txt` is not JSON or CSV")
    assert "promptfoo" in message and "lm-evaluation-harness" in message


def test_binary_and_non_utf8_files():
    assert "is not JSON or CSV" in _refused(b"PK\x03\x04\x00\x00workbook.xml", "metrics.xlsx")
    assert "not UTF-8" in _refused("metric;value\nlatência;4\n".encode("latin-1"))


def test_broken_json_says_where():
    message = _refused((DATA / "broken.json").read_bytes(), "broken.json")
    assert message.startswith("`broken.json` looks like JSON but is not valid JSON")
    assert "line 1" in message


def test_json_of_an_unknown_shape_says_which_layouts_are_understood():
    message = _refused((DATA / "unknown_shape.json").read_bytes(), "unknown_shape.json")
    assert message.startswith("`unknown_shape.json` is JSON, but not a layout I know.")
    for layout in ("promptfoo eval -o results.json", "--output_path", "metric,value", '"metrics"'):
        assert layout in message
    assert "not a layout I know" in _refused(b"[1, 2, 3]")
    assert "not a layout I know" in _refused(b'{"results": [{"success": true}]}')  # promptfoo without stats


def test_a_non_numeric_value_is_named_with_its_metric_and_row():
    message = _refused((DATA / "non_numeric.csv").read_bytes())
    assert message == "latency_p95 in row 3 is `fast`, not a number; write e.g. `0.81`, `450` or `4.2%`."
    assert _refused(b'[{"bleu": 0.3}, {"bleu": "good"}]').startswith("bleu in item 2 is `good`, not a number")
    assert _refused(b'{"metrics": {"bleu": true}}').startswith("bleu in the file is `True`, not a number")
    assert "pii_leaks in row 2 is `[1]`" in _refused(b'metric,value\npii_leaks,[1]\n')


def test_non_finite_values_are_refused():
    assert _refused((DATA / "nan.json").read_bytes()).startswith(
        "hallucination_rate in the file is nan, not a finite number")
    assert _refused(b'{"latency_p95": Infinity}').startswith("latency_p95 in the file is inf, not a finite number")
    assert "`inf`, not a number" in _refused(b"metric,value\nlatency_p95,inf\n")
    assert "`NaN`, not a number" in _refused(b"model,bleu\nacme,NaN\n")


def test_negative_values_and_rates_over_100_percent_are_refused():
    assert "cannot be negative" in _refused(b"metric,value\nlatency_p95,-3\n")
    assert "more than 100 %" in _refused(b"metric,value\nhallucination_rate,120%\n")


def test_a_file_over_20_mb():
    message = _refused(b" " * (MAX_BYTES + 1), "huge.json")
    assert message.startswith("`huge.json` is 20.0 MB; I read result files of up to 20 MB.")


def test_no_metric_at_all():
    for data in ((DATA / "no_metrics.json").read_bytes(), b"model,version\nacme-chat-v42,2.3.0\n", b"[]",
                 b"{}", b"metric,value\n", b'{"version": 3, "results": [], "stats": {}}'):
        assert "no metric" in _refused(data), data


def test_a_metric_column_without_values():
    assert "no `value` column" in _refused(b"metric,score\nlatency,450\n")


def test_a_name_that_is_only_non_ascii_is_skipped_but_a_file_of_only_those_has_no_metric():
    message = _refused("metric,value\n精度,0.9\n".encode())
    assert "no metric value" in message
    assert math.isclose(_values(_read("metrics.csv").runs[0])["pr_cision"], 0.91)
