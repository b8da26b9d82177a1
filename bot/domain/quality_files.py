"""Eval result files as teams have them, read into metric values for the Quality Management Plan (#22).

`pmbot quality ingest FILE` takes promptfoo's results JSON (`promptfoo eval -o results.json`),
lm-evaluation-harness's results JSON (`lm_eval … --output_path`), or a plain CSV/JSON of metric values. The
layout is recognised from the content, not the file name, and named in the reply.

Each run becomes a `RunValues`: who was measured (model, version, dataset) and its metrics keyed by
`metric_key`. A tool that reports a rate as a 0–1 fraction says so (`MetricValue.fraction`); the caller turns
it into per cent only for metrics the plan measures in %, so nothing is guessed here. What a reader skips, and
why, goes into `Results.notes`; what makes the file unusable is a `QualityError` naming the problem.

Every value returned is a finite number of zero or more (`check_value(value, "score")` holds): a typed file
with a bad value is refused, a tool's file keeps its other values and notes the bad one.

Layouts and their sources: tests/data/quality/LAYOUTS.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.domain.quality import QualityError, check_value, metric_key
from bot.domain.text import strip_controls

MAX_BYTES = 20 * 1024**2
MAX_NOTES = 20
MAX_TEXT = 200  # model, version, dataset and url as kept; longer is cut with an ellipsis
QUOTE_CHARS = 40  # how much of a bad value or name an error message repeats

PROMPTFOO = "a promptfoo results file"
LM_EVAL = "lm-evaluation-harness results"
CSV_VALUES = "a CSV of metric values"
JSON_VALUES = "a JSON of metric values"
UNDERSTOOD = (
    "promptfoo's results JSON (`promptfoo eval -o results.json`), lm-evaluation-harness's results JSON "
    "(`lm_eval … --output_path`), a CSV of metric values (`metric,value` rows, or one row per run with "
    "`model`, `version`, `dataset` and one column per metric) or a JSON of metric values "
    "(`{\"model\": …, \"metrics\": {\"name\": value}}`, a flat `{\"name\": value}`, or a list of them)"
)


@dataclass(frozen=True)
class MetricValue:
    """A value as the file gives it. `fraction` is True when the tool reports a rate as a 0–1 fraction
    (promptfoo's pass rate, lm-evaluation-harness's accuracies); a number typed in a CSV/JSON is taken in the
    metric's unit as written (`fraction` False), and `4.2%` is 4.2."""

    value: float
    fraction: bool = False


@dataclass(frozen=True)
class RunValues:
    """One measured run: one provider of a promptfoo eval, one lm-eval run, one row (or one model) of a
    plain file. `started_at` is aware UTC."""

    model: str | None = None
    version: str | None = None
    dataset: str | None = None
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    samples: int | None = None
    url: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class Results:
    """What a file held: its layout as the reply names it, its runs, and what was skipped and why."""

    layout: str
    runs: list[RunValues]
    notes: list[str] = field(default_factory=list)


def read_results(data: bytes, *, filename: str = "") -> Results:
    """Read an eval result file. `filename` is only used to name the file in messages: the layout is
    recognised from the content, since tools name their files freely (`results_2025-…json`, `out.json`)."""
    name = f"`{_cut(filename, QUOTE_CHARS)}`" if filename.strip() else "The file"
    text = _decode(data, name)
    notes = _Notes()
    if text[0] in "{[":
        layout, runs = _read_json(_parse_json(text, name), name, notes)
    else:
        layout, runs = CSV_VALUES, _read_csv(text, name, notes)
    if not runs:
        raise QualityError(f"{name} has no metric value I can use. I read {UNDERSTOOD}.")
    return Results(layout, runs, notes.done())


# --- bytes to text --------------------------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    """The file as text, or why it cannot be: too big, empty, binary, or not UTF-8."""
    if len(data) > MAX_BYTES:
        raise QualityError(f"{name} is {len(data) / 1024**2:.1f} MB; I read result files of up to "
                           f"{MAX_BYTES // 1024**2} MB. Send the summary file, not the per-sample logs.")
    if b"\x00" in data:
        raise QualityError(f"{name} is not JSON or CSV (it looks binary, e.g. a spreadsheet). "
                           f"Save it as CSV (UTF-8) or JSON. I read {UNDERSTOOD}.")
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise QualityError(f"{name} is not UTF-8 text; save it as CSV (UTF-8) or JSON.") from None
    if not text:
        raise QualityError(f"{name} is empty. I read {UNDERSTOOD}.")
    return text


