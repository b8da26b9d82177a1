"""What Slack's message composer sends for what a person types: Slack's wire form.

Slack escapes `&`, `<` and `>`, turns `@bob` into `<@U0BOB>` for a known person, `#random` into
`<#C0RANDOM|random>` for a known channel, `@here`/`@channel`/`@everyone` into `<!here>` etc., and links
web addresses and email addresses. A slash command whose manifest says `should_escape: true` gets the
same, with the user's name in the mention (`<@U0BOB|bob>`). Modal inputs are not encoded at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SPECIAL_MENTIONS = ("here", "channel", "everyone")
_TRAILING = ".,;:!?)]}'\""
# One token a person can type that Slack turns into markup; the look-behind keeps `a@b`, `x#1` and URLs whole.
_TOKEN = re.compile(
    r"(?P<url>https?://[^\s<>]+)"
    r"|(?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?<![\w/&@#])(?P<sigil>[@#])(?P<name>\w[\w.\-]*)"
)


def to_wire(text: str, *, users: Mapping[str, str], channels: Mapping[str, str], labelled: bool = False) -> str:
    """`text` as Slack sends it. `users`/`channels` map a lower-case name to its id; `labelled` adds the
    person's name to user mentions, as escaped slash commands have it."""
    out: list[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        token = match[0].rstrip(_TRAILING)  # a sentence's full stop is not part of the link or name
        markup = _markup(match, token, users=users, channels=channels, labelled=labelled)
        if markup is None:
            continue  # not something Slack links: escaped with the plain text around it
        out.append(escape(text[last:match.start()]))
        out.append(markup)
        last = match.start() + len(token)
    out.append(escape(text[last:]))
    return "".join(out)


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markup(match: re.Match[str], token: str, *, users: Mapping[str, str], channels: Mapping[str, str],
            labelled: bool) -> str | None:
    if match["url"]:
        return f"<{escape(token)}>"
    if match["email"]:
        return f"<mailto:{token}|{token}>"
    name = token[1:].lower()
    if match["sigil"] == "#":
        return f"<#{channels[name]}|{name}>" if name in channels else None
    if name in SPECIAL_MENTIONS:
        return f"<!{name}>"
    if name in users:
        return f"<@{users[name]}|{name}>" if labelled else f"<@{users[name]}>"
    return None
