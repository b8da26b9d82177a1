"""`/incident stats [month|quarter]`: how many incidents of each grade, how fast they were acknowledged, mitigated
and resolved, their follow-ups, the trend against the period before, and a chart. Drills are reported apart, by
their scorecards, and never counted in the real figures.

The period is rolling: `month` is the last 30 days up to now, `quarter` the last 90; the trend compares it with the
30 (90) days before. Times are measured from the declaration:
- to acknowledge: until the first thing a person did in the war room (a note, an update, a ticked step, a role);
- to mitigate: until the incident became *mitigated* (the rollback step ticked);
- to resolve: until it was resolved.
Each median and 90th percentile (nearest rank) is over the incidents that reached that point.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.deps import Deps
from bot.domain import incident_actions as rules
from bot.domain.incident import INCIDENT_GRADES, duration
from bot.errors import SlackError, UserInputError
from bot.team_locale import team_today
from storage.db import session_scope
from storage.incidents import actions_of, declared_between, tasks_of
from storage.models import Incident, IncidentAction, IncidentTask

logger = logging.getLogger(__name__)

HELP = ("incidents per grade, median and p90 time to acknowledge / mitigate / resolve (from the declaration to the "
        "first action in the war room / status mitigated / resolved), follow-ups, trend, a chart; drills apart "
        "(month: the last 30 days, quarter: the last 90)")
MEASURES = (("acknowledge", "acknowledged_at"), ("mitigate", "mitigated_at"), ("resolve", "resolved_at"))


@dataclass(frozen=True)
class Stats:
    """What `/incident stats` says, and what its chart draws."""

    text: str
    real: list[Incident]
    span: rules.Window


def report(deps: Deps, *, team_id: str, period: str) -> Stats:
    """The figures of the period (`month` or `quarter`), as text, and the real incidents for the chart."""
    if period not in rules.PERIODS:
        raise UserInputError("Stats cover a `month` (the last 30 days) or a `quarter` (the last 90).")
    now = deps.clock()
    span = rules.window(period, now)
    with session_scope(deps.engine) as session:
        found = declared_between(session, team_id=team_id, start=span.previous.start, end=span.end)
        current = [i for i in found if i.declared_at >= span.start]
        real = [i for i in current if not i.drill]
        drills = [i for i in current if i.drill]
        before = [i for i in found if i.declared_at < span.start and not i.drill]
        actions = actions_of(session, incident_ids=[i.id for i in real])
        drill_tasks = tasks_of(session, incident_ids=[i.id for i in drills])
    today = team_today(deps, team_id, now)
    lines = [f"*Incidents — the last {(span.end - span.start).days} days* "
             f"({span.start:%Y-%m-%d} – {span.end:%Y-%m-%d}, drills not counted)"]
    lines += _counts(real, before)
    lines += _times(real, before)
    lines.append(_follow_ups(actions, today))
    lines += drill_lines(drills, drill_tasks)
    lines.append("_Times run from the declaration to the first action in the war room (acknowledge), to status "
                 "mitigated, and to resolved; medians and p90 are over the incidents that got there._")
    return Stats("\n".join(lines), real, span)


def _counts(real: list[Incident], before: list[Incident]) -> list[str]:
    if not real:
        return [f"No incidents in this period ({rules.trend(0, len(before))})."]
    now = Counter(i.grade for i in real)
    grades = " · ".join(f"grade {g}: {now[g]}" for g in INCIDENT_GRADES)
    return [f"*{len(real)} incident{'s' if len(real) != 1 else ''}* ({rules.trend(len(real), len(before))}) — {grades}"]


def _times(real: list[Incident], before: list[Incident]) -> list[str]:
    lines = []
    for label, column in MEASURES:
        values = _seconds(real, column)
        earlier = rules.median(_seconds(before, column))
        was = f" · before: median {rules.short_duration(earlier)}" if earlier is not None else ""
        lines.append(f"• Time to {label}: median {rules.short_duration(rules.median(values))}, "
                     f"p90 {rules.short_duration(rules.p90(values))} (n={len(values)}){was}")
    return lines


def _seconds(incidents: list[Incident], column: str) -> list[float]:
    found = (rules.seconds_between(i.declared_at, getattr(i, column)) for i in incidents)
    return [s for s in found if s is not None]


def _follow_ups(actions: list[IncidentAction], today: date) -> str:
    done = sum(1 for a in actions if a.done_at)
    overdue = sum(1 for a in actions if not a.done_at and a.due_on and a.due_on < today)
    return (f"• Follow-up actions of these incidents: {len(actions) - done} open ({overdue} overdue), {done} done"
            if actions else "• Follow-up actions of these incidents: none")


# The latest drills listed; the count says how many there were.
DRILLS_SHOWN = 10


def drill_lines(drills: list[Incident], items: list[IncidentTask]) -> list[str]:
    """The drills' scorecards, oldest first, the latest DRILLS_SHOWN of them."""
    if not drills:
        return ["*Drills*: none in this period."]
    lines = [f"*Drills* ({len(drills)}, apart from the figures above) — scorecards over time:"]
    earlier = max(0, len(drills) - DRILLS_SHOWN)  # the reply stays readable (and within Slack's limits)
    if earlier:
        lines.append(f"• … {earlier} earlier drill{'s' if earlier != 1 else ''} not shown")
    for drill in drills[earlier:]:
        own = [t for t in items if t.incident_id == drill.id]
        rollback = next((t for t in own if t.key == "rollback"), None)
        done = sum(1 for t in own if t.done_at)
        lines.append(f"• {drill.declared_at:%Y-%m-%d} {drill.readable_id} {drill.scenario or ''}: acknowledged "
                     f"{duration(drill.declared_at, drill.acknowledged_at)}, first update "
                     f"{duration(drill.declared_at, drill.first_update_at)}, rollback step "
                     f"{duration(drill.declared_at, rollback.done_at if rollback else None)}, checklist "
                     f"{done}/{len(own)}" + _drill_end(drill))
    return lines


