"""The Quality Management Plan, pure: metrics with targets and the grade a breach is, plan templates, metric
values as people and eval tools write them, and a run judged against the plan.

A plan names each metric once (`hallucination_rate`), says which way is better and where the line is. A
"lower is better" metric passes at or below its target, a "higher is better" one at or above it; a score that
may not fall (BLEU, ROUGE) can also carry a margin: a fall of more than that from the previous run is a breach
even above the target. The grade of a breach follows the guide's bug grades: personal data or harmful output
is grade 1, wrong answers and falling scores grade 2, slowness and cost grade 3.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Literal

Direction = Literal["lower", "higher"]
DIRECTIONS: tuple[Direction, ...] = ("lower", "higher")
UNITS = ("%", "ms", "s", "score", "count", "req/s", "USD")
MAX_METRICS = 25
MAX_NAME_CHARS = 60
DEFAULT_RECOVER_RUNS = 3  # runs back within target before the breach's bug is closed
DEFAULT_DROP_MARGIN = 0.02  # a score falling by more than this from the previous run (BLEU, ROUGE: 0-1 scale)


class QualityError(ValueError):
    """A plan, a metric or a value we cannot use; the message says what would work."""


@dataclass(frozen=True)
class Metric:
    """One line of the plan. `target` is in `unit` (a rate in per cent: 5 means 5 %)."""

    name: str
    unit: str
    direction: Direction
    target: float
    grade: int
    measured: str = ""
    drop_margin: float | None = None

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    def passes(self, value: float) -> bool:
        return value <= self.target if self.direction == "lower" else value >= self.target

    def target_text(self) -> str:
        sign = "≤" if self.direction == "lower" else "≥"
        return f"{sign} {show(self.target, self.unit)}"


@dataclass(frozen=True)
class Plan:
    metrics: tuple[Metric, ...]
    recover_runs: int = DEFAULT_RECOVER_RUNS

    def metric(self, name: str) -> Metric | None:
        key = metric_key(name)
        return next((m for m in self.metrics if m.name == key), None)


# --- names ----------------------------------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^a-z0-9]+")
_NAME_CHARS = re.compile(r"^[\w .,:/%()\-]*$")  # letters of any script, digits and plain punctuation


def metric_key(name: str) -> str:
    """`Hallucination rate`, `hallucination-rate`, `HALLUCINATION_RATE` → `hallucination_rate`. Slack markup
    (`<!channel>`, `<@U…>`) and other symbols are refused rather than turned into a name."""
    if not _NAME_CHARS.match(name):
        raise QualityError(f"`{name.strip()[:40]}` is not a metric name: use letters, digits and `_`, e.g. "
                           "`hallucination_rate`.")
    key = _NON_WORD.sub("_", name.strip().lower()).strip("_")
    if not key:
        raise QualityError("A metric needs a name, e.g. `hallucination_rate`.")
    if len(key) > MAX_NAME_CHARS:
        raise QualityError(f"`{name[:40]}…` is too long for a metric name ({MAX_NAME_CHARS} characters at most).")
    return key


# Words in a metric's name and the grade a breach of it is, first match wins (the guide's bug grade table).
_GRADE_WORDS = (
    (1, ("pii", "leak", "toxic", "hate", "harm", "jailbreak", "injection", "secret", "unsafe")),
    (2, ("hallucinat", "faithful", "factual", "bleu", "rouge", "accuracy", "correct", "relevan", "groundedness",
         "exact_match", "f1", "pass_rate")),
    (3, ("latency", "p95", "p99", "throughput", "cost", "tokens", "time", "duration", "tone")),
)


def default_grade(name: str) -> int:
    """The grade a breach of this metric is, when the plan does not say: from the guide's table."""
    key = metric_key(name)
    for grade, words in _GRADE_WORDS:
        if any(word in key for word in words):
            return grade
    return 3


def default_direction(name: str, unit: str) -> Direction:
    """Rates of bad things, times and costs are better lower; scores and throughput higher."""
    key = metric_key(name)
    if unit == "req/s" or any(w in key for w in ("bleu", "rouge", "accuracy", "faithful", "relevan", "f1",
                                                  "score", "pass_rate", "throughput", "exact_match")):
        return "lower" if "toxic" in key else "higher"
    return "lower"


