"""Eval runs pulled from an MLflow tracking server into a team's quality plan (`pmbot quality pull mlflow`).

The memory is the run's key, `mlflow:<run id>`: a run is recorded once, so pulling again records only what is
new. Finished runs are read newest first (by end time), page by page, and reading stops after the first page
that holds runs recorded before and none new: the whole history is read the first time only. The new runs are
then recorded oldest first, so that each is judged against the run of its model before it, as they happened.

A run maps to a pmbot run as MLflow users log them: its metrics are the latest value of each; the model is the
param or tag `model`, else `--model`, else the experiment's name; the version is the tag `version`, else the
run's name; the dataset the param or tag `dataset`; the sample count the param `samples` when it is a whole
number; the link is the run's page in MLflow's UI. Rates logged as 0–1 fractions are converted only for the
metrics `--fractions` names (or all of them): a fraction is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.deps import Deps
from bot.domain.quality import Plan, QualityError, metric_key
from bot.gateways.mlflow import Experiment, MlflowGateway, MlflowRun
from bot.quality.service import Recorded, RunIn, plan_of, record_run
from storage import quality as repo
from storage.db import session_scope

SOURCE = "mlflow"
PAGE_SIZE = 100


@dataclass
class PullResult:
    """What one pull read and did, for the person who ran it."""

    experiment: str
    experiment_id: str
    read: int = 0  # finished runs read from MLflow
    before: int = 0  # of those, runs recorded by an earlier pull
    skipped: int = 0  # runs with no usable metric, or values the plan cannot take
    recorded: list[Recorded] = field(default_factory=list)  # the new runs, oldest first
    notes: list[str] = field(default_factory=list)


def parse_fractions(text: str | None) -> set[str] | bool:
    """`--fractions`: `all` → True; `pass_rate, toxicity-rate` → their metric keys; nothing → none."""
    if text is None or not text.strip():
        return set()
    if text.strip().lower() == "all":
        return True
    return {metric_key(name) for name in text.split(",") if name.strip()}


def pull_mlflow(deps: Deps, *, team_id: str, experiment: str, fractions: set[str] | bool, model: str | None = None,
                recorded_by: str = "cli", gateway: MlflowGateway | None = None) -> PullResult:
    """Record the experiment's finished runs not recorded before against the team's plan."""
    planned = plan_of(deps, team_id)  # no plan: NotFound before the server is asked anything
    plan = planned[1]
    wanted = fractions if isinstance(fractions, bool) else {metric_key(n) for n in fractions}
    gateway = gateway or MlflowGateway.from_settings(deps.settings)
    found = gateway.experiment_by_name(experiment)
    result = PullResult(found.name, found.experiment_id, notes=_fraction_notes(plan, wanted))
    dropped: set[str] = set()
    new: list[tuple[MlflowRun, RunIn]] = []
    for run in _new_runs(deps, gateway, team_id, found, result):
        run_in = to_run_in(run, found, gateway, wanted, model, dropped)
        if run_in is None:
            result.skipped += 1
        else:
            new.append((run, run_in))
    for run, run_in in reversed(new):
        try:
            result.recorded.append(record_run(deps, team_id=team_id, run_in=run_in, source=SOURCE,
                                              recorded_by=recorded_by, source_key=source_key(run.run_id),
                                              planned=planned))
        except QualityError as exc:  # a value the plan cannot take: said, and the other runs still recorded
            result.skipped += 1
            result.notes.append(f"run {run.name or run.run_id} left out: {exc}")
    if dropped:
        result.notes.append("metric names left out (not usable as names): " + ", ".join(sorted(dropped)))
    return result


def _fraction_notes(plan: Plan, wanted: set[str] | bool) -> list[str]:
    """A named fraction the plan does not measure in % is taken as it is: said, since it is likely a typo."""
    if isinstance(wanted, bool):
        return []
    return [f"--fractions names {name}, which the plan does not measure in %: its values are taken as they are"
            for name in sorted(wanted) if (planned := plan.metric(name)) is None or planned.unit != "%"]


def source_key(run_id: str) -> str:
    return f"{SOURCE}:{run_id}"


def _new_runs(deps: Deps, gateway: MlflowGateway, team_id: str, experiment: Experiment,
              result: PullResult) -> list[MlflowRun]:
    """The finished runs not recorded before, newest first, reading pages until one holds recorded runs only."""
    new: list[MlflowRun] = []
    token: str | None = None
    while True:
        page = gateway.finished_runs(experiment.experiment_id, page_token=token, max_results=PAGE_SIZE)
        known = _recorded_keys(deps, team_id, [source_key(r.run_id) for r in page.runs])
        fresh = [r for r in page.runs if source_key(r.run_id) not in known]
        result.read += len(page.runs)
        result.before += len(page.runs) - len(fresh)
        new.extend(fresh)
        if not page.next_page_token or (known and not _with_metrics(fresh)):
            return new
        token = page.next_page_token


def _with_metrics(runs: list[MlflowRun]) -> list[MlflowRun]:
    """Runs that would be recorded: a run without metrics is never recorded, so it never counts as known."""
    return [r for r in runs if r.metrics]


def _recorded_keys(deps: Deps, team_id: str, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    with session_scope(deps.engine) as session:
        return repo.recorded_keys(session, team_id=team_id, keys=keys)


def to_run_in(run: MlflowRun, experiment: Experiment, gateway: MlflowGateway, fractions: set[str] | bool,
              model: str | None, dropped: set[str]) -> RunIn | None:
    """The run as pmbot records it; None when it has no metric pmbot can name (names that cannot be metric
    names go into `dropped`)."""
    values: dict[str, float] = {}
    for name, value in run.metrics.items():
        try:
            metric_key(name)
        except QualityError:
            dropped.add(name[:40])
            continue
        values[name] = value
    if not values:
        return None
    as_fractions = frozenset(values) if fractions is True else frozenset(fractions or ())
    return RunIn(model=_first(run.params.get("model"), run.tags.get("model"), model, experiment.name),
                 version=_first(run.tags.get("version"), run.name),
                 dataset=_first(run.params.get("dataset"), run.tags.get("dataset")),
                 url=gateway.run_url(experiment.experiment_id, run.run_id), samples=_samples(run.params.get("samples")),
                 values=values, fractions=as_fractions)


def _first(*choices: str | None) -> str:
    return next((c.strip() for c in choices if c and c.strip()), "")


def _samples(text: str | None) -> int | None:
    """A sample count only when the param is a whole number (`200`); anything else is not guessed at."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None
