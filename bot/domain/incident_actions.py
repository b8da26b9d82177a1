"""Follow-up actions of an incident and incident statistics: parsing what people type, and the figures.

Pure rules: no Slack, SQL or clock (`today` and `now` are parameters).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.domain.risk import FieldError, parse_date

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_PLAIN_USER = re.compile(r"(?<![\w<])@([\w.\-]{1,80})")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_IN = re.compile(r"in\s+(\d{1,3})\s+(day|days|week|weeks)", re.I)
ACTION_ID = re.compile(r"A-\d{1,9}", re.I)


@dataclass(frozen=True)
class ActionText:
    """What `/incident action …` said: the text, the owner (a Slack id, or `@name` to look up) and the due date."""

    text: str
    owner: str | None
    due: date | None


def parse_due(value: str, *, today: date) -> date:
    """`2026-12-15`, `tomorrow`, `friday` (the next one, never today), `in 3 days`, `in 2 weeks`, `14d`, `3w`."""
    text = value.strip().lower()
    short = text[:3]
    if text in _WEEKDAYS or (len(text) >= 3 and any(day.startswith(text) for day in _WEEKDAYS) and text.isalpha()):
        wanted = next(i for i, day in enumerate(_WEEKDAYS) if day.startswith(short))
        ahead = (wanted - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    if found := _IN.fullmatch(text):
        amount = int(found[1]) * (7 if found[2].startswith("week") else 1)
        return today + timedelta(days=amount)
    if text.isdigit():  # `20310601` is a number (a ticket, a limit), never a date: dates are written 2031-06-01
        raise FieldError(f"The due date should look like 2026-12-15, not `{value}`.")
    return parse_date(text, today=today, what="The due date")


def parse_action(text: str, *, today: date) -> ActionText:
    """`retrain the filter @maria friday` → text, owner, due. The due date is the last words (optionally after
    `due` or `by`); the owner is the first mention. FieldError when nothing is left to do, or a date is past."""
    words = text.split()
    due = None
    for size in (3, 2, 1):  # "in 3 days", "due friday", "2026-12-15"
        if len(words) < size:
            continue
        tail = " ".join(words[-size:])
        keyword = words[-size].lower() in ("due", "by") and size > 1
        candidate = " ".join(words[-size + 1:]) if keyword else tail
        try:
            due = parse_due(candidate, today=today)
        except FieldError as exc:
            if "in the past" in str(exc):
                raise
            continue
        words = words[:-size]
        break
    rest = " ".join(words)
    owner = None
    if found := _USER.search(rest):
        owner, rest = found[1], rest[:found.start()] + rest[found.end():]
    elif plain := _PLAIN_USER.search(rest):
        owner, rest = "@" + plain[1], rest[:plain.start()] + rest[plain.end():]
    rest = " ".join(rest.split()).strip(" -–—:")
    if len(rest) < 3:
        raise FieldError("Say what must happen: `/incident action add a PII filter to the export @maria friday`.")
    return ActionText(rest, owner, due)


def due_words(due: date | None, today: date) -> str:
    """`due 2026-12-15`, `due tomorrow`, `due today`, `3 days overdue`, or `no due date`."""
    if due is None:
        return "no due date"
    days = (due - today).days
    if days < 0:
        return f"{-days} day{'s' if days < -1 else ''} overdue (due {due.isoformat()})"
    return {0: "due today", 1: "due tomorrow"}.get(days, f"due {due.isoformat()}")


# --- statistics ------------------------------------------------------------------------------------

PERIODS = {"month": timedelta(days=30), "quarter": timedelta(days=90)}


@dataclass(frozen=True)
class Window:
    """The period the figures are about, and the one before it (for the trend)."""

    name: str
    start: datetime
    end: datetime

    @property
    def previous(self) -> Window:
        return Window(self.name, self.start - (self.end - self.start), self.start)


def window(name: str, now: datetime) -> Window:
    """`month` is the last 30 days up to `now`, `quarter` the last 90."""
    return Window(name, now - PERIODS[name], now)


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile by nearest rank (the smallest value at or above 90 % of them), or None."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start is not None and end is not None else None


def short_duration(seconds: float | None) -> str:
    """`42 s`, `12 min`, `3.5 h`, `2.1 d`, or `—`."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def trend(now: int, before: int) -> str:
    """`↑ 2 vs the period before (3)`, `↓ …`, `= …`."""
    if now == before:
        return f"= same as the period before ({before})"
    arrow = "↑" if now > before else "↓"
    return f"{arrow} {abs(now - before)} vs the period before ({before})"


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())
