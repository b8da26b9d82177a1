"""Quality use cases: set the plan, record a run and judge it against the plan, where a breach files a bug
through the normal bug path (graded by the plan, escalated when grade 1, mirrored to Jira) and a metric back
within target for long enough closes it."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field

from bot.bugs import service as bugs
from bot.deps import Deps
from bot.domain import quality_files as files
from bot.domain.quality import Assessment, Outcome, Plan, QualityError, assess, check_value, metric_key, show
from bot.domain.quality_files import Results, RunValues, read_results
from bot.domain.text import truncate
from bot.errors import IntegrationUnavailable, NotAllowed, NotFound
from bot.work import run_after_ack
from storage import quality as repo
from storage.db import session_scope
from storage.models import QualityPlan, QualityRun

logger = logging.getLogger(__name__)

# Who closed a bug when its metric came back within target (stored in `closed_by`).
PLAN_CLOSER = "quality-plan"
TOKEN_BYTES = 32
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
MAX_LABEL_CHARS = 120


@dataclass(frozen=True)
class RunIn:
    """A run as it arrives: values by metric name in each metric's unit; `fractions` names the values a tool
    gave as 0–1 fractions, turned into per cent for metrics the plan measures in %."""

    model: str
    values: dict[str, float]
    version: str = ""
    dataset: str = ""
    url: str | None = None
    samples: int | None = None
    fractions: frozenset[str] = frozenset()


@dataclass
class Recorded:
    """What recording a run did."""

    run: QualityRun
    created: bool
    assessment: Assessment
    opened: list[str] = field(default_factory=list)  # readable ids of bugs filed for new breaches
    updated: list[str] = field(default_factory=list)  # bugs of breaches that went on
    closed: list[str] = field(default_factory=list)  # bugs closed: their metric is back for long enough


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(deps: Deps, *, team_id: str, user_id: str) -> str:
    """Create or rotate the team's API token; only its hash is stored, the token is shown once."""
    token = "pmq_" + secrets.token_urlsafe(TOKEN_BYTES)
    with session_scope(deps.engine) as session:
        repo.set_token(session, team_id=team_id, token_hash=token_hash(token), hint=token[-4:], user_id=user_id,
                       now=deps.clock())
    return token


def team_for_token(deps: Deps, token: str) -> str | None:
    with session_scope(deps.engine) as session:
        return repo.team_of_token(session, token_hash=token_hash(token))


def require_owner(deps: Deps, team_id: str, user_id: str) -> None:
    """The plan and its token are changed by the plan's owner (who set it last) or a workspace admin; anyone
    may start a team's first plan."""
    with session_scope(deps.engine) as session:
        found = repo.load_plan(session, team_id=team_id)
    if found is None or found[0].updated_by == user_id:
        return
    try:
        if deps.slack.is_workspace_admin(user_id):
            return
    except IntegrationUnavailable as exc:
        logger.warning("cannot tell whether %s is a workspace admin: %s", user_id, exc)
    raise NotAllowed("Only the person who set the quality plan last, or a workspace admin, can change the plan or "
                     "its token (`/quality plan show` says who).")


def set_plan(deps: Deps, *, team_id: str, channel_id: str, user_id: str, plan: Plan,
             template: str | None = None) -> QualityPlan:
    with session_scope(deps.engine) as session:
        return repo.save_plan(session, team_id=team_id, channel_id=channel_id, plan=plan, template=template,
                              user_id=user_id, now=deps.clock())


def plan_of(deps: Deps, team_id: str) -> tuple[QualityPlan, Plan]:
    with session_scope(deps.engine) as session:
        found = repo.load_plan(session, team_id=team_id)
    if found is None:
        raise NotFound("This team has no quality plan yet. `/quality plan chatbot` (or `summariser`, `rag`) "
                       "starts one from a template.")
    return found


# --- recording a run ------------------------------------------------------------------------------------------


def record_run(deps: Deps, *, team_id: str, run_in: RunIn, source: str, recorded_by: str,
               source_key: str | None = None, planned: tuple[QualityPlan, Plan] | None = None) -> Recorded:
    """Store a run, judge it against the plan and the model's previous run, and act on breaches. The same
    `source_key` again (a retried POST, a file imported twice) records nothing new. `planned` is the team's plan
    when the caller has read it already (to read the values in its units)."""
    row, plan = planned or plan_of(deps, team_id)
    values = _in_plan_units(plan, run_in)
    model = truncate(run_in.model.strip(), MAX_LABEL_CHARS) or "default"
    with session_scope(deps.engine) as session:
        run, created = repo.add_run(session, team_id=team_id, model=model,
                                    version=truncate(run_in.version.strip(), MAX_LABEL_CHARS),
                                    dataset=truncate(run_in.dataset.strip(), 200), metrics=values, source=source,
                                    recorded_by=recorded_by, now=deps.clock(), url=run_in.url,
                                    samples=run_in.samples, source_key=source_key)
        before = repo.previous_run(session, team_id=team_id, model=model, before_id=run.id)
    assessment = assess(plan, dict(run.metrics), dict(before.metrics) if before else None)
    recorded = Recorded(run, created, assessment)
    if created:
        for outcome in assessment.outcomes:
            _act_on(deps, row, plan, run, outcome, recorded)
    return recorded


