"""Incident rules, pure: grades and their update intervals, runbooks, channel names, drill scenarios,
durations, the post-mortem draft and the drill scorecard."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

INCIDENT_GRADES = (1, 2, 3)
DEFAULT_GRADE = 2
# How long the war room may go without a status update before the commander is reminded.
UPDATE_INTERVAL = {1: timedelta(minutes=30), 2: timedelta(minutes=60), 3: timedelta(hours=4)}
SNOOZE = timedelta(minutes=15)
ROLES = ("commander", "comms", "scribe")
CHANNEL_NAME_LIMIT = 80


@dataclass(frozen=True)
class RunbookItem:
    key: str
    text: str


# Written from the grade table's action plans; `rollback` marks the step a drill times.
RUNBOOKS: dict[int, tuple[RunbookItem, ...]] = {
    1: (
        RunbookItem("rollback", "Switch traffic to the last model version known to be safe (record it below)"),
        RunbookItem("contain", "Confirm the leak or harmful output has stopped (check fresh traffic)"),
        RunbookItem("evidence", "Keep the evidence: prompts, outputs and logs, redacted"),
        RunbookItem("legal", "Tell legal and compliance what happened and who may be affected"),
        RunbookItem("hotfix", "Ship the emergency fix and verify it closes the hole"),
        RunbookItem("users", "Agree with legal what affected users and stakeholders are told"),
        RunbookItem("report", "Write the incident report with the preventive steps"),
    ),
    2: (
        RunbookItem("decide", "Decide: a targeted patch now, or switch the feature off meanwhile"),
        RunbookItem("rollback", "Patch the behaviour (prompt, guardrail or code) or roll the model back"),
        RunbookItem("verify", "Verify on a sample of real requests that answers are right again"),
        RunbookItem("retrain", "Start fine-tuning or retraining on corrected data if the model itself is wrong"),
        RunbookItem("support", "Tell support what users saw and what to say"),
        RunbookItem("report", "Write the incident report"),
    ),
    3: (
        RunbookItem("cause", "Find the cause: latency, capacity, a prompt change or a provider"),
        RunbookItem("rollback", "Apply the optimisation, scaling or prompt change (or undo the last one)"),
        RunbookItem("verify", "Confirm the metrics are back to normal"),
        RunbookItem("followup", "Put the lasting fix in the next regular release"),
    ),
}


def check_grade(grade: int) -> int:
    if grade not in INCIDENT_GRADES:
        raise ValueError("An incident is grade 1 (critical), 2 (high) or 3 (medium).")
    return grade


# --- channel names --------------------------------------------------------------------------------


def slugify(text: str, limit: int = 40) -> str:
    """Lowercase a-z, 0-9, `-` and `_` only (accents folded), dashes collapsed."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9_]+", "-", folded)).strip("-_")
    return slug[:limit].rstrip("-_") or "incident"


def channel_name(*, prefix: str, day: date, number: int, title: str, attempt: int = 0) -> str:
    """`inc-20261129-3-model-leaks-emails`, with `-2`, `-3`… on later attempts (names of archived
    channels stay taken); never longer than Slack's 80 characters."""
    suffix = f"-{attempt + 1}" if attempt else ""
    head = f"{prefix}-{day:%Y%m%d}-{number}-"
    room = CHANNEL_NAME_LIMIT - len(head) - len(suffix)
    return head + slugify(title, limit=max(1, room)) + suffix


# --- the declare line -----------------------------------------------------------------------------


_GRADE = re.compile(r"(?:^|\s)(?:grade|sev|g)\s*[:=]?\s*([0-9]+)\s*$", re.I)


def parse_declare(text: str) -> tuple[str, int]:
    """`Model leaks emails grade 1` → ("Model leaks emails", 1); the grade defaults to 2."""
    found = _GRADE.search(text)
    grade = DEFAULT_GRADE
    if found:
        grade = check_grade(int(found[1]) if len(found[1]) <= 3 else 0)  # 0: no grade; int() refuses 5,000 digits
        text = text[:found.start()]
    title = re.sub(r"\s+", " ", text).strip(" -:")
    if len(title) < 3:
        raise ValueError("Say what is happening: `/incident declare the bot shows other users' chats grade 1`.")
    return title[:150], grade


