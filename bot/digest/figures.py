"""The digest's numbers, gathered once as a JSON-able dict: what the message, the narrative and the one-pager show,
and what an audience's next digest compares itself with ("up from 9", "closed since").

Free text (titles, blockers) is redacted again on the way in and people are names, never `<@U…>`: the figures go
to people outside the team. Each free text also has an `…_llm` twin where a mention reads "a team member": the LLM
gets those (content.llm_facts), never a name. Budgets of private channels are left out (a digest is for outsiders):
only how many there are is said. Lists are short; `counts` says how many there were in all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.budgets import service as budgets
from bot.deps import Deps
from bot.domain import quality as quality_rules
from bot.domain.budget import percent
from bot.domain.grades import GRADES
from bot.domain.pii import redact
from bot.domain.risk import score as risk_score
from bot.domain.text import readable, truncate
from bot.errors import IntegrationUnavailable
from bot.quality import service as quality
from bot.team_locale import team_zone
from storage import digests as repo
from storage.budgets import team_budgets
from storage.db import session_scope
from storage.quality import load_plan

TOP_RISKS = 5
# Risk scores remembered for "up from 9": more than the five shown, so a risk entering the top five is not "new".
REMEMBERED_SCORES = 25
MAX_INCIDENTS = 10
MAX_BLOCKERS = 10
MAX_BUDGETS = 10
BLOCKER_DAYS = 3
DEFAULT_PERIOD_DAYS = 7
TITLE_LIMIT = 90
_PERSON = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def gather(deps: Deps, *, team_id: str, sections: Sequence[str], now: datetime, baseline: dict | None,
           baseline_at: datetime | None, period_days: int | None = None) -> dict[str, Any]:
    """Every figure of the chosen sections as of `now`, measured since `baseline_at` (else the last `period_days`,
    7 when None)."""
    days = period_days or DEFAULT_PERIOD_DAYS
    start = baseline_at if baseline_at is not None and baseline_at < now else now - timedelta(days=days)
    zone = team_zone(deps, team_id)
    today = now.astimezone(zone).date()
    figures: dict[str, Any] = {
        "as_of": now.isoformat(), "since": start.isoformat(), "since_last": baseline_at is not None,
        "period_days": days, "today": today.isoformat(), "zone": zone.key,
        "period_start_day": start.astimezone(zone).date().isoformat(), "sections": [], "counts": {},
    }
    collectors = {"risks": lambda: _risks(deps, team_id, baseline),
                  "bugs": lambda: _bugs(deps, team_id, start, now, zone),
                  "incidents": lambda: _incidents(deps, team_id, start, now, figures["counts"]),
                  "budget": lambda: _budgets(deps, team_id, today, figures["counts"]),
                  "quality": lambda: _quality(deps, team_id),
                  "blockers": lambda: _blockers(deps, team_id, now, figures["counts"])}
    for section in sections:
        value = collectors[section]()
        if section == "quality" and value is None:
            continue  # no quality plan: the section is left out, silently
        figures[section] = value
        figures["sections"].append(section)
    return figures


def _text(deps: Deps, value: str | None) -> str:
    """Stored text as outsiders may read it: redacted (again), mentions spelt as names, one line, short."""
    return truncate(" ".join(readable(redact(value or "").text, deps.names).split()), TITLE_LIMIT)


def _neutral(value: str | None) -> str:
    """Stored text as the LLM may read it: like `_text`, but a mentioned person is "a team member"."""
    return truncate(" ".join(readable(_PERSON.sub("a team member", redact(value or "").text)).split()), TITLE_LIMIT)


def person(deps: Deps, user_id: str | None) -> str:
    """A person's name for outsiders (never a mention that would ping)."""
    if not user_id:
        return "unassigned"
    return deps.names(user_id) or "a team member"


# --- risks ------------------------------------------------------------------------------------------------------


