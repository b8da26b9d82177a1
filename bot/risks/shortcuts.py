"""*File as risk* on a message: `/risk`'s full form, its title and description filled in from the message.

The form is `/risk`'s own (`risk.form_modal`), so saving it is `/risk`'s flow: probability and impact asked for
on the form as `/risk` asks them, free text redacted, the card posted in the message's channel, one risk per form
however often Slack delivers the submission. The description ends with who wrote the message; the message's link
is stored as one of the risk's links with the risk itself (as `/risk link` keeps them), which redaction does not
touch (it would take the message id in a permalink for a secret). Where pmbot cannot post (a private channel it is
not in, a DM between people), the risk is saved and its card shown to the person privately.
"""

from __future__ import annotations

import json
from typing import Any

from bot import blocks, shortcuts
from bot.deps import Deps
from bot.edge import Reply, Request
from bot.risks import blocks as risk_blocks
from bot.risks import service

FILE_AS_RISK = "risk_from_message"  # the callback id: stable, it is in every installed app's manifest

SHORTCUTS = (
    {"name": "File as risk", "type": "message", "callback_id": FILE_AS_RISK,
     "description": "Add this message to the risk register: a form with its text, then the card in this channel"},
)
TITLE_CHARS = 200
DESCRIPTION_CHARS = 3000


def on_file_as_risk(request: Request, reply: Reply, deps: Deps) -> None:
    """The form, filled in from the message; the rest of the work is `/risk`'s form handler."""
    reply.ack()
    source = shortcuts.source_of(request)
    categories = service.team_categories(deps, request.team_id)  # the database only: before the form opens
    today = service.team_today(deps, request.team_id)
    shortcuts.open_then_fill(deps, request, source,
                             lambda found: from_message_view(source, found, categories=categories, today=today))


def from_message_view(source: shortcuts.Source, found: shortcuts.Found, *, categories, today) -> dict[str, Any]:
    link = found.link
    origin = f"(From a message by {shortcuts.author_name(source, found.names)})"
    shown = shortcuts.shown_text(source, found.names, limit=DESCRIPTION_CHARS - len(origin) - 2)
    description = f"{shown.text}\n\n{origin}" if shown.text else origin
    view = risk_blocks.form_view(channel=source.channel_id, categories=categories, today=today,
                                 title=shortcuts.first_line(shown.text, TITLE_CHARS), description=description)
    notes = [f"From a message by {source.author_markup()}" + (f" (<{link}|open it>, kept as one of the risk's links)"
                                                             if link else "") + "."]
    if source.channel_kind in ("im", "mpim"):
        notes.append("Its card will be posted here if I can post in this conversation, else shown to you privately.")
    else:
        notes.append(f"Its card will be posted in <#{source.channel_id}> (shown to you privately if I cannot post "
                     "there).")
    notes.append(shortcuts.no_text_note(source, shown, "say what could go wrong"))
    if shown.cut:
        notes.append(shortcuts.cut_note(DESCRIPTION_CHARS))
    # The link is stored with the risk when the form is saved (bot/commands/risk.py `on_form_submitted`).
    meta = {**json.loads(view["private_metadata"]), "source_link": link, "kind": source.channel_kind}
    return {**view, "title": blocks.plain("File as risk", 24), "private_metadata": json.dumps(meta),
            "blocks": [blocks.context(" ".join(n for n in notes if n)), *view["blocks"]]}

