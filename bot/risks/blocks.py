"""What a risk looks like in Slack: its card, the intake questions, lines, details and the form."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot import blocks
from bot.domain.risk import BAND_EMOJI, IMPACT, PROBABILITY, RESPONSES, band, score
from bot.domain.text import escape_mrkdwn, escape_user_text, truncate
from storage.models import JIRA_USER, JiraLink, Risk, RiskChange

ACTION_EDIT = "risk.edit"
ACTION_ANSWER = "risk.answer"  # risk.answer.<step>[.<n>]: the intake's buttons and selects
ACTION_SKIP = "risk.skip"
ACTION_MORE = "risk.more"
ACTION_STILL_VALID = "risk.still_valid"
ACTION_UPDATE = "risk.update"
ACTION_CLOSE = "risk.close"
VIEW_FORM = "risk.form_modal"
VIEW_CLOSE = "risk.close_modal"

STEPS = ("probability", "impact", "owner", "category", "mitigation")
BAND_NAMES = ("low", "medium", "high", "critical")
FIELD_LABELS = {"title": "Title", "description": "Description", "category": "Category", "probability": "Probability",
                "impact": "Impact", "response": "Response", "owner_id": "Owner", "mitigation": "Mitigation",
                "trigger": "Early-warning sign", "review_on": "Review by", "status": "Status",
                "accepted_until": "Accepted until", "close_reason": "Closed because", "links": "Links"}


def rating(risk: Risk) -> str:
    """`🟥 Critical 20 (P4 × I5)`, or what is still missing."""
    value = score(risk.probability, risk.impact)
    if value is None:
        known = [f"P{risk.probability}" if risk.probability else "P?", f"I{risk.impact}" if risk.impact else "I?"]
        return f"⬜ not scored yet ({' × '.join(known)})"
    name = band(value)
    return f"{BAND_EMOJI[name]} {name.capitalize()} {value} (P{risk.probability} × I{risk.impact})"


def _who(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "_nobody yet_"


def _guessed(risk: Risk, name: str) -> str:
    return " _(guessed from the text)_" if name in (risk.guessed or []) else ""


def summary(risk: Risk, categories: dict[str, str]) -> str:
    """The fields, as mrkdwn lines (user text escaped)."""
    lines = [f"*{risk.readable_id}* · {rating(risk)}{_guessed(risk, 'probability') or _guessed(risk, 'impact')}",
             f"*{escape_user_text(risk.title)}*"]
    if risk.description:
        lines.append(escape_user_text(truncate(risk.description, 600)))
    category = categories.get(risk.category or "", risk.category or "_none yet_")
    lines.append(f"Category: {escape_user_text(category)}{_guessed(risk, 'category')} · Owner: {_who(risk.owner_id)}"
                 f" · Status: {risk.status}" + (f" until {risk.accepted_until}" if risk.accepted_until else ""))
    plan = f"Response: {risk.response or '_not chosen_'}"
    if risk.review_on:
        plan += f" · Review by {risk.review_on.isoformat()}"
    lines.append(plan)
    if risk.mitigation:
        lines.append(f"Mitigation: {escape_user_text(truncate(risk.mitigation, 800))}")
    if risk.trigger:
        lines.append(f"Early-warning sign: {escape_user_text(truncate(risk.trigger, 400))}")
    if risk.links:
        lines.append("Links: " + ", ".join(escape_user_text(str(link)) for link in risk.links))
    if risk.status == "closed" and risk.close_reason:
        lines.append(f"Closed: {escape_user_text(truncate(risk.close_reason, 400))}")
    return "\n".join(lines)


def card(risk: Risk, categories: dict[str, str], *, jira: JiraLink | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The risk's message in the channel; its thread is where the intake asks its questions."""
    text = summary(risk, categories)
    parts = blocks.sections(text)
    if risk.intake_step:
        parts.append(blocks.context("A few questions are waiting in the thread 🧵 — answer with the buttons or "
                                    "reply there (`4`, `@maria`, `skip`)."))
    if jira is not None:
        parts.append(blocks.context(blocks.jira_line(jira)))
    parts.append(blocks.actions(blocks.button("Edit", ACTION_EDIT, str(risk.id))))
    fallback = f"{risk.readable_id} {rating(risk)}: {escape_user_text(truncate(risk.title, 150))}"
    return fallback, parts