def _risks(deps: Deps, team_id: str, baseline: dict | None) -> dict[str, Any]:
    with session_scope(deps.engine) as session:
        ranked = repo.top_risks(session, team_id=team_id, limit=REMEMBERED_SCORES)
        before = (baseline or {}).get("risks") or {}
        earlier_top = [r["id"] for r in before.get("top", [])]
        statuses = repo.risk_statuses(session, team_id=team_id, readable_ids=earlier_top)
    was_scores: dict[str, int] = before.get("scores", {})
    # A baseline without risks (its plan did not show them) knows no scores: nothing is "new" against it.
    known = baseline is not None and "risks" in baseline
    top = []
    for risk in ranked[:TOP_RISKS]:
        now_score = risk_score(risk.probability, risk.impact) or 0
        top.append({"id": risk.readable_id, "title": _text(deps, risk.title), "title_llm": _neutral(risk.title),
                    "owner": person(deps, risk.owner_id), "score": now_score, "was": was_scores.get(risk.readable_id),
                    "change": _change(now_score, was_scores.get(risk.readable_id), known=known)})
    return {"top": top,
            "closed_since": [rid for rid in earlier_top if statuses.get(rid) == "closed"],
            "scores": {r.readable_id: risk_score(r.probability, r.impact) or 0 for r in ranked}}


def _change(score: int, was: int | None, *, known: bool) -> str:
    """new | up | down | same, or "" when there is no earlier digest to compare with."""
    if not known:
        return ""
    if was is None:
        return "new"
    return "up" if score > was else "down" if score < was else "same"


# --- bugs -------------------------------------------------------------------------------------------------------


