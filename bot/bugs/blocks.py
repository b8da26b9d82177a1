"""Block Kit for bugs: the card posted in the channel, the list, the details, and the modals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot import blocks
from bot.domain.grades import GRADES, action_plan, category_label, grade_info, grader_name
from bot.domain.text import escape_mrkdwn, escape_user_text, readable, truncate
from storage.models import JIRA_USER, Bug, BugGradeChange, Incident, JiraLink

ACTION_CONFIRM = "bug.confirm"
ACTION_CHANGE = "bug.change_grade"
ACTION_ASSIGN = "bug.assign"
ACTION_INCIDENT = "bug.declare_incident"
ACTION_MORE = "bug.list_more"
VIEW_REPORT = "bug.report"
VIEW_CHANGE = "bug.change_grade_modal"
EXCERPT = 1200
GRADE_EMOJI = {1: "🔴", 2: "🟠", 3: "🟡", 4: "🔵", 5: "⚪"}


def grade_option(number: int) -> dict[str, Any]:
    info = grade_info(number)
    return {"text": blocks.plain(f"{number} — {info.label}", 75), "value": str(number)}


def card(bug: Bug, *, escalated_to: str | None = None, jira: JiraLink | None = None,
         incidents: Sequence[Incident] = ()) -> tuple[str, list[dict[str, Any]]]:
    """The message a graded bug gets in its channel: grade, reasons, what to do, and the review buttons."""
    info = grade_info(bug.grade or 3)
    title = f"{bug.readable_id} · {GRADE_EMOJI[info.number]} Grade {info.number} — {info.label}"
    resolution = f" — {escape_user_text(bug.resolution)}" if bug.resolution else ""
    status = "" if bug.status == "open" else f" · *closed*{resolution}"
    who = f"Reported by <@{bug.reporter_id}>" + (f" · assigned to <@{bug.assignee_id}>" if bug.assignee_id else "")
    graded = f"graded by {grader_name(bug.grade_source)}" if bug.grade == bug.auto_grade else "grade set by a person"
    kind = category_label(bug.category)
    parts = [
        blocks.header(title),
        *blocks.sections(f"*{escape_user_text(bug.title)}*" + _body(bug)),
        blocks.context(f"{who} · {graded}" + (f" · {kind}" if kind else "") + status),
    ]
    if source_line(bug):  # the report's own text ends with it too, but a long one's end is past the excerpt
        parts.append(blocks.context(source_line(bug)))
    if bug.unsure_of and bug.grade == bug.auto_grade and bug.status == "open":
        pair = sorted((info.number, bug.unsure_of))
        parts += blocks.sections(f"🤔 *Not sure: {pair[0]} or {pair[1]}?* The grader could not tell them apart. "
                                    "Please confirm the grade or change it below.")
    parts += [
        *blocks.sections("*Why*\n" + "\n".join(f"• {escape_mrkdwn(r)}" for r in bug.reasons or ["—"])),
        *blocks.sections(f"*What to do ({info.label.lower()}" + (f", {kind}" if kind else "") + ")*\n"
                         + "\n".join(f"• {s}" for s in action_plan(info.number, bug.category))),
    ]
    if bug.pii:
        parts.append(blocks.context("Personal data and secrets were removed before the report was stored."))
    if escalated_to:
        parts.append(blocks.context(f"🚨 Escalated to <#{escalated_to}>."))
    if jira is not None:
        parts.append(blocks.context(blocks.jira_line(jira)))
    if incidents:
        parts.append(blocks.context(" · ".join(incident_line(i) for i in incidents)))
    if bug.status == "open":
        parts.append(_actions(bug))
    fallback = f"{bug.readable_id}: grade {info.number} ({info.label}) — {escape_user_text(truncate(bug.title, 150))}"
    return fallback, parts


def source_line(bug: Bug) -> str:
    """Which message a bug was filed from (*File as bug*), for mrkdwn: its author (a mention Slack shows as the
    name, or the bot's name) and a link to it; "" for a bug reported otherwise."""
    details = bug.details or {}
    author, bot_name, link = (str(details.get(k) or "") for k in ("source_author", "source_bot", "source_link"))
    if not (author or bot_name or link):
        return ""
    by = f"<@{author}>" if author.isalnum() else f"the bot {escape_user_text(bot_name or 'a bot')}"
    safe = link.startswith("https://") and not any(c in link for c in "<>| \n")
    return f"📎 From a message by {by}" + (f" (<{link}|open it>)" if safe else "")


def _body(bug: Bug) -> str:
    """The report under its title, unless the title already says it all."""
    if bug.text.strip() == bug.title.strip():
        return ""
    return "\n" + escape_user_text(truncate(bug.text, EXCERPT))


def _actions(bug: Bug) -> dict[str, Any]:
    value = str(bug.id)
    elements: list[dict[str, Any]] = [
        blocks.button("Confirm grade", ACTION_CONFIRM, value, style="primary"),
        {"type": "static_select", "action_id": ACTION_CHANGE, "placeholder": blocks.plain("Change grade", 150),
         "options": [{**grade_option(n), "value": f"{bug.id}:{n}"} for n in GRADES if n != bug.grade]},
        {"type": "users_select", "action_id": ACTION_ASSIGN, "placeholder": blocks.plain("Assign", 150)},
    ]
    if bug.grade in (1, 2):
        elements.append(blocks.button("Declare incident", ACTION_INCIDENT, value, style="danger"))
    return {"type": "actions", "block_id": f"bug.actions.{bug.id}", "elements": elements}


def line(bug: Bug) -> str:
    grade = f"{GRADE_EMOJI[bug.grade]} {bug.grade}" if bug.grade else "⏳ grading"
    owner = f" · <@{bug.assignee_id}>" if bug.assignee_id else ""
    closed = " · closed" if bug.status == "closed" else ""
    return f"`{bug.readable_id}` {grade} — {escape_user_text(truncate(bug.title, 90))}{owner}{closed}"


def incident_line(incident: Incident) -> str:
    """An incident declared from (or linked to) a bug: its id, war room and status."""
    room = f" in <#{incident.channel_id}>" if incident.channel_id else ""
    return f"🚨 Incident *{incident.readable_id}*{room} · {incident.status}"


def details(bug: Bug, history: list[BugGradeChange], *, jira: JiraLink | None = None,
            incidents: Sequence[Incident] = ()) -> str:
    info = grade_info(bug.grade) if bug.grade else None
    lines = [f"*{bug.readable_id}* — {escape_user_text(bug.title)}",
             f"Grade: {f'{info.number} — {info.label}' if info else 'not graded yet'}"
             + (f" (automatic: {bug.auto_grade}, by {grader_name(bug.grade_source)})" if bug.auto_grade else "")
             + (f" · {category_label(bug.category)}" if bug.category else ""),
             f"Status: {bug.status}" + (f" — {escape_user_text(bug.resolution)}" if bug.resolution else ""),
             f"Reported by <@{bug.reporter_id}> in <#{bug.channel_id}> on {bug.created_at:%Y-%m-%d %H:%M} UTC",
             f"Assigned to <@{bug.assignee_id}>" if bug.assignee_id else "Not assigned"]
    if source_line(bug):
        lines.append(source_line(bug))
    if jira is not None:
        lines.append(blocks.jira_line(jira) + (f" ({escape_mrkdwn(jira.status_name)})" if jira.status_name else ""))
    lines += [incident_line(i) for i in incidents]
    for key, label in (("expected", "Expected"), ("steps", "Steps"), ("version", "Model / prompt version"),
                       ("environment", "Environment"), ("link", "Link")):
        if bug.details.get(key):
            lines.append(f"{label}: {escape_user_text(truncate(str(bug.details[key]), 500))}")
    lines.append("")
    lines.append(escape_user_text(truncate(bug.text, 1500)))
    if history:
        lines.append("\n*Grade history*")
        for change in history:
            verb = "confirmed" if change.kind == "confirm" else f"changed {change.from_grade} → {change.to_grade}"
            why = f": {escape_user_text(change.reason)}" if change.reason else ""
            who = "Jira" if change.user_id == JIRA_USER else f"<@{change.user_id}>"
            lines.append(f"• {change.created_at:%Y-%m-%d %H:%M} {who} {verb}{why}")
    return "\n".join(lines)


def change_grade_view(bug: Bug, grade: int, *, channel: str, ts: str) -> dict[str, Any]:
    """Changing a grade needs a reason: the modal asks for it."""
    current = f"{bug.grade} — {grade_info(bug.grade).label}" if bug.grade else "not graded"
    return {
        "type": "modal", "callback_id": VIEW_CHANGE,
        "title": blocks.plain(f"Regrade {bug.readable_id}", 24), "submit": blocks.plain("Change grade", 24),
        "close": blocks.plain("Cancel", 24),
        "private_metadata": json.dumps({"bug": bug.id, "channel": channel, "ts": ts}),
        "blocks": [
            blocks.context(f"Now: grade {current}. {escape_user_text(truncate(bug.title, 200))}"),
            {"type": "input", "block_id": "grade", "label": blocks.plain("New grade"),
             "element": {"type": "static_select", "action_id": "grade", "initial_option": grade_option(grade),
                         "options": [grade_option(n) for n in GRADES]}},
            {"type": "input", "block_id": "reason", "label": blocks.plain("Why?"),
             "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True, "max_length": 1000,
                         "placeholder": blocks.plain("What makes this grade right? It is kept in the history.")}},
        ],
    }


