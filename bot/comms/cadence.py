"""A comms plan's schedule, as rules without I/O: reading what people type after the audience
(`weekly mon 09:00 risks budget`), on which local days a plan posts, and when it posts next.

Cadences: `daily` is every working day, Monday to Friday; `weekly` on one weekday; `biweekly` on one weekday every
second week, counted from the plan's first post (its anchor); `monthly` on day N, or the month's last day when the
month is shorter. The time is the team's local time, so a plan keeps its hour across clock changes."""

from __future__ import annotations

import calendar
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAILY, WEEKLY, BIWEEKLY, MONTHLY = "daily", "weekly", "biweekly", "monthly"
DEFAULT_TIME = time(9, 0)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CADENCE_WORDS = {"daily": DAILY, "weekdays": DAILY, "weekly": WEEKLY, "biweekly": BIWEEKLY,
                  "fortnightly": BIWEEKLY, "monthly": MONTHLY}
_EVERY = {("day",): DAILY, ("weekday",): DAILY, ("week",): WEEKLY, ("month",): MONTHLY,
          ("2", "weeks"): BIWEEKLY, ("two", "weeks"): BIWEEKLY, ("other", "week"): BIWEEKLY}
_FILLER = {"at", "on", "the", "of", "and", "to", "with", "sections", "only"}
_TIME = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?")
_ORDINAL = re.compile(r"(\d{1,2})(st|nd|rd|th)")
LOOKAHEAD_DAYS = 70  # longer than any cadence's gap (31 days), so the next post is always found


class ScheduleError(ValueError):
    """What was typed is not a schedule; the message says what to write instead."""


@dataclass(frozen=True)
class Cadence:
    kind: str
    at: time = DEFAULT_TIME
    weekday: int | None = None  # 0 = Monday (weekly, biweekly)
    day_of_month: int | None = None  # 1-31 (monthly)

    def falls_on(self, day: date, anchor: date) -> bool:
        """True when the plan posts on local `day` (never before its first post, `anchor`)."""
        if day < anchor:
            return False
        if self.kind == DAILY:
            return day.weekday() < 5
        if self.kind == WEEKLY:
            return day.weekday() == self.weekday
        if self.kind == BIWEEKLY:
            return day.weekday() == self.weekday and (day - anchor).days // 7 % 2 == 0
        assert self.day_of_month is not None
        return day.day == min(self.day_of_month, calendar.monthrange(day.year, day.month)[1])

    def first_day(self, now: datetime, zone: ZoneInfo) -> date:
        """The plan's first post day if it is set up at `now`: the first matching day whose time has not passed."""
        today = now.astimezone(zone).date()
        for offset in range(LOOKAHEAD_DAYS):
            day = today + timedelta(days=offset)
            if self.falls_on(day, day) and datetime.combine(day, self.at, zone) >= now:
                return day
        raise AssertionError("every cadence posts within 70 days")

    def next_post(self, now: datetime, zone: ZoneInfo, anchor: date, *, claimed_on: date | None,
                  late: timedelta = timedelta(0)) -> datetime:
        """When the plan posts next, in `zone`: a slot whose time passed less than `late` ago while it is not yet
        taken (it is due now), else the next one still ahead."""
        today = now.astimezone(zone).date()
        for offset in range(-1, LOOKAHEAD_DAYS):
            day = today + timedelta(days=offset)
            if not self.falls_on(day, anchor):
                continue
            start = datetime.combine(day, self.at, zone)
            if start > now or (now - start <= late and (claimed_on is None or claimed_on < day)):
                return start
        raise AssertionError("every cadence posts within 70 days")

    def describe(self) -> str:
        """The schedule in words: `weekly on Monday at 09:00`."""
        at = f"at {self.at:%H:%M}"
        if self.kind == DAILY:
            return f"every working day (Mon–Fri) {at}"
        if self.kind == MONTHLY:
            last = " (or the month's last day)" if (self.day_of_month or 1) > 28 else ""
            return f"monthly on day {self.day_of_month}{last} {at}"
        day = WEEKDAYS[self.weekday or 0].capitalize()
        return f"{'weekly' if self.kind == WEEKLY else 'every two weeks'} on {day} {at}"


@dataclass(frozen=True)
class PlanText:
    """What follows the audience in `/pmbot comms add`: the cadence and the sections (empty: all of them)."""

    cadence: Cadence
    sections: tuple[str, ...]


