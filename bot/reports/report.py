"""`/pmbot report [from] [to]`: the project's report over a period as a markdown file — the closing report the guide
describes: budget against actual, bugs and incidents over time, risks closed and accepted, quality against the plan,
and a place for the lessons learned, which are the team's to write.

Dates are the team's (`/pmbot settings` time zone); the figures are counted by the database (storage/reports.py).
The incident response times are the ones `/incident stats` gives (its measures and percentiles), over the period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from bot.budgets.service import period_entries, snapshot
from bot.deps import Deps
from bot.domain import budget as budget_rules
from bot.domain import incident_actions as rules
from bot.domain.grades import GRADES
from bot.domain.incident import INCIDENT_GRADES, duration
from bot.domain.quality import show
from bot.domain.risk import band, score
from bot.errors import SlackError
from bot.incidents.stats import MEASURES
from bot.reports import markdown as md
from bot.reports.period import Span, buckets, local_midnight, weekly
from storage.budgets import team_budgets
from storage.db import session_scope
from storage.incidents import declared_between
from storage.models import Budget, Incident, Risk
from storage.quality import load_plan
from storage.reports import (
    RiskMove,
    breach_counts,
    bug_flow,
    bugs_open_at,
    close_times,
    follow_up_counts,
    risk_moves,
    risks_open_at,
    runs_between,
)

OPEN_RISKS_SHOWN = 20
INCIDENTS_SHOWN = 100
BUG_GRADES: tuple[int | None, ...] = (*GRADES, None)


@dataclass(frozen=True)
class Report:
    filename: str
    title: str
    content: bytes


def build(deps: Deps, *, team_id: str, channel_id: str, span: Span, zone: tzinfo) -> Report:
    """The report of the team's project over `span`, as markdown."""
    start, end = span.edges(zone)
    now = deps.clock()
    names = deps.names
    channel = names(channel_id) if channel_id else None
    where = f"#{channel}" if channel else "this team"
    lines = [f"# Project report — {md.text(where)}", "",
             f"- **Period:** {span.label()} (team time, {md.text(str(zone))}; both days included)",
             f"- **Generated:** {now.astimezone(zone):%Y-%m-%d %H:%M} team time", ""]
    body: list[str] = []
    summary: list[str] = []
    body += _budgets(deps, team_id, channel_id, span, summary)
    # The rows are read first and the session closed before people are named: a name may take a Slack call.
    with session_scope(deps.engine) as session:
        body += _bugs(session, team_id, span, zone, start, end, summary)
        incidents = declared_between(session, team_id=team_id, start=start, end=end)
        follow_ups = follow_up_counts(session, incident_ids=[i.id for i in incidents if not i.drill])
        closed = _latest(risk_moves(session, team_id=team_id, statuses=("closed",), start=start, end=end))
        accepted = _latest(risk_moves(session, team_id=team_id, statuses=("accepted",), start=start, end=end))
        still_open = risks_open_at(session, team_id=team_id, at=end, limit=OPEN_RISKS_SHOWN)
    body += _incidents(incidents, follow_ups, span, zone, now, names, summary)
    body += _risks(closed, accepted, still_open, zone, names, summary)
    with session_scope(deps.engine) as session:
        body += _quality(session, team_id, start, end, summary)
    lines += ["## Summary", "", *[f"- {line}" for line in summary], "", *body]
    lines += ["## Lessons learned", "",
              "_The team writes this part: the figures above say what happened, not why._", "",
              "- **What went well:** ", "- **What did not go well:** ", "- **What we would do differently:** ",
              "- **What the next project should keep:** ", ""]
    filename = f"project-report-{span.start:%Y%m%d}-{span.end:%Y%m%d}.md"
    return Report(filename, f"Project report {span.label()}", "\n".join(lines).encode("utf-8"))


# --- budget vs actual -------------------------------------------------------------------------------------------