def report_view(channel: str, prefill: dict[str, str] | None = None) -> dict[str, Any]:
    """`/bug` with no text: the full report form (filled in from elsewhere, e.g. a stand-up blocker)."""
    prefill = prefill or {}

    def field(block_id: str, label: str, *, optional: bool = True, multiline: bool = False, hint: str | None = None,
              max_length: int = 3000) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "input", "block_id": block_id, "optional": optional,
                                 "label": blocks.plain(label),
                                 "element": {"type": "plain_text_input", "action_id": block_id,
                                             "multiline": multiline, "max_length": max_length}}
        if prefill.get(block_id):
            block["element"]["initial_value"] = readable(prefill[block_id])[:max_length]
        if hint:
            block["hint"] = blocks.plain(hint)
        return block

    return {
        "type": "modal", "callback_id": VIEW_REPORT, "title": blocks.plain("Report a bug", 24),
        "submit": blocks.plain("Report", 24), "close": blocks.plain("Cancel", 24),
        "private_metadata": json.dumps({"channel": channel}),
        "blocks": [
            field("title", "Title", optional=False, max_length=150),
            field("what", "What happened?", optional=False, multiline=True),
            field("expected", "What did you expect?", multiline=True),
            field("steps", "Steps to reproduce", multiline=True),
            field("version", "Model / prompt version", hint="e.g. gpt-4o-2024-08-06, prompt v12", max_length=200),
            field("environment", "Environment", hint="production, staging, a customer…", max_length=200),
            field("link", "Link", hint="a trace, a screenshot, a conversation (https://…)", max_length=500),
        ],
    }