# --- durations and reports ------------------------------------------------------------------------


def duration(start: datetime | None, end: datetime | None) -> str:
    """`1 h 05 min`, `42 s`, or `—` when either end is missing."""
    if start is None or end is None:
        return "—"
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s" if minutes < 10 else f"{minutes} min"
    return f"{secs} s"


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    who: str  # a display form: "@alice", "pmbot"
    kind: str
    text: str


@dataclass(frozen=True)
class TaskState:
    key: str
    text: str
    done_by: str | None
    done_at: datetime | None


@dataclass(frozen=True)
class Report:
    """Everything a post-mortem needs, as plain data (already redacted)."""

    readable_id: str
    title: str
    grade: int
    drill: bool
    declared_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    first_update_at: datetime | None
    commander: str
    resolution: str
    versions: dict[str, str]
    links: list[str]
    timeline: list[TimelineEntry]
    tasks: list[TaskState]
    follow_ups: tuple[str, ...] = ()  # Markdown lines of the follow-up actions (`/incident action`)
    bug: str = ""  # the bug it was declared from, "B-14: title"
    skipped: tuple[str, ...] = ()  # the runbook steps still open when it was resolved anyway


def postmortem_markdown(report: Report, narrative: str) -> str:
    """The draft post-mortem, as a Markdown document."""
    done = sum(1 for t in report.tasks if t.done_at)
    kind = "Drill" if report.drill else "Incident"
    lines = [
        f"# {kind} {report.readable_id}: {report.title}",
        "",
        f"- Grade: {report.grade}",
        f"- Commander: {report.commander}",
        f"- Declared: {report.declared_at:%Y-%m-%d %H:%M} UTC",
        f"- Resolved: {report.resolved_at:%Y-%m-%d %H:%M} UTC" if report.resolved_at else "- Resolved: —",
        f"- Time to acknowledge: {duration(report.declared_at, report.acknowledged_at)}",
        f"- Time to mitigate: {duration(report.declared_at, report.mitigated_at)}",
        f"- Time to resolve: {duration(report.declared_at, report.resolved_at)}",
        f"- Checklist: {done} of {len(report.tasks)} done",
    ]
    if report.bug:
        lines.append(f"- Declared from bug {report.bug}")
    for name, value in report.versions.items():
        lines.append(f"- {name}: {value}")
    if report.links:
        lines.append(f"- Linked: {', '.join(report.links)}")
    lines += ["", "## What happened", "", narrative.strip(), "", "## Resolution", "",
              report.resolution.strip() or "_Not written yet._", "", "## Timeline (UTC)", ""]
    lines += [f"- {e.at:%Y-%m-%d %H:%M:%S} {e.who} — {e.kind}: {e.text}" for e in report.timeline]
    lines += ["", "## Checklist", ""]
    lines += [f"- [{'x' if t.done_at else ' '}] {t.text}"
              + (f" — {t.done_by}, {t.done_at:%H:%M} UTC" if t.done_at else "") for t in report.tasks]
    if report.skipped:
        lines += ["", f"Resolved with {len(report.skipped)} step{'s' if len(report.skipped) != 1 else ''} "
                      "still open (skipped): " + "; ".join(report.skipped) + "."]
    placeholder = "- [ ] _Preventive steps, each with an owner and a date: `/incident action`._"
    lines += ["", "## Follow-ups", "", *(report.follow_ups or [placeholder]), ""]
    return "\n".join(lines)


def template_narrative(report: Report) -> str:
    """The narrative when no LLM writes it: the facts, in order, for the team to rewrite."""
    first = report.timeline[0].at if report.timeline else report.declared_at
    updates = [e for e in report.timeline if e.kind in ("update", "note", "pinned")]
    story = [f"{report.readable_id} ({report.title}) was declared at {first:%H:%M} UTC as a grade {report.grade} "
             f"incident, led by {report.commander}."]
    if report.mitigated_at:
        story.append(f"It was mitigated after {duration(report.declared_at, report.mitigated_at)}.")
    if updates:
        story.append("Along the way: " + "; ".join(e.text for e in updates[:8]) + ".")
    story.append(f"It was resolved after {duration(report.declared_at, report.resolved_at)}. "
                 "Edit this draft: what was the cause, why was it not caught earlier, what will prevent it?")
    return " ".join(story)