def _in_plan_units(plan: Plan, run_in: RunIn) -> dict[str, float]:
    values: dict[str, float] = {}
    fractions = {metric_key(n) for n in run_in.fractions}
    for name, value in run_in.values.items():
        key = metric_key(name)
        planned = plan.metric(key)
        unit = planned.unit if planned else "score"
        if planned and planned.unit == "%" and key in fractions:
            value = value * 100
        values[key] = check_value(float(value), unit)
    if not values:
        raise QualityError("The run has no metric values.")
    return values


def _act_on(deps: Deps, row: QualityPlan, plan: Plan, run: QualityRun, outcome: Outcome, recorded: Recorded) -> None:
    if outcome.status == "missing":
        return
    name = outcome.metric.name
    with session_scope(deps.engine) as session:
        breach = repo.open_breach(session, team_id=run.team_id, metric=name, model=run.model)
        if breach is None and outcome.failed:
            breach = repo.claim_breach(session, team_id=run.team_id, metric=name, model=run.model, run_id=run.id,
                                       now=deps.clock())
            new = breach is not None
        else:
            new = False
        if breach is None:
            return
        passing = repo.note_breach_run(session, breach_id=breach.id, run_id=run.id, passed=not outcome.failed) \
            if not new else 0
        breach_id, bug_id = breach.id, breach.bug_id
    if bug_id is None:  # new, or a bug that was not filed before a crash: filing is idempotent per breach
        if not outcome.failed:  # that breach is back within target before its bug was filed: no bug now
            if passing >= plan.recover_runs:
                with session_scope(deps.engine) as session:
                    repo.close_breach(session, breach_id=breach_id, now=deps.clock())
            return
        filed = _file_bug(deps, row, run, outcome, breach_id)
        bug_id = filed.bug_id
        if new:
            recorded.opened.append(filed.readable_id)
            return
    # The bug's state is stored before Slack is told; Slack down costs the thread note, never the run's other
    # metrics (each is judged and acted on whatever happens to this one's note).
    try:
        if outcome.failed:
            recorded.updated.append(_readable(deps, run.team_id, bug_id))
            bugs.note(deps, team_id=run.team_id, bug_id=bug_id,
                      text=f"Still out of target in {_run_name(run)}: {outcome.reason()}.")
        elif passing >= plan.recover_runs:
            _close(deps, run, outcome, breach_id, bug_id, passing, recorded)
    except IntegrationUnavailable as exc:
        logger.warning("quality: %s of %s: Slack could not be told (%s); the bug is up to date", name, run.model,
                       exc)


def _close(deps: Deps, run: QualityRun, outcome: Outcome, breach_id: int, bug_id: int, passing: int,
           recorded: Recorded) -> None:
    with session_scope(deps.engine) as session:
        repo.close_breach(session, breach_id=breach_id, now=deps.clock())
        bug = bugs.load_bug(session, run.team_id, bug_id)
    if bug.status == "closed":  # a person closed it already: the breach just ends
        return
    why = (f"{outcome.metric.name} back within target ({outcome.metric.target_text()}) for {passing} runs in a "
           f"row; last: {_run_name(run)}, {show(outcome.value or 0, outcome.metric.unit)}")
    recorded.closed.append(bug.readable_id)
    bugs.close_by_rule(deps, team_id=run.team_id, bug_id=bug_id, rule=PLAN_CLOSER, why=why)


def _file_bug(deps: Deps, row: QualityPlan, run: QualityRun, outcome: Outcome, breach_id: int) -> bugs.Intake:
    m = outcome.metric
    title = f"Quality breach: {m.name} of {run.model}" + (f" {run.version}" if run.version else "")
    reasons = [outcome.reason(), f"the plan grades a breach of {m.name} as {m.grade}"]
    text = "\n".join([
        f"{title} — {outcome.reason()}.",
        f"Run: {_run_name(run)}" + (f" on {run.dataset}" if run.dataset else "")
        + (f", {run.samples} samples" if run.samples else "") + (f" ({run.url})" if run.url else ""),
        f"Measured as: {m.measured}" if m.measured else "",
    ]).strip()
    intake = bugs.file_report(deps, team_id=run.team_id, channel_id=row.channel_id, reporter_id=_reporter(deps, row),
                              delivery_key=f"quality-breach-{breach_id}", text=text, title=title,
                              preset=bugs.Preset(m.grade, reasons, "plan"))
    with session_scope(deps.engine) as session:
        repo.set_breach_bug(session, breach_id=breach_id, bug_id=intake.bug_id)
    run_after_ack(deps, intake.work_id)
    return intake


