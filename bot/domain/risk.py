"""Risk register rules, pure: scores and bands, review dates, categories, and reading what people type.

`/risk the vendor may deprecate our model p=4 i=5 owner=@maria #vendor due=2026-12-15` gives a title and
those fields; plain prose gives what offline heuristics can tell (category words, "likely", "severe").
Nothing here talks to Slack or the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

PROBABILITY = {1: "rare — hard to imagine this year", 2: "unlikely — could happen, would surprise us",
               3: "possible — as likely as not over the project", 4: "likely — expect it unless we act",
               5: "almost certain — already starting or bound to happen"}
IMPACT = {1: "negligible — a small nuisance", 2: "minor — some rework or a short delay",
          3: "moderate — a missed milestone, unhappy users or visible cost",
          4: "major — a release at risk, harm to users, regulators interested",
          5: "severe — legal exposure, safety harm, or the product stopped"}

BANDS = (("low", 1, 4), ("medium", 5, 9), ("high", 10, 15), ("critical", 16, 25))
REVIEW_DAYS = {"critical": 7, "high": 14, "medium": 30, "low": 90}
RESPONSES = ("avoid", "mitigate", "transfer", "accept")
STATUSES = ("open", "mitigating", "accepted", "closed")
BAND_EMOJI = {"critical": "🟥", "high": "🟧", "medium": "🟨", "low": "🟩"}

# Presets for generative-AI work; a team can add its own with `/risk category add`.
CATEGORIES: dict[str, str] = {
    "regulatory": "Regulatory and compliance",
    "privacy": "Privacy and PII",
    "bias": "Bias and fairness",
    "safety": "Harmful content and safety",
    "hallucination": "Hallucination and accuracy",
    "security": "Security and prompt injection",
    "drift": "Model drift",
    "data": "Data quality and availability",
    "ip": "IP and licensing",
    "vendor": "Vendor and API dependency",
    "cost": "Cost overrun",
    "schedule": "Schedule",
    "people": "People",
}

# Words that suggest a category when the author did not give one (first match wins, in this order).
_CATEGORY_WORDS: tuple[tuple[str, str], ...] = (
    ("security", r"prompt.injection|jailbreak|exfiltrat|attack|security|vulnerab|credential|secret|api key leak"),
    ("privacy", r"\bpii\b|personal data|privacy|gdpr|ccpa|hipaa|consent|anonymi[sz]"),
    ("regulatory", r"ai act|regulat|complian|audit|legal|law\b|lawsuit|certif"),
    ("safety", r"harmful|toxic|unsafe|self.harm|hate|abuse|nsfw|safety"),
    ("bias", r"\bbias|fairness|discriminat|demographic"),
    ("hallucination", r"hallucinat|accura|made.up|fabricat|factual|wrong answers"),
    ("drift", r"drift|degrad\w* over time|distribution shift|model decay"),
    ("ip", r"copyright|licen[cs]|intellectual property|\bip\b|trademark|open.source license"),
    ("vendor", r"vendor|provider|openai|anthropic|deprecat|rate.limit|outage|api change|lock.in|third.party"),
    ("cost", r"cost|budget|spend|overrun|token price|gpu hours|expensive"),
    ("data", r"dataset|training data|label|annotation|data quality|data availab|missing data|stale data"),
    ("schedule", r"deadline|delay|late|slip|schedule|launch date|milestone"),
    ("people", r"leaves?|attrition|key person|hiring|staff|burnout|bus factor|on leave|quit"),
)
_PROBABILITY_WORDS = ((5, r"almost certain|certainly|definitely|already happening|bound to"),
                      (4, r"\blikely\b|probably|expected to"), (2, r"unlikely|improbable|doubtful"),
                      (1, r"\brare\b|very unlikely|remote chance"))
_IMPACT_WORDS = ((5, r"catastroph|severe|fatal|existential|shut ?down|lawsuit|fine[sd]? by"),
                 (4, r"\bmajor\b|serious|significant|critical"), (2, r"\bminor\b|small|slight"),
                 (1, r"negligible|trivial|cosmetic"))


def band(score: int) -> str:
    """The band of a P×I score: low 1–4, medium 5–9, high 10–15, critical 16–25."""
    for name, low, high in BANDS:
        if low <= score <= high:
            return name
    raise ValueError(f"a score is 1–25, not {score}")


def score(probability: int | None, impact: int | None) -> int | None:
    return probability * impact if probability and impact else None


def review_after(band_name: str, today: date) -> date:
    """The default next review: critical in 7 days, high 14, medium 30, low 90."""
    return today + timedelta(days=REVIEW_DAYS[band_name])


def slug(text: str) -> str:
    """A category key from a name: lowercase letters, digits and dashes."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-")[:32]


