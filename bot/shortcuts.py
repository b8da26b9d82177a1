"""What the message shortcuts (*File as bug*, *File as risk*, *Add to incident timeline*) share: the message they
were used on, read once from the `message_action` payload, and the few Slack look-ups made once its form is open
(`open_then_fill`: the trigger lasts 3 s, so the form opens first and is redrawn with the link and the names).

Each feature keeps its own shortcut (bot/bugs/shortcuts.py, bot/risks/shortcuts.py, bot/incidents/shortcuts.py);
the command modules register them and list them in `SHORTCUTS` for the manifest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.deps import Deps
from bot.domain.text import NameLookup, escape_user_text, from_slack, mentioned_ids, readable, shorten
from bot.edge import Request
from bot.errors import IntegrationUnavailable

logger = logging.getLogger(__name__)

# Slack refuses a modal whose plain_text_input starts with more than its max_length (3,000 at most).
INITIAL_VALUE_LIMIT = 3000
# Names looked up (users.info) for the mentions in a message, at most: the modal must open while its trigger is
# fresh (3 s from the click), so a message mentioning half the team shows the rest as their ids.
NAMES_LOOKED_UP = 6


@dataclass(frozen=True)
class Source:
    """The message a shortcut was used on, as pmbot keeps it: text decoded once (Slack's markup kept)."""

    channel_id: str
    channel_kind: str  # channel, private, im, mpim (see Request.channel_kind)
    ts: str
    author_id: str  # the person who wrote it, or "" for a bot
    bot_name: str  # the bot that posted it, or ""
    text: str
    files: tuple[str, ...]  # names of the files shared with it
    attachments: str  # what its attachments say, when it has some
    response_url: str

    @property
    def by_bot(self) -> bool:
        return not self.author_id

    @property
    def has_text(self) -> bool:
        return bool(self.text.strip())

    def author_markup(self) -> str:
        """The author for mrkdwn that Slack renders (a modal's context, a card): a mention, or the bot's name."""
        if self.author_id:
            return f"<@{self.author_id}>"
        return f"the bot {escape_user_text(self.bot_name)}" if self.bot_name else "a bot"

    def what_else(self) -> str:
        """What the message holds besides text, in words ("" when nothing)."""
        parts = []
        if self.files:
            parts.append(("a file: " if len(self.files) == 1 else "files: ") + ", ".join(self.files))
        if self.attachments:
            parts.append("an attachment")
        return " and ".join(parts)


def source_of(request: Request) -> Source:
    """The message of a `message_action` payload (no Slack call)."""
    message: dict[str, Any] = request.message or {}
    profile = message.get("bot_profile") or {}
    bot_name = "" if message.get("user") and not message.get("bot_id") else (
        profile.get("name") or message.get("username") or "")
    attachments = " ".join(
        from_slack(str(a.get("text") or a.get("fallback") or a.get("pretext") or ""))
        for a in message.get("attachments") or [] if isinstance(a, dict)).strip()
    return Source(
        channel_id=request.channel_id,
        channel_kind=request.channel_kind,
        ts=str(message.get("ts") or request.message_ts),
        author_id="" if message.get("bot_id") else str(message.get("user") or ""),
        bot_name=str(bot_name),
        text=from_slack(str(message.get("text") or "")).strip(),
        files=tuple(str(f.get("name") or f.get("title") or "a file") for f in message.get("files") or []
                    if isinstance(f, dict)),
        attachments=attachments,
        response_url=request.response_url,
    )


def permalink(deps: Deps, source: Source) -> str:
    """The link that opens the message (chat.getPermalink, after the ack); "" when Slack will not give it (a DM
    between people pmbot cannot see, Slack down): the form then goes without it rather than fail."""
    try:
        return deps.slack.permalink(source.channel_id, source.ts)
    except IntegrationUnavailable as exc:
        logger.info("no permalink for %s in %s: %s", source.ts, source.channel_id, exc)
        return ""


@dataclass(frozen=True)
class Found:
    """What Slack is asked about the message once its form is open: its link, and the names of its author and of
    the people it mentions. The form first opens with `Found()` (nothing asked yet: ids stand for names)."""

    link: str = ""
    names: NameLookup | None = None


def look_up(deps: Deps, source: Source) -> Found:
    """Ask Slack for the message's link and a few names (see NAMES_LOOKED_UP); each name asked once."""
    text = source.text or source.attachments
    asked = [i for i in mentioned_ids(text) if i[:1] in ("U", "W")][:NAMES_LOOKED_UP]
    asked += [source.author_id] if source.author_id else []
    known = {some_id: deps.names(some_id) for some_id in dict.fromkeys(asked)}
    return Found(permalink(deps, source), known.get)


def open_then_fill(deps: Deps, request: Request, source: Source, draw: Callable[[Found], dict[str, Any]]) -> None:
    """Open a "reading the message" view at once, while the trigger is fresh (3 s from the click), then ask Slack
    for the link and the names and turn it into the form (views.update). The first view has no inputs on purpose:
    Slack keeps an input's state across an update when its ids stay the same, so a form first drawn with user ids
    would keep showing them. When the link or names cannot be had, the form comes without them; when even the
    update fails, the view says to close it and try again."""
    form = draw(Found())
    view_id = deps.slack.open_view(request.trigger_id, loading_view(form))
    found = look_up(deps, source)
    try:
        deps.slack.update_view(view_id, draw(found))
    except IntegrationUnavailable as exc:
        logger.info("the form %s was not filled in: %s", view_id, exc)
        try:
            deps.slack.update_view(view_id, loading_view(form, failed=True))
        except IntegrationUnavailable:
            logger.info("the form %s could not say so either", view_id)


def loading_view(form: dict[str, Any], *, failed: bool = False) -> dict[str, Any]:
    """The view shown while the form is made ready: the form's title and Cancel, no inputs and no Submit."""
    text = ("Slack did not let me open the form. Close this and use the shortcut again." if failed
            else ":hourglass_flowing_sand: Reading the message…")
    view = {"type": "modal", "title": form["title"], "blocks": [{"type": "section",
                                                                  "text": {"type": "mrkdwn", "text": text}}]}
    if form.get("close"):
        view["close"] = form["close"]
    return view


def author_name(source: Source, names: NameLookup | None) -> str:
    """The author as plain text (`@bob`, or the bot's name), for text Slack does not render."""
    if source.by_bot:
        return source.bot_name or "a bot"
    return "@" + ((names(source.author_id) if names else None) or source.author_id)


@dataclass(frozen=True)
class Shown:
    """The message's text as a form shows it: mentions spelt as names, cut to fit an input."""

    text: str
    cut: bool


def shown_text(source: Source, names: NameLookup | None, *, limit: int = INITIAL_VALUE_LIMIT) -> Shown:
    """The text for a plain_text input: `readable`, its mentions named, at most `limit` characters."""
    text = readable(source.text or source.attachments, names)
    if len(text) <= limit:
        return Shown(text, False)
    return Shown(shorten(text, limit), True)


def first_line(text: str, limit: int) -> str:
    """A title from a text: its first non-empty line, cut to `limit`."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return shorten(line, limit) if line else ""


def no_text_note(source: Source, shown: Shown, ask: str) -> str:
    """What the form says of a message without text of its own ("" when it has some): what it holds instead
    (names escaped for mrkdwn), and, when the form could not be filled in, what to write."""
    if source.has_text:
        return ""
    holds = escape_user_text(source.what_else() or "blocks")
    if shown.text:  # its attachments' words filled the form in
        return f"It has no text of its own, only {holds}: the form holds what its attachment says."
    return f"It has no text, only {holds}: {ask}."


def cut_note(limit: int = INITIAL_VALUE_LIMIT) -> str:
    return (f"The message is longer than a form field holds ({limit:,} characters): the form has its beginning, "
            "and the link leads to the whole message.")
