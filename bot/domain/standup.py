"""Stand-up rules, pure: the set-up line, working days and holidays, local times across DST, splitting an
answer into its questions, and blockers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.domain.text import escape_mrkdwn

DEFAULT_QUESTIONS = ("What did you do yesterday?", "What will you do today?", "Anything blocking you?")
GENAI_QUESTION = "Any model, prompt or eval changes, or spend surprises?"  # the 4th question of older stand-ups
GENAI_QUESTIONS = ("Which experiments did you run?", "Any eval results?", "Any data or labelling blockers?",
                   "Any model or prompt changes shipped?")
PRESETS = {"classic": DEFAULT_QUESTIONS, "genai": GENAI_QUESTIONS}
MAX_QUESTIONS = 6
MAX_QUESTION_CHARS = 150
THREAD, DM = "thread", "dm"  # a stand-up's modes: one post in the channel, or each member asked by DM
MODES = (THREAD, DM)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_REMINDER_MINUTES = 60
DEFAULT_SUMMARY_MINUTES = 240


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
    preset: str | None = None  # `classic` or `genai` when the line names one
    mode: str | None = None  # `thread` or `dm` when the line names one
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


HOW_TO_WRITE_A_ZONE = "write the zone as Europe/Berlin or a city like Berlin"


def check_timezone(name: str) -> str:
    """An IANA zone name as typed (`Europe/Berlin`, `europe/berlin`, `UTC`), in its proper spelling."""
    proper = _zone_names().get(name.lower(), name)
    try:
        ZoneInfo(proper)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetupError(f"{name} is not a time zone I know; {HOW_TO_WRITE_A_ZONE}.") from None
    return proper


# The areas of the IANA zones named after a city; the old aliases (US/Pacific, Canada/Eastern, Etc/GMT+1) are
# left out, so `Pacific` or `Eastern` are not taken for a city.
_CITY_AREAS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian",
               "Pacific")


@cache
def _zone_names() -> dict[str, str]:
    return {zone.lower(): zone for zone in available_timezones()}


def _city_key(text: str) -> str:
    """A city as people type it, compared without case, spaces, underscores, dashes or accents: `São Paulo`,
    `sao_paulo` and `SaoPaulo` are the same."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


@cache
def _cities() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for zone in sorted(available_timezones()):
        if zone.split("/", 1)[0] in _CITY_AREAS and "/" in zone:
            found.setdefault(_city_key(zone.rsplit("/", 1)[-1]), []).append(zone)
    return {key: tuple(zones) for key, zones in found.items()}


def city_zone(text: str) -> str | None:
    """The IANA zone a city names (`Berlin` → Europe/Berlin, `New York` → America/New_York), None when no zone
    is named after it. A name two zones that differ share is refused with the choices."""
    zones = _cities().get(_city_key(text)) if _city_key(text) else None
    if not zones:
        return None
    if len(zones) > 1 and not _same_clock(zones):
        raise SetupError(f"`{text}` could be {' or '.join(zones)}: write the zone itself, e.g. {zones[0]}.")
    return max(zones, key=lambda zone: (zone.count("/"), zone))  # aliases keep the same time: take one, always


def _same_clock(zones: tuple[str, ...]) -> bool:
    """Zones that show the same offset on the 1st and 15th of every month of recent years (aliases)."""
    moments = [datetime(year, month, mday, 12, tzinfo=UTC) for year in range(2000, 2038) for month in range(1, 13)
               for mday in (1, 15)]
    first, *others = (ZoneInfo(zone) for zone in zones)
    return all(m.astimezone(first).utcoffset() == m.astimezone(z).utcoffset() for z in others for m in moments)


# Working days as a set-up line writes them: `mon-fri`, `sun-thu`, `mon,wed,fri`, `monday`, `weekdays`.
_DAY = r"(?:mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)s?"
_DAYS = re.compile(rf"weekdays|workdays|daily|everyday|every-day|{_DAY}(?:[-,]{_DAY})*")
_CITY_WORD = re.compile(r"[^\W\d][\w'’.\-]*")


