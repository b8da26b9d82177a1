"""Plain-text helpers for what pmbot shows: escaping for Slack mrkdwn, truncation, splitting."""

from __future__ import annotations

ELLIPSIS = "…"


def escape_mrkdwn(text: str) -> str:
    """Make untrusted text inert in mrkdwn: `<!channel>` and `<@U1>` show as typed and never ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
