"""Risk use cases: quick add with the thread intake, the form, updates with history, and reviews."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

from bot.deps import Deps
from bot.domain import risk as risk_rules
from bot.domain.pii import describe, redact
from bot.domain.text import escape_user_text, truncate
from bot.errors import NotFound, SlackError, UserInputError
from bot.mirror import links, outbox
from bot.risks import blocks as risk_blocks
from bot.team_locale import team_today
from storage.bugs import get_bug, record_llm_usage
from storage.db import session_scope
from storage.models import JiraLink, Risk
from storage.risks import apply_changes, categories, claim_step, create_risk, get_risk, risk_by_id, risk_by_message

logger = logging.getLogger(__name__)

TITLE_CHARS = 200
MAX_TEXT_CHARS = 4000


def team_categories(deps: Deps, team_id: str) -> dict[str, str]:
    with session_scope(deps.engine) as session:
        return categories(session, team_id=team_id)


@dataclass(frozen=True)
class Added:
    risk: Risk
    created: bool
    removed: str  # what redaction took out, in words


def quick_add(deps: Deps, *, team_id: str, channel_id: str, user_id: str, delivery_key: str, text: str) -> Added:
    """`/risk <text with hints>`: store at once with what the text gives (no Slack or LLM call yet)."""
    text = text.strip()[:MAX_TEXT_CHARS]
    today = team_today(deps, team_id)
    known = team_categories(deps, team_id)
    hints = risk_rules.parse_hints(text, today=today, categories=known)
    if hints.errors:
        raise UserInputError("Nothing was saved: " + " ".join(hints.errors))
    redaction = redact(hints.title)
    if len(redaction.text.strip()) < 3:
        raise UserInputError("Say what the risk is, e.g. `/risk the vendor may retire our model p=3 i=4`.")
    title, description = _title_and_description(redaction.text)
    values = _with_default_review(_columns(_people(deps, hints.fields)), today)
    step = _next_step(values, after=None)
    with session_scope(deps.engine) as session:
        risk, created = create_risk(session, team_id=team_id, delivery_key=delivery_key, channel_id=channel_id,
                                    title=title, description=description, created_by=user_id,
                                    guessed=sorted(hints.guessed), intake_step=step, now=deps.clock(), **values)
        if created:
            outbox.record(session, deps, risk, "create")
    return Added(risk, created, describe(redaction.findings))


def publish(deps: Deps, risk: Risk) -> Risk:
    """After the ack: let the LLM (when configured) suggest what the author left out, then post the card
    and the first question of the intake."""
    known = team_categories(deps, risk.team_id)
    if deps.risk_llm is not None and risk.message_ts is None:
        risk = _llm_suggestions(deps, risk, known)
    return _post(deps, risk, known) if risk.message_ts is None else risk


_SUGGESTIBLE = ("probability", "impact", "category")


def _llm_suggestions(deps: Deps, risk: Risk, known: dict[str, str]) -> Risk:
    """Fill fields the author did not type from the LLM's reading; each value is checked, and marked as a guess."""
    open_fields = [f for f in _SUGGESTIBLE if getattr(risk, f) is None or f in (risk.guessed or [])]
    if not open_fields:
        return risk
    text = risk.title + (f"\n{risk.description}" if risk.description else "")
    outcome = deps.risk_llm(text, sorted(known)) if deps.risk_llm else None
    if outcome is None:
        return risk
    if outcome.fields is None:
        logger.info("risk %s: %s; the offline reading stands", risk.readable_id, outcome.failure)
    suggested = outcome.fields.model_dump() if outcome.fields else {}
    if suggested.get("category") not in known:
        suggested["category"] = None  # a category we do not have is not trusted
    changes = {f: suggested[f] for f in open_fields if suggested.get(f) is not None}
    today = team_today(deps, risk.team_id)
    with session_scope(deps.engine) as session:
        row = load(session, risk.team_id, risk.id)
        for name, value in changes.items():
            setattr(row, name, value)
        row.guessed = sorted(set(row.guessed or []) | set(changes))
        values = {"probability": row.probability, "impact": row.impact, "review_on": row.review_on}
        row.review_on = _with_default_review(values, today).get("review_on")
        row.intake_step = _next_step({_column(s): getattr(row, _column(s)) for s in risk_blocks.STEPS}, after=None)
        session.add(row)
        if outcome.usage is not None:
            usage = outcome.usage
            record_llm_usage(session, team_id=risk.team_id, feature="risk_intake", model=usage.model,
                             prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                             latency_ms=usage.latency_ms, request_id=usage.request_id, now=deps.clock())
        return row