def metric(name: str, unit: str, target: float, *, direction: Direction | None = None, grade: int | None = None,
           measured: str = "", drop_margin: float | None = None) -> Metric:
    """A checked metric, its direction and grade defaulted from its name."""
    key = metric_key(name)
    if unit not in UNITS:
        raise QualityError(f"`{unit}` is not a unit I know; use one of {', '.join(UNITS)}.")
    if direction is not None and direction not in DIRECTIONS:
        raise QualityError(f"`{direction}` is not a direction; say `lower` or `higher` (which is better).")
    if not math.isfinite(target) or target < 0:
        raise QualityError(f"The target of {key} must be a number of zero or more.")
    if unit == "%" and target > 100:
        raise QualityError(f"The target of {key} is a rate: between 0 and 100 %.")
    grade = default_grade(key) if grade is None else grade
    if grade not in (1, 2, 3, 4):
        raise QualityError(f"A breach of {key} must be grade 1, 2, 3 or 4.")
    if drop_margin is not None and (not math.isfinite(drop_margin) or drop_margin <= 0):
        raise QualityError(f"The drop margin of {key} must be more than zero.")
    return Metric(key, unit, direction or default_direction(key, unit), float(target), grade, measured.strip(),
                  drop_margin)


def plan(metrics: list[Metric], *, recover_runs: int = DEFAULT_RECOVER_RUNS) -> Plan:
    """A checked plan: 1 to MAX_METRICS metrics, each named once."""
    if not metrics:
        raise QualityError("A plan needs at least one metric.")
    if len(metrics) > MAX_METRICS:
        raise QualityError(f"A plan has {MAX_METRICS} metrics at most; this one has {len(metrics)}.")
    seen: set[str] = set()
    for m in metrics:
        if m.name in seen:
            raise QualityError(f"{m.name} is in the plan twice.")
        seen.add(m.name)
    if not 1 <= recover_runs <= 20:
        raise QualityError("A breach closes after 1 to 20 runs back within target.")
    return Plan(tuple(metrics), recover_runs)


# --- templates ------------------------------------------------------------------------------------------------

_TOXICITY = "share of outputs scored above 0.8 by a toxicity classifier (Perspective API, OpenAI moderation)"
_PII = "outputs in which a PII scanner or a reviewer found personal data"
_HALLUCINATION = "share of sampled outputs a reviewer or a judge model found factually wrong or unsupported"
_LATENCY = "p95 time to the full answer, from the APM"
_COST = "model and infrastructure spend divided by requests served"

TEMPLATES: dict[str, tuple[str, Plan]] = {
    "chatbot": ("Customer support chatbot", Plan((
        metric("hallucination_rate", "%", 5, measured=_HALLUCINATION),
        metric("toxicity_rate", "%", 1, measured=_TOXICITY),
        metric("pii_leaks", "count", 0, measured=_PII),
        metric("latency_p95", "ms", 500, measured=_LATENCY),
        metric("cost_per_inference", "USD", 0.01, measured=_COST),
    ))),
    "summariser": ("Summariser", Plan((
        metric("rouge_l", "score", 0.40, drop_margin=DEFAULT_DROP_MARGIN,
               measured="ROUGE-L F1 against reference summaries of the eval set"),
        metric("bleu", "score", 0.30, drop_margin=DEFAULT_DROP_MARGIN,
               measured="BLEU against reference summaries of the eval set"),
        metric("hallucination_rate", "%", 5, measured="share of summaries stating something the source does not"),
        metric("pii_leaks", "count", 0, measured=_PII),
        metric("latency_p95", "ms", 800, measured=_LATENCY),
    ))),
    "rag": ("RAG assistant", Plan((
        metric("faithfulness", "score", 0.85, drop_margin=DEFAULT_DROP_MARGIN,
               measured="share of answer claims supported by the retrieved passages (judge model)"),
        metric("hallucination_rate", "%", 5, measured=_HALLUCINATION),
        metric("toxicity_rate", "%", 1, measured=_TOXICITY),
        metric("pii_leaks", "count", 0, measured=_PII),
        metric("latency_p95", "ms", 1500, measured=_LATENCY),
        metric("throughput", "req/s", 10, measured="requests served per second at peak without errors"),
        metric("cost_per_inference", "USD", 0.02, measured=_COST),
    ))),
}
TEMPLATE_ALIASES = {"support": "chatbot", "chat": "chatbot", "summarizer": "summariser", "summary": "summariser",
                    "retrieval": "rag", "assistant": "rag"}