def parse_time(word: str) -> time:
    """`09:00`, `9:30`, `9am`, `5:30pm` as a time of day; ScheduleError otherwise."""
    match = _TIME.fullmatch(word.lower())
    if match is None:
        raise ScheduleError(f"`{word}` is not a time; write it like 09:00 or 17:30 (24-hour, team time).")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3):
        if not 1 <= hour <= 12:
            raise ScheduleError(f"`{word}` is not a time; with am or pm the hour goes from 1 to 12.")
        hour = hour % 12 + (12 if match.group(3) == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ScheduleError(f"`{word}` is not a time of day; write it from 00:00 to 23:59.")
    return time(hour, minute)


def weekday_of(word: str) -> int | None:
    """0-6 for `mon`, `Monday`, `tue`, `thurs`, …; None for anything else."""
    lowered = word.lower().rstrip("s") if len(word) > 3 else word.lower()
    if len(lowered) < 3:
        return None
    return next((i for i, name in enumerate(WEEKDAYS) if name.startswith(lowered) or name == lowered + "s"), None)


@dataclass
class _Draft:
    """What `parse_plan` has read so far."""

    kind: str | None = None
    at: time | None = None
    weekday: int | None = None
    day: int | None = None
    bare: list[str] = field(default_factory=list)  # numbers without ':' or am/pm: a monthly day, else unclear
    sections: list[str] = field(default_factory=list)


def parse_plan(words: list[str], *, known_sections: Collection[str]) -> PlanText:
    """Read `weekly mon 09:00 risks,budget`, `monthly day 31 08:30`, `every 2 weeks on fri at 16:00`, `daily`.

    The cadence comes first or anywhere; `at` and `on` are optional; sections are the digest's names, spaces or
    commas between them. ScheduleError says what is wrong and how to write it."""
    tokens = _join_am_pm([t for word in words for t in word.lower().split(",") if t])
    draft = _Draft()
    i = 0
    while i < len(tokens):
        i += _read(draft, tokens, i, known_sections)
    _place_bare_numbers(draft)
    return PlanText(_cadence(draft.kind, draft.at or DEFAULT_TIME, draft.weekday, draft.day), tuple(draft.sections))


def _join_am_pm(tokens: list[str]) -> list[str]:
    """`9 am` read as `9am`."""
    joined: list[str] = []
    for token in tokens:
        if token in ("am", "pm") and joined and re.fullmatch(r"\d{1,2}(:\d{2})?", joined[-1]):
            joined[-1] += token
        else:
            joined.append(token)
    return joined


def _place_bare_numbers(draft: _Draft) -> None:
    """A number without ':' or am/pm is the day of a monthly plan (`monthly 15`); anywhere else it is unclear."""
    if not draft.bare:
        return
    if draft.kind == MONTHLY and draft.day is None and len(draft.bare) == 1:
        draft.day = _day_of_month(draft.bare[0], None)
        return
    raise ScheduleError(f"`{draft.bare[-1][:12]}` is unclear: write a time with a colon or am/pm (like 09:00 or "
                        "9am), and a day of the month as `monthly day N`.")


def _read(draft: _Draft, tokens: list[str], i: int, known_sections: Collection[str]) -> int:
    """Read the token at `i` (and what belongs to it) into `draft`; how many tokens that took."""
    token = tokens[i]
    if token == "every":
        rest = tuple(tokens[i + 1:i + 3])
        found = next(((n, k) for n, k in _EVERY.items() if rest[:len(n)] == n), None)
        if found is None:
            raise ScheduleError("After `every`, write `day`, `week`, `2 weeks` or `month`.")
        draft.kind = _set_once(draft.kind, found[1])
        return 1 + len(found[0])
    if token == "day" and i + 1 < len(tokens):
        draft.day = _day_of_month(tokens[i + 1], draft.day)
        return 2
    ordinal = _ORDINAL.fullmatch(token)
    if token in _CADENCE_WORDS:
        draft.kind = _set_once(draft.kind, _CADENCE_WORDS[token])
    elif ordinal:
        draft.day = _day_of_month(ordinal.group(1), draft.day)
    elif weekday_of(token) is not None:
        if draft.weekday is not None:
            raise ScheduleError("Give one weekday; for several days a week, use `daily` (Monday to Friday).")
        draft.weekday = weekday_of(token)
    elif token in known_sections:
        draft.sections += [] if token in draft.sections else [token]
    elif token[:1].isdigit():
        _read_number(draft, token)
    elif token not in _FILLER:
        raise ScheduleError(f"I do not know `{token}`. Sections are {', '.join(known_sections)}; cadences are "
                            "daily, weekly, biweekly (or every 2 weeks) and monthly.")
    return 1


def _read_number(draft: _Draft, token: str) -> None:
    """A number alone waits to be placed (`_place_bare_numbers`); with ':' or am/pm it is the time."""
    if token.isascii() and token.isdigit():
        draft.bare.append(token)
        return
    if draft.at is not None:
        raise ScheduleError(f"Give one time; `{token}` is a second one.")
    draft.at = parse_time(token)


def _set_once(current: str | None, new: str) -> str:
    if current is not None and current != new:
        raise ScheduleError(f"Give one cadence, not both {current} and {new}.")
    return new


def _day_of_month(word: str, current: int | None) -> int:
    if current is not None:
        raise ScheduleError("Give one day of the month.")
    if not (word.isascii() and word.isdigit()) or not 1 <= int(word) <= 31:
        raise ScheduleError(f"The day of the month is a number from 1 to 31, not `{word[:12]}`.")
    return int(word)


def _cadence(kind: str | None, at: time, weekday: int | None, day: int | None) -> Cadence:
    if kind is None:
        kind = WEEKLY if weekday is not None else MONTHLY if day is not None else None  # `mon 09:00` is weekly
    if kind is None:
        raise ScheduleError("Say how often: daily, weekly <day>, biweekly <day> (every 2 weeks) or monthly day N.")
    if kind in (WEEKLY, BIWEEKLY):
        if weekday is None:
            raise ScheduleError(f"Say on which day the {kind} digest goes out, e.g. `{kind} mon 09:00`.")
        if day is not None:
            raise ScheduleError(f"A {kind} digest takes a weekday, not a day of the month.")
        return Cadence(kind, at, weekday=weekday)
    if kind == MONTHLY:
        if weekday is not None:
            raise ScheduleError("A monthly digest takes a day of the month (`monthly day 1`), not a weekday.")
        return Cadence(kind, at, day_of_month=day or 1)
    if weekday is not None or day is not None:
        raise ScheduleError("A daily digest goes out every working day (Monday to Friday); leave out the day.")
    return Cadence(kind, at)