def _budgets(deps: Deps, team_id: str, channel_id: str, span: Span, summary: list[str]) -> list[str]:
    """Each budget the file may show: the one of the channel it is posted in and those of public channels (a budget
    of another private channel is not for everyone who reads this one)."""
    lines = ["## Budget vs actual", ""]
    with session_scope(deps.engine) as session:
        budgets = team_budgets(session, team_id=team_id)
    if not budgets:
        summary.append("Budget: no budget is set (`/budget set`).")
        return [*lines, "No budget is set for this team.", ""]
    public: dict[str, bool] = {}  # per channel, asked once per report
    shown = [b for b in budgets if b.channel_id == channel_id or _public(deps, b.channel_id, public)]
    for budget in shown:
        lines += _budget(deps, budget, span, summary)
    left_out = len(budgets) - len(shown)
    if left_out:
        note = (f"{left_out} budgets of private channels are" if left_out != 1
                else "1 budget of a private channel is") + " left out of this file: see `/budget` there."
        lines += [note, ""]
        summary.append(f"Budget: {note}")
    return lines


def _public(deps: Deps, channel_id: str, known: dict[str, bool]) -> bool:
    """Whether a channel is public, by Slack; one Slack can not describe counts as private (left out)."""
    if channel_id not in known:
        try:
            known[channel_id] = deps.slack.channel_info(channel_id).get("is_private") is False
        except SlackError:
            known[channel_id] = False
    return known[channel_id]


def budget_periods(budget: Budget, span: Span) -> list[budget_rules.Period]:
    """The budget's periods (months, quarters, or the project's dates) that overlap the report period, in order."""
    found: list[budget_rules.Period] = []
    day = span.start
    while day <= span.end:
        try:
            period = budget_rules.period_for(budget.period, day, project_start=budget.project_start,
                                             project_end=budget.project_end)
        except budget_rules.MoneyError:
            break
        if period.end < day or period.start > span.end or period in found:
            break  # a project's dates lie outside the rest of the report period
        found.append(period)
        day = period.end + timedelta(days=1)
    return found


def _budget(deps: Deps, budget: Budget, span: Span, summary: list[str]) -> list[str]:
    """One budget: a row per budget period the report period touches (its amount against its spend, to its end or
    the report's), a row per category, then the budget period holding the report's last day as `/budget` gives it."""
    def m(amount: Decimal) -> str:
        return budget_rules.money(amount, budget.currency)

    periods = budget_periods(budget, span)
    first = min([span.start, *(p.start for p in periods)])
    known, llm_note = period_entries(deps, budget, first, span.end)
    in_report = [e for e in known if span.start <= e.day <= span.end]
    channel = deps.names(budget.channel_id)
    name = md.text("#" + channel if channel else budget.channel_id)
    lines = [f"### Budget of {name}: {m(budget.amount)} per {budget.period}", ""]
    rows, budgeted, report_total, periods_total, overspent = [], Decimal(0), Decimal(0), Decimal(0), 0
    for period in periods:
        until = min(period.end, span.end)
        in_both = budget_rules.spent([e for e in in_report if period.start <= e.day <= until])
        to_end = budget_rules.spent([e for e in known if period.start <= e.day <= until])
        partial = period.start < span.start or period.end > span.end
        label = f"{period.start:%d %b %Y} – {period.end:%d %b %Y}" + (" (partial)" if partial else "")
        if to_end > budget.amount:
            state, overspent = f"overspent by {m(to_end - budget.amount)}", overspent + 1
        elif period.end <= span.end:
            state = f"ended with {m(budget.amount - to_end)} left"
        else:
            state = f"running, {m(budget.amount - to_end)} left on {until:%d %b}"
        rows.append([label, m(budget.amount), m(in_both), m(to_end), budget_rules.percent(to_end, budget.amount),
                     state])
        budgeted, report_total, periods_total = budgeted + budget.amount, report_total + in_both, periods_total + to_end
    used = budget_rules.percent(periods_total, budgeted)
    if rows:
        rows.append(["**Total**", m(budgeted), f"**{m(report_total)}**", f"**{m(periods_total)}**", used,
                     f"{overspent} overspent" if overspent else ""])
        lines += [*md.table(["Budget period", "Budgeted", "Actual in the report period",
                             "Actual in the budget period (to its end or the report's)", "% used", "State"], rows),
                  ""]
        if any(p.start < span.start or p.end > span.end for p in periods):
            lines += ["A partial budget period begins before the report period or ends after it: its whole budget "
                      "is counted, and its spend from its first day.", ""]
    else:
        lines += ["No period of this budget overlaps the report period.", ""]
    lines += _categories(deps, budget, span, budget_rules.by_category(in_report), m)
    if llm_note:  # pmbot's own LLM calls are counted as api, as `/budget` counts them
        lines.append(f"- Note: {md.text(llm_note)}.")
    lines.append("")
    spent_text = f"{m(report_total)} spent in the report period"
    summary.append(f"Budget of {name}: {spent_text}; {used} of the {m(budgeted)} budgeted for the {len(periods)} "
                   f"budget period{'s' if len(periods) != 1 else ''} it touches"
                   + (f" ({overspent} overspent)." if overspent else "."))
    return lines


