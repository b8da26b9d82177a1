"""Text as it crosses Slack's edge: decoded once on the way in, encoded once per surface on the way out.

Slack escapes `&`, `<` and `>` in command text and messages (not in modal inputs) and writes mentions,
channel links, special mentions and links as `<…>` markup. Inside pmbot, text is plain: decoded once by
`from_slack`, with Slack's markup kept as it came. Each surface encodes it once: `escape_mrkdwn` for Slack
messages (where `<@U…>` and `<#C…>` still render), `readable` for everything Slack does not render
(files, CSV, Jira, charts, plain_text), which spells mentions as names.
"""

from __future__ import annotations

import re
from collections.abc import Callable

ELLIPSIS = "…"

# Slack's markup: <@U1>, <@U1|name>, <#C1>, <#C1|name>, <!channel>, <!subteam^S1|@team>, <!date^…|text>,
# <https://x>, <https://x|label>, <mailto:a@b.c|a@b.c>.
_MARKUP = re.compile(r"<([@#!]?)([^<>|\s]+)(?:\|([^<>]*))?>")
_MENTION = re.compile(r"<([@#])((?:U|W|C|G)[A-Z0-9]+)(?:\|[^<>]*)?>")
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")

NameLookup = Callable[[str], "str | None"]


def from_slack(text: str) -> str:
    """Slack's escaped text as plain text: `&lt;` `&gt;` `&amp;` decoded exactly once."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape_mrkdwn(text: str) -> str:
    """Make untrusted text inert in mrkdwn: `<!channel>`, links and stray `<`/`&` show as typed and never
    ping. User mentions and channel links (`<@U1>`, `<#C1>`) stay, because Slack shows them as names."""
    out: list[str] = []
    last = 0
    for match in _MENTION.finditer(text):
        out.append(_inert(text[last:match.start()]))
        out.append(f"<{match[1]}{match[2]}>")
        last = match.end()
    out.append(_inert(text[last:]))
    return "".join(out)


def _inert(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def readable(text: str, names: NameLookup | None = None) -> str:
    """Text for a surface Slack does not render: `<@U1>` → `@name`, `<#C1|general>` → `#general`,
    `<!channel>` → `@channel`, `<https://x|label>` → `label (https://x)`. `names` maps an id to a name."""

    def spell(match: re.Match[str]) -> str:
        sigil, body, label = match[1], match[2], match[3]
        if sigil in ("@", "#"):
            name = (names(body) if names else None) or (label.lstrip(sigil) if label else None) or body
            return sigil + name
        if sigil == "!":
            if body.startswith("subteam^"):
                return label if label and label.startswith("@") else "@" + (label or body.split("^", 1)[1])
            if body.startswith("date^"):
                return label or body
            return "@" + body
        if body.startswith(_LINK_SCHEMES):
            shown = body.removeprefix("mailto:").removeprefix("tel:")
            return f"{label} ({shown})" if label and label != shown else shown
        return match[0]  # not Slack markup (`<1>`): the person typed it

    return _MARKUP.sub(spell, text)


_LINK_MARKUP = re.compile(r"^<((?:https?|mailto):[^<>|\s]+)(?:\|[^<>]*)?>$")


def unwrap_link(word: str) -> str:
    """A web address as Slack sends it in escaped text (`<https://x>` or `<https://x|x>`) → `https://x`."""
    found = _LINK_MARKUP.match(word.strip())
    return found[1] if found else word.strip()


def mentioned_ids(text: str) -> list[str]:
    """The user and channel ids Slack markup in `text` refers to, in order, once each."""
    return list(dict.fromkeys(m[2] for m in _MENTION.finditer(text)))


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Do not leave half an entity (&amp;) at the end of escaped text.
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def split_text(text: str, limit: int) -> list[str]:
    """Split long text into chunks of at most `limit` characters, preferring line breaks."""
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
            amp = rest.rfind("&", max(0, cut - 8), cut)
            if amp > 0 and ";" not in rest[amp:cut]:
                cut = amp
        chunks.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest or not chunks:
        chunks.append(rest)
    return chunks