def _parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise QualityError(f"{name} looks like JSON but is not valid JSON: {error.msg} at line {error.lineno}, "
                           f"column {error.colno}.") from None
    except RecursionError:
        raise QualityError(f"{name} is JSON nested too deeply to be a results file.") from None


# --- notes ----------------------------------------------------------------------------------------------------


class _Notes:
    """What was skipped and why; the first MAX_NOTES in full, then a count, so a 50,000-row file with one
    problem per row still makes a reply that fits in Slack."""

    def __init__(self) -> None:
        self._notes: list[str] = []
        self._more = 0

    def add(self, note: str) -> None:
        if len(self._notes) < MAX_NOTES:
            self._notes.append(note)
        else:
            self._more += 1

    def done(self) -> list[str]:
        return self._notes + ([f"… and {self._more} more like these."] if self._more else [])


# --- shared helpers -------------------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    text = strip_controls(text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: Any) -> str | None:
    """A name, version or dataset as the file gives it (a number becomes text: version 42), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = _cut(str(value), MAX_TEXT)
        return text or None
    return None


def _number(value: Any) -> float | None:
    """A JSON number as float; True/False are not numbers here, though Python counts them as ints."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _key(name: str, notes: _Notes, where: str) -> str | None:
    """`metric_key(name)`, or None with a note when the name cannot be a metric (all non-ASCII, too long)."""
    try:
        return metric_key(name)
    except QualityError:
        shown = _cut(name, QUOTE_CHARS) or "(blank)"
        notes.add(f"{where}: `{shown}` cannot be a metric name (letters a-z, digits and `_`, at most 60); "
                  "skipped.")
        return None


def _put(metrics: dict[str, MetricValue], key: str, value: MetricValue, notes: _Notes, where: str) -> None:
    """Keep the first value of a metric; a second one under the same key is noted, not silently merged."""
    if key in metrics:
        notes.add(f"{where}: {key} is given twice; kept the first value.")
    else:
        metrics[key] = value


def _tool_value(value: float, key: str, notes: _Notes, where: str) -> float | None:
    """A tool's value, or None with a note when it is not finite or is negative (no plan metric can be)."""
    if not math.isfinite(value) or value < 0:
        notes.add(f"{where}: {key} is {value:g}, not a finite number of zero or more; left out.")
        return None
    return value