def _categories(deps: Deps, budget: Budget, span: Span, in_report: dict[str, Decimal], m) -> list[str]:
    """Per category the report period's spend, and the cap against the budget period holding the report's last
    day; then that budget period's spend, forecast and end as of that day (the numbers `/budget` gives)."""
    snap = snapshot(deps, budget, span.end)
    caps = {k: Decimal(str(v)) for k, v in (budget.caps or {}).items()}
    rows = []
    for category in sorted(set(in_report) | set(snap.by_category) | set(caps)):
        cap, to_date = caps.get(category), snap.by_category.get(category, Decimal(0))
        rows.append([md.text(category), m(cap) if cap is not None else "—", m(in_report.get(category, Decimal(0))),
                     m(to_date), budget_rules.percent(to_date, cap) if cap is not None else "—"])
    rows.append(["**All**", "—", f"**{m(sum(in_report.values(), Decimal(0)))}**", f"**{m(snap.spent)}**", "—"])
    used = budget_rules.percent(snap.spent, budget.amount)
    lines = [*md.table(["Category", "Cap per budget period", "Actual in the report period",
                        f"Actual in the budget period to {snap.today:%d %b}", "% of the cap used"], rows), "",
             f"- Budget period {snap.period.start:%d %b} – {snap.period.end:%d %b %Y}, as of {snap.today:%d %b %Y}: "
             f"spent {m(snap.spent)}, {used} of {m(budget.amount)}."]
    if snap.spent > budget.amount:
        lines.append(f"- Overspent by {m(snap.spent - budget.amount)}.")
    elif snap.today >= snap.period.end:
        lines.append(f"- The budget period ended on {snap.period.end:%d %b %Y} with {m(budget.amount - snap.spent)} "
                     "left.")
    else:
        forecast = snap.forecast
        if forecast.amount is not None:
            lines.append(f"- Forecast at the budget period's end: {m(forecast.amount)} "
                         f"({budget_rules.percent(forecast.amount, budget.amount)})"
                         + ("" if forecast.reliable else f" — too early to rely on: {forecast.rule}") + ".")
        if snap.spent == budget.amount:
            lines.append("- The budget is spent in full.")
        else:
            lines.append(f"- At that rate the budget runs out on {snap.runs_out:%d %b %Y}." if snap.runs_out
                         else "- At that rate the budget lasts the period.")
    return lines


# --- bugs -------------------------------------------------------------------------------------------------------


def _grade_name(grade: int | None) -> str:
    return f"{grade} {GRADES[grade].label}" if grade in GRADES else "ungraded"


