"""What an incident looks like in Slack: the runbook, the announcement, the topic, status and the form."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot import blocks
from bot.domain.incident import INCIDENT_GRADES, SCENARIOS, duration
from bot.domain.text import NameLookup, escape_mrkdwn, escape_purpose, escape_user_text, readable, truncate
from storage.models import Incident, IncidentEvent, IncidentTask, JiraLink

ACTION_TASK = "incident.task"
ACTION_JOIN = "incident.join"
ACTION_SNOOZE = "incident.snooze"
ACTION_RESOLVE_ANYWAY = "incident.resolve_anyway"
ACTION_RESOLVE_CANCEL = "incident.resolve_cancel"
ACTION_CLOSE_BUG = "incident.close_bug"  # incident.close_bug.<bug id>
VIEW_DECLARE = "incident.declare_modal"
GRADE_WORDS = {1: "critical", 2: "high", 3: "medium"}
DRILL_MARK = "🧪 DRILL — "


def mark(incident: Incident, text: str) -> str:
    """Every message of a drill says so."""
    return DRILL_MARK + text if incident.drill else text


def headline(incident: Incident) -> str:
    return (f"{incident.readable_id} · grade {incident.grade} ({GRADE_WORDS.get(incident.grade, '?')}) · "
            f"{incident.status} — {escape_user_text(truncate(incident.title, 150))}")


def topic(incident: Incident, names: NameLookup | None = None) -> str:
    """The war room's topic: grade, commander, status (Slack allows 250 characters). A topic is plain text
    to Slack's API and to every client that shows it raw, so the commander is named, not `<@U…>`."""
    kind = "DRILL " if incident.drill else ""
    commander = escape_purpose(f"<@{incident.commander_id}>", names)
    return truncate(f"{kind}{incident.readable_id} · grade {incident.grade} · commander {commander} · "
                    f"{incident.status}", 250)


def purpose(incident: Incident, names: NameLookup | None = None) -> str:
    """The war room's purpose: Slack shows it as plain text, so mentions and links are spelt out (and encoded)."""
    return truncate(f"{'Practice: ' if incident.drill else ''}{escape_purpose(incident.title, names)}", 250)


def runbook(incident: Incident, items: list[IncidentTask]) -> tuple[str, list[dict[str, Any]]]:
    """The checklist: one line per step; an open step has a Done button, a done one says who and when."""
    done = sum(1 for t in items if t.done_at)
    title = f"Runbook for grade {incident.grade} — {done} of {len(items)} done"
    parts: list[dict[str, Any]] = [blocks.header(mark(incident, title)[:150])]
    for task in items:
        if task.done_at:
            parts.append({"type": "section", "text": blocks.mrkdwn(
                f"✅ ~{escape_mrkdwn(task.text)}~ — <@{task.done_by}> at {task.done_at:%H:%M} UTC")})
        else:
            parts.append({"type": "section", "text": blocks.mrkdwn(f"☐ {escape_mrkdwn(task.text)}"),
                          "accessory": blocks.button("Done", f"{ACTION_TASK}.{task.id}", f"{incident.id}:{task.id}")})
    versions = ", ".join(f"{k}: {escape_user_text(v)}" for k, v in (incident.versions or {}).items())
    parts.append(blocks.context("Gen-AI fields — " + (versions or "none yet: `/incident set model=… prompt=… "
                                                      "dataset=… rollback=…`")))
    return mark(incident, title), parts


def announcement(incident: Incident, *, jira: JiraLink | None = None) -> tuple[str, list[dict[str, Any]]]:
    text = (f"🚨 *{headline(incident)}*\nCommander: <@{incident.commander_id}> · War room: <#{incident.channel_id}>"
            f" · declared {incident.declared_at:%H:%M} UTC")
    if incident.status == "resolved":
        text += f" · resolved after {duration(incident.declared_at, incident.resolved_at)}"
    parts = blocks.sections(text)
    if jira is not None:
        parts.append(blocks.context(blocks.jira_line(jira)))
    if incident.status != "resolved":
        parts.append(blocks.actions(blocks.button("Join the war room", ACTION_JOIN, str(incident.id), "primary")))
    return text, parts


def status_text(incident: Incident, items: list[IncidentTask], events: list[IncidentEvent], *, now: datetime) -> str:
    roles = (f"Commander <@{incident.commander_id}>"
             + (f" · comms <@{incident.comms_id}>" if incident.comms_id else "")
             + (f" · scribe <@{incident.scribe_id}>" if incident.scribe_id else ""))
    done = sum(1 for t in items if t.done_at)
    open_for = duration(incident.declared_at, incident.resolved_at or now)
    lines = [f"*{mark(incident, headline(incident))}*", roles,
             f"Open for {open_for} · checklist {done}/{len(items)}"
             + (f" · war room <#{incident.channel_id}>" if incident.channel_id else "")]
    if incident.versions:
        lines.append("Versions: " + ", ".join(f"{k} {escape_user_text(v)}" for k, v in incident.versions.items()))
    if events:
        lines.append("*Latest on the timeline*")
        lines += [f"• {e.at:%H:%M} {_who(e.user_id)} {e.kind}: {_event_text(e)}" for e in events[-10:]]
    return "\n".join(lines)