def _when(value: Any) -> datetime | None:
    """A start time as tools write it: Unix seconds (lm-eval's `date`) or ISO 8601 (promptfoo's `timestamp`);
    naive times are taken as UTC."""
    number = _number(value)
    if number is None and isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        number = float(value)
    if number is not None:
        try:
            return datetime.fromtimestamp(number, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _samples(value: Any) -> int | None:
    number = _number(value)
    if number is None and isinstance(value, str) and value.strip().isdigit():
        number = float(value)
    return int(number) if number is not None and number >= 0 and number == int(number) else None


def _url(value: Any) -> str | None:
    text = _text(value)
    return text if text and re.match(r"https?://", text) else None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _fraction_range(values: list[float]) -> bool:
    return all(0 <= v <= 1 for v in values)


def _p95(values: list[float]) -> float:
    """The 95th percentile by nearest rank: a latency some request really had, not an interpolation."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


# --- JSON -----------------------------------------------------------------------------------------------------


def _read_json(data: Any, name: str, notes: _Notes) -> tuple[str, list[RunValues]]:
    summary = _promptfoo_summary(data)
    if summary is not None:
        return PROMPTFOO, _promptfoo_runs(data, summary, notes)
    if _is_lm_eval(data):
        return LM_EVAL, _lm_eval_runs(data, notes)
    if _is_plain(data):
        return JSON_VALUES, _plain_json_runs(data, notes)
    raise QualityError(f"{name} is JSON, but not a layout I know. I read {UNDERSTOOD}.")


# promptfoo: `{"evalId", "results": EvaluateSummary, "config", "shareableUrl", "metadata"}`, where the summary
# (version 2 or 3) has `timestamp`, `results` (one per test × prompt × provider) and `stats`. The summary on
# its own (as the node package's `evaluate()` returns it) is read too.


def _promptfoo_summary(data: Any) -> dict | None:
    if not isinstance(data, dict):
        return None
    summary = data["results"] if isinstance(data.get("results"), dict) else data
    if isinstance(summary.get("results"), list) and isinstance(summary.get("stats"), dict):
        return summary
    return None


def _promptfoo_runs(data: dict, summary: dict, notes: _Notes) -> list[RunValues]:
    """One run per provider, its values over every test and prompt it answered."""
    rows = [row for row in summary["results"] if isinstance(row, dict)]
    by_provider: dict[str | None, list[dict]] = {}
    for row in rows:
        by_provider.setdefault(_provider(row.get("provider")), []).append(row)
    prompts = {row.get("promptIdx") for row in rows} - {None}  # `prompts` lists each prompt once per provider
    if len(prompts) > 1:
        notes.add(f"The eval ran {len(prompts)} prompts; each provider's values pool all of them.")
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    tags = config.get("tags") if isinstance(config.get("tags"), dict) else {}
    common = RunValues(
        version=_text(tags.get("version")),
        dataset=_text(config["tests"]) if isinstance(config.get("tests"), str) else _text(config.get("description")),
        url=_url(data.get("shareableUrl")),
        started_at=_when(summary.get("timestamp")) or _when(metadata.get("evaluationCreatedAt")),
    )
    return [_promptfoo_run(model, group, common, notes) for model, group in by_provider.items()]


def _provider(value: Any) -> str | None:
    """The provider's label when it has one (what the team calls it), else its id."""
    if isinstance(value, dict):
        return _text(value.get("label")) or _text(value.get("id"))
    return _text(value)


def _promptfoo_run(model: str | None, rows: list[dict], common: RunValues, notes: _Notes) -> RunValues:
    where = f"promptfoo, {model or 'unnamed provider'}"
    metrics: dict[str, MetricValue] = {}
    verdicts = [_verdict(row) for row in rows]
    if any(verdict is not None for verdict in verdicts):  # an error carries no verdict and counts as not passed
        metrics["pass_rate"] = MetricValue(verdicts.count(True) / len(rows), fraction=True)
    else:
        notes.add(f"{where}: no test says whether it passed; pass_rate left out.")
    scores = [v for row in rows if (v := _number(row.get("score"))) is not None]
    _mean_into(metrics, "score", scores, notes, where)
    _latency_into(metrics, rows, notes, where)
    live = [row for row in rows if not _errored(row) and not _cached(row)]
    costs = [v for row in live if (v := _number(row.get("cost"))) is not None]
    _mean_into(metrics, "cost_per_inference", costs, notes, where, fraction=False)
    for name, values in _named_scores(rows).items():
        key = _key(name, notes, where)
        if key is not None:
            _mean_into(metrics, key, values, notes, where)
    return RunValues(model, common.version, common.dataset, metrics, len(rows), common.url, common.started_at)


def _verdict(row: dict) -> bool | None:
    """promptfoo says `success` on a result (`pass` in the old table rows, and in `gradingResult`)."""
    verdict = row.get("success", row.get("pass"))
    if verdict is None and isinstance(row.get("gradingResult"), dict):
        verdict = row["gradingResult"].get("pass")
    return verdict if isinstance(verdict, bool) else None


def _errored(row: dict) -> bool:
    """failureReason 2 is promptfoo's "error" (1 is a failed assertion); older files only carry `error`."""
    reason = row.get("failureReason")
    return reason == 2 if reason is not None else bool(row.get("error")) and _verdict(row) is not True


def _cached(row: dict) -> bool:
    response = row.get("response")
    return isinstance(response, dict) and response.get("cached") is True


def _latency_into(metrics: dict[str, MetricValue], rows: list[dict], notes: _Notes, where: str) -> None:
    """p95 of `latencyMs` over the answers the model really gave: an error or a cache hit (promptfoo reuses an
    earlier response, at no cost and almost no time) says nothing about the model's latency or cost."""
    errored = sum(1 for row in rows if _errored(row))
    cached = sum(1 for row in rows if _cached(row) and not _errored(row))
    if errored:
        notes.add(f"{where}: {errored} of {_count(len(rows), 'test')} ended in an error; counted as failed in "
                  "pass_rate, left out of latency_p95 and cost_per_inference.")
    if cached:
        notes.add(f"{where}: {_count(cached, 'cached response')} left out of latency_p95 and "
                  "cost_per_inference.")
    latencies = [v for row in rows if not _errored(row) and not _cached(row)
                 and (v := _number(row.get("latencyMs"))) is not None]
    latencies = [v for v in latencies if _tool_value(v, "latency_p95", notes, where) is not None]
    if latencies:
        metrics["latency_p95"] = MetricValue(_p95(latencies))


def _named_scores(rows: list[dict]) -> dict[str, list[float]]:
    named: dict[str, list[float]] = {}
    for row in rows:
        scores = row.get("namedScores")
        if isinstance(scores, dict):
            for name, value in scores.items():
                if (number := _number(value)) is not None:
                    named.setdefault(str(name), []).append(number)
    return named


def _mean_into(metrics: dict[str, MetricValue], key: str, values: list[float], notes: _Notes, where: str,
               *, fraction: bool | None = None) -> None:
    """The mean of a tool's values; a fraction when every value lies in 0..1 unless `fraction` says."""
    if not values:
        return
    if key in metrics:
        notes.add(f"{where}: {key} is given twice (a named score by the same name?); kept the first value.")
        return
    mean = _tool_value(math.fsum(values) / len(values), key, notes, where)
    if mean is not None:
        metrics[key] = MetricValue(mean, _fraction_range(values) if fraction is None else fraction)


# lm-evaluation-harness: `{"results": {task: {"acc,none": 0.71, "acc_stderr,none": 0.01, "alias": …}}, "config":
# {"model", "model_args", …}, "n-samples": {task: {"original", "effective"}}, "versions", "n-shot", "date": Unix
# seconds, …}`. Keys are `metric,filter`; files from before 0.4 have plain `acc` and `acc_stderr`.

_LM_EVAL_MARKERS = ("config", "configs", "versions", "n-samples", "n-shot", "group_subtasks", "lm_eval_version")
# Metrics the harness reports as a share of documents, 0..1. Perplexities, BLEU (0-100), TER and the like are not.
_LM_EVAL_FRACTIONS = frozenset({"acc", "acc_norm", "acc_mutual_info", "exact_match", "em", "f1", "mc1", "mc2",
                                "contains", "accuracy"})
_MODEL_ARG_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")


def _is_lm_eval(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict) or not data["results"]:
        return False
    tasks = data["results"].values()
    if not all(isinstance(values, dict) for values in tasks):
        return False
    return any(marker in data for marker in _LM_EVAL_MARKERS) or any("," in k for v in tasks for k in v)


def _lm_eval_runs(data: dict, notes: _Notes) -> list[RunValues]:
    metrics: dict[str, MetricValue] = {}
    for task, values in data["results"].items():
        for name, value in values.items():
            _lm_eval_metric(str(task), str(name), value, metrics, notes)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    model_args = _model_args(config.get("model_args"))
    model = _text(data.get("model_name")) or _model_from_args(model_args) or _text(config.get("model"))
    run = RunValues(
        model=model,
        version=_text(model_args.get("revision")) or _text(config.get("model_revision")),
        dataset=_lm_eval_tasks(data),
        metrics=metrics,
        samples=_lm_eval_samples(data.get("n-samples")),
        started_at=_when(data.get("date")),
    )
    return [run] if metrics else []


def _lm_eval_metric(task: str, name: str, value: Any, metrics: dict[str, MetricValue], notes: _Notes) -> None:
    """`hellaswag` + `acc_norm,none` → hellaswag_acc_norm; a filter other than `none` stays in the key
    (gsm8k_exact_match_strict_match); standard errors, aliases and sample counts are not metrics."""
    base, _, filter_name = name.partition(",")
    if base in ("alias", "samples") or base.endswith("_stderr"):
        return
    where = f"lm-eval, {_cut(task, QUOTE_CHARS)}"
    number = _number(value)
    if number is None:
        notes.add(f"{where}: {_cut(base, QUOTE_CHARS)} is `{_cut(str(value), QUOTE_CHARS)}`, not a number; "
                  "left out.")
        return
    key = _key(f"{task}_{base}" + (f"_{filter_name}" if filter_name and filter_name != "none" else ""), notes,
               where)
    if key is None or _tool_value(number, key, notes, where) is None:
        return
    fraction = base in _LM_EVAL_FRACTIONS or base.endswith("_acc") or base.startswith("pass@")
    _put(metrics, key, MetricValue(number, fraction and 0 <= number <= 1), notes, where)


def _model_args(value: Any) -> dict[str, Any]:
    """`model_args` as lm-eval writes it: `pretrained=org/name,revision=…` (a dict in newer versions)."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return {}
    pairs = (part.split("=", 1) for part in value.split(",") if "=" in part)
    return {k.strip(): v.strip() for k, v in pairs}


def _model_from_args(args: dict[str, Any]) -> str | None:
    """The model the args name, an adapter before its base model, as lm-eval itself names the run."""
    return next((text for k in _MODEL_ARG_KEYS if (text := _text(args.get(k)))), None)


def _lm_eval_tasks(data: dict) -> str | None:
    """The tasks asked for: groups by their name, not each subtask."""
    subtasks: set[str] = set()
    if isinstance(data.get("group_subtasks"), dict):
        subtasks = {str(t) for ts in data["group_subtasks"].values() if isinstance(ts, list) for t in ts}
    top = [str(task) for task in data["results"] if str(task) not in subtasks]
    return _text(", ".join(top)) if top else None


def _lm_eval_samples(value: Any) -> int | None:
    """Documents evaluated over all tasks: `effective` (after --limit), else `original`."""
    if not isinstance(value, dict):
        return None
    counts = [_samples(c.get("effective", c.get("original"))) for c in value.values() if isinstance(c, dict)]
    counts = [c for c in counts if c is not None]
    return sum(counts) if counts else None


# Plain JSON: `{"model", "version", "dataset", "metrics": {name: value}}`, a flat `{name: value}`, or a list.

_META = {"model", "version", "dataset", "samples", "url", "started_at", "date", "timestamp"}


def _is_plain(data: Any) -> bool:
    if isinstance(data, list):
        return all(isinstance(item, dict) and _is_plain(item) for item in data)
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("metrics"), dict):
        return True
    return all(not isinstance(v, dict | list) for v in data.values())


def _plain_json_runs(data: dict | list, notes: _Notes) -> list[RunValues]:
    items = data if isinstance(data, list) else [data]
    runs = []
    for number, item in enumerate(items, start=1):
        where = f"item {number}" if isinstance(data, list) else "the file"
        meta = {str(k).strip().lower(): v for k, v in item.items()}
        values = item["metrics"] if isinstance(item.get("metrics"), dict) else {
            k: v for k, v in item.items() if str(k).strip().lower() not in _META}
        keyed = [(key, value, where) for name, value in values.items() if (key := _key(str(name), notes, where))]
        run = _plain_run(meta, keyed, notes)
        if run.metrics:
            runs.append(run)
        elif isinstance(data, list):
            notes.add(f"{where} has no metric value; skipped.")
    return runs


# --- CSV ------------------------------------------------------------------------------------------------------

_DELIMITERS = (",", ";", "\t")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+\s*%?$")


def _read_csv(text: str, name: str, notes: _Notes) -> list[RunValues]:
    """`metric,value` rows (with optional model, version, dataset columns: one run per model), or one row
    per run with a column per metric. Semicolon and tab separated files (Excel outside the English-speaking
    world) are read too, and there `4,2` is 4.2."""
    header_line = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header_line.count)
    if header_line.count(delimiter) == 0:
        raise QualityError(f"{name} is not JSON or CSV: its first line has no `,`, `;` or tab between columns. "
                           f"I read {UNDERSTOOD}.")
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [cell.strip().lower() for cell in next(rows)]
        columns = {cell: i for i, cell in reversed(list(enumerate(header)))}
        if "value" in columns and ("metric" in columns or "name" in columns):
            return _csv_long(rows, columns, delimiter, notes)
        if "metric" in columns:
            raise QualityError(f"{name} has a `metric` column but no `value` column; write `metric,value` rows.")
        return _csv_wide(rows, header, columns, delimiter, notes)
    except csv.Error as error:
        raise QualityError(f"{name} is not a CSV I can read: {error} (line {rows.line_num}).") from None


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def _meta_columns(columns: dict[str, int]) -> list[tuple[str, int]]:
    """The run-detail columns the header has (model, version, …), looked up once rather than per row."""
    return [(meta, columns[meta]) for meta in sorted(_META) if meta in columns]


def _meta_of(row: list[str], meta_columns: list[tuple[str, int]]) -> dict[str, str]:
    return {meta: _cell(row, index) for meta, index in meta_columns}


def _csv_long(rows: Any, columns: dict[str, int], delimiter: str, notes: _Notes
              ) -> list[RunValues]:
    """One run per (model, version, dataset) met, in the order first met; usually the whole file is one run."""
    name_col = columns.get("metric", columns.get("name"))
    meta_columns = _meta_columns(columns)
    runs: dict[tuple[str, ...], tuple[dict[str, str], list[tuple[str, str, str]]]] = {}
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        meta = _meta_of(row, meta_columns)
        where = f"row {rows.line_num}"
        key = _key(_cell(row, name_col), notes, where)
        run_key = (meta.get("model", ""), meta.get("version", ""), meta.get("dataset", ""))
        items = runs.setdefault(run_key, (meta, []))[1]
        if key is not None:
            items.append((key, _decimal(_cell(row, columns["value"]), delimiter), where))
    found = [_plain_run(meta, items, notes) for meta, items in runs.values()]
    return [run for run in found if run.metrics]


def _csv_wide(rows: Any, header: list[str], columns: dict[str, int], delimiter: str,
              notes: _Notes) -> list[RunValues]:
    """One run per row; each column's metric key is worked out once, from the header."""
    candidates = [i for i, cell in enumerate(header) if cell not in _META]
    if not candidates:
        raise QualityError("The CSV has no metric column: give `metric,value` rows, or one column per metric "
                           "beside `model`, `version`, `dataset`.")
    keyed = [(i, key) for i in candidates if (key := _key(header[i], notes, f"column {i + 1}"))]
    meta_columns = _meta_columns(columns)
    runs = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        where = f"row {rows.line_num}"
        values = [(key, _decimal(_cell(row, i), delimiter), where) for i, key in keyed]
        run = _plain_run(_meta_of(row, meta_columns), values, notes)
        if run.metrics:
            runs.append(run)
        else:
            notes.add(f"{where} has no metric value; skipped.")
    return runs


def _decimal(text: str, delimiter: str) -> str:
    """`4,2` is 4.2 in a semicolon-separated file, where the comma cannot be a column break."""
    return text.replace(",", ".") if delimiter != "," and _DECIMAL_COMMA.match(text) else text


# --- plain values (CSV and JSON) ------------------------------------------------------------------------------


def _plain_run(meta: dict, values: Iterable[tuple[str, Any, str]], notes: _Notes) -> RunValues:
    """A run from values people wrote, each `(metric key, value, where it was)`: a bad value stops the file,
    naming the metric and the row, since the writer can fix it and a silently missing value would read as
    "not measured"."""
    metrics: dict[str, MetricValue] = {}
    for key, raw_value, where in values:
        value = _plain_value(raw_value, key, where)
        if value is not None:
            _put(metrics, key, MetricValue(value), notes, where)
    return RunValues(
        model=_text(meta.get("model")),
        version=_text(meta.get("version")),
        dataset=_text(meta.get("dataset")),
        metrics=metrics,
        samples=_samples(meta.get("samples")),
        url=_url(meta.get("url")),
        started_at=_when(meta.get("started_at") or meta.get("date") or meta.get("timestamp")),
    )


def _plain_value(raw: Any, key: str, where: str) -> float | None:
    """A value as written: a number in the metric's unit, or `4.2%` (4.2, a rate in per cent). An empty
    cell or null is "not measured"."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    number, unit = _number(raw), "score"
    if number is None and isinstance(raw, str):
        text = raw.strip()
        if text.endswith("%"):
            text, unit = text[:-1].strip(), "%"
        number = _float(text)
    shown = f" in {where}" if where else ""
    if number is None:
        raise QualityError(f"{key}{shown} is `{_cut(str(raw), QUOTE_CHARS)}`, not a number; write e.g. "
                           "`0.81`, `450` or `4.2%`.")
    if not math.isfinite(number):
        raise QualityError(f"{key}{shown} is {number}, not a finite number; leave it out if it was not measured.")
    try:
        return check_value(number, unit)
    except QualityError as error:
        raise QualityError(f"{key}{shown}: {error}") from None


_PLAIN_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?", re.IGNORECASE)


def _float(text: str) -> float | None:
    """A plain decimal number; `1e-3` too, but not words Python reads as numbers (`nan`, `inf`, `1_000`)."""
    return float(text) if _PLAIN_NUMBER.fullmatch(text) else None