def _bugs(session, team_id: str, span: Span, zone: tzinfo, start: datetime, end: datetime,
          summary: list[str]) -> list[str]:
    firsts = buckets(span)
    opened, closed = bug_flow(session, team_id=team_id, edges=[local_midnight(day, zone) for day in firsts] + [end])
    open_at_end = bugs_open_at(session, team_id=team_id, at=end)
    # The ungraded column only when there are ungraded bugs (a report still being graded).
    grades = [g for g in BUG_GRADES if g is not None or None in {k[1] for k in (*opened, *closed)} | set(open_at_end)]
    labels = [f"{first:%Y-%m-%d}" if weekly(span) else f"{first:%b %Y}" for first in firsts]
    lines = ["## Bugs over time", "", f"Counted per {'week (Monday to Sunday)' if weekly(span) else 'month'}; "
             "the first and last may be partial. A bug reopened since is counted by its state now: a close it had in "
             "the period is not counted, and it counts as open at the end.", "",
             *_flow_table("Opened", opened, labels, grades, "Week of" if weekly(span) else "Month"),
             *_flow_table("Closed", closed, labels, grades, "Week of" if weekly(span) else "Month"),
             f"### Open at the end of the period ({span.end:%d %b %Y})", "",
             *md.table(["Grade", "Open"], [[_grade_name(g), str(open_at_end.get(g, 0))] for g in grades]
                       + [["**All**", f"**{sum(open_at_end.values())}**"]]), ""]
    lines += _close_times(close_times(session, team_id=team_id, start=start, end=end), grades)
    summary.append(f"Bugs: {sum(opened.values())} reported, {sum(closed.values())} closed; "
                   f"{sum(open_at_end.values())} open at the end ({open_at_end.get(1, 0)} critical).")
    return lines


def _flow_table(title: str, counts: dict[tuple[int, int | None], int], labels: list[str], grades: list[int | None],
                unit: str) -> list[str]:
    """Bugs per bucket (a row) and grade (a column), with totals."""
    rows = []
    for index, label in enumerate(labels):
        per = [counts.get((index, g), 0) for g in grades]
        rows.append([label, *map(str, per), str(sum(per))])
    totals = [sum(counts.get((i, g), 0) for i in range(len(labels))) for g in grades]
    rows.append(["**Total**", *map(str, totals), f"**{sum(totals)}**"])
    return [f"### {title}", "", *md.table([unit, *[f"Grade {_grade_name(g)}" for g in grades], "All"], rows), ""]


def _close_times(times: list[tuple[int | None, float]], grades: list[int | None]) -> list[str]:
    by_grade: dict[int | None, list[float]] = defaultdict(list)
    for grade, seconds in times:
        by_grade[grade].append(seconds)
    rows = [[_grade_name(g), str(len(by_grade[g])), rules.short_duration(rules.median(by_grade[g]))]
            for g in grades if by_grade.get(g)]
    lines = ["### Time to close (bugs closed in the period, from report to close)", ""]
    return [*lines, *md.table(["Grade", "Closed", "Median time to close"], rows), ""] if rows else \
        [*lines, "No bug was closed in the period.", ""]


# --- incidents --------------------------------------------------------------------------------------------------


def _incidents(found: list[Incident], follow_ups: dict[int, tuple[int, int]], span: Span, zone: tzinfo,
               now: datetime, names, summary: list[str]) -> list[str]:
    real = [i for i in found if not i.drill]
    drills = len(found) - len(real)
    lines = ["## Incidents over time", "", f"Drills are not counted ({drills} in the period)." if drills
             else "Drills are not counted.", ""]
    if not real:
        summary.append("Incidents: none.")
        return [*lines, "No incident was declared in the period.", ""]
    lines += _incident_list(real, follow_ups, zone, now, names)
    lines += _per_bucket(real, span, zone)
    lines += _response_times(real)
    grades = Counter(i.grade for i in real)
    open_follow_ups = sum(o for o, _ in follow_ups.values())
    summary.append(f"Incidents: {len(real)} (" + ", ".join(f"grade {g}: {grades[g]}" for g in INCIDENT_GRADES)
                   + f"); {open_follow_ups} follow-up{'s' if open_follow_ups != 1 else ''} still open.")
    return lines


