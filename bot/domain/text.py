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
from typing import Any

ELLIPSIS = "…"

# Slack's markup: <@U1>, <@U1|name>, <#C1>, <#C1|name>, <!channel>, <!subteam^S1|@team>, <!date^…|text>,
# <https://x>, <https://x|label>, <mailto:a@b.c|a@b.c>.
_MARKUP = re.compile(r"<([@#!]?)([^<>|\s]+)(?:\|([^<>]*))?>")
_MENTION = re.compile(r"<([@#])((?:U|W|C|G)[A-Z0-9]+)(?:\|[^<>]*)?>")
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")

NameLookup = Callable[[str], "str | None"]


def from_slack(text: str) -> str:
    """Slack's escaped text as plain text: `&lt;` `&gt;` `&amp;` decoded exactly once, control characters
    stripped (`strip_controls`), so what enters here can be stored as it is."""
    return strip_controls(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


# C0 controls but tab and line feed, DEL, C1 controls, and lone surrogates (a JSON payload can carry `\ud800`,
# which no UTF-8 encoder, and so no database driver, accepts).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """Text fit to store: line breaks become `\\n` (CR LF and a lone CR alike), tabs stay, and every other
    control character is removed. PostgreSQL refuses a NUL in text outright, and the rest are invisible
    in Slack yet break CSV, logs and comparisons; nobody types them on purpose."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def strip_controls_in(value: Any) -> Any:
    """`strip_controls` on every string inside a JSON-like value (dict values, list items), for payload parts
    a handler reads piece by piece, such as a modal's state."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {key: strip_controls_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_controls_in(item) for item in value]
    return value


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


# What may stay of a person's text in mrkdwn: a channel link (it notifies nobody). A user mention is spelt.
_CHANNEL_OR_USER = re.compile(r"<(?:#((?:C|G)[A-Z0-9]+)|@((?:U|W)[A-Z0-9]+))(?:\|([^<>]*))?>")


def escape_user_text(text: str, names: NameLookup | None = None) -> str:
    """Text a person wrote (a title, a reason, a note, an answer, LLM output), for any mrkdwn surface: it pings
    nobody. Unlike `escape_mrkdwn`, which keeps `<@U1>` because pmbot's own messages mean their mentions, a user
    mention here is spelt `@name` (from `names`, else its label, else the id): kept, Slack would notify that person
    in pmbot's name. `<!channel>`, `<!subteam^…>`, links and stray `<`/`&` show as typed; `<#C1>` stays."""
    out: list[str] = []
    last = 0
    for match in _CHANNEL_OR_USER.finditer(text):  # one pass: a spelt name can never become markup again
        out.append(_inert(text[last:match.start()]))
        channel, user, label = match[1], match[2], match[3]
        if channel:
            out.append(f"<#{channel}>")
        else:
            out.append(_inert("@" + ((names(user) if names else None) or (label or "").lstrip("@") or user)))
        last = match.end()
    out.append(_inert(text[last:]))
    return "".join(out)


def escape_purpose(text: str, names: NameLookup | None = None) -> str:
    """Text for a channel's purpose or topic (`conversations.setPurpose`/`setTopic`). Slack shows these without
    formatting, yet stores and returns them entity-encoded like message text: mentions and links are spelt out
    (`readable`), then `&`, `<`, `>` encoded, so nothing in them is markup."""
    return _inert(readable(text, names))


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


_HALF_ENTITY = re.compile(r"&#?[A-Za-z0-9]{0,8}")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Do not leave half an entity (`&am` of `&amp;`) at the end of escaped text; an `&` followed by anything an
    # entity cannot hold (a space, punctuation: "R&D team", "Q3 & Q4") is the character itself and stays.
    amp = cut.rfind("&")
    if amp != -1 and _HALF_ENTITY.fullmatch(cut[amp:]):
        cut = cut[:amp]
    return cut + ELLIPSIS


def shorten(text: str, limit: int) -> str:
    """Cut plain, decoded text (`from_slack`'s, a form's input) to at most `limit` characters, marking the cut
    with an ellipsis. Unlike `truncate`, which is for escaped text and backs off from what may be half an entity,
    every `&` here is the character itself: "Q3 & Q4" stays."""
    if limit < 1:
        raise ValueError("limit must be positive")
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


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