def _people(deps: Deps, fields: dict[str, object]) -> dict[str, object]:
    """An owner typed as plain `@name` (not completed by Slack) is looked up; unknown names are refused."""
    owner = fields.get("owner")
    if not (isinstance(owner, str) and owner.startswith("@")):
        return fields
    found = deps.slack.find_user(owner)
    if found is None:
        raise UserInputError(f"I do not know {owner} in this workspace. Mention them so Slack completes the "
                             "name, e.g. owner=@maria picked from the list.")
    return {**fields, "owner": found}


_FREE_TEXT = ("title", "description", "mitigation", "trigger", "close_reason")


def _redacted(values: dict[str, object]) -> dict[str, object]:
    """Free-text fields with personal data and secrets removed, as everything stored is."""
    return {k: redact(v).text if k in _FREE_TEXT and isinstance(v, str) else v for k, v in values.items()}


def _title_and_description(text: str) -> tuple[str, str | None]:
    text = text.strip()
    if len(text) <= TITLE_CHARS:
        return text, None
    cut = text.rfind(". ", 0, TITLE_CHARS)
    title = text[:cut + 1] if cut >= 40 else truncate(text, TITLE_CHARS)
    return title, text


def _column(name: str) -> str:
    """Field names as people type them → the risk's columns (only the owner differs)."""
    return "owner_id" if name == "owner" else name


def _columns(values: dict[str, object]) -> dict[str, object]:
    return {_column(k): v for k, v in values.items()}


def _with_default_review(values: dict[str, object], today: date) -> dict[str, object]:
    value = risk_rules.score(values.get("probability"), values.get("impact"))  # type: ignore[arg-type]
    if value is not None and not values.get("review_on"):
        values = {**values, "review_on": risk_rules.review_after(risk_rules.band(value), today)}
    return values


def _missing(values: dict[str, object], step: str) -> bool:
    return not values.get(_column(step))


def _next_step(values: dict[str, object], *, after: str | None) -> str | None:
    """The first question still open after `after` (questions skipped or answered are not asked again)."""
    steps = risk_blocks.STEPS
    start = steps.index(after) + 1 if after else 0
    return next((s for s in steps[start:] if _missing(values, s)), None)


class CardNotPosted(UserInputError):
    """The risk is saved, but its card could not be posted in its channel; the card is here (`text`, `blocks`) so
    the person can be shown it privately."""

    def __init__(self, risk: Risk, why: str, text: str, blocks: list):
        super().__init__(why)
        self.risk, self.text, self.blocks = risk, text, blocks


def _post(deps: Deps, risk: Risk, known: dict[str, str]) -> Risk:
    """Post the card, then the first question in its thread."""
    text, card = _card(deps, risk, known)
    try:
        posted = deps.slack.post_in_channel(risk.channel_id, text=text, blocks=card)
    except SlackError as exc:
        raise CardNotPosted(risk, f"{risk.readable_id} is saved, but I cannot post in this channel ({exc.code}). "
                                  "Invite me with `/invite @pmbot`, then `/risk show "
                                  f"{risk.readable_id}`.", text, card) from exc
    question_ts = None
    if risk.intake_step:
        question_ts = _ask(deps, risk, posted.channel, posted.ts, known)
    with session_scope(deps.engine) as session:
        row = load(session, risk.team_id, risk.id)
        row.message_channel, row.message_ts, row.intake_question_ts = posted.channel, posted.ts, question_ts
        session.add(row)
        return row


def _ask(deps: Deps, risk: Risk, channel: str, thread_ts: str, known: dict[str, str]) -> str:
    text, parts = risk_blocks.question(risk, risk.intake_step or "", known)
    return deps.slack.post_message(channel, thread_ts=thread_ts, text=text, blocks=parts).ts


def load(session, team_id: str, risk_id: int) -> Risk:
    """A risk of this team, or NotFound."""
    risk = risk_by_id(session, team_id=team_id, risk_id=risk_id)
    if risk is None:
        raise NotFound("That risk no longer exists.")
    return risk


