"""The digest's words: its numbers as lines per section (mrkdwn), the template narrative written from the same
numbers, and the figures the LLM may see. Pure functions of the figures dict (see `figures.gather`)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.domain.budget import money
from bot.domain.grades import GRADES
from bot.domain.text import escape_user_text

TITLES = {"risks": "Top risks", "bugs": "Bugs", "incidents": "Incidents", "budget": "Budget",
          "quality": "Quality against targets", "blockers": "Stand-up blockers older than three days"}
STATUS_WORDS = {"pass": "meets target", "breach": "misses target", "drop": "fell too far since the last run",
                "missing": "not measured"}


def day(value: str | None) -> str:
    """`2026-11-30` (or an ISO time) → `30 Nov 2026`."""
    if not value:
        return "—"
    return f"{(datetime.fromisoformat(value) if 'T' in value else date.fromisoformat(value)):%d %b %Y}"


def span(minutes: int) -> str:
    """`45 min`, `3 h`, `2 h 30 min`, `4 days 2 h`."""
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days, hours = divmod(hours, 24)
    return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")


def _safe(text: str) -> str:
    return escape_user_text(text)


def period_line(figures: dict[str, Any]) -> str:
    """Which days the digest covers, and since what."""
    days = figures.get("period_days", 7)
    last = "the last day" if days == 1 else f"the last {days} days"
    since = "since the last digest" if figures["since_last"] else f"{last} (no earlier digest)"
    return f"Covers {day(figures['period_start_day'])} – {day(figures['today'])}: {since}."


# --- the sections, numbers first --------------------------------------------------------------------------------


def section_lines(section: str, figures: dict[str, Any]) -> list[str]:
    """The lines of one section, its title first."""
    value = figures[section]
    lines = {"risks": _risk_lines, "bugs": _bug_lines, "incidents": _incident_lines, "budget": _budget_lines,
             "quality": _quality_lines, "blockers": _blocker_lines}[section](value, figures)
    return [f"*{TITLES[section]}*", *lines]


def _risk_lines(risks: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    lines = [f"• {r['id']} {_safe(r['title'])} — owner {_safe(r['owner'])} — score {r['score']}{risk_change(r)}"
             for r in risks["top"]] or ["• No open risks with a score."]
    if risks["closed_since"]:
        lines.append("• Closed since the last digest: " + ", ".join(risks["closed_since"]))
    if risks["top"]:
        lines.append("_Score = likelihood × impact, each 1–5 (25 is the highest)._")
    return lines


def risk_change(risk: dict[str, Any]) -> str:
    """` (new)`, ` (up from 9)`, ` (down from 16)`, ` (unchanged)`, or nothing without an earlier digest."""
    change = risk.get("change")
    if change == "new":
        return " (new)"
    if change in ("up", "down"):
        return f" ({change} from {risk['was']})"
    return " (unchanged)" if change == "same" else ""


def grade_name(grade: str) -> str:
    return GRADES[int(grade)].label.lower() if grade.isdigit() else "not graded yet"


def _bug_lines(bugs: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    opened, closed = bugs["opened"], bugs["closed"]
    keys = list(opened.keys() | closed.keys())
    keys.sort(key=lambda k: (not k.isdigit(), k))
    total_opened, total_closed = sum(opened.values()), sum(closed.values())
    lines = [f"• {total_opened} opened, {total_closed} closed in the period."]
    lines += [f"• {grade_name(k).capitalize()} (grade {k}): {opened.get(k, 0)} opened, {closed.get(k, 0)} closed"
              if k.isdigit() else f"• Not graded yet: {opened.get(k, 0)} opened, {closed.get(k, 0)} closed"
              for k in keys if opened.get(k, 0) or closed.get(k, 0)]
    critical = bugs["oldest_critical"]
    if critical:
        lines.append(f"• Oldest open critical bug: {critical['id']} {_safe(critical['title'])}, open for "
                     f"{critical['age_days']} day{'s' if critical['age_days'] != 1 else ''} "
                     f"(reported {day(critical.get('opened_day') or critical['opened'])})")
    else:
        lines.append("• No critical bug is open.")
    return lines


def _incident_lines(incidents: list[dict[str, Any]], figures: dict[str, Any]) -> list[str]:
    if not incidents:
        return ["• No incidents in the period."]
    lines = [f"• {i['id']} {_safe(i['title'])} — grade {i['grade']} — {incident_duration(i)} · follow-ups: "
             f"{i['actions_open']} open, {i['actions_done']} done" for i in incidents]
    total = count(figures, "incidents")
    if total > len(incidents):
        lines.append(f"_…and {total - len(incidents)} earlier not shown here: the latest {len(incidents)} are shown._")
    return lines


def count(figures: dict[str, Any], section: str) -> int:
    """How many items a section has in all (its list shows the first few)."""
    return int(figures.get("counts", {}).get(section, len(figures.get(section) or [])))


def private_budgets(figures: dict[str, Any]) -> int:
    return int(figures.get("counts", {}).get("budget_private", 0))


def incident_duration(incident: dict[str, Any]) -> str:
    """`resolved after 2 h 30 min`, `ongoing for 3 h`, or `ongoing for 3 h (impact contained)` once mitigated."""
    if incident["ongoing"]:
        contained = " (impact contained)" if incident["status"] == "mitigated" else ""
        return f"ongoing for {span(incident['minutes'])}{contained}"
    return f"resolved after {span(incident['minutes'])}"


def _budget_lines(budgets: list[dict[str, Any]], figures: dict[str, Any]) -> list[str]:
    hidden = private_budgets(figures)
    private = (f"• {_plural(hidden, 'budget')} of private channels {'is' if hidden == 1 else 'are'} not shown "
               "in a digest.") if hidden else None
    if not budgets:
        return [private] if private else ["• No budget is set."]
    lines = []
    for b in budgets:
        m = lambda amount, cur=b["currency"]: money(Decimal(amount), cur)  # noqa: E731
        line = (f"• #{_safe(b['name'])}: spent {m(b['spent'])} of {m(b['amount'])} ({b['percent']}) by "
                f"{day(figures['today'])}")
        if b["forecast"] is not None:
            line += (f" · forecast at period end ({day(b['period_end'])}): {m(b['forecast'])} "
                     f"({b['forecast_percent']})" + ("" if b["forecast_reliable"] else ", an early estimate"))
        if Decimal(b["spent"]) >= Decimal(b["amount"]):
            line += " · the budget is used up"
        elif b["runs_out"]:
            line += f" · runs out on {day(b['runs_out'])} at this rate"
        else:
            line += " · not on course to run out"
        lines.append(line)
    more = count(figures, "budget") - len(budgets)
    if more > 0:
        lines.append(f"_…and {more} more {'budget' if more == 1 else 'budgets'} not shown here._")
    return [*lines, private] if private else lines


def _quality_lines(quality: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    if quality["model"] is None:
        head = "• No evaluation recorded yet."
    else:
        head = f"• Latest evaluation: {_safe(quality['model'])}" + (
            f" {_safe(quality['version'])}" if quality["version"] else "")
    return [head] + [f"• {_safe(q['name'])}: {q['value'] or '—'} (target {q['target']}) — "
                     f"{STATUS_WORDS.get(q['status'], q['status'])}" for q in quality["metrics"]]


def _blocker_lines(blockers: list[dict[str, Any]], figures: dict[str, Any]) -> list[str]:
    if not blockers:
        return ["• None."]
    lines = [f"• {_safe(b['who'])}: {_safe(b['what'])} — since {day(b['since'])} ({b['days']} days)"
             for b in blockers]
    more = count(figures, "blockers") - len(blockers)
    if more > 0:
        lines.append(f"_…and {more} more not shown here: the oldest {len(blockers)} are shown._")
    return lines


# --- the narrative ------------------------------------------------------------------------------------------------


def template_narrative(figures: dict[str, Any]) -> str:
    """A few plain sentences written from the numbers alone (deterministic)."""
    sentences = [s for s in (_say_bugs(figures), _say_incidents(figures), _say_risks(figures),
                             _say_budget(figures), _say_quality(figures), _say_blockers(figures)) if s]
    return " ".join(sentences) or "Nothing to report for this period."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _say_bugs(figures: dict[str, Any]) -> str:
    bugs = figures.get("bugs")
    if bugs is None:
        return ""
    opened, closed = sum(bugs["opened"].values()), sum(bugs["closed"].values())
    critical = bugs["opened"].get("1", 0)
    text = (f"The team logged {_plural(opened, 'new bug')}" + (f" ({critical} critical)" if critical else "")
            + f" and closed {closed}.")
    if bugs["oldest_critical"]:
        age = bugs["oldest_critical"]["age_days"]
        text += f" The oldest open critical bug has been open for {_plural(age, 'day')}."
    return text


def _say_incidents(figures: dict[str, Any]) -> str:
    incidents = figures.get("incidents")
    if incidents is None:
        return ""
    if not incidents:
        return "There were no incidents."
    total = count(figures, "incidents")
    ongoing = int(figures.get("counts", {}).get("incidents_ongoing", sum(1 for i in incidents if i["ongoing"])))
    return (f"There {'was' if total == 1 else 'were'} {_plural(total, 'incident')}"
            + (f", {ongoing} still ongoing." if ongoing else ", all resolved."))


def _say_risks(figures: dict[str, Any]) -> str:
    risks = figures.get("risks")
    if not risks or not risks["top"]:
        return ""
    top = risks["top"][0]
    text = f"The highest risk is {top['id']} with a score of {top['score']} out of 25."
    up = sum(1 for r in risks["top"] if r["change"] in ("up", "new"))
    if up:
        text += f" {_plural(up, 'top risk')} rose or appeared since the last digest."
    return text


def _say_budget(figures: dict[str, Any]) -> str:
    budgets = figures.get("budget") or []
    parts = []
    for b in budgets:
        text = f"Budget #{b['name']} has used {b['percent']}"
        if b["forecast_percent"]:
            text += f" and is forecast to end the period at {b['forecast_percent']}"
        if Decimal(b["spent"]) >= Decimal(b["amount"]):
            text += "; it is used up"
        elif b["runs_out"]:
            text += f"; at this rate it runs out on {day(b['runs_out'])}"
        parts.append(text + ".")
    more = count(figures, "budget") - len(budgets)
    if more > 0:
        parts.append(f"{_plural(more, 'other budget')} {'is' if more == 1 else 'are'} not detailed here.")
    return " ".join(parts)


def _say_quality(figures: dict[str, Any]) -> str:
    quality = figures.get("quality")
    if not quality or not quality["metrics"]:
        return ""
    missed = [q["name"] for q in quality["metrics"] if q["status"] != "pass"]
    if not missed:
        return f"All {len(quality['metrics'])} quality targets are met."
    return f"{len(missed)} of {len(quality['metrics'])} quality targets are not met: {', '.join(missed)}."


def _say_blockers(figures: dict[str, Any]) -> str:
    if not figures.get("blockers"):
        return ""
    total = count(figures, "blockers")
    return f"{_plural(total, 'stand-up blocker')} {'has' if total == 1 else 'have'} been open " \
           "for more than three days."


# Fields naming people that the LLM never sees.
_NAMES = {"owner", "who"}


def llm_facts(figures: dict[str, Any]) -> str:
    """The figures the LLM may see: numbers, ids and redacted titles in their `…_llm` spelling (a mentioned person
    is "a team member"); no names of people; how many items each list stands for (`counts`)."""
    shown = {k: v for k, v in figures.items() if k in ("since", "since_last", "today", "counts", *figures["sections"])}
    if "risks" in shown:
        shown["risks"] = {"top": shown["risks"]["top"], "closed_since": shown["risks"]["closed_since"]}
    if "budget" in shown:  # a budget's name is its channel's
        shown["budget"] = [{k: v for k, v in b.items() if k != "name"} for b in shown["budget"]]
    if "quality" in shown:
        shown["quality"] = {k: v for k, v in shown["quality"].items() if k not in ("model", "version")}
    return json.dumps(_for_llm(shown), ensure_ascii=False)


def _for_llm(value: Any) -> Any:
    """`value` with each free text replaced by its `…_llm` twin (or dropped when it has none yet: an old snapshot)
    and the names left out."""
    if isinstance(value, list):
        return [_for_llm(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in _NAMES or key.endswith("_llm"):
            continue
        if key in ("title", "what"):
            item = value.get(f"{key}_llm")
            if item is None:
                continue
        out[key] = _for_llm(item)
    for key in ("model", "version"):
        if f"{key}_llm" in value:
            out[key] = value[f"{key}_llm"]
    return out
