"""Parse the user and channel references Slack sends in slash-command text."""

from __future__ import annotations

import re
from dataclasses import dataclass

# With should_escape on, Slack sends <@U123|name> and <#C123|name>; typed by hand they are @name / #name.
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>|(?<![\w<])@([\w.\-]+)")
_CHANNEL = re.compile(r"<#(C[A-Z0-9]+|G[A-Z0-9]+)(?:\|([^>]*))?>|(?<![\w<&])#([a-z0-9_\-]+)")


@dataclass(frozen=True)
class Ref:
    """A reference: `id` when Slack resolved it, otherwise only the `name` typed."""

    id: str | None
    name: str | None


def user_refs(text: str) -> list[Ref]:
    """Every user mentioned, in order."""
    return [Ref(m[1], m[2] or None) if m[1] else Ref(None, m[3]) for m in _USER.finditer(text)]


def channel_refs(text: str) -> list[Ref]:
    """Every channel mentioned, in order."""
    return [Ref(m[1], m[2] or None) if m[1] else Ref(None, m[3]) for m in _CHANNEL.finditer(text)]