def _incident_list(real: list[Incident], follow_ups: dict[int, tuple[int, int]], zone: tzinfo, now: datetime,
                   names) -> list[str]:
    rows = []
    for incident in real[-INCIDENTS_SHOWN:]:
        open_count, done = follow_ups.get(incident.id, (0, 0))
        lasted = duration(incident.declared_at, incident.resolved_at) if incident.resolved_at \
            else f"not resolved ({incident.status}), open for " \
                 f"{rules.short_duration(rules.seconds_between(incident.declared_at, now))}"
        rows.append([incident.readable_id, md.text(incident.title, names), str(incident.grade),
                     f"{incident.declared_at.astimezone(zone):%Y-%m-%d %H:%M}", md.text(lasted),
                     f"{open_count} / {done}"])
    shown = [f"The latest {INCIDENTS_SHOWN} of {len(real)} are listed.", ""] if len(real) > INCIDENTS_SHOWN else []
    return [*shown, *md.table(["Incident", "Title", "Grade", "Declared", "Duration", "Follow-ups open / done"], rows),
            ""]


def _per_bucket(real: list[Incident], span: Span, zone: tzinfo) -> list[str]:
    """Incidents per week or month by grade: the buckets of the bugs' tables, every one listed, empty or not."""
    firsts = buckets(span)
    counts: list[Counter] = [Counter() for _ in firsts]
    for incident in real:
        day = incident.declared_at.astimezone(zone).date()
        counts[max(i for i, first in enumerate(firsts) if first <= day)][incident.grade] += 1
    labels = [f"{first:%Y-%m-%d}" if weekly(span) else f"{first:%b %Y}" for first in firsts]
    rows = [[label, *[str(count[g]) for g in INCIDENT_GRADES], str(sum(count.values()))]
            for label, count in zip(labels, counts, strict=True)]
    title, unit = ("Per week", "Week of") if weekly(span) else ("Per month", "Month")
    return [f"### {title}", "", *md.table([unit, *[f"Grade {g}" for g in INCIDENT_GRADES], "All"], rows), ""]


def _response_times(real: list[Incident]) -> list[str]:
    """The measures of `/incident stats` (its columns, its median and nearest-rank p90) over the period."""
    rows = []
    for label, column in MEASURES:
        values = [s for s in (rules.seconds_between(i.declared_at, getattr(i, column)) for i in real) if s is not None]
        rows.append([f"Time to {label}", rules.short_duration(rules.median(values)),
                     rules.short_duration(rules.p90(values)), str(len(values))])
    return ["### Response times", "", "From the declaration to the first action in the war room (acknowledge), "
            "to status mitigated, and to resolved, as `/incident stats` measures them; over the incidents that got "
            "there.", "", *md.table(["Measure", "Median", "p90", "Incidents"], rows), ""]


# --- risks ------------------------------------------------------------------------------------------------------


def _score_text(probability: int | None, impact: int | None) -> str:
    value = score(probability, impact)
    return f"{value} ({band(value)})" if value else "not scored"


def _latest(moves: list[RiskMove]) -> list[RiskMove]:
    """One line per risk (closed, reopened and closed again in the period): its last move, in time order."""
    last = {move.risk.id: move for move in moves}
    return sorted(last.values(), key=lambda move: move.at)