def template(name: str) -> Plan:
    key = TEMPLATE_ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in TEMPLATES:
        raise QualityError(f"There is no template `{name}`; there are {', '.join(f'`{t}`' for t in TEMPLATES)}.")
    return TEMPLATES[key][1]


# --- values ---------------------------------------------------------------------------------------------------

_VALUE = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?)\s*(%|ms|s|usd|\$)?$", re.IGNORECASE)
_NUMBER_PART = re.compile(r"^[-+]?[\d.,]*")
# Thousands groups as a team writes them (`/pmbot settings`): `1,500` in English, `1.500` in German.
_GROUPED = {"en": re.compile(r"^\d{1,3}(?:,\d{3})+(?=$|\.)"), "de": re.compile(r"^\d{1,3}(?:\.\d{3})+(?=$|,)")}


def parse_value(text: str, unit: str, *, number_format: str = "en") -> float:
    """A metric value as people type it, in the metric's unit: `4.2%` or `4.2` for a rate (per cent), `450ms`
    or `0.45s` for a time in ms, `$0.004` for a cost; `4,2 %` in a team that writes numbers that way. A rate
    written as a fraction is not guessed at (`0.042` is 0.042 %: write `4.2%`), nor a comma the team's format
    does not explain."""
    raw = text.strip().replace(" ", "")
    if raw.startswith("$"):
        raw = raw[1:] + "usd"
    number = _NUMBER_PART.match(raw).group(0)  # type: ignore[union-attr]  (the pattern matches any string)
    suffix_text = raw[len(number):]
    grouped = _GROUPED.get(number_format, _GROUPED["en"]).match(number.lstrip("+-"))
    if grouped:
        number = number.replace("," if number_format != "de" else ".", "")
    if number_format == "de":
        if "." in number:
            raise QualityError(f"`{text.strip()}`: this team writes decimals with a comma, e.g. `4,2%`.")
        number = number.replace(",", ".")
    elif "," in number:
        raise QualityError(f"`{text.strip()}`: write decimals with a point, e.g. `4.2%`.")
    match = _VALUE.match(number + suffix_text)
    if match is None:
        raise QualityError(f"`{text.strip()[:40]}` is not a number; write e.g. `4.2%`, `450ms` or `0.81`.")
    value, suffix = float(match.group(1)), (match.group(2) or "").lower()
    if suffix == "s" and unit == "ms":
        value *= 1000
    elif suffix == "ms" and unit == "s":
        value /= 1000
    elif suffix == "%" and unit != "%":
        raise QualityError(f"`{text.strip()}` is a percentage, but this metric is measured in {unit}.")
    elif suffix in ("ms", "s") and unit not in ("ms", "s"):
        raise QualityError(f"`{text.strip()}` is a time, but this metric is measured in {unit}.")
    return check_value(value, unit)


def check_value(value: float, unit: str) -> float:
    if not math.isfinite(value):
        raise QualityError("A metric value must be a finite number.")
    if value < 0:
        raise QualityError("A metric value cannot be negative.")
    if unit == "%" and value > 100:
        raise QualityError(f"{value:g} % is more than 100 %.")
    return float(value)


def show(value: float, unit: str) -> str:
    """A value for people: `4.2 %`, `450 ms`, `0.81`, `0.004 USD`, `3 leaks`."""
    number = f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if unit == "score":
        return number
    if unit == "count":
        return f"{value:g}"
    return f"{number} {unit}"


