"""Find and redact personal data and secrets in free text.

What counts is checked where a checksum exists (Luhn for cards, ISO 7064 for IBANs, the national-id
rules in python-stdnum), so order numbers and build ids are left alone. Redaction keeps the text
readable: `card ••••1111`, `j•••@example.com`, and says what kind of thing was removed.

Reports come in every script. Chinese, Japanese and Thai use no spaces, and Python's `\\w` counts CJK,
Cyrillic, Arabic … letters as word characters, so "电话+49 151 23456789" or "邮箱john@example.com" would
hide the number and the address from a `\\w` boundary. The boundaries below therefore count only Latin
letters and digits as "the same word". The rules also run over a *probe* of the text: full-width forms
(＋４９, ｊｏｈｎ＠…) folded by NFKC, other decimal digits (٤٩, ४९) made ASCII, odd spaces made plain, and
invisible format characters (RTL marks, zero-width joiners, BOM) dropped. Every probe character remembers
where it came from, so the redacted text keeps the original surrounding text untouched.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fr import nir as fr_nir
from stdnum.us import ssn as us_ssn

DOT = "•"

# Provider key shapes: the prefix alone is strong evidence, so these need no entropy test.
_KEY_PATTERNS = [
    r"sk-(?:proj-|ant-(?:api\d\d-)?|live-)?[A-Za-z0-9_\-]{16,}",
    r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
    r"AKIA[0-9A-Z]{16}",
    r"ASIA[0-9A-Z]{16}",
    r"gh[pousr]_[A-Za-z0-9]{30,}",
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"glpat-[A-Za-z0-9_\-]{20,}",
    r"xox[abposr]-[A-Za-z0-9\-]{10,}",
    r"xapp-[A-Za-z0-9\-]{10,}",
    r"AIza[0-9A-Za-z_\-]{35}",
    r"hf_[A-Za-z0-9]{30,}",
    r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}",
    r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # JWT
]
_KEY = re.compile(r"(?<![A-Za-z0-9_\-])(?:" + "|".join(_KEY_PATTERNS) + r")")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z]+ )*PRIVATE KEY-----|\Z)", re.S
)
_PASSWORD = re.compile(
    r"(?i)\b(password|passwd|pwd|passcode|pass|contrase(?:n|ñ)a|clave|passwort|kennwort|mot de passe|mdp|"
    r"secret|api[_ -]?key|access[_ -]?token|auth[_ -]?token|token)(\s*(?:=|:|\bis\b|\bes\b|\bist\b|\best\b)\s*)"
    r"(\"[^\"]{3,}\"|'[^']{3,}'|[^\s,;]{3,})"
)
# Settings named like `DB_PASSWORD=`, `client_secret: `, `SLACK_BOT_TOKEN=`, `AWS_SECRET_ACCESS_KEY=` (env files,
# YAML, JSON keys): the name ends in a secret word after an underscore, which `\b` above does not see.
_VARIABLE = re.compile(
    r"(?i)(?<![A-Za-z0-9_])((?:[A-Za-z][A-Za-z0-9]*_)+(password|passwd|pwd|pass|secret|token|key))"
    r"([\"']?\s*[=:]\s*)(\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&]+)"
)
# "login admin / P@ssw0rd!2024", "user: jane / Winter#2026": a user name, a slash, the password (see `_login_rule`).
_LOGIN_PAIR = re.compile(
    r"(?i)\b(?:login|log-in|user(?:name)?|usuario|benutzer(?:name)?|identifiant|credentials|creds)\b"
    r"\s*[:=]?\s*([^\s/]+)(\s+/\s+|/)([^\s,;]+)"
)
# The password in a URL's user part: `postgres://app:s3cret@db.example.com`, `app:s3cret@db.example.com`.
_USERINFO = re.compile(
    r"(?<![A-Za-z0-9_.%+\-])([A-Za-z0-9_.%+\-]*):([^\s:@/<>|\"']+)@(?=[A-Za-z0-9\[])"
)
# `mailto:jane@example.com` (Slack writes links like this) is an address, not a user and a password.
_NOT_A_USER = re.compile(r"(?i)^(?:mailto|sip|sips|xmpp|im|tel)$")
# Latin letters (with accents), digits and "_": what may sit next to an address or a number and still be
# part of the same token. A CJK, Cyrillic, Arabic … letter right next to one is a word boundary.
_LATIN = "A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF"
_W = f"{_LATIN}0-9_"
_EMAIL = re.compile(rf"(?<![{_W}.+-])([{_W}.%+-]+)@([{_W}-]+(?:\.[{_W}-]+)*\.[{_LATIN}]{{2,}})")
# Addresses in another script altogether (иван@пример.рф): the old `\w` rule, run after the Latin one.
_EMAIL_ANY = re.compile(r"(?<![\w.+-])([\w.%+-]+)@([\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,})")
_CARD = re.compile(r"(?<![\d-])(?:\d[ \-]?){12,18}\d(?![\d-])")
# An IBAN in any case ("de89 3704 …" is as valid as "DE89 3704 …"): the start, then up to 30 more characters in
# groups; the checksum decides how many of them belong to it (see `_iban_rule`).
_IBAN_START = re.compile(rf"(?<![{_W}])[A-Za-z]{{2}}\d{{2}}")
_IBAN_REST = re.compile(r"(?: ?[A-Za-z0-9]){11,30}")
_IBAN_END = re.compile(rf"(?![{_W}])")
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_ES_ID = re.compile(rf"(?<![{_W}])(?:[XYZ]\d{{7}}|\d{{8}})[A-Z](?![{_W}])")
_FR_NIR = re.compile(rf"(?<![{_W}])[12] ?\d{{2}} ?\d{{2}} ?(?:\d{{2}}|2[AB]) ?\d{{3}} ?\d{{3}} ?\d{{2}}(?![{_W}])")
# A cheap net for phone numbers; python-phonenumbers decides on what it catches.
_PHONE = re.compile(rf"(?<![{_W}.])(?:\+|00|\()?\d[\d ().\-/]{{6,18}}\d(?![{_W}.])")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")
_HIGH_ENTROPY = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/_\-])")
# One piece of a path or an identifier made of words: `site`, `packages`, `python3`, `Request`, `V2`, `2026`.
_WORDY_PIECE = re.compile(r"[a-z]+\d*|[A-Z][a-z]+\d*|[A-Z]+\d*|\d+")


@dataclass(frozen=True)
class Finding:
    """One thing removed: its kind (`card`, `email`, …) and what the reader still sees."""

    kind: str
    shown_as: str


@dataclass(frozen=True)
class Redaction:
    text: str
    findings: tuple[Finding, ...]

    @property
    def kinds(self) -> list[str]:
        """The kinds found, once each, in the order first seen."""
        return list(dict.fromkeys(f.kind for f in self.findings))


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _mask_card(value: str) -> str:
    return f"card {DOT * 4}{_digits(value)[-4:]}"


def _mask_email(match: re.Match[str]) -> str:
    user, domain = match[1], match[2]
    return f"{user[0]}{DOT * 3}@{domain}"


def _mask_tail(label: str, value: str, keep: int = 4) -> str:
    clean = re.sub(r"[\s\-]", "", value)
    return f"{label} {DOT * 4}{clean[-keep:]}"


def _entropy(value: str) -> float:
    counts = {c: value.count(c) for c in set(value)}
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _is_card(value: str) -> bool:
    digits = _digits(value)
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits) and len(set(digits)) > 1


def _is_wordy(value: str) -> bool:
    """Made of words and numbers joined by `/ _ - . +`, like a file path or a module name: not a key.

    Without this, `lib/python3.11/site-packages/slack_bolt/middleware/…` in a traceback reads as one long,
    varied token and was masked as a secret.
    """
    pieces = [p for p in re.split(r"[/_\-.+]+", value) if p]
    return bool(pieces) and all(_WORDY_PIECE.fullmatch(p) for p in pieces)


def _is_secret_like(value: str) -> bool:
    """A long token with high entropy and mixed characters: probably a key, not a word, a path or a hash we show."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha and _entropy(value) >= 4.2 and not _is_wordy(value)