def by_readable(session, team_id: str, readable_id: str) -> Risk:
    risk = get_risk(session, team_id=team_id, readable_id=readable_id)
    if risk is None:
        raise NotFound(f"There is no risk {truncate(readable_id, 20)} here. `/risk list all` shows them.")
    return risk


# --- the intake thread -----------------------------------------------------------------------------


def answer(deps: Deps, *, team_id: str, risk_id: int, step: str, value: object, user_id: str) -> bool:
    """Record one answer (None = skip) and ask the next question; False when the step was answered already."""
    known = team_categories(deps, team_id)
    today = team_today(deps, team_id)
    with session_scope(deps.engine) as session:
        risk = load(session, team_id, risk_id)
        if risk.intake_step != step:
            return False
        changes: dict[str, object] = {} if value is None else {_column(step): value}
        current = {_column(s): getattr(risk, _column(s)) for s in risk_blocks.STEPS} | changes
        next_step = _next_step(current, after=step)
        if not claim_step(session, risk_id=risk.id, step=step, next_step=next_step):
            return False  # two answers at once: the other one won
        old_question = risk.intake_question_ts
        session.refresh(risk)
        if changes:
            if risk.review_on is None:
                merged = {"probability": risk.probability, "impact": risk.impact, **changes}
                changes = {**changes, "review_on": _with_default_review(merged, today).get("review_on")}
                changes = {k: v for k, v in changes.items() if v is not None}
            apply_changes(session, risk=risk, user_id=user_id, changes=changes, now=deps.clock())
            outbox.record(session, deps, risk, "fields")
    shown = "skipped" if value is None else _answer_shown(step, value, known)
    if old_question and risk.message_channel:
        text, parts = risk_blocks.answered(step, shown, user_id)
        _quietly("chat_update", partial(deps.slack.update_message, risk.message_channel, old_question, text=text,
                                        blocks=parts))
    _continue(deps, risk, known)
    return True


def _answer_shown(step: str, value: object, known: dict[str, str]) -> str:
    """An intake answer as the answered question shows it: a person mentioned, a category by its label."""
    if step == "owner":
        return f"<@{value}>"
    if step == "category":
        return escape_user_text(known.get(str(value), str(value)))
    if step in ("probability", "impact"):
        meanings = risk_rules.PROBABILITY if step == "probability" else risk_rules.IMPACT
        return f"{value} ({meanings[int(value)].split(' — ')[0]})"  # type: ignore[call-overload]
    return escape_user_text(truncate(str(value), 200))


def _continue(deps: Deps, risk: Risk, known: dict[str, str]) -> None:
    """Refresh the card; ask the next question, or post the summary when the intake is complete."""
    if not risk.message_channel or not risk.message_ts:
        return
    text, card = _card(deps, risk, known)
    _quietly("chat_update", partial(deps.slack.update_message, risk.message_channel, risk.message_ts, text=text,
                                    blocks=card))
    if risk.intake_step:
        question_ts = _ask(deps, risk, risk.message_channel, risk.message_ts, known)
        with session_scope(deps.engine) as session:
            row = load(session, risk.team_id, risk.id)
            if row.intake_step == risk.intake_step:
                row.intake_question_ts = question_ts
                session.add(row)
    else:
        text, parts = risk_blocks.done(risk, known)
        deps.slack.post_message(risk.message_channel, thread_ts=risk.message_ts, text=text, blocks=parts)


def _quietly(method: str, send: Callable[[], object]) -> None:
    """A cosmetic Slack call (refreshing a message): its failure is logged (as `method` failed), not shown."""
    try:
        send()
    except SlackError as exc:
        logger.warning("%s failed: %s", method, exc.code)