@dataclass(frozen=True)
class Scorecard:
    to_acknowledge: str
    to_first_update: str
    to_rollback: str
    checklist: str
    nobody_responded: str = ""  # how long the drill ran by itself before it ended, when nobody acted in it

    def text(self) -> str:
        if self.nobody_responded:
            return (f"*Drill scorecard*\n• Nobody responded: no step ticked, no note, no update; the drill ended "
                    f"by itself after {self.nobody_responded}.\n• Checklist completed: {self.checklist}")
        return (f"*Drill scorecard*\n• Time to acknowledge: {self.to_acknowledge}\n"
                f"• Time to first status update: {self.to_first_update}\n"
                f"• Time to the rollback step: {self.to_rollback}\n• Checklist completed: {self.checklist}")


def scorecard(report: Report) -> Scorecard:
    rollback = next((t for t in report.tasks if t.key == "rollback"), None)
    done = sum(1 for t in report.tasks if t.done_at)
    share = f"{done} of {len(report.tasks)} ({done / len(report.tasks):.0%})" if report.tasks else "—"
    # Only a drill that ended by itself (the unattended event) had nobody responding; one a person resolved did not.
    ended_by_itself = any(e.kind == "unattended" for e in report.timeline)
    silent = duration(report.declared_at, report.resolved_at) if ended_by_itself else ""
    return Scorecard(duration(report.declared_at, report.acknowledged_at),
                     duration(report.declared_at, report.first_update_at),
                     duration(report.declared_at, rollback.done_at if rollback else None), share, silent)


# --- drills ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inject:
    after: timedelta
    text: str


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    grade: int
    injects: tuple[Inject, ...]


def _minutes(minutes: int) -> timedelta:
    """How long after a drill starts an inject arrives."""
    return timedelta(minutes=minutes)


SCENARIOS: dict[str, Scenario] = {s.key: s for s in (
    Scenario("pii-leak", "Model output shows another customer's e-mail and order history", 1, (
        Inject(_minutes(0), "Support forwards a screenshot: the assistant answered a user with someone else's e-mail "
                      "address and last three orders."),
        Inject(_minutes(5), "Two more tickets arrive with the same pattern; all came from the new memory feature."),
        Inject(_minutes(12), "Legal asks: how many users could have seen other people's data, and since when?"),
        Inject(_minutes(20), "The on-call engineer notes the model version was bumped yesterday at 16:00."),
    )),
    Scenario("jailbreak", "A jailbreak prompt makes the assistant produce harmful instructions", 1, (
        Inject(_minutes(0), "A user posts on social media: a role-play prompt gets step-by-step harmful instructions "
                      "out of our assistant."),
        Inject(_minutes(6), "The post is being shared; a journalist asks for comment."),
        Inject(_minutes(15), "The safety filter logs show it was bypassed by splitting the request over three turns."),
    )),
    Scenario("wrong-advice", "The assistant confidently gives wrong refund and warranty terms", 2, (
        Inject(_minutes(0), "Support sees customers quoting refund terms we never offered, citing the assistant."),
        Inject(_minutes(8), "A sample of 50 conversations: 18 state the wrong warranty period."),
        Inject(_minutes(16), "The policy document in the retrieval index was replaced last week by a draft."),
    )),
    Scenario("vendor-update", "Answer quality dropped after the provider updated the model", 2, (
        Inject(_minutes(0), "Evals in CI dropped from 86% to 61% overnight with no change on our side."),
        Inject(_minutes(7), "The provider's changelog mentions a new default snapshot for the model alias we use."),
        Inject(_minutes(14), "Pinning the previous snapshot is possible for 30 more days."),
    )),
    Scenario("runaway-agent", "An agent loop is burning the API budget", 2, (
        Inject(_minutes(0), "Billing alert: API spend is at 4x the daily average by 10:00."),
        Inject(_minutes(5), "Traces show one agent calling the search tool in a loop for the same customer."),
        Inject(_minutes(12), "At this rate the monthly budget is gone by tomorrow evening."),
    )),
)}
DEFAULT_SCENARIO = "pii-leak"