def line(risk: Risk) -> str:
    owner = f" · <@{risk.owner_id}>" if risk.owner_id else ""
    review = f" · review {risk.review_on.isoformat()}" if risk.review_on and risk.status != "closed" else ""
    return (f"• *{risk.readable_id}* {rating(risk)} — {escape_user_text(truncate(risk.title, 90))}"
            f" · {risk.status}{owner}{review}")


def details(risk: Risk, categories: dict[str, str], changes: list[RiskChange], *,
            jira: JiraLink | None = None) -> str:
    text = summary(risk, categories)
    text += f"\nCreated by <@{risk.created_by}> on {risk.created_at:%Y-%m-%d}"
    if jira is not None:
        text += "\n" + blocks.jira_line(jira) + (f" ({escape_mrkdwn(jira.status_name)})" if jira.status_name else "")
    if changes:
        text += "\n*History*"
        for change in changes[-40:]:
            label = FIELD_LABELS.get(change.field_name, change.field_name)
            old = _value_shown(change.field_name, change.old_value)
            new = _value_shown(change.field_name, change.new_value)
            who = "Jira" if change.user_id == JIRA_USER else f"<@{change.user_id}>" if change.user_id else "pmbot"
            text += f"\n• {change.created_at:%Y-%m-%d %H:%M} UTC {who} {label}: {old} → {new}"
    return text


def describe_changes(changes: list[RiskChange]) -> str:
    """`probability 2 → 4, owner ∅ → <@U1>`: what a list of logged changes changed, in a line."""
    return ", ".join(f"{FIELD_LABELS.get(c.field_name, c.field_name).lower()} "
                     f"{_value_shown(c.field_name, c.old_value)} → {_value_shown(c.field_name, c.new_value)}"
                     for c in changes)


def _value_shown(name: str, value: str | None) -> str:
    """A field's stored value as the history shows it: ∅ for none, an owner mentioned."""
    if value is None or value == "":
        return "∅"
    if name == "owner_id":
        return f"<@{value}>"
    return escape_user_text(truncate(value, 120))


# --- the intake's questions ----------------------------------------------------------------------


