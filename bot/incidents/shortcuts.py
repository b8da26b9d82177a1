"""The incident shortcuts: *Add to incident timeline* on a message, and *Declare incident* from anywhere.

A message added to a timeline becomes the same entry a :pushpin: reaction makes in a war room (`pinned`, at the
time the message was written, one entry per message and incident however often it is added): its text redacted,
its author as a name, its link. Timeline entries are not announced in the war room today (a note, a pin); this one
is not either. *Declare incident* opens `/incident`'s own form (`incident.declare_modal`), with the responders to
invite besides those the grade calls.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot import blocks, shortcuts
from bot.deps import Deps
from bot.domain.pii import redact
from bot.domain.text import readable, shorten
from bot.edge import FieldErrors, Reply, Request, message_view
from bot.errors import NotFound
from bot.incidents import blocks as inc_blocks
from bot.incidents import service
from bot.work import tell_later
from storage.db import session_scope
from storage.incidents import list_incidents
from storage.models import Incident

ADD_TO_TIMELINE = "incident_timeline_from_message"  # callback ids: stable, they are in the installed manifests
DECLARE_INCIDENT = "incident_declare_anywhere"
VIEW_TIMELINE = "incident.timeline_from_message"

SHORTCUTS = (
    {"name": "Add to incident timeline", "type": "message", "callback_id": ADD_TO_TIMELINE,
     "description": "Add this message to an open incident's timeline, at the time it was written"},
    {"name": "Declare incident", "type": "global", "callback_id": DECLARE_INCIDENT,
     "description": "Declare an incident from anywhere: a war room, its runbook and the responders"},
)
ENTRY_CHARS = 3000
OPTIONS = 100  # a static select holds 100 options at most


# --- Add to incident timeline --------------------------------------------------------------------------------


def on_add_to_timeline(request: Request, reply: Reply, deps: Deps) -> None:
    """The form: which open incident, and the entry (the message's text, which the person may shorten)."""
    reply.ack()
    with session_scope(deps.engine) as session:
        open_ones = list_incidents(session, team_id=request.team_id, active_only=True, limit=OPTIONS)
    if not open_ones:
        deps.slack.open_view(request.trigger_id, message_view(
            "No open incident", "There is no open incident to add this message to. `/incident declare &lt;what "
            "is happening&gt;` declares one; `/incident list all` shows the resolved ones."))
        return
    source = shortcuts.source_of(request)
    shortcuts.open_then_fill(deps, request, source, lambda found: timeline_view(source, found, open_ones))


def _option(incident: Incident) -> dict[str, Any]:
    drill = "drill " if incident.drill else ""
    label = readable(f"{incident.readable_id} · {drill}{shorten(incident.title, 60)}")
    return {"text": blocks.plain(shorten(label, 75), 75),
            "value": str(incident.id)}


def timeline_view(source: shortcuts.Source, found: shortcuts.Found, open_ones: list[Incident]) -> dict[str, Any]:
    link = found.link
    shown = shortcuts.shown_text(source, found.names, limit=ENTRY_CHARS)
    entry = shown.text or source.what_else()
    options = [_option(i) for i in open_ones]
    select: dict[str, Any] = {"type": "static_select", "action_id": "incident", "options": options,
                              "placeholder": blocks.plain("Choose the incident", 150)}
    if len(options) == 1:
        select["initial_option"] = options[0]
    text_input: dict[str, Any] = {"type": "plain_text_input", "action_id": "entry", "multiline": True,
                                  "max_length": ENTRY_CHARS}
    if entry:
        text_input["initial_value"] = entry
    notes = [f"A message by {source.author_markup()}" + (f" (<{link}|open it>)" if link else "")
             + ", at the time it was written. Personal data is removed before it is stored."]
    if shown.cut:
        notes.append(shortcuts.cut_note(ENTRY_CHARS))
    # The author's name is looked up once the form is open (`open_then_fill`), so the submission asks Slack nothing.
    meta = {"channel": source.channel_id, "ts": source.ts, "author": source.author_id, "bot": source.bot_name[:80],
            "who": shortcuts.author_name(source, found.names)[:100], "permalink": link,
            "response_url": source.response_url}
    return {
        "type": "modal", "callback_id": VIEW_TIMELINE, "title": blocks.plain("Add to timeline", 24),
        "submit": blocks.plain("Add", 24), "close": blocks.plain("Cancel", 24), "private_metadata": json.dumps(meta),
        "blocks": [
            blocks.context(" ".join(notes)),
            {"type": "input", "block_id": "incident", "label": blocks.plain("Incident"), "element": select},
            {"type": "input", "block_id": "entry", "label": blocks.plain("Timeline entry"), "element": text_input},
        ],
    }


def on_timeline_submitted(request: Request, deps: Deps):
    """Checked and stored before the ack (the database only), so a stale choice is answered on the field."""
    meta = json.loads(request.private_metadata or "{}")
    incident = _chosen(deps, request)
    text = redact(request.field("entry").strip()).text
    if len(text) < 2:
        raise FieldErrors({"entry": "Say what goes on the timeline: the message's text, or a line about it."})
    author, link = meta.get("author") or "", meta.get("permalink") or ""
    who = meta.get("who") or (f"@{author}" if author else (meta.get("bot") or "a bot"))  # named when it opened
    entry = f"{who}: {shorten(text, ENTRY_CHARS)}" + (f" ({link})" if link else "")  # only the text is ever cut
    written = _written_at(meta.get("ts") or "") or deps.clock()
    added = service.add_message(deps, incident, text=entry, user_id=request.user_id, at=written,
                                ts=meta.get("ts") or None)
    said = (f"Added to the timeline of *{incident.readable_id}*." if added
            else f"That message is on the timeline of *{incident.readable_id}* already.")
    reply_to = {"response_url": meta.get("response_url") or "", "user": request.user_id}

    def after_close() -> None:
        tell_later(deps, reply_to, channel=meta.get("channel") or incident.channel_id or "", text=said)

    return after_close


def _chosen(deps: Deps, request: Request) -> Incident:
    chosen = request.selected("incident")
    if not chosen.isdigit():
        raise FieldErrors({"incident": "Choose the incident."})
    try:
        incident = service.get(deps, request.team_id, int(chosen))
    except NotFound:
        raise FieldErrors({"incident": "That incident no longer exists: close this form and use the shortcut "
                                       "again to see the open ones."}) from None
    if incident.status == "resolved":
        raise FieldErrors({"incident": f"{incident.readable_id} was resolved since this form opened. Choose another, "
                                       f"or `/incident {incident.readable_id} reopen` first."})
    return incident


def _written_at(ts: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except ValueError:
        return None


# --- Declare incident ----------------------------------------------------------------------------------------


def on_declare_incident(request: Request, reply: Reply, deps: Deps) -> None:
    """`/incident`'s declare form, with responders to invite; it reports to the person in their DM with pmbot
    (a global shortcut comes from no channel)."""
    reply.ack()
    deps.slack.open_view(request.trigger_id, declare_view())


def declare_view() -> dict[str, Any]:
    view = inc_blocks.declare_view(channel="")
    people = {"type": "input", "block_id": "responders", "optional": True,
              "label": blocks.plain("Also invite"),
              "element": {"type": "multi_users_select", "action_id": "responders",
                          "placeholder": blocks.plain("Responders", 150)},
              "hint": blocks.plain("You and the grade's responders are invited anyway.")}
    return {**view, "blocks": [*view["blocks"], people]}