_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")


def parse_setup(text: str, *, default_timezone: str) -> Setup:
    """`#team 09:30 Europe/Berlin mon-fri @ana @ben holidays=DE-BY genai remind=45 summary=180`."""
    setup = Setup()
    words = text.split()
    index = 0
    while index < len(words):
        index += _city_of_words(setup, words, index) or _setup_word(setup, words[index])
    setup.timezone = setup.timezone or default_timezone
    if setup.time is None:
        raise SetupError("Say when: `/standup setup #team 09:30 Europe/Berlin mon-fri @ana @ben`.")
    if not setup.members:
        raise SetupError("Name the members: `… @ana @ben`.")
    if not setup.workdays:
        raise SetupError("Give at least one working day.")
    return setup


def _city_of_words(setup: Setup, words: list[str], index: int) -> int:
    """How many words from `index` on name a city of several words (`New York`, `São Paulo`, `Ho Chi Minh`),
    taken as the time zone; 0 when they do not."""
    for count in (3, 2):
        parts = words[index:index + count]
        if len(parts) == count and all(_CITY_WORD.fullmatch(p) for p in parts) and (zone := city_zone(" ".join(parts))):
            setup.timezone = zone
            return count
    return 0


def _days_or_zone(setup: Setup, word: str) -> None:
    """A plain word: working days (`mon-fri`), else a city naming a time zone (`Berlin`, `new_york`)."""
    lowered = word.lower()
    if _DAYS.fullmatch(lowered):
        setup.workdays = parse_days(lowered)
    elif zone := city_zone(word):
        setup.timezone = zone
    elif re.fullmatch(r"[a-z]+(?:[-,][a-z]+)+", lowered):
        setup.workdays = parse_days(lowered)  # days mistyped (`mon-fry`): the answer says how days are written
    else:
        raise SetupError(f"`{word}` is neither a day (mon … sun) nor a city I know as a time zone: "
                         f"{HOW_TO_WRITE_A_ZONE}; days are written mon-fri or mon,wed,fri.")


def _setup_word(setup: Setup, word: str) -> int:
    """Read one word of a set-up line; 1 (the words it took)."""
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
    elif lowered in ("genai", "+genai", "classic", *MODES):
        _choice(setup, lowered.lstrip("+"))
    elif lowered.startswith(("remind=", "summary=")):
        name, _, value = lowered.partition("=")
        if not re.fullmatch(r"[0-9]{1,3}", value) or not 5 <= int(value) <= 720:  # not `²`, not 5,000 digits
            raise SetupError(f"`{word}`: give minutes from 5 to 720, e.g. remind=60.")
        setattr(setup, "reminder_minutes" if name == "remind" else "summary_minutes", int(value))
    elif _CITY_WORD.fullmatch(word) or re.fullmatch(r"[a-z,\-]+", lowered):
        _days_or_zone(setup, word)
    else:
        raise SetupError(f"I did not understand `{word}`. Example: `/standup setup #team 09:30 Europe/Berlin "
                         "mon-fri @ana @ben holidays=DE-BY`.")
    return 1


def _choice(setup: Setup, word: str) -> None:
    """A preset of questions (`classic`, `genai`) or a mode (`thread`, `dm`)."""
    if word in MODES:
        setup.mode = word
    else:
        setup.preset = word


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


def next_post(now: datetime, *, clock: str, zone: str, workdays: list[int], paused_until: date | None,
              holiday: Callable[[date], str | None], horizon_days: int = 400) -> datetime | None:
    """The next moment a stand-up posts after `now`: its local time on its next working day that is neither a
    holiday (`holiday` names it) nor within its pause; None when there is none within the horizon."""
    today = now.astimezone(ZoneInfo(zone)).date()
    first = max(today, paused_until + timedelta(days=1)) if paused_until and paused_until < date.max else today
    if paused_until == date.max or (first - today).days > horizon_days:
        return None
    for offset in range(horizon_days):
        day = first + timedelta(days=offset)
        if day.weekday() not in workdays:
            continue
        moment = local_moment(day, clock, zone)
        if moment > now and not holiday(day):
            return moment
    return None