# --- judging a run --------------------------------------------------------------------------------------------

Status = Literal["pass", "breach", "drop", "missing"]


@dataclass(frozen=True)
class Outcome:
    """One plan metric in one run: its value, the previous run's, and the verdict."""

    metric: Metric
    value: float | None
    previous: float | None
    status: Status

    @property
    def failed(self) -> bool:
        return self.status in ("breach", "drop")

    @property
    def trend(self) -> str:
        """↑ / ↓ / → against the previous run, with better/worse read from the metric's direction."""
        if self.value is None or self.previous is None or math.isclose(self.value, self.previous, abs_tol=1e-12):
            return "→"
        return "↑" if self.value > self.previous else "↓"

    @property
    def better(self) -> bool | None:
        if self.value is None or self.previous is None or self.trend == "→":
            return None
        return (self.value < self.previous) == (self.metric.direction == "lower")

    def reason(self) -> str:
        """Why it failed, citing the target and both runs (the breach bug's reason)."""
        m = self.metric
        now = show(self.value, m.unit) if self.value is not None else "not measured"
        before = f"; previous run {show(self.previous, m.unit)}" if self.previous is not None else ""
        if self.status == "drop":
            return (f"{m.name} fell to {now} from {show(self.previous or 0, m.unit)}, more than the "
                    f"{show(m.drop_margin or 0, m.unit)} the plan allows (target {m.target_text()})")
        return f"{m.name} {now}, target {m.target_text()}{before}"


@dataclass(frozen=True)
class Assessment:
    outcomes: list[Outcome]
    unplanned: dict[str, float] = field(default_factory=dict)  # values sent for metrics the plan does not have

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    @property
    def go(self) -> bool:
        """Go when every metric of the plan was measured and passed."""
        return all(o.status == "pass" for o in self.outcomes)


def assess(plan_: Plan, values: dict[str, float], previous: dict[str, float] | None = None) -> Assessment:
    """Judge one run's values (by metric key) against the plan and the previous run's values."""
    previous = previous or {}
    outcomes = [_judge(m, values.get(m.name), previous.get(m.name)) for m in plan_.metrics]
    planned = {m.name for m in plan_.metrics}
    return Assessment(outcomes, {k: v for k, v in values.items() if k not in planned})


def _judge(m: Metric, value: float | None, previous: float | None) -> Outcome:
    if value is None:
        return Outcome(m, None, previous, "missing")
    if not m.passes(value):
        return Outcome(m, value, previous, "breach")
    if m.drop_margin is not None and previous is not None and _fell(m, value, previous) > m.drop_margin + 1e-12:
        return Outcome(m, value, previous, "drop")
    return Outcome(m, value, previous, "pass")


def _fell(m: Metric, value: float, previous: float) -> float:
    return previous - value if m.direction == "higher" else value - previous


def with_target(m: Metric, target: float) -> Metric:
    return replace(m, target=float(target))


# --- a plan written down (`pmbot quality plan FILE`) ----------------------------------------------------------

_PLAN_KEYS = {"channel", "template", "recover_runs", "metrics"}
_METRIC_KEYS = {"name", "unit", "direction", "target", "grade", "measured", "drop_margin"}


def plan_from_mapping(data: object) -> tuple[Plan, str | None, str | None]:
    """A plan from its written form (YAML or JSON, already parsed): the plan, the channel breaches go to, the
    template it started from. A template's metrics come first; `metrics` entries add to or replace them."""
    if not isinstance(data, dict):
        raise QualityError("A plan file holds a mapping: `metrics:` (a list), and optionally `template:`, "
                           "`channel:`, `recover_runs:`.")
    unknown = sorted(set(map(str, data)) - _PLAN_KEYS)
    if unknown:
        raise QualityError(f"Unknown key `{unknown[0]}` in the plan; the keys are {', '.join(sorted(_PLAN_KEYS))}.")
    base = template(str(data["template"])) if data.get("template") else None
    metrics = {m.name: m for m in (base.metrics if base else ())}
    entries = data.get("metrics") or []
    if not isinstance(entries, list):
        raise QualityError("`metrics:` must be a list of metrics, each with name, unit and target.")
    for n, entry in enumerate(entries, start=1):
        m = _metric_from_mapping(entry, n)
        metrics[m.name] = m
    recover = data.get("recover_runs", DEFAULT_RECOVER_RUNS)
    if isinstance(recover, bool) or not isinstance(recover, int):
        raise QualityError("`recover_runs:` must be a whole number (runs back within target before a breach closes).")
    channel = data.get("channel")
    return (plan(list(metrics.values()), recover_runs=recover), str(channel) if channel else None,
            str(data["template"]) if data.get("template") else None)