def _risks(closed: list[RiskMove], accepted: list[RiskMove], open_at_end: tuple[list[tuple[Risk, str]], int],
           zone: tzinfo, names, summary: list[str]) -> list[str]:
    still_open, open_total = open_at_end
    lines = ["## Risks", "", "### Closed in the period", ""]
    lines += [*md.table(["Risk", "Title", "Closed on", "By", "Why"], [
        [m.risk.readable_id, md.text(m.risk.title, names), f"{m.at.astimezone(zone):%Y-%m-%d}",
         md.person(m.user_id, names),
         md.text(m.risk.close_reason if m.risk.status == "closed" else "", names)] for m in closed]), ""] \
        if closed else ["None.", ""]
    lines += ["### Accepted in the period", ""]
    lines += [*md.table(["Risk", "Title", "Score", "Accepted on", "By", "Until", "Why"], [
        [m.risk.readable_id, md.text(m.risk.title, names), _score_text(m.risk.probability, m.risk.impact),
         f"{m.at.astimezone(zone):%Y-%m-%d}", md.person(m.user_id, names),
         f"{m.risk.accepted_until:%Y-%m-%d}" if m.risk.status == "accepted" and m.risk.accepted_until else "—",
         md.text(m.risk.close_reason if m.risk.status == "accepted" else "", names)] for m in accepted]), ""] \
        if accepted else ["None.", ""]
    lines += ["### Still open at the end of the period, by score", ""]
    if still_open:
        if open_total > len(still_open):
            lines += [f"The {len(still_open)} highest of {open_total}.", ""]
        lines += [*md.table(["Risk", "Title", "Score", "Status then", "Owner"], [
            [r.readable_id, md.text(r.title, names), _score_text(r.probability, r.impact), md.text(status),
             md.person(r.owner_id, names)] for r, status in still_open]), ""]
    else:
        lines += ["None.", ""]
    summary.append(f"Risks: {len(closed)} closed, {len(accepted)} accepted in the period; "
                   f"{open_total} open at the end.")
    return lines


# --- quality ----------------------------------------------------------------------------------------------------


def _quality(session, team_id: str, start: datetime, end: datetime, summary: list[str]) -> list[str]:
    found = load_plan(session, team_id=team_id)
    if found is None:
        return []  # no Quality Management Plan: nothing to report against
    _row, plan = found
    runs = runs_between(session, team_id=team_id, start=start, end=end)
    opened, closed, open_at_end = breach_counts(session, team_id=team_id, start=start, end=end)
    lines = ["## Quality against the plan", "", f"{len(runs)} eval run{'s' if len(runs) != 1 else ''} recorded in "
             "the period.", ""]
    per_model: dict[str, list] = defaultdict(list)
    for run in runs:  # oldest first: each model's last run is its latest
        per_model[run.model].append(run)
    rows = []
    passing: dict[str, int] = {}
    for model, model_runs in sorted(per_model.items()):
        passing[model] = 0
        for metric in plan.metrics:
            measured = [(run, run.metrics[metric.name]) for run in model_runs
                        if isinstance(run.metrics.get(metric.name), (int, float))]
            within = sum(1 for _, value in measured if metric.passes(float(value)))
            latest = measured[-1] if measured else None
            ok = latest is not None and metric.passes(float(latest[1]))
            verdict = "—" if latest is None else ("within target" if ok else "**off target**")
            passing[model] += ok
            rows.append([md.text(metric.name), md.text(model), md.text(metric.target_text()), str(len(measured)),
                         f"{within} of {len(measured)}" if measured else "—",
                         md.text(f"{show(float(latest[1]), metric.unit)} ({latest[0].version})".replace(" ()", ""))
                         if latest else "—", verdict])
    if rows:
        lines += ["One row per metric and model: a model's runs are measured against the plan on their own.", "",
                  *md.table(["Metric", "Model", "Target", "Runs", "Within target", "Latest", "Latest verdict"], rows),
                  ""]
    lines += [f"Breaches: {opened} opened and {closed} closed in the period; {open_at_end} open at its end.", ""]
    within = "; ".join(f"{md.text(model)} {count} of {len(plan.metrics)}" for model, count in passing.items())
    summary.append(f"Quality: metrics within target at each model's latest run: {within or 'no run'}; "
                   f"{opened} breach{'es' if opened != 1 else ''} opened.")
    return lines