def question(risk: Risk, step: str, categories: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    """One intake question, as a thread message."""
    skip = blocks.button("Skip", f"{ACTION_SKIP}.{step}", f"{risk.id}:{step}")
    if step in ("probability", "impact"):
        meanings = PROBABILITY if step == "probability" else IMPACT
        asked = "How likely is it to happen?" if step == "probability" else "How bad would it be if it happened?"
        buttons = [blocks.button(f"{n} · {meanings[n].split(' — ')[0]}", f"{ACTION_ANSWER}.{step}.{n}",
                                 f"{risk.id}:{step}:{n}") for n in meanings]
        help_text = "\n".join(f"*{n}* {meaning}" for n, meaning in meanings.items())
        text = f"{risk.readable_id}: {asked} (1–5)"
        return text, [*blocks.sections(f"*{asked}* (1–5)"), blocks.actions(*buttons, skip), blocks.context(help_text)]
    if step == "owner":
        picker = {"type": "users_select", "action_id": f"{ACTION_ANSWER}.owner",
                  "placeholder": blocks.plain("Pick one person", 150)}
        text = f"{risk.readable_id}: who owns this risk?"
        return text, [*blocks.sections("*Who owns this risk?* One person who watches it and acts on it "
                                       "(or reply with an @mention)."),
                      {"type": "actions", "block_id": f"risk.owner.{risk.id}", "elements": [picker, skip]}]
    if step == "category":
        options = [_option(label, key) for key, label in sorted(categories.items(), key=lambda kv: kv[1])][:100]
        select = {"type": "static_select", "action_id": f"{ACTION_ANSWER}.category",
                  "placeholder": blocks.plain("Choose a category", 150), "options": options}
        text = f"{risk.readable_id}: which category?"
        return text, [*blocks.sections("*Which category fits best?*"),
                      {"type": "actions", "block_id": f"risk.category.{risk.id}", "elements": [select, skip]}]
    text = f"{risk.readable_id}: what is the plan to reduce it?"
    return text, [*blocks.sections("*What is the mitigation plan?* Reply in this thread with it in a sentence or "
                                   "two, or press Skip."), blocks.actions(skip)]


def answered(step: str, value: str, user_id: str) -> tuple[str, list[dict[str, Any]]]:
    """What a question turns into once answered (its buttons gone)."""
    text = f"✓ {step.capitalize()}: {value} — answered by <@{user_id}>"
    return text, blocks.sections(text)


def done(risk: Risk, categories: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    text = "All set — here is the risk as recorded:\n" + summary(risk, categories)
    return text, [*blocks.sections(text), blocks.actions(blocks.button("Edit", ACTION_EDIT, str(risk.id)))]


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": blocks.plain(label, 75), "value": value[:150]}


# --- the review DM --------------------------------------------------------------------------------


def review_prompt(risk: Risk, categories: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    overdue = f" (due {risk.review_on.isoformat()})" if risk.review_on else ""
    text = f"Time to review {risk.readable_id}{overdue}: is it still right?\n" + summary(risk, categories)
    value = str(risk.id)
    return text, [*blocks.sections(text), blocks.actions(
        blocks.button("Still valid", ACTION_STILL_VALID, value, "primary"),
        blocks.button("Update", ACTION_UPDATE, value),
        blocks.button("Close", ACTION_CLOSE, value, "danger"))]


# --- the form -------------------------------------------------------------------------------------


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = True,
           hint: str | None = None) -> dict[str, Any]:
    block = {"type": "input", "block_id": block_id, "label": blocks.plain(label, 2000), "element": element,
             "optional": optional}
    if hint:
        block["hint"] = blocks.plain(hint, 2000)
    return block


def _text_input(action_id: str, initial: str | None, *, multiline: bool = False, max_length: int = 3000,
                placeholder: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline,
                               "max_length": max_length}
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = blocks.plain(placeholder, 150)
    return element


def _select(action_id: str, options: list[dict[str, Any]], initial: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "options": options[:100]}
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen:
        element["initial_option"] = chosen
    return element


def form_view(*, channel: str, categories: dict[str, str], risk: Risk | None = None, today: date,
              title: str | None = None, description: str | None = None) -> dict[str, Any]:
    """The full form: a new risk (`/risk` alone), or editing one (Edit)."""
    scale = lambda meanings: [_option(f"{n} — {m}", str(n)) for n, m in meanings.items()]  # noqa: E731
    category_options = [_option(label, key) for key, label in sorted(categories.items(), key=lambda kv: kv[1])]
    response_options = [_option(r.capitalize(), r) for r in RESPONSES]
    owner: dict[str, Any] = {"type": "users_select", "action_id": "owner"}
    if risk and risk.owner_id:
        owner["initial_user"] = risk.owner_id
    review: dict[str, Any] = {"type": "datepicker", "action_id": "review_on"}
    if risk and risk.review_on:
        review["initial_date"] = risk.review_on.isoformat()
    meta = json.dumps({"channel": channel, "risk": risk.id if risk else None})
    heading = f"Edit {risk.readable_id}" if risk else "New risk"
    return {
        "type": "modal", "callback_id": VIEW_FORM, "title": blocks.plain(heading, 24),
        "submit": blocks.plain("Save", 24), "close": blocks.plain("Cancel", 24), "private_metadata": meta,
        "blocks": [
            _input("title", "Title", _text_input("title", risk.title if risk else title, max_length=200,
                                                   placeholder="What could go wrong, in a line"), optional=False),
            _input("description", "Description",
                   _text_input("description", risk.description if risk else description, multiline=True)),
            _input("probability", "Probability", _select("probability", scale(PROBABILITY),
                                                         str(risk.probability) if risk and risk.probability
                                                         else None), optional=False),
            _input("impact", "Impact", _select("impact", scale(IMPACT),
                                               str(risk.impact) if risk and risk.impact else None), optional=False),
            _input("category", "Category", _select("category", category_options, risk.category if risk else None)),
            _input("owner", "Owner", owner),
            _input("response", "Response", _select("response", response_options, risk.response if risk else None)),
            _input("mitigation", "Mitigation plan", _text_input("mitigation", risk.mitigation if risk else None,
                                                                multiline=True)),
            _input("trigger", "Early-warning sign", _text_input("trigger", risk.trigger if risk else None),
                   hint="What would tell us it is starting to happen?"),
            _input("review_on", "Review by", review,
                   hint=f"Empty: set from the band (critical 7 days … low 90) from {today.isoformat()}."),
        ],
    }


def close_view(risk: Risk, *, channel: str) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": VIEW_CLOSE, "title": blocks.plain(f"Close {risk.readable_id}", 24),
        "submit": blocks.plain("Close risk", 24), "close": blocks.plain("Cancel", 24),
        "private_metadata": json.dumps({"risk": risk.id, "channel": channel}),
        "blocks": [*blocks.sections(f"*{escape_user_text(truncate(risk.title, 200))}*"),
                   _input("reason", "Why is it closed?", _text_input("reason", None, max_length=500),
                          optional=False)],
    }
