"""What each slash command says about itself: used by help, the manifest and the router."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.domain.text import escape_mrkdwn, truncate
from bot.errors import NotFound, UserInputError


@dataclass(frozen=True)
class CommandSpec:
    """A slash command's public face: its name, one-line summary and its usage lines."""

    name: str
    summary: str
    usage_hint: str = ""
    usage: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # True when the handler answers `help` itself (`/pmbot help` lists every command).
    own_help: bool = False

    def help_text(self) -> str:
        """The text `/<command> help` answers with."""
        lines = [f"*{self.name}* — {self.summary}"]
        lines += [f"• `{escape_mrkdwn(f'{self.name} {form}'.strip())}`{' — ' + what if what else ''}"
                  for form, what in self.usage]
        return "\n".join(lines)


HELP_WORDS = frozenset({"help", "-h", "--help", "?"})


def is_help(text: str) -> bool:
    return text.strip().lower() in HELP_WORDS


# --- sub-command grammars --------------------------------------------------------------------------------
#
# Each command declares its sub-commands once: the router and the help text both read the table, so a
# sub-command cannot be routed without being documented, and a typo of one is caught before the text is
# taken as a report or a risk.

Run = Callable[..., None]  # (request, reply, deps, args) → answers through reply


def _anything(_args: list[str]) -> bool:
    return True


def no_args(args: list[str]) -> bool:
    """For sub-commands that take nothing (`/bug stats`)."""
    return not args


@dataclass(frozen=True)
class Sub:
    """One sub-command: the word, its arguments as help shows them, one help line, and what runs it.

    `fits` says whether the words after the sub-command have its shape; `pattern` lets a sub-command be
    named by a value instead of a word (`/incident INC-3 status`).
    """

    word: str
    args: str = ""
    help: str = ""
    run: Run = field(kw_only=True)
    fits: Callable[[list[str]], bool] = _anything
    aliases: tuple[str, ...] = ()
    pattern: str | None = None
    listed: bool = True  # False: routed but left out of help (an alias form)

    def names(self, word: str) -> bool:
        lowered = word.lower()
        if lowered == self.word or lowered in self.aliases:
            return True
        return bool(self.pattern and re.fullmatch(self.pattern, word, re.I))

    def form(self, command: str) -> str:
        return f"{command} {self.word} {self.args}".strip()