def _metric_from_mapping(entry: object, n: int) -> Metric:
    if not isinstance(entry, dict) or not {"name", "unit", "target"} <= set(entry):
        raise QualityError(f"Metric {n} needs at least `name`, `unit` and `target`.")
    unknown = sorted(set(map(str, entry)) - _METRIC_KEYS)
    if unknown:
        raise QualityError(f"Metric {n}: unknown key `{unknown[0]}`; the keys are {', '.join(sorted(_METRIC_KEYS))}.")
    unit = str(entry["unit"])
    target = entry["target"]
    value = parse_value(target, unit) if isinstance(target, str) else target
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QualityError(f"Metric {n}: `target` must be a number.")
    grade, margin = entry.get("grade"), entry.get("drop_margin")
    if grade is not None and (isinstance(grade, bool) or not isinstance(grade, int)):
        raise QualityError(f"Metric {n}: `grade` must be 1, 2, 3 or 4.")
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, int | float)):
        raise QualityError(f"Metric {n}: `drop_margin` must be a number.")
    return metric(str(entry["name"]), unit, float(value), direction=entry.get("direction"), grade=grade,
                  measured=str(entry.get("measured") or ""), drop_margin=margin)


# --- a plan as lines (the plan form in Slack) -----------------------------------------------------------------

LINE_EXAMPLE = "hallucination_rate % lower 5 grade 2 | share of answers a reviewer found wrong"
_LINE = re.compile(r"^(?P<name>\S+)\s+(?P<unit>\S+)\s+(?P<direction>\S+)\s+(?P<target>\S+)(?P<rest>.*)$")


def metric_line(m: Metric) -> str:
    """One metric as the plan form writes it; `parse_metric_line` reads it back."""
    margin = f" margin {m.drop_margin:g}" if m.drop_margin is not None else ""
    measured = f" | {m.measured}" if m.measured else ""
    return f"{m.name} {m.unit} {m.direction} {m.target:g} grade {m.grade}{margin}{measured}"


def parse_metric_line(line: str) -> Metric:
    """`name unit lower|higher target [grade N] [margin X] [| how it is measured]`."""
    spec, _, measured = line.partition("|")
    match = _LINE.match(spec.strip())
    if match is None:
        raise QualityError(f"Write a metric as `{LINE_EXAMPLE}`.")
    direction = match["direction"].lower()
    if direction not in DIRECTIONS:
        raise QualityError(f"`{match['direction'][:20]}` is not a direction: say `lower` or `higher` (which is "
                           "better).")
    unit = match["unit"]
    if unit not in UNITS:
        raise QualityError(f"`{unit[:20]}` is not a unit I know; use one of {', '.join(UNITS)}.")
    options = match["rest"].split()
    grade = margin = None
    while options:
        if len(options) < 2 or options[0].lower() not in ("grade", "margin"):
            raise QualityError(f"After the target only `grade N` and `margin X` may follow, then `| how it is "
                               f"measured`; not `{' '.join(options)[:40]}`.")
        word, value = options[0].lower(), options[1]
        if word == "grade":
            if value not in ("1", "2", "3", "4"):
                raise QualityError("A breach is grade 1, 2, 3 or 4.")
            grade = int(value)
        else:
            margin = parse_value(value, unit)
        options = options[2:]
    return metric(match["name"], unit, parse_value(match["target"], unit), direction=direction,  # type: ignore[arg-type]
                  grade=grade, measured=measured.strip(), drop_margin=margin)
