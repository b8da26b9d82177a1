"""The day's summary with the answers themselves: per person, people reporting a blocker first, each answer under
its question; a long answer is folded (its first FOLD characters and "…") and posted whole in the thread after
the summary. Slack's limits hold however many members and however long the answers: at most 50 blocks, at most
3000 characters a section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot import blocks
from bot.domain.text import NameLookup, escape_user_text, truncate
from bot.standups.blocks import ACTION_BUG, ACTION_RISK
from storage.models import Standup, StandupAnswer, StandupBlocker

FOLD = 300  # characters of an answer the summary shows before folding it
MAX_BLOCKS = 50  # Slack's limit for one message
SECTION_CHARS = 3000  # Slack's limit for one section's text
BLOCKERS_WITH_BUTTONS = 8  # carried blockers shown with their buttons (two blocks each); more are listed plainly
REPLY_CHARS = 3500  # a folded answer's own reply is cut (far) below Slack's 40,000 characters of message text


@dataclass
class Summary:
    text: str
    blocks: list[dict[str, Any]]
    replies: list[str] = field(default_factory=list)  # the folded answers in full, for the thread


def ordered(answers: dict[str, str], questions: list[str]) -> list[tuple[str, str]]:
    """(question, answer) in the stand-up's order; answers to questions it no longer asks come last."""
    asked = [(q, answers[q]) for q in questions if answers.get(q, "").strip()]
    return asked + [(q, a) for q, a in answers.items() if q not in questions and a.strip()]


def answer_text(user_id: str, answers: dict[str, str], questions: list[str], *,
                names: NameLookup | None = None) -> str:
    """One person's answer as posted in the day's thread (DM mode): each answer under its question."""
    lines = [f"<@{user_id}> answered:"]
    for question, answer in ordered(answers, questions):
        lines.append(f"*{escape_user_text(question)}*\n{escape_user_text(answer, names)}")
    return "\n".join(lines)


def summary(standup: Standup, day: date, answers: list[StandupAnswer], blockers: list[StandupBlocker],
            away: list[str], names: NameLookup | None = None, in_thread: frozenset[str] = frozenset()) -> Summary:
    """The day's summary. A blocker or an answer is the member's own words: whom it mentions is named (`names`),
    not pinged. The answers of `in_thread` are whole in the thread already (typed there, or posted there from a
    DM): folded, they point there rather than being posted again."""
    answered = {a.user_id for a in answers}
    missing = [u for u in standup.members if u not in answered and u not in away]
    parts: list[dict[str, Any]] = [blocks.header(f"Stand-up summary — {day:%a %d %b}")]
    if blockers:
        parts += blocks.sections(f"*Blockers ({len(blockers)})*")
        for blocker in blockers[:BLOCKERS_WITH_BUTTONS]:
            parts.append({"type": "section", "text": blocks.mrkdwn(_blocker_line(blocker, day, names))})
            parts.append(blocks.actions(blocks.button("Make it a risk", ACTION_RISK, str(blocker.id)),
                                        blocks.button("File as bug", ACTION_BUG, str(blocker.id))))
        rest = [_blocker_line(b, day, names) for b in blockers[BLOCKERS_WITH_BUTTONS:]]
        parts += _packed(rest)[:3]
    people = f"Answered ({len(answered)}): " + (", ".join(f"<@{u}>" for u in standup.members if u in answered)
                                                or "nobody yet")
    if missing:
        people += "\nNo answer yet: " + ", ".join(f"<@{u}>" for u in missing)
    if away:
        people += "\nAway: " + ", ".join(f"<@{u}>" for u in away)
    closing = [{"type": "section", "text": blocks.mrkdwn(truncate(people, SECTION_CHARS))}]
    texts, replies = _answers(standup, answers, names, in_thread)
    room = MAX_BLOCKS - len(parts) - len(closing) - 1  # one for a divider before the answers
    answer_parts = _packed(texts)
    if len(answer_parts) > room:  # more than one message holds: as many people as fit, the others in replies
        shown = 0
        while len(_packed(texts[:shown + 1])) <= room - 1:
            shown += 1
        answer_parts = [*_packed(texts[:shown]), {"type": "context", "elements": [blocks.mrkdwn(
            f"The answers of {len(texts) - shown} more people follow in this thread.")]}]
        replies = [*_joined(texts[shown:]), *replies]
    if answer_parts:
        parts += [{"type": "divider"}, *answer_parts]
    parts += closing
    text = f"Stand-up summary {day:%a %d %b}: {len(answered)} answered, {len(blockers)} blockers"
    return Summary(text, parts[:MAX_BLOCKS], replies)


def _blocker_line(blocker: StandupBlocker, day: date, names: NameLookup | None) -> str:
    age = (day - blocker.first_day).days + 1
    return f"🚧 <@{blocker.user_id}>: {escape_user_text(truncate(blocker.text, 500), names)} — day {age}"


def _answers(standup: Standup, answers: list[StandupAnswer], names: NameLookup | None,
             in_thread: frozenset[str]) -> tuple[list[str], list[str]]:
    """Each person's answers as one text (people with a blocker today first, then in the members' order), and the
    replies that carry the folded ones in full."""
    position = {u: n for n, u in enumerate(standup.members)}
    people = sorted(answers, key=lambda a: (a.blocker is None, position.get(a.user_id, len(position)), a.id or 0))
    texts, replies = [], []
    for answer in people:
        lines = [f"*<@{answer.user_id}>*" + (" 🚧" if answer.blocker else "")]
        folded = []
        where = "_(whole answer in their message above)_" if answer.user_id in in_thread else "_(whole answer below)_"
        for question, text in ordered(answer.answers, standup.questions):
            shown = text if len(text) <= FOLD else f"{text[:FOLD].rstrip()}… {where}"
            if len(text) > FOLD:
                folded.append((question, text))
            lines.append(f"_{escape_user_text(question)}_\n{_quoted(escape_user_text(shown, names))}")
        texts.append(truncate("\n".join(lines), SECTION_CHARS))
        if folded and answer.user_id not in in_thread:
            whole = "\n".join(f"*{escape_user_text(q)}*\n{escape_user_text(t, names)}" for q, t in folded)
            replies.append(truncate(f"<@{answer.user_id}>'s whole answer:\n{whole}", REPLY_CHARS))
    return texts, replies


def _joined(texts: list[str]) -> list[str]:
    """Texts put together into as few replies as keep each under REPLY_CHARS."""
    out: list[str] = []
    for text in texts:
        if out and len(out[-1]) + 2 + len(text) <= REPLY_CHARS:
            out[-1] += "\n\n" + text
        else:
            out.append(text)
    return out


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def _packed(texts: list[str]) -> list[dict[str, Any]]:
    """Sections holding the texts in order, several to a section while they fit in Slack's 3000 characters."""
    sections: list[str] = []
    for text in texts:
        if sections and len(sections[-1]) + 2 + len(text) <= SECTION_CHARS:
            sections[-1] += "\n\n" + text
        else:
            sections.append(text)
    return [{"type": "section", "text": blocks.mrkdwn(text)} for text in sections]
