"""The period a report covers, from what a person typed after `/pmbot report`: pure, team-local dates.

- nothing: from the team's first recorded activity (at most `MAX_DAYS` back; 90 days when there is none) to today
- `2026-09-01`: from that day to today; `2026-09-01 2026-10-31`: both days included
- `30d`, `12w`: that many days (weeks) up to today
- `this week`, `last week` (Monday to Sunday), `this month`, `last month`, `this quarter`, `last quarter`,
  `this year`, `last year`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.errors import UserInputError

MAX_DAYS = 3 * 366  # a report spans at most about three years
DEFAULT_DAYS = 90
EXAMPLES = "`/pmbot report 2026-09-01 2026-10-31`, `/pmbot report 2026-09-01`, `/pmbot report last month`, " \
           "`/pmbot report this quarter`, `/pmbot report 30d`"
_RELATIVE = re.compile(r"^(\d{1,4})\s*([dw])$", re.I)
_NAMED = ("this week", "last week", "this month", "last month", "this quarter", "last quarter", "this year",
          "last year")
NAMED_TEXT = "`this week`, `last week`, `this month`, `last month`, `this quarter`, `last quarter`, `this year`, " \
             "`last year`"


@dataclass(frozen=True)
class Span:
    """Team-local days, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def edges(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """The period as UTC moments: the start of its first day, the start of the day after its last."""
        return local_midnight(self.start, zone), local_midnight(self.end + timedelta(days=1), zone)

    def label(self) -> str:
        return f"{self.start:%d %b %Y} – {self.end:%d %b %Y}"


def local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, zone).astimezone(UTC)


def _problem(text: str) -> UserInputError:
    return UserInputError(f"{text}\nFor example: {EXAMPLES}; the named periods are {NAMED_TEXT}.")


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _named(words: str, today: date) -> Span:
    this, unit = words.split()
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        return Span(monday, today) if this == "this" else Span(monday - timedelta(days=7), monday - timedelta(days=1))
    if unit == "year":
        return Span(date(today.year, 1, 1), today) if this == "this" else \
            Span(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))
    if words == "this month":
        return Span(_month_start(today), today)
    if words == "last month":
        end = _month_start(today) - timedelta(days=1)
        return Span(_month_start(end), end)
    if words == "this quarter":
        return Span(_quarter_start(today), today)
    end = _quarter_start(today) - timedelta(days=1)  # last quarter
    return Span(_quarter_start(end), end)


def _day(word: str, today: date, what: str) -> date:
    if word.lower() == "today":
        return today
    if word.lower() == "yesterday":
        return today - timedelta(days=1)
    try:
        day = date.fromisoformat(word) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", word) else None
    except ValueError:
        raise _problem(f"`{word[:24]}` is not a date of the calendar.") from None
    if day is None:
        raise _problem(f"I read the {what} date as a date like 2026-09-01, not `{word[:24]}`.")
    if day > today:
        raise _problem(f"{day:%d %b %Y} is in the future (today is {today:%d %b %Y} for this team): "
                       "a report covers what has happened.")
    return day


def parse(args: list[str], *, today: date, first_activity: date | None) -> Span:
    """The period `args` name; UserInputError with examples when they name none."""
    words = " ".join(args).strip().lower()
    if not words:
        start = first_activity if first_activity is not None else today - timedelta(days=DEFAULT_DAYS - 1)
        return Span(max(min(start, today), today - timedelta(days=MAX_DAYS - 1)), today)
    if words in _NAMED:
        return _named(words, today)
    relative = _RELATIVE.match(words)
    if relative:
        count = int(relative[1]) * (7 if relative[2].lower() == "w" else 1)
        if not 1 <= count <= MAX_DAYS:
            raise _problem(f"A report covers 1 to {MAX_DAYS:,} days, not {count:,}.")
        return Span(today - timedelta(days=count - 1), today)
    if len(args) > 2:
        raise _problem("A report takes a start date and an end date at most.")
    start = _day(args[0], today, "start")
    end = _day(args[1], today, "end") if len(args) == 2 else today
    if start > end:
        raise _problem(f"The start, {start:%d %b %Y}, comes after the end, {end:%d %b %Y}.")
    span = Span(start, end)
    if span.days > MAX_DAYS:
        raise _problem(f"A report covers at most {MAX_DAYS:,} days; this one would be {span.days:,}.")
    return span


def weekly(span: Span) -> bool:
    """Weeks for a period of up to 12 weeks, months beyond."""
    return span.days <= 12 * 7


def buckets(span: Span) -> list[date]:
    """The first day of each bucket (the period's start, then each Monday or first of the month after it)."""
    starts = [span.start]
    if weekly(span):
        day = span.start + timedelta(days=7 - span.start.weekday())
        while day <= span.end:
            starts.append(day)
            day += timedelta(days=7)
    else:
        day = (_month_start(span.start) + timedelta(days=32)).replace(day=1)
        while day <= span.end:
            starts.append(day)
            day = (day + timedelta(days=32)).replace(day=1)
    return starts