def _drill_end(drill: Incident) -> str:
    if drill.status != "resolved":
        return " (still running)"
    # Resolving acknowledges, so a resolved drill nobody acknowledged is one that ended by itself.
    return " (nobody responded: it ended by itself)" if drill.acknowledged_at is None else ""


# --- the chart ------------------------------------------------------------------------------------------


def weekly_counts(real: list[Incident], start: datetime, end: datetime) -> tuple[list[date], dict[int, list[int]]]:
    """The Mondays of the weeks from `start` to `end`, and per grade the incidents declared each week."""
    weeks = []
    monday = rules.week_start(start.date())
    while monday <= end.date():
        weeks.append(monday)
        monday += timedelta(days=7)
    counts = {g: [0] * len(weeks) for g in INCIDENT_GRADES}
    for incident in real:
        position = (rules.week_start(incident.declared_at.date()) - weeks[0]).days // 7
        if 0 <= position < len(weeks) and incident.grade in counts:
            counts[incident.grade][position] += 1
    return weeks, counts


def chart_png(real: list[Incident], span: rules.Window) -> bytes:
    """Incidents per week, stacked by grade."""
    from bot.charts import render

    weeks, counts = weekly_counts(real, span.start, span.end)
    colours = {1: "#c0392b", 2: "#e67e22", 3: "#f1c40f"}

    def draw(figure) -> None:
        axes = figure.add_subplot()
        bottom = [0] * len(weeks)
        positions = list(range(len(weeks)))
        for grade in INCIDENT_GRADES:
            axes.bar(positions, counts[grade], bottom=bottom, color=colours[grade], label=f"grade {grade}")
            bottom = [b + c for b, c in zip(bottom, counts[grade], strict=True)]
        axes.set_xticks(positions, [f"{w:%d %b}" for w in weeks], rotation=45, fontsize=7)
        axes.set_ylabel("incidents")
        axes.set_title("Incidents per week by grade (drills excluded)")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.legend(fontsize=7)

    return render(draw, size=(6, 3))


def upload_chart(deps: Deps, channel_id: str, stats: Stats) -> None:
    """Upload the weekly chart (none when there were no incidents); a Slack refusal is logged, the text stands."""
    if not stats.real:
        return
    real, span = stats.real, stats.span
    try:
        deps.slack.upload_in_channel(channel_id, content=chart_png(real, span),
                                     filename=f"incidents-{span.end:%Y%m%d}.png",
                                     title=f"Incidents per week ({span.start:%d %b} – {span.end:%d %b})")
    except SlackError as exc:
        logger.warning("could not upload the incident chart to %s: %s", channel_id, exc.code)