def _bugs(deps: Deps, team_id: str, start: datetime, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    with session_scope(deps.engine) as session:
        opened = repo.bugs_opened_by_grade(session, team_id=team_id, start=start, end=now)
        closed = repo.bugs_closed_by_grade(session, team_id=team_id, start=start, end=now)
        oldest = repo.oldest_open_bug(session, team_id=team_id, grade=1)
    critical = None
    if oldest is not None:
        critical = {"id": oldest.readable_id, "title": _text(deps, oldest.title), "title_llm": _neutral(oldest.title),
                    "opened": oldest.created_at.isoformat(),
                    "opened_day": oldest.created_at.astimezone(zone).date().isoformat(),  # the team's day
                    "age_days": (now - oldest.created_at).days}
    return {"opened": _by_grade(opened), "closed": _by_grade(closed), "oldest_critical": critical}


def _by_grade(counts: dict[int | None, int]) -> dict[str, int]:
    """Counts keyed "1".."5" (every grade, zeros included) and "ungraded" when some are not graded yet."""
    found = {str(g): counts.get(g, 0) for g in GRADES}
    ungraded = sum(n for g, n in counts.items() if g not in GRADES)
    if ungraded:
        found["ungraded"] = ungraded
    return found


# --- incidents --------------------------------------------------------------------------------------------------


def _incidents(deps: Deps, team_id: str, start: datetime, now: datetime,
               counts: dict[str, int]) -> list[dict[str, Any]]:
    with session_scope(deps.engine) as session:
        # The latest ones when there are more than fit, shown oldest first.
        found = repo.incidents_overlapping(session, team_id=team_id, start=start, end=now, limit=MAX_INCIDENTS)[::-1]
        actions = repo.action_counts(session, incident_ids=[i.id for i in found])
        counts["incidents"], counts["incidents_ongoing"] = repo.count_incidents_overlapping(
            session, team_id=team_id, start=start, end=now)
    listed = []
    for incident in found:
        ongoing = incident.resolved_at is None
        end = now if ongoing else incident.resolved_at
        open_, done = actions.get(incident.id, (0, 0))
        listed.append({"id": incident.readable_id, "title": _text(deps, incident.title),
                       "title_llm": _neutral(incident.title), "grade": incident.grade,
                       "status": incident.status, "declared_at": incident.declared_at.isoformat(),
                       "resolved_at": None if ongoing else incident.resolved_at.isoformat(),
                       "minutes": max(0, int((end - incident.declared_at).total_seconds() // 60)),
                       "ongoing": ongoing, "actions_open": open_, "actions_done": done})
    return listed


# --- budgets ----------------------------------------------------------------------------------------------------


def _budgets(deps: Deps, team_id: str, today: date, counts: dict[str, int]) -> list[dict[str, Any]]:
    with session_scope(deps.engine) as session:
        found = team_budgets(session, team_id=team_id)
    public = [b for b in found if not _private(deps, b.channel_id)]
    counts["budget"], counts["budget_private"] = len(public), len(found) - len(public)
    listed = []
    for budget in public[:MAX_BUDGETS]:
        snap = budgets.snapshot(deps, budget, today)  # the /budget math, not a copy of it
        forecast = snap.forecast.amount
        listed.append({"name": deps.names(budget.channel_id) or "a project channel", "currency": budget.currency,
                       "amount": str(budget.amount), "spent": str(snap.spent),
                       "percent": percent(snap.spent, Decimal(budget.amount)),
                       "forecast": None if forecast is None else str(forecast),
                       "forecast_percent": None if forecast is None else percent(forecast, Decimal(budget.amount)),
                       "forecast_reliable": snap.forecast.reliable,
                       "runs_out": snap.runs_out.isoformat() if snap.runs_out else None,
                       "period_start": snap.period.start.isoformat(), "period_end": snap.period.end.isoformat()})
    return listed


def _private(deps: Deps, channel_id: str) -> bool:
    """Whether a channel is private; when Slack cannot say, it is taken as private (nothing leaks)."""
    try:
        return bool(deps.slack.channel_info(channel_id).get("is_private", True))
    except IntegrationUnavailable:
        return True


# --- quality ----------------------------------------------------------------------------------------------------


def _quality(deps: Deps, team_id: str) -> dict[str, Any] | None:
    with session_scope(deps.engine) as session:
        planned = load_plan(session, team_id=team_id)
    if planned is None:
        return None
    plan = planned[1]
    found = quality.latest(deps, team_id)
    if found is None:
        return {"model": None, "version": None, "metrics": [
            {"name": m.label, "value": None, "target": m.target_text(), "status": "missing"} for m in plan.metrics]}
    run, before = found
    assessment = quality_rules.assess(plan, run.metrics, before.metrics if before else None)
    return {"model": _text(deps, run.model), "model_llm": _neutral(run.model),
            "version": _text(deps, run.version) or None, "version_llm": _neutral(run.version) or None, "metrics": [
        {"name": o.metric.label,
         "value": None if o.value is None else quality_rules.show(o.value, o.metric.unit),
         "target": o.metric.target_text(), "status": o.status} for o in assessment.outcomes]}


def _zone(name: str, deps: Deps, team_id: str) -> ZoneInfo:
    """A stand-up's zone; the team's if the stored name is not one this machine knows."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return team_zone(deps, team_id)


# --- stand-up blockers ------------------------------------------------------------------------------------------


def _blockers(deps: Deps, team_id: str, now: datetime, counts: dict[str, int]) -> list[dict[str, Any]]:
    """A blocker's first day is a day in its stand-up's zone: its age is counted from "today" there too."""
    with session_scope(deps.engine) as session:
        zones = repo.standup_zones(session, team_id=team_id)
        today = {z: now.astimezone(_zone(z, deps, team_id)).date() for z in zones}
        before = {z: day - timedelta(days=BLOCKER_DAYS) for z, day in today.items()}
        found = repo.old_blockers(session, team_id=team_id, first_day_before=before, limit=MAX_BLOCKERS)
        counts["blockers"] = repo.count_old_blockers(session, team_id=team_id, first_day_before=before)
    return [{"who": person(deps, b.user_id), "what": _text(deps, b.text), "what_llm": _neutral(b.text),
             "since": b.first_day.isoformat(), "days": (today[zone] - b.first_day).days} for b, zone in found]