# --- answers ---------------------------------------------------------------------------------------------

# The labels people put before each part of an answer, per question (yesterday, today, blockers, the GenAI
# question), in English, Spanish, German and French. Strong labels are words used for little else: they may
# stand alone on a line as a heading, and they split a line where they appear in its middle (the one-line
# form "Yesterday: … Today: … Blockers: …"). Weak ones count only at the start of a line, before `:` or a dash.
_STRONG_LABELS = (
    r"yesterday|done yesterday|ayer|gestern|hier",
    r"today|plans? for today|hoy|heute|aujourd'hui",
    r"blockers?|blocked(?: by)?|blocking|blocks|impediments?|bloqueos?|bloqueantes?|impedimentos?|obst[aá]culos?"
    r"|blockaden?|hindernisse?|blocages?|bloquants?|points? bloquants?|obstacles?",
    r"gen-?ai|gen ai",
)
_WEAK_LABELS = (
    r"y|did|done|last",
    r"t|plans?|next",
    r"b|issues|problems|problemas|probleme|problèmes",
    r"models?|ai|changes",
)
_APOSTROPHE = "['’]"
_MARKS = r"[*_~]*"  # bold, italic and strike-through wrapped around a label: *Today:*, _Today_:, ~Today~
_BULLET = r"(?:[-–•◦▪‣+>]|\*(?=\s)|\d{1,2}[.)])"  # -, •, * and 1. / 1) bullets, and > quotes
_EMOJI = r":[a-z0-9_+\-]+:"
_WORD_END = r"(?![^\W_]|['’])"  # the label's word ends here (an underscore may close italics)


def _alternatives(patterns: tuple[str, ...]) -> str:
    return "|".join(f"(?:{p})" for p in patterns).replace("'", _APOSTROPHE)


_STRONG = tuple(re.compile(p.replace("'", _APOSTROPHE), re.I) for p in _STRONG_LABELS)
_WEAK = tuple(re.compile(p, re.I) for p in _WEAK_LABELS)
_LABEL = rf"(?P<label>{_alternatives(_STRONG_LABELS)}|{_alternatives(_WEAK_LABELS)}){_WORD_END}"
_HEAD = re.compile(rf"^\s*(?:{_BULLET}\s+)*(?:{_EMOJI}\s*)?(?P<open>{_MARKS})\s*{_LABEL}(?P<close>{_MARKS})"
                   rf"\s*(?P<sep>:|[-–—](?=\s|$)|$)(?P<after>{_MARKS})\s*(?P<rest>.*)$", re.I)
_INLINE = re.compile(rf"(?<=[\s.;,|)])(?P<open>{_MARKS})(?P<label>{_alternatives(_STRONG_LABELS)}){_WORD_END}"
                     rf"(?P<close>{_MARKS})\s?:", re.I)
_LINE_START = re.compile(rf"\s*(?:{_BULLET}\s*)*(?:{_EMOJI}\s*)?{_MARKS}", re.I)
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)](?:\s+(.*))?$")
_BULLET_START = re.compile(rf"^\s*{_BULLET}\s+")

# Ways of saying "no blocker", once formatting, bullets, emoji codes and end punctuation are taken off.
_NO_BLOCKER = re.compile(
    r"(?:none|no|nope|nah|nothing|nil|zero|0|n/?a|n\.a|all good|all clear|not really|not blocked|unblocked"
    r"|no blockers?|no blocks|no issues|nothing blocking(?: me)?"
    r"|ninguno|ninguna|nada|no hay|sin bloqueos?|ningún bloqueo"
    r"|keine|keiner|keins|nichts|nein|keine blocker|keine blockaden|keine hindernisse"
    r"|aucun|aucune|rien|non|pas de blocages?|aucun blocage|rien à signaler|ras)"
    r"(?:\s+(?:yet|so far|today|for now|right now|at the moment|atm|por ahora|hoy|heute|aujourd'hui))?",
    re.I)


