"""What `/standup report` and the weekly digest say about a span of days: participation per person and for the
team (answered of expected, expected leaving out away days; holidays have no thread to answer), how long after
the day's post answers came (median), streaks of on-time answers, and the blockers opened, cleared and still open.

Pure: it reads the rows the service loaded and returns the lines; no Slack, no SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import median

from bot.domain.standup import DM
from bot.domain.text import NameLookup, escape_user_text, truncate
from storage.models import Absence, Standup, StandupAnswer, StandupBlocker, StandupDay, StandupPrompt

MAX_OPEN_BLOCKERS_SHOWN = 10


@dataclass
class Person:
    """One member over the span."""

    user_id: str
    on_time: int = 0
    late: int = 0
    missed: int = 0
    away: int = 0
    delays: list[timedelta] = field(default_factory=list)
    current_streak: int = 0
    longest_streak: int = 0

    @property
    def answered(self) -> int:
        return self.on_time + self.late

    @property
    def expected(self) -> int:
        return self.answered + self.missed


def people(standup: Standup, days: Iterable[StandupDay], answers: Iterable[StandupAnswer],
           absences: Iterable[Absence], today: date, prompts: Iterable[StandupPrompt] = ()) -> list[Person]:
    """Each member's days, in order. A day they were away and did not answer counts for nothing (neither missed
    nor expected); today's day counts as missed only once its summary is out (until then, answers still come).
    The answer delay runs from the day's post, or in DM mode from the person's own prompt (`prompts`; an answer
    without one has no delay to count)."""
    by_day = {(a.standup_day_id, a.user_id): a for a in answers}
    asked = {(p.day, p.user_id): p.asked_at for p in prompts} if standup.mode == DM else None
    away = [(a.user_id, a.start, a.end) for a in absences]
    found = []
    for user in standup.members:
        person = Person(user)
        for day in sorted(days, key=lambda d: d.day):
            answer = by_day.get((day.id, user))
            if answer is None and any(u == user and start <= day.day <= end for u, start, end in away):
                person.away += 1
            elif answer is None and (day.day < today or day.summarised):
                person.missed += 1
                person.current_streak = 0
            elif answer is not None:
                since = day.posted_at if asked is None else asked.get((day.day, user))
                _count_answer(person, since, answer)
        found.append(person)
    return found


def _count_answer(person: Person, since: datetime | None, answer: StandupAnswer) -> None:
    if answer.late:
        person.late += 1
        person.current_streak = 0
    else:
        person.on_time += 1
        person.current_streak += 1
        person.longest_streak = max(person.longest_streak, person.current_streak)
    if since is not None:
        person.delays.append(max(_answered_at(answer) - _aware(since), timedelta(0)))


def _answered_at(answer: StandupAnswer) -> datetime:
    """When the answer first came (an edit moves `answered_at`; a thread reply's ts is its first sending too)."""
    at = _aware(answer.first_answered_at or answer.answered_at)
    try:
        return min(at, datetime.fromtimestamp(float(answer.message_ts), UTC)) if answer.message_ts else at
    except ValueError:
        return at


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def duration(delay: timedelta) -> str:
    """`4 min`, `1 h 05 min`, `2 d 3 h`."""
    minutes = int(delay.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} d {minutes % (24 * 60) // 60} h"


def _rate(answered: int, expected: int) -> str:
    return f"{round(100 * answered / expected)}% answered ({answered}/{expected})" if expected else "no day to answer"


def _since_what(dm: bool) -> str:
    return "after being asked" if dm else "after the post"


def person_line(person: Person, dm: bool = False) -> str:
    """`• @ana: 4 on time, 1 late, 0 missed, 2 away — 100% answered (5/5) · median 12 min after the post ·
    on-time streak 3 (longest 4)`."""
    line = f"• <@{person.user_id}>: {person.on_time} on time, {person.late} late, {person.missed} missed"
    if person.away:
        line += f", {person.away} away"
    if not person.expected:
        return line + " — no day to answer"
    line += f" — {_rate(person.answered, person.expected)}"
    if person.delays:
        line += f" · median {duration(median(person.delays))} {_since_what(dm)}"
    return line + f" · on-time streak {person.current_streak} (longest {person.longest_streak})"


def team_line(found: list[Person], dm: bool = False) -> str:
    """The team's participation and median answer delay, over everyone's days."""
    answered, expected = sum(p.answered for p in found), sum(p.expected for p in found)
    if not expected:
        return "Team: nothing to count yet (no stand-up day to answer in this span)"
    delays = [d for p in found for d in p.delays]
    line = f"Team: {_rate(answered, expected)}"
    if delays:
        line += f" · median answer {duration(median(delays))} {_since_what(dm)}"
    late = sum(p.late for p in found)
    return line + (f" · {late} late" if late else "")


def blocker_lines(blockers: list[StandupBlocker], start: date, today: date,
                  names: NameLookup | None = None) -> list[str]:
    """Blockers opened in the span, how old they were when cleared, and those still open with their age."""
    if not blockers:
        return ["Blockers: none"]
    opened = [b for b in blockers if b.first_day >= start]
    cleared = [(b.resolved_on - b.first_day).days for b in blockers if b.resolved_on and b.resolved_on >= start]
    still_open = sorted((b for b in blockers if b.resolved_on is None), key=lambda b: b.first_day)
    parts = [f"{len(opened)} opened"]
    if cleared:
        parts.append(f"{len(cleared)} cleared after {_days(median(cleared))} (median; longest {_days(max(cleared))})")
    else:
        parts.append("none cleared")
    parts.append(f"{len(still_open)} still open")
    lines = [f"Blockers: {', '.join(parts)}"]
    for blocker in still_open[:MAX_OPEN_BLOCKERS_SHOWN]:
        age = (today - blocker.first_day).days + 1
        text = escape_user_text(truncate(blocker.text, 150), names)
        lines.append(f"  🚧 <@{blocker.user_id}>: {text} — open since {blocker.first_day:%a %d %b} (day {age})")
    if len(still_open) > MAX_OPEN_BLOCKERS_SHOWN:
        lines.append(f"  … and {len(still_open) - MAX_OPEN_BLOCKERS_SHOWN} more")
    return lines


def _days(count: float) -> str:
    if count == 0:
        return "less than a day"
    count = round(count, 1)
    shown = int(count) if count == int(count) else count
    return f"{shown} day{'' if count == 1 else 's'}"


def standup_report(standup: Standup, days: list[StandupDay], answers: list[StandupAnswer], absences: list[Absence],
                   blockers: list[StandupBlocker], start: date, today: date, names: NameLookup | None = None,
                   prompts: Iterable[StandupPrompt] = ()) -> str:
    """One stand-up's part of the report."""
    found = people(standup, days, answers, absences, today, prompts)
    dm = standup.mode == DM
    theirs = [b for b in blockers if b.user_id in standup.members]  # a former member's blockers are not news
    rows = [f"Stand-up {standup.id} in <#{standup.channel_id}>: {len(days)} days posted", team_line(found, dm),
            *(person_line(p, dm) for p in found), *blocker_lines(theirs, start, today, names)]
    return "\n".join(rows)
