"""`POST /api/quality/runs`: an eval job in CI posts its results, one line after the job.

    curl -X POST https://pmbot.example.com/api/quality/runs -H "Authorization: Bearer $PMBOT_QUALITY_TOKEN" \
         -H "Content-Type: application/json" \
         -d '{"model": "support-bot", "version": "v42", "dataset": "golden-500",
              "metrics": {"hallucination_rate": 4.2, "latency_p95": "450ms"}, "samples": 500}'

Numbers are in each metric's unit (a rate in per cent: 4.2 means 4.2 %); strings are read as people write
them (`"4.2%"`, `"450ms"`); names listed in `fractions` were sent as 0–1 fractions. An `Idempotency-Key`
header (or `run_id` field) makes a retried POST count once. Answers: 201 with the verdict per metric (200 when
the run was recorded before), 400 naming the field that is wrong, 401 for a missing or unknown token, 404 when
the team has no plan yet.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any
from urllib.parse import urlsplit

from bot.deps import Deps
from bot.domain.quality import Plan, QualityError, metric_key, parse_value
from bot.errors import NotFound
from bot.quality import service
from bot.quality.service import Recorded, RunIn

logger = logging.getLogger(__name__)

PATH = "/api/quality/runs"
MAX_METRICS_IN_RUN = 200
MAX_TEXT = {"model": 120, "version": 120, "dataset": 200, "url": 2000, "run_id": 200}


class BadRun(ValueError):
    """A body we cannot use; `field` names the part that is wrong."""

    def __init__(self, field: str, why: str):
        super().__init__(f"{field}: {why}")
        self.field = field


def handle(deps: Deps, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """One POST: (HTTP status, JSON answer). Never raises for what a client sent."""
    token = _bearer(headers)
    team_id = service.team_for_token(deps, token) if token else None
    if team_id is None:
        return 401, {"ok": False, "error": "unauthorized",
                     "detail": "Send `Authorization: Bearer <token>`; `/quality token` in Slack makes one."}
    try:
        planned = service.plan_of(deps, team_id)
        run_in, key = parse_body(body, planned[1])
        if key is None:
            key = headers.get("idempotency-key") or None
        recorded = service.record_run(deps, team_id=team_id, run_in=run_in, source="api", recorded_by="api",
                                      source_key=f"api:{key[:190]}" if key else None, planned=planned)
    except BadRun as exc:
        return 400, {"ok": False, "error": "invalid_field", "field": exc.field, "detail": str(exc)}
    except QualityError as exc:
        return 400, {"ok": False, "error": "invalid_field", "field": "metrics", "detail": str(exc)}
    except NotFound as exc:
        return 404, {"ok": False, "error": "no_plan", "detail": str(exc)}
    return (201 if recorded.created else 200), answer(recorded)


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def parse_body(body: bytes, plan: Plan) -> tuple[RunIn, str | None]:
    """The run in a JSON body, checked field by field against the plan's units."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRun("body", "not JSON; send an object like {\"model\": …, \"metrics\": {…}}") from None
    if not isinstance(data, dict):
        raise BadRun("body", "must be a JSON object")
    model = _text(data, "model", required=True)
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise BadRun("metrics", "required: an object of metric name to value, e.g. {\"hallucination_rate\": 4.2}")
    if len(metrics) > MAX_METRICS_IN_RUN:
        raise BadRun("metrics", f"{MAX_METRICS_IN_RUN} values at most")
    fractions = data.get("fractions", [])
    if not isinstance(fractions, list) or not all(isinstance(n, str) for n in fractions):
        raise BadRun("fractions", "a list of metric names whose values are 0-1 fractions")
    values = {_name(name): _value(name, value, plan) for name, value in metrics.items()}
    url = _text(data, "url")
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise BadRun("url", "an http(s) link to the run")
    samples = data.get("samples")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 0):
        raise BadRun("samples", "a whole number of zero or more")
    run = RunIn(model=model or "", values=values, version=_text(data, "version") or "",
                dataset=_text(data, "dataset") or "", url=url, samples=samples,
                fractions=frozenset(_name(n) for n in fractions))
    return run, _text(data, "run_id")


def _text(data: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise BadRun(field, "required")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadRun(field, "must be a string")
    value = str(value).strip()
    if len(value) > MAX_TEXT[field]:
        raise BadRun(field, f"{MAX_TEXT[field]} characters at most")
    return value


def _name(name: str) -> str:
    try:
        return metric_key(name)
    except QualityError as exc:
        raise BadRun(f"metrics.{name[:40]}", str(exc)) from None


def _value(name: str, value: Any, plan: Plan) -> float:
    planned = plan.metric(name) if name.strip() else None
    unit = planned.unit if planned else "score"
    field = f"metrics.{name[:40]}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRun(field, "must be a number or a string like \"4.2%\"")
    try:
        if isinstance(value, str):
            return parse_value(value, unit)
        if not math.isfinite(value):
            raise BadRun(field, "must be a finite number")
        return float(value)
    except QualityError as exc:
        raise BadRun(field, str(exc)) from None


def answer(recorded: Recorded) -> dict[str, Any]:
    """The verdict per metric, and what happened to bugs."""
    run = recorded.run
    return {
        "ok": True,
        "run": {"id": run.id, "model": run.model, "version": run.version, "recorded_before": not recorded.created},
        "go": recorded.assessment.go,
        "metrics": [{"name": o.metric.name, "value": o.value, "target": o.metric.target,
                     "direction": o.metric.direction, "status": o.status, "previous": o.previous}
                    for o in recorded.assessment.outcomes],
        "not_in_plan": sorted(recorded.assessment.unplanned),
        "bugs": {"opened": recorded.opened, "updated": recorded.updated, "closed": recorded.closed},
    }