def typed_answer(deps: Deps, *, team_id: str, channel_id: str, thread_ts: str, ts: str, user_id: str,
                 text: str, edited: bool = False) -> tuple[bool, str | None]:
    """A plain reply in a risk's thread while it waits for an answer: (was it a risk's thread, what to tell the
    person, if anything).

    A reply answers the question that was on screen when it was written: one written before the current
    question was posted was meant for an earlier one (someone else answered it first), so it is not used.
    """
    with session_scope(deps.engine) as session:
        risk = risk_by_message(session, team_id=team_id, channel_id=channel_id, ts=thread_ts)
    if risk is None:
        return False, None
    if not risk.intake_step:
        return True, None
    if not risk.intake_question_ts or _ts_seconds(ts) <= _ts_seconds(risk.intake_question_ts):
        if edited:  # an edit of a reply written for an earlier question: that answer is recorded already
            return True, (f"That question was answered already, so your edit does not change {risk.readable_id}; "
                          f"use `/risk update {risk.readable_id} …` to change a field.")
        return True, "Someone answered that question just before you; the next one is in the thread."
    step = risk.intake_step
    if risk_rules.is_skip(text):
        value = None
    else:
        try:
            value = risk_rules.parse_answer(step, redact(text).text if step == "mitigation" else text,
                                            today=team_today(deps, team_id),
                                            categories=team_categories(deps, team_id))
            value = _people(deps, {step: value})[step]
        except (risk_rules.FieldError, UserInputError) as exc:
            return True, str(exc)
    if not answer(deps, team_id=team_id, risk_id=risk.id, step=step, value=value, user_id=user_id):
        return True, "Someone answered that question just before you; the next one is in the thread."
    return True, None


def _ts_seconds(value: str) -> float:
    """A Slack message ts (`1712345678.000200`) as a number, to tell which message was written first."""
    try:
        return float(value)
    except ValueError:
        return 0.0


# --- working the register ------------------------------------------------------------------------


def update(deps: Deps, *, team_id: str, readable_id: str, user_id: str, changes: dict[str, object],
           note: str | None = None) -> Risk:
    """Change fields, each change logged; the card is refreshed and the change said in its thread."""
    changes = _columns(_redacted(_people(deps, changes)))
    with session_scope(deps.engine) as session:
        risk = by_readable(session, team_id, readable_id)
        reopening = changes.get("status") in ("open", "mitigating") and risk.status in ("closed", "accepted")
        if risk.status == "closed" and not reopening and changes.get("status") != "closed":
            raise UserInputError(f"{risk.readable_id} is closed. Reopen it with "
                                 f"`/risk update {risk.readable_id} status=open` first.")
        if reopening:
            changes = {**changes, "close_reason": None, "accepted_until": None}
        was = risk.status
        logged = apply_changes(session, risk=risk, user_id=user_id, changes=changes, now=deps.clock())
        if logged:
            _mirror_update(session, deps, risk, was, logged, note)
    if logged:
        _refresh(deps, risk, note or f"✏️ <@{user_id}> changed {risk_blocks.describe_changes(logged)}.")
    return risk


def close(deps: Deps, *, team_id: str, readable_id: str, user_id: str, reason: str) -> Risk:
    with session_scope(deps.engine) as session:
        if by_readable(session, team_id, readable_id).status == "closed":
            raise UserInputError(f"{readable_id.upper()} is closed already.")
    reason = redact(reason.strip()).text
    if len(reason) < 3:
        raise UserInputError(f"Say why it is closed: `/risk close {readable_id.upper()} the vendor signed a "
                             "two-year deal`.")
    return update(deps, team_id=team_id, readable_id=readable_id, user_id=user_id,
                  changes={"status": "closed", "close_reason": reason, "accepted_until": None},
                  note=f"✅ <@{user_id}> closed {readable_id.upper()}: {escape_user_text(reason)}")


def accept(deps: Deps, *, team_id: str, readable_id: str, user_id: str, until: date, reason: str) -> Risk:
    reason = redact(reason.strip()).text
    if len(reason) < 3:
        raise UserInputError("Say why the risk is accepted, after the date: "
                             f"`/risk accept {readable_id.upper()} until 2027-03-31 the cost of avoiding it is "
                             "higher`.")
    return update(deps, team_id=team_id, readable_id=readable_id, user_id=user_id,
                  changes={"status": "accepted", "response": "accept", "accepted_until": until,
                           "close_reason": reason},
                  note=f"🤝 <@{user_id}> accepted {readable_id.upper()} until {until.isoformat()}: "
                       f"{escape_user_text(reason)}")


def link(deps: Deps, *, team_id: str, readable_id: str, user_id: str, target: str) -> Risk:
    with session_scope(deps.engine) as session:
        risk = by_readable(session, team_id, readable_id)
        links = list(risk.links or [])
        if target.startswith("B-") and get_bug(session, team_id=team_id, readable_id=target) is None:
            raise NotFound(f"There is no bug {target} here. `/bug list all` shows them.")
        if target.startswith("R-"):
            by_readable(session, team_id, target)
    if target in links:
        raise UserInputError(f"{risk.readable_id} is already linked to {target}.")
    return update(deps, team_id=team_id, readable_id=readable_id, user_id=user_id,
                  changes={"links": [*links, target]},
                  note=f"🔗 <@{user_id}> linked {risk.readable_id} to {escape_user_text(target)}.")


