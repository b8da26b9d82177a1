"""Bug use cases: file (redact, store), grade and post, and the people's review of the grade."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.bugs import blocks as bug_blocks
from bot.deps import Deps
from bot.domain.pii import describe, redact
from bot.domain.text import escape_user_text, truncate
from bot.errors import IntegrationUnavailable, NotFound, SlackError, UserInputError
from bot.gateways.slack import is_transient, retry_after
from bot.grader import corrections_from, grade_stored
from bot.mirror import links, outbox
from storage.bugs import (
    bug_by_id,
    close_if_open,
    create_bug,
    get_bug,
    record_change,
    record_llm_usage,
    team_regrades,
)
from storage.db import session_scope
from storage.incidents import incidents_of_bug
from storage.models import Bug, JiraLink
from storage.work import add_work

logger = logging.getLogger(__name__)

MAX_REPORT_CHARS = 20_000
TITLE_CHARS = 120


# The queue's work for a stored report: grade it, post its card, escalate (see `finish`).
WORK = "bug.finish"
# The metadata event type on pmbot's cards, so a card posted just before a crash is found, not posted twice.
CARD_EVENT = "pmbot_card"


@dataclass(frozen=True)
class Preset:
    """A grade decided before the report is stored, by a rule the team set (a quality breach is graded by the
    team's plan): the grader does not run, the card says who graded it and why."""

    grade: int
    reasons: list[str]
    source: str  # a `grader_name` key, e.g. "plan"
    category: str | None = None


@dataclass(frozen=True)
class Origin:
    """Where a report was filed from (a message, by its shortcut), in pmbot's own words: `line` ends the report and
    `details` join its details. Stored as given, after redaction: they hold a name and Slack's ids and permalink,
    whose message id redaction would take for a secret."""

    line: str
    details: dict[str, str]


@dataclass(frozen=True)
class Intake:
    bug_id: int
    readable_id: str
    created: bool
    removed: str  # what redaction took out, in words ("" when nothing)
    work_id: int  # the queued grading and posting


def file_report(deps: Deps, *, team_id: str, channel_id: str, reporter_id: str, delivery_key: str, text: str,
                title: str | None = None, details: dict[str, str] | None = None,
                reply_to: dict[str, str] | None = None, preset: Preset | None = None,
                origin: Origin | None = None) -> Intake:
    """Redact and store a report, with the work of grading and posting it, before anything slow happens; the
    raw text stops here. `reply_to` is how the work reaches the reporter later (response_url, channel name);
    `preset` grades it now instead of the grader; `origin` says which message it was filed from."""
    text = text.strip()
    if not text:
        raise UserInputError("The report is empty. Type `/bug what went wrong`, or `/bug` alone for a form.")
    clipped = text[:MAX_REPORT_CHARS]
    redaction = redact(clipped)
    clean_title = redact(title).text if title else _title(redaction.text)
    redacted_details = {k: redact(v) for k, v in (details or {}).items() if v}
    clean_details = {k: r.text for k, r in redacted_details.items()}
    found = list(redaction.findings) + [f for r in redacted_details.values() for f in r.findings]
    body = redaction.text + ("\n…(report cut at 20,000 characters)" if len(text) > MAX_REPORT_CHARS else "")
    if origin is not None:
        body, clean_details = f"{body}\n\n{origin.line}", {**clean_details, **origin.details}
    with session_scope(deps.engine) as session:
        bug, created = create_bug(session, team_id=team_id, delivery_key=delivery_key, channel_id=channel_id,
                                  reporter_id=reporter_id, title=truncate(clean_title, 200), text=body,
                                  details=clean_details, pii=list(dict.fromkeys(f.kind for f in found)),
                                  now=deps.clock())
        if created and preset is not None:
            _apply_preset(bug, preset, deps.clock())
            session.add(bug)
        if created:
            outbox.record(session, deps, bug, "create")
        work_id = add_work(session, team_id=team_id, kind=WORK, ref_id=bug.id, now=deps.clock(),
                           payload=reply_to or {})
        return Intake(bug.id, bug.readable_id, created, describe(found), work_id)


def _apply_preset(bug: Bug, preset: Preset, now) -> None:
    bug.grade = bug.auto_grade = preset.grade
    bug.grade_source, bug.reasons = preset.source, [redact(r).text for r in preset.reasons]
    bug.confidence, bug.floor, bug.graded_at, bug.category = 1.0, False, now, preset.category


def _title(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "Bug report"
    return truncate(first, TITLE_CHARS)


class CardNotPosted(Exception):
    """The bug is graded and stored, but its card could not be posted in the channel; `transient` when Slack
    was down or busy (try again later) rather than refusing this channel."""

    def __init__(self, bug: Bug, why: str, *, transient: bool = False, after: float | None = None):
        super().__init__(why)
        self.bug = bug
        self.transient = transient
        self.after = after


def grade_and_post(deps: Deps, *, team_id: str, bug_id: int, maybe_posted: bool = False) -> Bug:
    """Grade a stored report (once), post its card, escalate a grade 1. Safe to run again: with
    `maybe_posted` (an earlier attempt may have died after Slack took the card) the channel is searched first."""
    with session_scope(deps.engine) as session:
        bug = load_bug(session, team_id, bug_id)
    if bug.grade is None:
        bug = _grade(deps, bug)
    if bug.message_ts is None:
        bug = _post(deps, bug, maybe_posted=maybe_posted)
    return bug


def load_bug(session, team_id: str, bug_id: int) -> Bug:
    """A bug of this team, or NotFound."""
    bug = bug_by_id(session, team_id=team_id, bug_id=bug_id)
    if bug is None:
        raise NotFound("That bug no longer exists.")
    return bug


def _grade(deps: Deps, bug: Bug) -> Bug:
    with session_scope(deps.engine) as session:
        regrades = team_regrades(session, team_id=bug.team_id)
    corrections = corrections_from(r for r in regrades if r.bug_id != bug.id)
    graded = grade_stored(bug.text, list(bug.pii), deps.llm, corrections)
    verdict = graded.verdict
    with session_scope(deps.engine) as session:
        row = load_bug(session, bug.team_id, bug.id)
        if row.grade is None:
            row.grade = row.auto_grade = verdict.grade
            row.grade_source, row.reasons = verdict.source, list(verdict.reasons)
            row.confidence, row.floor, row.graded_at = verdict.confidence, verdict.floor, deps.clock()
            row.category = verdict.category
            row.unsure_of = next((g for g in verdict.unsure or () if g != verdict.grade), None)
            session.add(row)
        if graded.usage is not None:
            usage = graded.usage
            record_llm_usage(session, team_id=bug.team_id, feature="bug_grading", model=usage.model,
                             prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                             latency_ms=usage.latency_ms, request_id=usage.request_id, now=deps.clock())
        return row


def _post(deps: Deps, bug: Bug, *, maybe_posted: bool) -> Bug:
    escalated = _escalation_channel(deps) if bug.grade == 1 else None
    text, card = bug_blocks.card(bug, escalated_to=escalated, jira=outbox.link_of(deps, bug))
    key = f"bug-{bug.id}"
    try:
        found = _find_card(deps, bug, key) if maybe_posted else None
        if found is not None:
            channel, ts = bug.channel_id, found
            logger.info("%s: its card was posted before a restart (%s); not posting it again", bug.readable_id, ts)
        else:
            posted = deps.slack.post_in_channel(bug.channel_id, text=text, blocks=card,
                                                metadata={"event_type": CARD_EVENT, "event_payload": {"id": key}})
            channel, ts = posted.channel, posted.ts
    except IntegrationUnavailable as exc:  # Slack refused, had trouble, or could not be reached
        why = exc.code if isinstance(exc, SlackError) else str(exc)
        raise CardNotPosted(bug, why, transient=is_transient(exc), after=retry_after(exc)) from exc
    with session_scope(deps.engine) as session:
        row = load_bug(session, bug.team_id, bug.id)
        row.message_channel, row.message_ts = channel, ts
        session.add(row)
    if escalated and found is None:
        _escalate(deps, row, escalated)
    return row


def _find_card(deps: Deps, bug: Bug, key: str) -> str | None:
    """The ts of this bug's card if Slack already has it (looked up in the channel since the report)."""
    try:
        return deps.slack.find_own_post(bug.channel_id, event_type=CARD_EVENT, key=key,
                                        oldest=bug.created_at.timestamp() - 60)
    except SlackError as exc:
        if is_transient(exc):
            raise
        logger.info("%s: cannot read the channel's history (%s); posting the card", bug.readable_id, exc.code)
        return None


def _escalation_channel(deps: Deps) -> str | None:
    ref = deps.settings.pmbot_escalation_channel
    if not ref:
        return None
    try:
        return deps.slack.resolve_channel(ref)
    except SlackError:
        logger.warning("escalation channel %s cannot be looked up", ref)
        return None


def _escalate(deps: Deps, bug: Bug, channel: str) -> None:
    link = deps.slack.permalink(bug.message_channel, bug.message_ts)
    text = (f"🚨 {bug.readable_id} was graded 1 (critical): {escape_user_text(truncate(bug.title, 150))} — "
            f"<{link}|open the report>. Reported by <@{bug.reporter_id}> in <#{bug.channel_id}>.")
    try:
        deps.slack.post_in_channel(channel, text=text)
    except SlackError as exc:
        logger.warning("could not post the escalation for %s: %s", bug.readable_id, exc.code)


# --- people reviewing ---------------------------------------------------------------------------


def confirm(deps: Deps, *, team_id: str, bug_id: int, user_id: str) -> Bug:
    """A person agrees with the grade."""
    with session_scope(deps.engine) as session:
        bug = _open_bug(session, team_id, bug_id)
        bug.unsure_of = None  # a person looked: the card stops asking
        record_change(session, bug=bug, user_id=user_id, kind="confirm", to_grade=bug.grade, now=deps.clock())
    _refresh(deps, bug, f"✅ <@{user_id}> confirmed grade {bug.grade}.")
    return bug


def change_grade(deps: Deps, *, team_id: str, bug_id: int, user_id: str, grade: int, reason: str) -> Bug:
    """A person sets another grade, with a reason that is kept."""
    if grade not in range(1, 6):
        raise UserInputError("A grade is a number from 1 to 5.")
    reason = redact(reason.strip()).text
    if len(reason) < 3:
        raise UserInputError("Please say why the grade should change.")
    with session_scope(deps.engine) as session:
        bug = _open_bug(session, team_id, bug_id)
        before = bug.grade
        bug.unsure_of = None
        record_change(session, bug=bug, user_id=user_id, kind="change", to_grade=grade, reason=reason,
                      now=deps.clock())
        outbox.record(session, deps, bug, "fields")
        outbox.record(session, deps, bug, "comment", text=f"Grade changed in Slack: {before} → {grade}. Why: {reason}")
    _refresh(deps, bug, f"✏️ <@{user_id}> changed the grade {before} → {grade}: {escape_user_text(reason)}")
    return bug


def assign(deps: Deps, *, team_id: str, bug_id: int, user_id: str, assignee: str) -> Bug:
    with session_scope(deps.engine) as session:
        bug = _open_bug(session, team_id, bug_id)
        bug.assignee_id = assignee
        session.add(bug)
        outbox.record(session, deps, bug, "assign")
    _refresh(deps, bug, f"👤 <@{user_id}> assigned this to <@{assignee}>.")
    return bug


def close(deps: Deps, *, team_id: str, readable_id: str, user_id: str, resolution: str | None) -> Bug:
    with session_scope(deps.engine) as session:
        bug = _by_readable(session, team_id, readable_id)
        if bug.status == "closed" or not close_if_open(
                session, bug_id=bug.id, at=deps.clock(), by=user_id,
                resolution=redact(resolution).text if resolution else None):  # a concurrent click closed it
            raise UserInputError(f"{bug.readable_id} is already closed.")
        session.refresh(bug)
        outbox.record(session, deps, bug, "close",
                      text="Closed in Slack" + (f": {bug.resolution}" if bug.resolution else "."))
    said = f": {escape_user_text(bug.resolution)}" if bug.resolution else "."
    _refresh(deps, bug, f"🔒 <@{user_id}> closed this{said}")
    return bug


def reopen(deps: Deps, *, team_id: str, readable_id: str, user_id: str) -> Bug:
    with session_scope(deps.engine) as session:
        bug = _by_readable(session, team_id, readable_id)
        if bug.status == "open":
            raise UserInputError(f"{bug.readable_id} is already open.")
        bug.status, bug.closed_at, bug.closed_by, bug.resolution = "open", None, None, None
        session.add(bug)
        outbox.record(session, deps, bug, "reopen", text="Reopened in Slack.")
    _refresh(deps, bug, f"🔓 <@{user_id}> reopened this.")
    return bug


def link_jira(deps: Deps, *, team_id: str, readable_id: str, user_id: str, key: str) -> JiraLink:
    """Attach an existing Jira issue as this bug's twin (instead of creating one)."""
    with session_scope(deps.engine) as session:
        bug = _by_readable(session, team_id, readable_id)
    link = links.link_existing(deps, bug, key)
    _refresh(deps, bug, f"🔗 <@{user_id}> linked {bug.readable_id} to Jira {link.jira_key}.")
    return link


def _open_bug(session, team_id: str, bug_id: int) -> Bug:
    bug = load_bug(session, team_id, bug_id)
    if bug.status != "open":
        raise UserInputError(f"{bug.readable_id} is closed; `/bug reopen {bug.readable_id}` first.")
    if bug.grade is None:
        raise UserInputError(f"{bug.readable_id} is still being graded; try again in a moment.")
    return bug


def _by_readable(session, team_id: str, readable_id: str) -> Bug:
    bug = get_bug(session, team_id=team_id, readable_id=readable_id)
    if bug is None:
        raise NotFound(f"There is no bug {truncate(readable_id, 20)} here. `/bug list all` shows them.")
    return bug


def redraw(deps: Deps, bug: Bug) -> None:
    """Update the card in place (grade, status, Jira key as they are now)."""
    if not bug.message_ts or not bug.message_channel:
        return
    with session_scope(deps.engine) as session:
        incidents = incidents_of_bug(session, team_id=bug.team_id, readable_id=bug.readable_id)
    text, card = bug_blocks.card(bug, jira=outbox.link_of(deps, bug), incidents=incidents)
    deps.slack.update_message(bug.message_channel, bug.message_ts, text=text, blocks=card)


def _refresh(deps: Deps, bug: Bug, note: str) -> None:
    """Update the card in place and say what changed in its thread."""
    if not bug.message_ts or not bug.message_channel:
        return
    redraw(deps, bug)
    deps.slack.post_message(bug.message_channel, thread_ts=bug.message_ts, text=note)


# --- rules acting on a bug (a quality plan's breach) ---------------------------------------------------------


def note(deps: Deps, *, team_id: str, bug_id: int, text: str) -> Bug:
    """Say something in a bug's thread, its card redrawn (a later run of a breached metric, for instance)."""
    with session_scope(deps.engine) as session:
        bug = load_bug(session, team_id, bug_id)
    _refresh(deps, bug, text)
    return bug


def close_by_rule(deps: Deps, *, team_id: str, bug_id: int, rule: str, why: str) -> Bug | None:
    """Close an open bug because a rule says it is fixed (`rule` is stored as who closed it); None when it was
    closed already, by a person or earlier."""
    with session_scope(deps.engine) as session:
        bug = load_bug(session, team_id, bug_id)
        if bug.status == "closed":
            return None
        bug.status, bug.closed_at, bug.closed_by, bug.resolution = "closed", deps.clock(), rule, why
        session.add(bug)
        outbox.record(session, deps, bug, "close", text=f"Closed by pmbot: {why}")
    _refresh(deps, bug, f"🔒 Closed: {escape_user_text(why)}")
    return bug
