"""Stand-up rules, pure: the set-up line, working days and holidays, local times across DST, splitting an
answer into its questions, and blockers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_QUESTIONS = ("What did you do yesterday?", "What will you do today?", "Anything blocking you?")
GENAI_QUESTION = "Any model, prompt or eval changes, or spend surprises?"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_REMINDER_MINUTES = 60
DEFAULT_SUMMARY_MINUTES = 240
_NO_BLOCKER = re.compile(r"^\s*(?:no(?:ne|thing|pe)?|n/?a|-+|nada|all good|not really|no blockers?)\s*[.!]*\s*$",
                         re.I)


class SetupError(ValueError):
    """A set-up value we cannot use; the message says what would work."""


@dataclass
class Setup:
    channel_id: str | None = None
    time: str | None = None  # "09:30"
    timezone: str | None = None
    workdays: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    members: list[str] = field(default_factory=list)
    country: str | None = None
    subdivision: str | None = None
    genai: bool = False
    reminder_minutes: int = DEFAULT_REMINDER_MINUTES
    summary_minutes: int = DEFAULT_SUMMARY_MINUTES


def parse_days(text: str) -> list[int]:
    """`mon-fri`, `sun-thu`, `mon,wed,fri`, `weekdays` → weekday numbers (0 is Monday)."""
    text = text.lower().strip()
    if text in ("weekdays", "workdays"):
        return [0, 1, 2, 3, 4]
    if text in ("daily", "everyday", "every-day"):
        return list(range(7))
    days: list[int] = []
    for part in text.split(","):
        if "-" in part:
            first, last = (DAY_NAMES.index(p[:3]) if p[:3] in DAY_NAMES else -1 for p in part.split("-", 1))
            if first < 0 or last < 0:
                raise SetupError(f"`{part}` is not a range of days like mon-fri or sun-thu.")
            days += [(first + n) % 7 for n in range((last - first) % 7 + 1)]
        elif part[:3] in DAY_NAMES:
            days.append(DAY_NAMES.index(part[:3]))
        else:
            raise SetupError(f"`{part}` is not a day (mon … sun).")
    return sorted(set(days))


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetupError(f"{name} is not a time zone I know; use an IANA name such as Europe/Berlin.") from None
    return name


_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")


def parse_setup(text: str, *, default_timezone: str) -> Setup:
    """`#team 09:30 Europe/Berlin mon-fri @ana @ben holidays=DE-BY genai remind=45 summary=180`."""
    setup = Setup()
    for word in text.split():
        _setup_word(setup, word)
    setup.timezone = setup.timezone or default_timezone
    if setup.time is None:
        raise SetupError("Say when: `/standup setup #team 09:30 Europe/Berlin mon-fri @ana @ben`.")
    if not setup.members:
        raise SetupError("Name the members: `… @ana @ben`.")
    if not setup.workdays:
        raise SetupError("Give at least one working day.")
    return setup


def _setup_word(setup: Setup, word: str) -> None:
    lowered = word.lower()
    if channel := _CHANNEL.fullmatch(word):
        setup.channel_id = channel[1]
    elif user := _USER.fullmatch(word):
        setup.members.append(user[1])
    elif re.fullmatch(r"@[\w.\-]{1,80}", word):
        setup.members.append(word)  # typed by hand, not completed by Slack: the caller looks the name up
    elif re.fullmatch(r"#[a-z0-9_\-]{1,80}", lowered):
        setup.channel_id = lowered  # a channel name typed by hand: the caller looks it up
    elif clock := _TIME.match(lowered):
        setup.time = f"{int(clock[1]):02d}:{clock[2]}"
    elif "/" in word or word.upper() == "UTC":
        setup.timezone = check_timezone(word)
    elif lowered.startswith(("holidays=", "country=")):
        country, _, subdivision = word.split("=", 1)[1].upper().partition("-")
        setup.country, setup.subdivision = country, subdivision or None
    elif lowered in ("genai", "+genai"):
        setup.genai = True
    elif lowered.startswith(("remind=", "summary=")):
        name, _, value = lowered.partition("=")
        if not value.isdigit() or not 5 <= int(value) <= 720:
            raise SetupError(f"`{word}`: give minutes from 5 to 720, e.g. remind=60.")
        setattr(setup, "reminder_minutes" if name == "remind" else "summary_minutes", int(value))
    elif re.fullmatch(r"[a-z,\-]+", lowered):
        setup.workdays = parse_days(lowered)
    else:
        raise SetupError(f"I did not understand `{word}`. Example: `/standup setup #team 09:30 Europe/Berlin "
                         "mon-fri @ana @ben holidays=DE-BY`.")


def holiday_name(day: date, country: str | None, subdivision: str | None) -> str | None:
    """The public holiday on `day` in the country (and subdivision), if any."""
    if not country:
        return None
    import holidays  # only stand-ups with a holiday country pay for the import

    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=day.year)
    except NotImplementedError:
        raise SetupError(f"{country}{'-' + subdivision if subdivision else ''} is not a holiday calendar I "
                         "know; use a country code like DE or DE-BY.") from None
    return calendar.get(day)


def local_moment(day: date, clock: str, zone: str, *, plus_minutes: int = 0) -> datetime:
    """The aware moment `clock` on `day` in `zone` (DST-correct), plus some minutes."""
    hour, minute = (int(p) for p in clock.split(":"))
    return datetime.combine(day, time(hour, minute), ZoneInfo(zone)) + timedelta(minutes=plus_minutes)


# --- answers ---------------------------------------------------------------------------------------------

_LABELS = (
    (0, r"yesterday|y|done|did|ayer|gestern|hier"),
    (1, r"today|t|plan|hoy|heute|aujourd'hui"),
    (2, r"blockers?|blocked|b|impediments?|bloqueos?|blocker|blockaden?|blocages?"),
    (3, r"genai|gen-?ai|model|models|ai|changes"),
)


def split_answer(text: str, questions: list[str]) -> dict[str, str]:
    """Lines headed `Yesterday:` / `Today:` / `Blockers:` (or numbered 1. 2. 3.) go to their question;
    anything else is kept whole under the first question."""
    found: dict[int, list[str]] = {}
    current = None
    for line in text.splitlines():
        head = re.match(r"^\s*(?:[*_]*)(?:(\d)[.)]|([A-Za-z' -]{1,20})\s*[:\-–])\s*(.*)$", line)
        index = None
        if head:
            if head[1]:
                index = int(head[1]) - 1
            else:
                label = head[2].strip().lower()
                index = next((i for i, pattern in _LABELS if re.fullmatch(pattern, label)), None)
        if index is not None and 0 <= index < len(questions):
            current = index
            found.setdefault(index, []).append(head[3].strip())
        elif current is not None:
            found[current].append(line.strip())
        else:
            found.setdefault(0, []).append(line.strip())
    return {questions[i]: "\n".join(p for p in parts if p).strip() for i, parts in sorted(found.items())}


def blocker_of(answers: dict[str, str], questions: list[str]) -> str | None:
    """The blocker an answer reports (the third question), or None for none."""
    if len(questions) < 3:
        return None
    text = (answers.get(questions[2]) or "").strip()
    return None if not text or _NO_BLOCKER.match(text) else text


def same_blocker(a: str, b: str) -> bool:
    """Two days' blocker texts are the same blocker when they share most of their words."""
    words_a, words_b = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    if not words_a or not words_b:
        return False
    return len(words_a & words_b) / min(len(words_a), len(words_b)) >= 0.6
