"""The bug shortcuts: *File as bug* on a message, and *Report a bug* from anywhere (a global shortcut).

Both open the report form and file the bug exactly as `/bug` does (`service.file_report`: redacted and stored
first, then graded and its card posted by the work queue). A bug filed from a message keeps who wrote it and the
link to it. Its card goes in the message's channel, not in the message's thread: a card is where the bug's own
thread (grade changes, assignment, closing) lives, and a card inside another thread would hide that thread.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from bot import blocks, shortcuts
from bot.bugs import blocks as bug_blocks
from bot.bugs import service
from bot.deps import Deps
from bot.domain.text import escape_user_text
from bot.edge import FieldErrors, Reply, Request, channel_kind
from bot.work import run_after_ack, tell_later

FILE_AS_BUG = "bug_from_message"  # callback ids: stable, they are in every installed app's manifest
REPORT_A_BUG = "bug_report_anywhere"
VIEW_FROM_MESSAGE = "bug.from_message"
VIEW_ANYWHERE = "bug.report_anywhere"

SHORTCUTS = (
    {"name": "File as bug", "type": "message", "callback_id": FILE_AS_BUG,
     "description": "File this message as a bug: graded, redacted and posted here, with a link back to it"},
    {"name": "Report a bug", "type": "global", "callback_id": REPORT_A_BUG,
     "description": "Report a bug from anywhere: it is graded, redacted and posted in the channel you choose"},
)
_FIELDS = ("title", "what", "expected", "steps", "version", "environment", "link")


# --- opening the forms ---------------------------------------------------------------------------------------


def on_file_as_bug(request: Request, reply: Reply, deps: Deps) -> None:
    """*File as bug*: the report form filled in from the message (text, author, link)."""
    reply.ack()
    source = shortcuts.source_of(request)
    shortcuts.open_then_fill(deps, request, source, lambda found: from_message_view(source, found))


def from_message_view(source: shortcuts.Source, found: shortcuts.Found) -> dict[str, Any]:
    link = found.link
    shown = shortcuts.shown_text(source, found.names)
    view = bug_blocks.report_view(source.channel_id, {
        "title": shortcuts.first_line(shown.text, 150), "what": shown.text})
    # The message's link is kept with the bug (`Origin`); the Link field stays for a trace or a screenshot.
    notes = [f"From a message by {source.author_markup()}" + (f" (<{link}|open it>)." if link else ".")]
    notes.append(shortcuts.no_text_note(source, shown, "say below what went wrong"))
    if shown.cut:
        notes.append(shortcuts.cut_note())
    meta = {"channel": source.channel_id, "kind": source.channel_kind, "author": source.author_id,
            "bot": source.bot_name[:80], "permalink": link, "response_url": source.response_url}
    return {**view, "callback_id": VIEW_FROM_MESSAGE, "title": blocks.plain("File as bug", 24),
            "private_metadata": json.dumps(meta),
            "blocks": [blocks.context(" ".join(n for n in notes if n)), *view["blocks"]]}


def on_report_a_bug(request: Request, reply: Reply, deps: Deps) -> None:
    """*Report a bug*: the report form, with the channel to post the card in (nothing is known of where the person
    is, so they choose)."""
    reply.ack()
    deps.slack.open_view(request.trigger_id, anywhere_view())


def anywhere_view() -> dict[str, Any]:
    view = bug_blocks.report_view("")
    where = {"type": "input", "block_id": "channel", "label": blocks.plain("Post the card in"),
             "element": {"type": "conversations_select", "action_id": "channel",
                         "filter": {"include": ["public", "private"], "exclude_bot_users": True}},
             "hint": blocks.plain("The channel where the team should see it and review its grade.")}
    return {**view, "callback_id": VIEW_ANYWHERE, "private_metadata": "{}", "blocks": [where, *view["blocks"]]}


# --- submitting them -----------------------------------------------------------------------------------------


def _values(request: Request, errors: dict[str, str]) -> dict[str, str]:
    """The report form's inputs, checked as `/bug`'s form checks them (messages added to `errors`)."""
    values = {block: request.field(block).strip() for block in _FIELDS}
    if not values["title"]:
        errors["title"] = "A title helps people find it: say what broke in a few words."
    if len(values["what"]) < 10:
        errors["what"] = "Please describe what happened (at least a sentence)."
    if values["link"] and (urlsplit(values["link"]).scheme not in ("http", "https")
                           or not urlsplit(values["link"]).netloc):
        errors["link"] = "That is not a link: it should start with https://"
    return values


def _text(values: dict[str, str]) -> str:
    parts = (values["what"], values["expected"] and f"Expected: {values['expected']}",
             values["steps"] and f"Steps: {values['steps']}")
    return "\n\n".join(part for part in parts if part)


def on_from_message_submitted(request: Request, deps: Deps):
    errors: dict[str, str] = {}
    values = _values(request, errors)
    if errors:
        raise FieldErrors(errors)
    meta = json.loads(request.private_metadata or "{}")
    author, link = meta.get("author") or "", meta.get("permalink") or ""
    details = {k: values[k] for k in ("expected", "steps", "version", "environment", "link") if values[k]}
    from_where = {"source_link": link} if link else {}
    from_where.update({"source_author": author} if author else {"source_bot": meta.get("bot") or "a bot"})
    reply_to = {"response_url": meta.get("response_url") or "", "user": request.user_id,
                "channel_kind": meta.get("kind") or "channel"}

    def after_close() -> None:
        who = "@" + (deps.names(author) or author) if author else (meta.get("bot") or "a bot")
        origin = service.Origin(f"Filed from a message by {who}" + (f": {link}" if link else "."), from_where)
        _file(deps, request, channel=meta.get("channel") or request.user_id, text=_text(values),
              title=values["title"], details=details, reply_to=reply_to, origin=origin)

    return after_close


def on_anywhere_submitted(request: Request, deps: Deps):
    errors: dict[str, str] = {}
    values = _values(request, errors)
    channel = request.selected_conversation("channel")
    if not channel:
        errors["channel"] = "Choose the channel where the bug's card should go."
    elif channel[:1] not in ("C", "G"):
        errors["channel"] = "Choose a channel: a bug's card is for the team, not for a direct message."
    if errors:
        raise FieldErrors(errors)
    details = {k: values[k] for k in ("expected", "steps", "version", "environment", "link") if values[k]}
    reply_to = {"user": request.user_id, "channel_kind": channel_kind(channel)}

    def after_close() -> None:
        _file(deps, request, channel=channel, text=_text(values), title=values["title"], details=details,
              reply_to=reply_to)

    return after_close


def _file(deps: Deps, request: Request, *, channel: str, text: str, title: str, details: dict[str, str],
          reply_to: dict[str, str], origin: service.Origin | None = None) -> None:
    """File as `/bug` does, once per form (a retried or doubled submission finds the bug it made)."""
    intake = service.file_report(deps, team_id=request.team_id, channel_id=channel, reporter_id=request.user_id,
                                 delivery_key=f"view:{request.view_id}", text=text, title=title, details=details,
                                 reply_to=reply_to, origin=origin)
    if intake.created:
        said = f"Got it: *{intake.readable_id}* is stored and being graded" + (  # said before the card is posted
            f"; I will post its card in <#{channel}> (or tell you if I cannot)." if channel[:1] in ("C", "G") else ".")
        if intake.removed:
            said += (f" Before storing it I removed {escape_user_text(intake.removed)}. Nothing else sees it: not "
                     "the database, the LLM or Jira.")
        tell_later(deps, reply_to, channel=channel, text=said)
    run_after_ack(deps, intake.work_id)