# --- reading what people type --------------------------------------------------------------------


class FieldError(ValueError):
    """A value the user gave that we cannot use; the message says what would work."""


@dataclass
class Hints:
    """What one line of `/risk …` says: the title left after the hints, and the fields it set."""

    title: str = ""
    fields: dict[str, object] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    guessed: set[str] = field(default_factory=set)  # fields filled by heuristics, not typed


_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_PLAIN_USER = re.compile(r"@([\w.\-]{1,80})")
_CHANNEL_REF = re.compile(r"<#[CG][A-Z0-9]+\|([^>]*)>")
_HINT = re.compile(
    r"(?<!\S)(?P<key>[A-Za-z_]+)=(?P<value><@[^>]+>|\"[^\"]*\"|'[^']*'|\S+)"
    r"|(?<!\S)#(?P<tag>[A-Za-z0-9][\w-]*)"
    r"|<#[CG][A-Z0-9]+\|(?P<chan>[^>]*)>"
)
_KEYS = {"p": "probability", "prob": "probability", "probability": "probability", "likelihood": "probability",
         "i": "impact", "impact": "impact", "owner": "owner", "o": "owner", "due": "review_on", "review": "review_on",
         "review_on": "review_on", "category": "category", "cat": "category", "response": "response",
         "mitigation": "mitigation", "plan": "mitigation", "trigger": "trigger", "status": "status",
         "title": "title", "description": "description"}


def parse_hints(text: str, *, today: date, categories: dict[str, str]) -> Hints:
    """Pull `key=value` and `#category` hints out of a line; the rest is the title."""
    hints = Hints()
    for match in _HINT.finditer(text):
        if match["tag"] or match["chan"] is not None:
            name = match["tag"] or match["chan"]
            key = category_key(name, categories)
            if key is None:
                hints.errors.append(f"`#{name}` is not a category here ({', '.join(sorted(categories))}).")
            else:
                hints.fields["category"] = key
            continue
        name = _KEYS.get(match["key"].lower())
        if name is None:
            hints.errors.append(f"`{match['key']}=` is not a field I know; try p=, i=, owner=, due=, response=.")
            continue
        try:
            hints.fields[name] = parse_field(name, match["value"].strip("\"'"), today=today, categories=categories)
        except FieldError as exc:
            hints.errors.append(str(exc))
    rest = _HINT.sub(" ", text)
    hints.title = re.sub(r"\s+", " ", rest).strip(" ,;-")
    _guess(hints, text)
    return hints


def _guess(hints: Hints, text: str) -> None:
    lowered = text.lower()
    for name, table in (("probability", _PROBABILITY_WORDS), ("impact", _IMPACT_WORDS)):
        if name not in hints.fields:
            for value, pattern in table:
                if re.search(pattern, lowered):
                    hints.fields[name] = value
                    hints.guessed.add(name)
                    break
    if "category" not in hints.fields:
        for key, pattern in _CATEGORY_WORDS:
            if re.search(pattern, lowered):
                hints.fields["category"] = key
                hints.guessed.add("category")
                break


def category_key(name: str, categories: dict[str, str]) -> str | None:
    """A category by key, label or a clear prefix of either (`#priv` → privacy)."""
    wanted = slug(name)
    if not wanted:
        return None
    if wanted in categories:
        return wanted
    by_label = {slug(label): key for key, label in categories.items()}
    if wanted in by_label:
        return by_label[wanted]
    matches = {key for key in categories if key.startswith(wanted)}
    matches |= {key for label, key in by_label.items() if label.startswith(wanted)}
    return matches.pop() if len(matches) == 1 else None


def parse_field(name: str, value: str, *, today: date, categories: dict[str, str]) -> object:
    """One field's value, checked; FieldError says what would work."""
    parser = _PARSERS.get(name)
    if parser is None:
        raise FieldError(f"`{name}` is not a field I know.")
    return parser(value.strip(), name, today, categories)


def _scale(value: str, name: str, _today: date, _categories: dict[str, str]) -> int:
    if not re.fullmatch(r"[1-5]", value):
        raise FieldError(f"{name.capitalize()} is a whole number from 1 to 5, not `{value}`.")
    return int(value)


def _owner(value: str, _name: str, _today: date, _categories: dict[str, str]) -> str:
    """A user id from Slack's escaped mention, or `@name` as typed (the caller looks the name up)."""
    found = _USER.fullmatch(value) or _PLAIN_USER.fullmatch(value)
    if not found:
        raise FieldError(f"The owner is one person, mentioned like @maria (not `{value}`).")
    return found[1] if found.re is _USER else "@" + found[1]