def _reporter(deps: Deps, row: QualityPlan) -> str:
    """Who files a breach's bug: the plan's owner when a person set it in Slack, else pmbot itself (a plan set
    with `pmbot quality plan` has no Slack user behind it)."""
    if _SLACK_USER.match(row.updated_by):
        return row.updated_by
    return deps.slack.bot_user_id() or row.updated_by


def _readable(deps: Deps, team_id: str, bug_id: int) -> str:
    with session_scope(deps.engine) as session:
        return bugs.load_bug(session, team_id, bug_id).readable_id


def _run_name(run: QualityRun) -> str:
    return f"{run.model} {run.version}".strip() + f" (run {run.id})"


# --- reading it back ------------------------------------------------------------------------------------------


def latest(deps: Deps, team_id: str, *, model: str | None = None) -> tuple[QualityRun, QualityRun | None] | None:
    """The latest run (of `model`, else of any model) and the run of the same model before it."""
    with session_scope(deps.engine) as session:
        runs = repo.recent_runs(session, team_id=team_id, limit=1, model=model)
        if not runs:
            return None
        before = repo.previous_run(session, team_id=team_id, model=runs[0].model, before_id=runs[0].id)
    return runs[0], before


def runs_of(deps: Deps, team_id: str, *, model: str | None = None, limit: int = 200) -> list[QualityRun]:
    """The latest runs (of one model, when named), newest first."""
    with session_scope(deps.engine) as session:
        return repo.recent_runs(session, team_id=team_id, limit=limit, model=model)


def run_named(deps: Deps, team_id: str, name: str) -> QualityRun:
    """The latest run of a version (`v42`) or model; NotFound names what there is."""
    with session_scope(deps.engine) as session:
        run = repo.run_of_version(session, team_id=team_id, version=name.strip())
        if run is None:
            known = [r.version or r.model for r in repo.recent_runs(session, team_id=team_id, limit=5)]
    if run is None:
        hint = f" The latest: {', '.join(dict.fromkeys(known))}." if known else " No run is recorded yet."
        raise NotFound(f"No run of `{truncate(name, 40)}`.{hint}")
    return run


def gate(deps: Deps, *, team_id: str, user_id: str, version: str) -> tuple[QualityRun, Assessment]:
    """Go / no-go for a version against the plan, recorded with who asked."""
    _row, plan = plan_of(deps, team_id)
    run = run_named(deps, team_id, version)
    with session_scope(deps.engine) as session:
        before = repo.previous_run(session, team_id=team_id, model=run.model, before_id=run.id)
        verdict = assess(plan, dict(run.metrics), dict(before.metrics) if before else None)
        repo.record_gate(session, team_id=team_id, version=version.strip(), run_id=run.id, go=verdict.go,
                         failed=[o.metric.name for o in verdict.outcomes if o.status != "pass"], user_id=user_id,
                         now=deps.clock())
    return run, verdict


# --- files from eval tools ------------------------------------------------------------------------------------


def ingest(deps: Deps, *, team_id: str, data: bytes, filename: str, recorded_by: str,
           model: str | None = None) -> tuple[Results, list[Recorded]]:
    """Read an eval tool's results file (layout detected from its content) and record each run in it. The same
    file again records nothing new: each run's key is the file's hash and its place in the file."""
    results = read_results(data, filename=filename)
    digest = hashlib.sha256(data).hexdigest()[:24]
    source = _SOURCE_OF.get(results.layout, "file")
    planned = plan_of(deps, team_id)
    recorded = [record_run(deps, team_id=team_id, run_in=_run_in(values, model), source=source,
                           recorded_by=recorded_by, source_key=f"file:{digest}:{n}", planned=planned)
                for n, values in enumerate(results.runs)]
    return results, recorded


_SOURCE_OF = {files.PROMPTFOO: "promptfoo", files.LM_EVAL: "lm-eval", files.CSV_VALUES: "csv",
              files.JSON_VALUES: "json"}


def _run_in(values: RunValues, model: str | None) -> RunIn:
    return RunIn(model=model or values.model or "default", version=values.version or "",
                 dataset=values.dataset or "", url=values.url, samples=values.samples,
                 values={k: v.value for k, v in values.metrics.items()},
                 fractions=frozenset(k for k, v in values.metrics.items() if v.fraction))


def teams_with_plans(deps: Deps) -> list[str]:
    with session_scope(deps.engine) as session:
        return repo.planned_teams(session)