# Without a leading + the number is read as local to one of these regions (where our users are).
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "MX")


def _phone_spans(text: str) -> Iterator[tuple[int, int]]:
    for candidate in _PHONE.finditer(text):
        raw = candidate[0]
        digits = _digits(raw)
        if not 8 <= len(digits) <= 15 or _DATE.search(raw) or _IPV4.fullmatch(raw.strip()):
            continue  # too short or long for a phone number, a date, or an IP address
        # "0049 …" is "+49 …"; replacing with " +" keeps every offset in place.
        probe = " +" + raw[2:] if raw.startswith("00") else raw
        regions = ("ZZ",) if probe.lstrip().startswith("+") else _PHONE_REGIONS
        for region in regions:
            found = next(iter(phonenumbers.PhoneNumberMatcher(probe, region, leniency=phonenumbers.Leniency.VALID)),
                         None)
            if found is not None:
                # A match on the "+" that stands for "00" covers the two zeros too.
                zeros = probe.startswith(" +") and found.start <= 1
                yield (candidate.start() if zeros else candidate.start() + found.start), candidate.start() + found.end
                break


Rule = tuple[str, Callable[[str], Iterator[tuple[int, int, str]]]]


def _regex_rule(pattern: re.Pattern[str], valid: Callable[[str], bool] | None,
                mask: Callable[[re.Match[str]], str]) -> Callable[[str], Iterator[tuple[int, int, str]]]:
    def find(text: str) -> Iterator[tuple[int, int, str]]:
        for match in pattern.finditer(text):
            if valid is None or valid(match[0]):
                yield match.start(), match.end(), mask(match)

    return find