def _review(value: str, _name: str, today: date, _categories: dict[str, str]) -> date:
    return parse_date(value, today=today, what="The review date")


def _category(value: str, _name: str, _today: date, categories: dict[str, str]) -> str:
    key = category_key(value.lstrip("#"), categories)
    if key is None:
        raise FieldError(f"`{value}` is not a category here ({', '.join(sorted(categories))}).")
    return key


def _response(value: str, _name: str, _today: date, _categories: dict[str, str]) -> str:
    if value.lower() not in RESPONSES:
        raise FieldError(f"The response is one of {', '.join(RESPONSES)} (not `{value}`).")
    return value.lower()


def _status(value: str, _name: str, _today: date, _categories: dict[str, str]) -> str:
    if value.lower() not in ("open", "mitigating"):
        raise FieldError("Status can be set to open or mitigating; `/risk accept` and `/risk close` do the others.")
    return value.lower()


def _free_text(value: str, name: str, _today: date, _categories: dict[str, str]) -> str:
    if not value:
        raise FieldError(f"The {name} cannot be empty.")
    return value


_PARSERS = {"probability": _scale, "impact": _scale, "owner": _owner, "review_on": _review, "category": _category,
            "response": _response, "status": _status, "title": _free_text, "description": _free_text,
            "mitigation": _free_text, "trigger": _free_text}


_RELATIVE = re.compile(r"\+?(\d{1,3})\s*([dw])")


def parse_date(value: str, *, today: date, what: str = "The date") -> date:
    """`2026-12-15`, `14d`, `3w`, `tomorrow`; never in the past."""
    text = value.strip().lower()
    if text == "today":
        found = today
    elif text == "tomorrow":
        found = today + timedelta(days=1)
    elif relative := _RELATIVE.fullmatch(text):
        amount, unit = int(relative[1]), relative[2]
        found = today + timedelta(days=amount * (7 if unit == "w" else 1))
    else:
        try:
            found = date.fromisoformat(text)
        except ValueError:
            raise FieldError(f"{what} should look like 2026-12-15 (or 14d, 3w), not `{value}`.") from None
    if found < today:
        raise FieldError(f"{what} {found.isoformat()} is in the past.")
    return found


def parse_updates(text: str, *, today: date, categories: dict[str, str]) -> dict[str, object]:
    """`probability=4 owner=@x mitigation="swap vendor"` → fields; FieldError on the first bad one."""
    found = parse_hints(text, today=today, categories=categories)
    if found.errors:
        raise FieldError(" ".join(found.errors))
    if found.title:
        raise FieldError(f"I did not understand `{found.title}`: write fields as name=value, "
                         "e.g. `probability=4 owner=@maria`.")
    if not found.fields or found.guessed == set(found.fields):
        raise FieldError("Say what to change, e.g. `/risk update R-3 probability=4 owner=@maria`.")
    return {k: v for k, v in found.fields.items() if k not in found.guessed}


_ANSWER_SKIP = re.compile(r"^\s*(?:skip|pass|n/?a|none|-)\s*[.!]?\s*$", re.I)


def is_skip(text: str) -> bool:
    return bool(_ANSWER_SKIP.match(text))


def parse_answer(step: str, text: str, *, today: date, categories: dict[str, str]) -> object:
    """A typed thread reply to one intake question ("4", "@maria", "privacy", free text)."""
    text = text.strip()
    if step in ("probability", "impact"):
        found = re.fullmatch(r"([1-5])(?:\s*/\s*5)?[.!]?", text)
        if not found:
            raise FieldError(f"Reply with a number from 1 to 5 for the {step}, or `skip`.")
        return int(found[1])
    if step == "owner":
        found = _USER.search(text)
        if found:
            return found[1]
        plain = re.search(r"(?<![\w<])" + _PLAIN_USER.pattern, text)
        if not plain:
            raise FieldError("Reply with one @mention for the owner, or `skip`.")
        return "@" + plain[1]
    if step == "category":
        key = category_key(_CHANNEL_REF.sub(r"\1", text).lstrip("#"), categories)
        if key is None:
            raise FieldError(f"Reply with one of: {', '.join(sorted(categories))} — or `skip`.")
        return key
    if step == "mitigation":
        if len(text) < 3:
            raise FieldError("Reply with the mitigation plan in a sentence, or `skip`.")
        return text
    raise FieldError(f"`{step}` is not a question I ask.")