def _who(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "pmbot"


def _event_text(event: IncidentEvent) -> str:
    """A role change is pmbot's own line, its mentions meant; every other entry holds words a person wrote."""
    escape = escape_mrkdwn if event.kind == "role" else escape_user_text
    return escape(truncate(event.text, 200))


def line(incident: Incident) -> str:
    room = f" · <#{incident.channel_id}>" if incident.channel_id and not incident.archived else ""
    drill = "🧪 " if incident.drill else ""
    return (f"• {drill}*{incident.readable_id}* grade {incident.grade} · {incident.status} — "
            f"{escape_user_text(truncate(incident.title, 90))}{room}")


def reminder(incident: Incident) -> tuple[str, list[dict[str, Any]]]:
    text = mark(incident, f"⏰ {incident.readable_id} has had no status update for a while. Post one with "
                          f"`/incident update …` (what we know now) in <#{incident.channel_id}>.")
    return text, [*blocks.sections(text), blocks.actions(blocks.button("Snooze 15 min", ACTION_SNOOZE,
                                                                       str(incident.id)))]


def declare_view(*, channel: str, title: str = "", grade: int = 2, bug: str | None = None,
                 model: str = "") -> dict[str, Any]:
    options = [{"text": blocks.plain(f"{g} — {GRADE_WORDS[g]}", 75), "value": str(g)} for g in INCIDENT_GRADES]
    grade_select: dict[str, Any] = {"type": "static_select", "action_id": "grade", "options": options}
    chosen = next((o for o in options if o["value"] == str(grade)), None)
    if chosen:
        grade_select["initial_option"] = chosen
    title_input: dict[str, Any] = {"type": "plain_text_input", "action_id": "title", "max_length": 150}
    if title:
        title_input["initial_value"] = readable(title)[:150]

    def text_input(action_id: str, initial: str = "") -> dict[str, Any]:
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "max_length": 120}
        if initial:
            element["initial_value"] = initial[:120]
        return element

    intro = f"From bug {bug}." if bug else "Opens a war room channel, invites the responders and posts the runbook."
    return {
        "type": "modal", "callback_id": VIEW_DECLARE, "title": blocks.plain("Declare an incident", 24),
        "submit": blocks.plain("Declare", 24), "close": blocks.plain("Cancel", 24),
        "private_metadata": json.dumps({"channel": channel, "bug": bug}),
        "blocks": [
            *blocks.sections(intro),
            {"type": "input", "block_id": "title", "label": blocks.plain("What is happening?"), "element": title_input},
            {"type": "input", "block_id": "grade", "label": blocks.plain("Grade"), "element": grade_select},
            {"type": "input", "block_id": "model", "label": blocks.plain("Model version affected"),
             "element": text_input("model", model), "optional": True},
            {"type": "input", "block_id": "prompt", "label": blocks.plain("Prompt version affected"),
             "element": text_input("prompt"), "optional": True},
            {"type": "input", "block_id": "dataset", "label": blocks.plain("Dataset version affected"),
             "element": text_input("dataset"), "optional": True},
        ],
    }


def scenarios_text() -> str:
    return "*Drill scenarios*\n" + "\n".join(f"• `{s.key}` — {escape_mrkdwn(s.title)} (grade {s.grade}, "
                                             f"{len(s.injects)} injects)" for s in SCENARIOS.values())


def resolved(incident: Incident, user_id: str, *, skipped: int,
             open_bugs: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The resolve message: who, the summary, the steps skipped, and a Close button per linked bug still open."""
    text = mark(incident, f"✅ {incident.readable_id} resolved by <@{user_id}>"
                + (f": {escape_user_text(incident.resolution)}" if incident.resolution else ".")
                + (f" {skipped} runbook step{'s' if skipped != 1 else ''} skipped." if skipped else "")
                + (" " + ", ".join(open_bugs) + (" is" if len(open_bugs) == 1 else " are") + " still open."
                   if open_bugs else ""))
    parts = blocks.sections(text)
    if open_bugs:
        parts.append(blocks.actions(*(blocks.button(f"Close {b}", f"{ACTION_CLOSE_BUG}.{b}", f"{incident.id}:{b}")
                                      for b in open_bugs[:5])))
    return text, parts


def confirm_resolve(incident: Incident, open_steps: list[IncidentTask], total: int,
                    value: str) -> tuple[str, list[dict[str, Any]]]:
    """Resolving with runbook steps open: which ones, and Resolve anyway / Cancel."""
    shown = "\n".join(f"☐ {escape_mrkdwn(t.text)}" for t in open_steps[:10])
    more = f"\n…and {len(open_steps) - 10} more" if len(open_steps) > 10 else ""
    text = (f"{len(open_steps)} of {total} runbook steps of {incident.readable_id} are still open:\n{shown}{more}\n"
            "Resolve anyway? The open steps are recorded as skipped (timeline and post-mortem).")
    return text, [*blocks.sections(text), blocks.actions(
        blocks.button("Resolve anyway", ACTION_RESOLVE_ANYWAY, value, "danger"),
        blocks.button("Cancel", ACTION_RESOLVE_CANCEL, str(incident.id)))]
