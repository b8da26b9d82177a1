"""Jira wiki markup (REST v2) for what we send: escaped lines, literal blocks, labels Jira accepts."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([{}\[\]|*_+^~?#\\])")
_LABEL_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")
SUMMARY_LIMIT = 250


def escape(text: str) -> str:
    """One line of text shown as typed: markup characters escaped, line breaks turned into spaces."""
    flat = " ".join(text.split())
    escaped = _SPECIAL.sub(r"\\\1", flat)
    # A leading "-" or "h1." would start a list or heading.
    return re.sub(r"^(-|h[1-6]\.)", r"\\\1", escaped)


def literal(text: str) -> str:
    """A block shown exactly as typed (a report, a traceback). Only its own end marker needs care."""
    safe = text.replace("{noformat}", "{ noformat}")
    return "{noformat}\n" + safe + "\n{noformat}"


def label(text: str) -> str:
    """A label Jira accepts: no spaces, only safe characters, at most 255 of them."""
    return _LABEL_BAD.sub("-", text.strip()).strip("-")[:255] or "none"


def summary(readable_id: str, title: str) -> str:
    """`B-12: title`, on one line and short enough for Jira's 255-character limit."""
    line = f"{readable_id}: {' '.join(title.split())}"
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1] + "…"


def bullets(items: list[str]) -> str:
    return "\n".join(f"* {escape(item)}" for item in items) if items else "* —"


def link(text: str, url: str) -> str:
    return f"[{escape(text)}|{url}]"