def split_answer(text: str, questions: list[str]) -> dict[str, str]:
    """Sort a typed answer into its questions by the labels people write (bold or italic, after bullets, on
    one line or several, in English, Spanish, German or French), else by numbers `1.` `2.` `3.`; lines after a
    label belong to it. An answer with neither is kept whole under the first question."""
    if not questions or not text.strip():
        return {}
    lines = text.splitlines()
    targets = label_targets(questions)
    pieces = [piece for line in lines for piece in _labelled_pieces(line, targets)]
    if all(index is None for index, _ in pieces):
        pieces = [_numbered(line, len(questions)) for line in lines]
    if all(index is None for index, _ in pieces):
        return {questions[0]: text.strip()}
    found: dict[int, list[str]] = {}
    current = 0  # what comes before the first label belongs to the first question
    for index, content in pieces:
        current = current if index is None else index
        found.setdefault(current, []).append(content)
    answers = {questions[i]: "\n".join(p for p in parts if p) for i, parts in sorted(found.items())}
    answers = {question: answer for question, answer in answers.items() if answer}
    return answers or {questions[0]: text.strip()}  # labels with nothing after them: keep what was typed


def _labelled_pieces(line: str, targets: tuple[int | None, ...]) -> list[tuple[int | None, str]]:
    """A line cut where a label starts in its middle, each piece with its question (None: no label)."""
    cuts = [m.start() for m in _INLINE.finditer(line) if _inline_label(line, m)]
    return [_labelled(line[start:end], targets) for start, end in zip([0, *cuts], [*cuts, len(line)], strict=True)]


def _inline_label(line: str, match: re.Match[str]) -> bool:
    # "… for today: …" in a sentence is not a label; "… Today: …", "… *today:* …" and "…. today: …" are.
    before = line[:match.start()].rstrip()
    looks_like_one = bool(match["open"]) or match["label"][0].isupper() or before.endswith((".", ";", ",", "|", ")"))
    return looks_like_one and not _LINE_START.fullmatch(before)


def _labelled(piece: str, targets: tuple[int | None, ...]) -> tuple[int | None, str]:
    head = _HEAD.match(piece)
    kind, strong = _label_index(head["label"]) if head else (None, False)
    if head is None or kind is None or not (strong or head["sep"] or (head["open"] and head["close"])):
        return None, piece.strip()  # no label, or a weak one alone on a line ("Done"): an answer, not a heading
    index = targets[kind]
    if index is None:
        # A question this stand-up does not ask ("GenAI: …" without the GenAI question): kept, with its label,
        # under the first question rather than inside someone's blocker.
        return (0, piece.strip()) if strong else (None, piece.strip())
    rest = head["rest"].strip()
    unclosed = head["open"] if not head["close"] and not head["after"] else ""
    if unclosed and rest.endswith(unclosed[::-1]):
        rest = rest[:-len(unclosed)].rstrip()  # `_Blockers: none_`: the italics close after the answer
    return index, rest


def _label_index(label: str) -> tuple[int | None, bool]:
    """The question a label heads, and whether it is a strong label."""
    label = " ".join(label.split())
    for index, (strong, weak) in enumerate(zip(_STRONG, _WEAK, strict=True)):
        if strong.fullmatch(label):
            return index, True
        if weak.fullmatch(label):
            return index, False
    return None, False


def _numbered(line: str, count: int) -> tuple[int | None, str]:
    found = _NUMBERED.match(line)
    if found and 1 <= int(found[1]) <= count:
        return int(found[1]) - 1, (found[2] or "").strip()
    return None, line.strip()


def _bare(line: str) -> str:
    """A line without its bullet, emoji codes, formatting marks and end punctuation, in lower case."""
    line = re.sub(_EMOJI, " ", _BULLET_START.sub("", line), flags=re.I)
    line = re.sub(r"[*_~`]", "", line)
    return " ".join(line.split()).strip(" .!…-–—").lower().replace("’", "'")


