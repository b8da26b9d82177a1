"""Markdown for the report file: people's text made safe for a table cell or a line, and tables."""

from __future__ import annotations

import re

from bot.domain.pii import redact
from bot.domain.text import NameLookup, readable, truncate

# Characters markdown reads as syntax: escaped with a backslash so a title shows as typed.
_SYNTAX = re.compile(r"([\\`*_\[\]#|~!])")
CELL_CHARS = 120


def text(value: str | None, names: NameLookup | None = None, *, limit: int = CELL_CHARS) -> str:
    """A person's text as one inert markdown line: mentions spelt as names (a file does not render `<@U…>`),
    personal data masked, line breaks folded, markdown syntax, `|` and HTML escaped."""
    if not value:
        return ""
    plain = redact(readable(value, names)).text
    plain = " ".join(plain.split())  # newlines and tabs would end a table row
    plain = truncate(plain, limit)
    plain = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SYNTAX.sub(r"\\\1", plain)


def person(user_id: str | None, names: NameLookup | None = None) -> str:
    """`@name` for a Slack user id (the id when Slack does not know it); never a `<@U…>` mention."""
    if not user_id:
        return "—"
    return text("@" + ((names(user_id) if names else None) or user_id))


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table; cells are expected escaped already (numbers and `text()` output)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) if cell != "" else " " for cell in row) + " |" for row in rows]
    return lines