# Values after "password:" / "api_key=" that are not a secret: words, code, and the placeholders people
# paste in bug reports (`apiKey: ''`, `api_key=os.environ["KEY"]`, `<your-key>`, `sk-...`, `xxxx`).
_NOT_A_SECRET = re.compile(
    r"(?i)^(?:reset|field|manager|required|incorrect|wrong|expired|changed|none|null|nil|undefined|true|false|"
    r"empty|redacted|hidden|masked|placeholder|changeme|dummy|example|test|string|str|optional)$|"
    r"environ|getenv|process\.env|\benv\b|\$\{|\{\{|^<.*>?$|^\[.*\]?$|\byour|^(?:sk|pk|key)?[-_]?\W*$|"
    r"^(?:sk-)?(?:x+|\*+|\.+|•+|-+|_+|0+|1234\w{0,4})$|(?-i:^[A-Z][A-Z0-9]*_[A-Z0-9_]+$)|^[\w.]+\(.*"
)


def _password_rule(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _PASSWORD.finditer(text):
        value = match[3].strip("\"'`").rstrip(",;)}]")
        if not value.strip("\"'`") or _NOT_A_SECRET.search(value):
            continue
        # "the first token is not shown": after "is" a secret looks like one (a digit or a symbol in it).
        if match[2].strip().isalpha() and match[3][0] not in "\"'" and value.isalpha():
            continue
        yield match.start(3), match.end(3), f"{DOT * 6}"


def _is_plain_identifier(value: str) -> bool:
    """`created_at`, `user.id`: what a `sort_key=` or `primary_key:` names, not a key's value."""
    return re.fullmatch(r"[a-z][a-z_.\-]*", value) is not None


def _variable_rule(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _VARIABLE.finditer(text):
        value = match[4].strip("\"'`").rstrip(",;)}]")
        if len(value) < 3 or _NOT_A_SECRET.search(value):
            continue
        if match[2].lower() == "key" and _is_plain_identifier(value):
            continue
        quote = 1 if match[4][:1] in "\"'" else 0
        start = match.start(4) + quote
        yield start, start + len(value), f"{DOT * 6}"


def _looks_like_password(value: str) -> bool:
    """Letters, digits and a symbol or a capital: `P@ssw0rd!2024`, `Winter2026X`, not `v2`, `or`, `2fa`."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    extra = any(not c.isalnum() for c in value) or (value.lower() != value and len(value) >= 8)
    return has_digit and has_alpha and extra


def _login_rule(text: str) -> Iterator[tuple[int, int, str]]:
    """The password in `login <user> / <password>`.

    With spaces round the slash the pair is explicit, but prose says "the login page / dashboard" too, so the
    password must hold something besides letters and be at least six long. Without spaces ("user admin/x") it
    must look like a password outright, or `user and/or admin` and `user docs/v2` would be caught.
    """
    for match in _LOGIN_PAIR.finditer(text):
        value = match[3].rstrip(")}]\"'")
        if not value or _NOT_A_SECRET.search(value):
            continue
        spaced = match[2] != "/"
        if spaced and (len(value) < 6 or value.isalpha()):
            continue
        if not spaced and not _looks_like_password(value):
            continue
        yield match.start(3), match.start(3) + len(value), f"{DOT * 6}"


def _userinfo_rule(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _USERINFO.finditer(text):
        user, password = match[1], match[2]
        if _NOT_A_USER.match(user) or len(password) < 3 or _NOT_A_SECRET.search(password):
            continue
        if user.isdigit() and password.isdigit():
            continue  # a time or a ratio ("10:300@…"), not credentials
        yield match.start(2), match.end(2), f"{DOT * 6}"


def _iban_rule(text: str) -> Iterator[tuple[int, int, str]]:
    """IBANs in any case. The longest stretch that ends a word and passes the checksum wins, so the IBAN in
    "DE89 3704 0044 0532 0130 00 in the export" stops before " in" (a case-insensitive pattern runs on)."""
    resume = 0
    for start in _IBAN_START.finditer(text):
        if start.start() < resume:
            continue
        rest = _IBAN_REST.match(text, start.end())
        if rest is None:
            continue
        for end in range(rest.end(), start.end() + 10, -1):
            if text[end - 1] == " " or not _IBAN_END.match(text, end):
                continue
            value = text[start.start():end]
            if std_iban.is_valid(value):
                yield start.start(), end, _mask_tail("IBAN", value)
                resume = end
                break


def _phone_rule(text: str) -> Iterator[tuple[int, int, str]]:
    for start, end in _phone_spans(text):
        yield start, end, _mask_tail("phone", text[start:end])


def _entropy_rule(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _HIGH_ENTROPY.finditer(text):
        if _is_secret_like(match[0]):
            yield match.start(), match.end(), f"secret {DOT * 4}"


_RULES: list[Rule] = [
    ("private_key", _regex_rule(_PRIVATE_KEY, None, lambda m: "[private key removed]")),
    ("api_key", _regex_rule(_KEY, None, lambda m: f"{m[0][:4]}{DOT * 4}")),
    ("password", _password_rule),
    ("password", _variable_rule),
    ("password", _login_rule),
    ("password", _userinfo_rule),  # before e-mail: in `app:s3cret@db.example.com` the "address" is the password
    ("email", _regex_rule(_EMAIL, None, _mask_email)),
    ("email", _regex_rule(_EMAIL_ANY, None, _mask_email)),
    ("iban", _iban_rule),
    ("card", _regex_rule(_CARD, _is_card, lambda m: _mask_card(m[0]))),
    ("national_id", _regex_rule(_SSN, us_ssn.is_valid,
                                lambda m: f"SSN {DOT * 3}-{DOT * 2}-{m[0][-4:]}")),
    ("national_id", _regex_rule(_ES_ID, lambda v: es_dni.is_valid(v) or es_nie.is_valid(v),
                                lambda m: _mask_tail("ID", m[0], 2))),
    ("national_id", _regex_rule(_FR_NIR, fr_nir.is_valid, lambda m: _mask_tail("NIR", m[0], 2))),
    ("phone", _phone_rule),
    ("secret", _entropy_rule),
]


# What the probe changes: format characters (Cf: LRM/RLM, ZWJ/ZWNJ, bidi controls, BOM, soft hyphen …),
# spaces other than " ", full-width and small forms, and decimal digits other than 0-9.
_FOLDABLE = re.compile(r"[\u00A0\u00AD\u061C\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u206F\u3000\uFE50-\uFE6B"
                       r"\uFEFF\uFF01-\uFF5E\uFFF9-\uFFFB]|(?![0-9])\d")


def _fold_char(c: str) -> str:
    if unicodedata.category(c) == "Cf":
        return ""
    if c.isspace():
        return " "
    if c.isdecimal():
        return str(unicodedata.decimal(c))
    folded = unicodedata.normalize("NFKC", c)
    return folded if len(folded) == 1 else c


def _probe(text: str) -> tuple[str, list[int] | None]:
    """The text the rules read, and for each of its characters the index it came from (None: the same text).

    Folding maps one character to at most one, so a span in the probe is a span of the original text; a
    dropped mark inside a value is simply covered by the span around it.
    """
    if not _FOLDABLE.search(text):
        return text, None
    chars: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        folded = _fold_char(c) if _FOLDABLE.match(c) else c
        if folded:
            chars.append(folded)
            origin.append(i)
    return "".join(chars), origin


@dataclass(frozen=True)
class Span:
    """Where one finding sits in the text (`text[start:end]`), its kind, and what replaces it."""

    start: int
    end: int
    kind: str
    shown: str

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


def find(text: str) -> list[Span]:
    """Every finding in the text, in order, none overlapping (an earlier, more specific rule wins).

    Public so that a caller reading the text through another lens (the log formatter decodes URL-encoded and
    JSON-escaped values) can map the spans back to what it will print.
    """
    probe, origin = _probe(text)
    taken: list[Span] = []
    for kind, rule in _RULES:
        for start, end, shown in rule(probe):
            if origin is not None:
                start, end = origin[start], origin[end - 1] + 1
            if not any(span.overlaps(start, end) for span in taken):
                taken.append(Span(start, end, kind, shown))
    return sorted(taken, key=lambda span: span.start)


def mask(text: str, spans: list[Span]) -> Redaction:
    """The text with each span (in order, none overlapping) replaced by its masked form."""
    pieces, cursor, findings = [], 0, []
    for span in sorted(spans, key=lambda s: s.start):
        before = text[cursor:span.start]
        shown = span.shown
        label, _, rest = shown.partition(" ")
        if rest and before.rstrip(" :").lower().endswith(label.lower()):
            shown = rest  # "card 4111…" reads "card ••••1111", not "card card ••••1111"
        pieces.append(before)
        pieces.append(shown)
        findings.append(Finding(span.kind, shown))
        cursor = span.end
    pieces.append(text[cursor:])
    return Redaction("".join(pieces), tuple(findings))


def redact(text: str) -> Redaction:
    """The text with every finding replaced by its masked form, and the list of findings."""
    return mask(text, find(text))


def describe(findings: tuple[Finding, ...] | list[Finding]) -> str:
    """“a card number and an e-mail address”, for telling the reporter what was removed."""
    names = {"card": "a card number", "email": "an e-mail address", "phone": "a phone number",
             "iban": "a bank account (IBAN)", "national_id": "a national id number", "api_key": "an API key",
             "secret": "a secret-looking token", "password": "a password", "private_key": "a private key"}
    kinds = list(dict.fromkeys(f.kind for f in findings))
    words = [names.get(k, k) for k in kinds]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