def blocker_of(answers: dict[str, str], questions: list[str]) -> str | None:
    """The blocker an answer reports (under the blocker question, see `blocker_index`), or None for none ("none",
    "n/a", "—", "keine", "rien", … with or without formatting)."""
    index = blocker_index(questions)
    if index is None:
        return None
    lines = [line.strip() for line in (answers.get(questions[index]) or "").splitlines() if _bare(line)]
    if not lines or all(_NO_BLOCKER.fullmatch(_bare(line)) for line in lines):
        return None
    if len(lines) == 1:
        return _BULLET_START.sub("", lines[0]).strip()  # "• waiting on legal" is the blocker "waiting on legal"
    return "\n".join(lines)


def same_blocker(a: str, b: str) -> bool:
    """Two days' blocker texts are the same blocker when they share most of their words."""
    words_a, words_b = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    if not words_a or not words_b:
        return False
    return len(words_a & words_b) / min(len(words_a), len(words_b)) >= 0.6


# --- questions ------------------------------------------------------------------------------------------------


def blocker_index(questions: list[str] | tuple[str, ...]) -> int | None:
    """Which question asks for blockers: the first whose text says "block" (classic: the third, "Anything
    blocking you?"; genai: "Any data or labelling blockers?"); None when no question does, and then nobody's
    answer is a blocker."""
    return next((n for n, question in enumerate(questions) if "block" in question.lower()), None)


def label_targets(questions: list[str] | tuple[str, ...]) -> tuple[int | None, ...]:
    """The question each kind of typed label (yesterday, today, blockers, gen-AI) goes to. The classic questions
    take all four by position (the gen-AI label only where a fourth question follows them); other questions take
    the blockers label at their blocker question, and are otherwise answered by number (`1.` `2.` …)."""
    if tuple(questions[:3]) == DEFAULT_QUESTIONS:
        return 0, 1, 2, 3 if len(questions) > 3 else None
    return None, None, blocker_index(questions), None


def parse_questions(text: str) -> list[str]:
    """A preset's name (`classic`, `genai`) or 1 to 6 questions separated by `|`, each in quotes or not:
    `"What shipped?" | "What is next?" | "Blocked by anything?"`."""
    text = text.strip()
    if not text:
        raise SetupError(_QUESTIONS_HELP)
    if text.lower() in PRESETS:
        return list(PRESETS[text.lower()])
    questions = [_unquoted(part) for part in text.split("|")]
    if any(not question for question in questions):
        raise SetupError("A question is empty. " + _QUESTIONS_HELP)
    if len(questions) > MAX_QUESTIONS:
        raise SetupError(f"That is {len(questions)} questions; a stand-up asks 1 to {MAX_QUESTIONS}.")
    long = next((q for q in questions if len(q) > MAX_QUESTION_CHARS), None)
    if long is not None:
        raise SetupError(f"A question has at most {MAX_QUESTION_CHARS} characters; the one starting "
                         f"“{escape_mrkdwn(long[:40])}…” has {len(long)}.")
    if len({q.lower() for q in questions}) < len(questions):
        raise SetupError("Two questions are the same; each answer is kept under its question.")
    if any(_PINGS.search(q) for q in questions):
        raise SetupError("A question cannot mention a person, a channel or a group (`@name`, `#channel`, `@here`, "
                         "`@channel`): it is sent every day and would notify them each time. Write it without.")
    return questions


_QUESTIONS_HELP = ('Name a preset (`classic`, `genai`) or write 1 to 6 questions separated by `|`: '
                   '`/standup questions 1 "What shipped?" | "What is next?" | "Anything blocking you?"`.')
_QUOTES = "\"'“”‘’„«»"
_PINGS = re.compile(r"<[@!#]")  # Slack's mention, broadcast and channel markup


def _unquoted(part: str) -> str:
    """A typed question without its surrounding quotes (straight or curly, as Slack's editor makes them)."""
    part = " ".join(part.split())
    if len(part) >= 2 and part[0] in _QUOTES and part[-1] in _QUOTES:
        part = part[1:-1].strip()
    return part