def link_jira(deps: Deps, *, team_id: str, readable_id: str, user_id: str, key: str) -> JiraLink:
    """Attach an existing Jira issue as this risk's twin."""
    with session_scope(deps.engine) as session:
        risk = by_readable(session, team_id, readable_id)
    link = links.link_existing(deps, risk, key)
    _refresh(deps, risk, f"🔗 <@{user_id}> linked {risk.readable_id} to Jira {link.jira_key}.")
    return link


def still_valid(deps: Deps, *, team_id: str, risk_id: int, user_id: str) -> Risk:
    """The owner looked at it: the next review date moves on by the band's interval."""
    today = team_today(deps, team_id)
    with session_scope(deps.engine) as session:
        risk = load(session, team_id, risk_id)
    value = risk_rules.score(risk.probability, risk.impact) or 1
    next_review = risk_rules.review_after(risk_rules.band(value), today)
    return update(deps, team_id=team_id, readable_id=risk.readable_id, user_id=user_id,
                  changes={"review_on": next_review},
                  note=f"👀 <@{user_id}> reviewed {risk.readable_id}: still valid. Next review "
                       f"{next_review.isoformat()}.")


def _mirror_update(session, deps: Deps, risk: Risk, was: str, logged: list, note: str | None) -> None:
    """What Jira hears about a change: the fields, a comment saying what changed, a close or a reopen."""
    now = risk.status
    if now in ("closed", "accepted") and was not in ("closed", "accepted"):
        outbox.record(session, deps, risk, "fields")
        outbox.record(session, deps, risk, "close", text=note or f"{risk.readable_id} was {now}.")
        return
    if was in ("closed", "accepted") and now not in ("closed", "accepted"):
        outbox.record(session, deps, risk, "reopen", text="Reopened in Slack.")
    if any(change.field_name == "owner_id" for change in logged):
        outbox.record(session, deps, risk, "assign")
    outbox.record(session, deps, risk, "fields")
    outbox.record(session, deps, risk, "comment", text=f"Updated in Slack: {risk_blocks.describe_changes(logged)}.")


def _card(deps: Deps, risk: Risk, known: dict[str, str]):
    return risk_blocks.card(risk, known, jira=outbox.link_of(deps, risk))


def redraw(deps: Deps, risk: Risk) -> None:
    """Update the card in place (as the risk is now, Jira key included)."""
    if risk.message_ts and risk.message_channel:
        text, card = _card(deps, risk, team_categories(deps, risk.team_id))
        _quietly("chat_update", partial(deps.slack.update_message, risk.message_channel, risk.message_ts, text=text,
                                        blocks=card))


def _refresh(deps: Deps, risk: Risk, note: str) -> None:
    if not risk.message_ts or not risk.message_channel:
        return
    known = team_categories(deps, risk.team_id)
    text, card = _card(deps, risk, known)
    _quietly("chat_update", partial(deps.slack.update_message, risk.message_channel, risk.message_ts, text=text,
                                    blocks=card))
    _quietly("chat_postMessage", partial(deps.slack.post_message, risk.message_channel, thread_ts=risk.message_ts,
                                         text=note))


def save_form(deps: Deps, *, team_id: str, channel_id: str, user_id: str, delivery_key: str,
              risk_id: int | None, values: dict[str, object]) -> Risk:
    """The form's values (validated by the caller): a new complete risk, or changes to one."""
    today = team_today(deps, team_id)
    values = _redacted(values)
    if risk_id is None:
        values = _with_default_review(values, today)
        with session_scope(deps.engine) as session:
            risk, created = create_risk(session, team_id=team_id, delivery_key=delivery_key, channel_id=channel_id,
                                        created_by=user_id, now=deps.clock(), **values)
            if created:
                outbox.record(session, deps, risk, "create")
        return _post(deps, risk, team_categories(deps, team_id)) if created else risk
    with session_scope(deps.engine) as session:
        risk = load(session, team_id, risk_id)
        readable = risk.readable_id
        if not values.get("review_on"):
            values.pop("review_on", None)
    return update(deps, team_id=team_id, readable_id=readable, user_id=user_id, changes=values)