# --- drill schedules ------------------------------------------------------------------------------

_ORDINALS = {"first": "1st", "1st": "1st", "second": "2nd", "2nd": "2nd", "third": "3rd", "3rd": "3rd",
             "fourth": "4th", "4th": "4th", "last": "last", "every": "every", "each": "every"}
_WEEKDAYS = {"mon": "mon", "monday": "mon", "tue": "tue", "tues": "tue", "tuesday": "tue", "wed": "wed",
             "wednesday": "wed", "thu": "thu", "thur": "thu", "thurs": "thu", "thursday": "thu", "fri": "fri",
             "friday": "fri", "sat": "sat", "saturday": "sat", "sun": "sun", "sunday": "sun"}


@dataclass(frozen=True)
class DrillWhen:
    """Cron fields (APScheduler's: `day="1st tue"` is the first Tuesday of the month) and the options."""

    day: str
    day_of_week: str
    hour: int
    minute: int
    timezone: str
    automatic: bool
    scenario: str
    description: str


def parse_drill_schedule(text: str, *, default_timezone: str) -> DrillWhen:
    """`first tue 15:00 Europe/Berlin auto jailbreak` (also `every friday 10:30`, `last wed of the month 9:00`)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    words = [w for w in re.split(r"\s+", text.strip()) if w and w.lower() not in ("of", "the", "month", "at", "in")]
    ordinal = weekday = None
    hour = minute = None
    timezone, automatic, scenario = default_timezone, False, DEFAULT_SCENARIO
    for word in words:
        lowered = word.lower()
        if lowered in _ORDINALS and ordinal is None:
            ordinal = _ORDINALS[lowered]
        elif lowered in _WEEKDAYS and weekday is None:
            weekday = _WEEKDAYS[lowered]
        elif (clock := re.fullmatch(r"([01]?\d|2[0-3])[:.h]([0-5]\d)", lowered)) and hour is None:
            hour, minute = int(clock[1]), int(clock[2])
        elif "/" in word or word.upper() == "UTC":
            try:
                ZoneInfo(word)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{word} is not a time zone I know (e.g. Europe/Berlin).") from None
            timezone = word
        elif lowered in ("auto", "automatic"):
            automatic = True
        elif lowered in SCENARIOS:
            scenario = lowered
        else:
            raise ValueError(f"I did not understand `{word}`. Try `first tue 15:00 Europe/Berlin auto pii-leak`.")
    if weekday is None or hour is None or minute is None:
        raise ValueError("Say the day and the time: `first tue 15:00 Europe/Berlin` or `every fri 10:30`.")
    ordinal = ordinal or "every"
    day, day_of_week = ("*", weekday) if ordinal == "every" else (f"{ordinal} {weekday}", "*")
    description = f"{ordinal} {weekday} {hour:02d}:{minute:02d} {timezone}"
    return DrillWhen(day, day_of_week, hour, minute, timezone, automatic, scenario, description)


def starts_in(slot: datetime, now: datetime, timezone: str) -> str:
    """When a drill starts, as people say it, from `now` and the slot in the schedule's zone: "in 40 minutes",
    "in 3 hours" (later today), "tomorrow at 15:00", "on Tue 1 Dec at 15:00". A slot later today is never
    "tomorrow", whatever is left of the 24 hours before it."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    local, today = slot.astimezone(zone), now.astimezone(zone).date()
    left = slot - now
    minutes = max(0, round(left.total_seconds() / 60))
    if minutes < 1:
        return "now"
    if minutes < 60:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    if local.date() == today:
        hours = round(minutes / 60)
        return f"in {hours} hour{'s' if hours != 1 else ''} (at {local:%H:%M})"
    if (local.date() - today).days == 1:
        return f"tomorrow at {local:%H:%M}"
    return f"on {local:%a} {local.day} {local:%b} at {local:%H:%M}"


def unattended(declared_at: datetime, acknowledged_at: datetime | None, now: datetime, after: timedelta) -> bool:
    """A drill nobody has acted in since it started, for `after`: it ends by itself."""
    return acknowledged_at is None and now >= declared_at + after