@dataclass(frozen=True)
class Grammar:
    """A command's sub-commands, what plain text means (`free`), and what an empty command does."""

    command: str
    subs: tuple[Sub, ...]
    free: Sub | None = None  # text that is no sub-command: a report, a risk; None → such text is refused
    empty: Run | None = None
    empty_help: str = ""
    free_word: str = ""  # the sub-command that takes any text as-is (`/bug report <text>`), for the hint

    def usage(self) -> tuple[tuple[str, str], ...]:
        """(form, what) lines for help, in table order."""
        lines = [(self.free.args, self.free.help)] if self.free else []
        if self.empty_help:
            lines.append(("", self.empty_help))
        lines += [(f"{sub.word} {sub.args}".strip(), sub.help) for sub in self.subs if sub.listed]
        return tuple(lines)

    def dispatch(self, request: Any, reply: Any, deps: Any) -> None:
        """Route the command's text and run what it names: a sub-command, the free text, or `empty`."""
        sub, args = self.route(request.text)
        if sub is not None:
            sub.run(request, reply, deps, args)
        elif self.empty is not None:
            self.empty(request, reply, deps, args)
        else:
            raise UserInputError(f"Say what to do; `{self.command} help` lists it.")

    def route(self, text: str) -> tuple[Sub | None, list[str]]:
        """The sub-command `text` names and its arguments; (None, []) for an empty command.

        Raises UserInputError with the usage when a sub-command's arguments are wrong or its name is
        misspelt, so nothing is filed by mistake.
        """
        words = text.split()
        if not words:
            return None, []
        first, args = words[0], words[1:]
        sub = next((s for s in self.subs if s.names(first)), None)
        if sub is not None:
            if sub.fits(args):
                return sub, args
            raise UserInputError(self._wrong_arguments(sub, text))
        near = self.nearest(first)
        if near is not None and (not args or near.fits(args) or self.free is None):
            raise UserInputError(self._did_you_mean(near, text))
        if self.free is not None:
            return self.free, words
        raise UserInputError(f"`{self.command} {truncate(first, 40)}` is not something I know. "
                             f"`{self.command} help` lists what I can do.")

    def nearest(self, word: str) -> Sub | None:
        """The sub-command `word` is a typo of: within two letters (one for words of three letters or less)."""
        lowered = word.lower()
        if len(lowered) < 2 or not lowered.isalpha():
            return None
        best: tuple[int, Sub] | None = None
        for sub in self.subs:
            if sub.pattern or (self.free is not None and sub.word == self.free_word):
                continue  # `report`/`add` take any text: a word near them is more likely a report than a typo
            for name in (sub.word, *sub.aliases):
                limit = 1 if min(len(name), len(lowered)) <= 3 else 2
                distance = edit_distance(lowered, name)
                if distance <= limit and (best is None or distance < best[0]):
                    best = (distance, sub)
        return best[1] if best else None

    def _wrong_arguments(self, sub: Sub, text: str) -> str:
        return f"`{sub.form(self.command)}` — {sub.help}." + self._nothing_filed(text)

    def _did_you_mean(self, sub: Sub, text: str) -> str:
        return f"Did you mean `{sub.form(self.command)}`? ({sub.help})" + self._nothing_filed(text)

    def _nothing_filed(self, text: str) -> str:
        if self.free is None or not self.free_word:
            return ""
        return (f"\nNothing was filed. To file it just as you wrote it, use "
                f"`{self.command} {self.free_word} {truncate(text, 60)}`.")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (`lsit` is one step from `list`)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                best = min(best, previous2[j - 2] + 1)
            current.append(best)
        previous2, previous = previous, current
    return previous[-1]


def rest_of(text: str, words: int) -> str:
    """`text` after its first `words` words, as typed (inner spacing and line breaks kept)."""
    parts = text.strip().split(None, words)
    return parts[words] if len(parts) > words else ""


# --- numbers a person types -------------------------------------------------------------------------------
#
# Every number typed into a command passes one of these before it reaches SQL. PostgreSQL's integer (every id
# column) stops at 2**31 - 1 and refuses more with "integer out of range"; SQLite's 64-bit integers overflow in
# the driver; Python's int() refuses more than 4,300 digits; and `str.isdigit` accepts `²`, which int() refuses.

MAX_ROW_ID = 2**31 - 1
MAX_PAGE = 100_000  # more pages than any list here will have
_MAX_DIGITS = 18  # far beyond any bound here, and well inside a 64-bit integer


def is_number(word: str) -> bool:
    """True for plain digits 0-9 only (`str.isdigit` also says yes to `²` and to other scripts' digits)."""
    return word.isascii() and word.isdigit()


def bounded_int(word: str, *, low: int, high: int, what: str) -> int:
    """`word` as a whole number from `low` to `high`, or UserInputError saying which numbers `what` takes."""
    if is_number(word) and len(word) <= _MAX_DIGITS and low <= int(word) <= high:
        return int(word)
    raise UserInputError(f"{what[:1].upper()}{what[1:]} is a whole number from {low:,} to {high:,}, "
                         f"not `{truncate(word, 24)}`.")


def row_id(word: str, *, unknown: str) -> int:
    """A row's id as a person typed it (`/standup pause 12`). A number no id column can hold names no row, so it
    gets `unknown`, the answer for an id that does not exist, before any SQL sees it."""
    if is_number(word) and len(word) <= _MAX_DIGITS and 1 <= int(word) <= MAX_ROW_ID:
        return int(word)
    raise NotFound(unknown)
