"""The stakeholder digest: build it (figures, message, narrative, one-pager), post it, remember what an audience saw.

The public API the comms plan's job and `/pmbot digest now` call: `SECTIONS`, `Digest`, `build`, then
`post_message` and `post_onepager` (two steps, so a caller retries only the one that failed), and `remember`. A
build reads and never writes: only `remember` moves an audience's baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import blocks
from bot.deps import Deps
from bot.digest import content, onepager
from bot.digest import figures as gathering
from bot.domain.pii import redact
from bot.domain.text import escape_user_text, truncate
from bot.errors import SlackError, UserInputError
from bot.gateways.slack import is_transient
from storage import digests as repo
from storage.bugs import record_llm_usage
from storage.db import session_scope

logger = logging.getLogger(__name__)

SECTIONS: tuple[str, ...] = ("risks", "bugs", "incidents", "budget", "quality", "blockers")
NARRATIVE_LIMIT = 1200
# Slack refuses a message whose blocks hold much more than ~13,000 characters in all (PITFALLS 1.14), well before
# the documented per-block limits: each section is kept to this many, which leaves room for the rest.
SECTION_LIMIT = 1600


@dataclass(frozen=True)
class Digest:
    team_id: str
    text: str  # the notification/fallback text; its first line starts with "Project digest"
    blocks: list[dict]  # numbers first, then the narrative; within Slack's block limits
    png: bytes  # the one-pager (PNG), one image with the key charts
    figures: dict  # JSON-able numbers the digest shows (used for "change since last digest")


def build(deps: Deps, *, team_id: str, sections: Sequence[str], now: datetime,
          audience_key: str | None = None, period_days: int | None = None) -> Digest:
    """Build the team's digest as of `now`. "Change since last digest" is measured against the figures last
    remembered under `audience_key` (None: the latest remembered for the team, whatever the audience). An
    audience's first digest covers the last `period_days` (7 when None: a monthly plan passes 30)."""
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise UserInputError(f"A digest has no section {', '.join(unknown)}; it has {', '.join(SECTIONS)}.")
    chosen = [s for s in SECTIONS if s in sections]  # always in the same order, each once
    with session_scope(deps.engine) as session:
        baseline = repo.latest_snapshot(session, team_id=team_id, audience_key=audience_key)
        before = (dict(baseline.figures), baseline.taken_at) if baseline is not None else (None, None)
    numbers = gathering.gather(deps, team_id=team_id, sections=chosen, now=now, baseline=before[0],
                               baseline_at=before[1], period_days=period_days)
    narrative = _narrative(deps, team_id, numbers, now)
    text, parts = render(numbers, narrative)
    return Digest(team_id=team_id, text=text, blocks=parts, png=onepager.png(numbers), figures=numbers)


def render(numbers: dict, narrative: str) -> tuple[str, list[dict]]:
    """(fallback text, blocks): the title and period, each section's numbers, then the narrative."""
    title = f"Project digest — {content.day(numbers['today'])}"
    period = content.period_line(numbers)
    lines = [fit(content.section_lines(name, numbers), SECTION_LIMIT) for name in numbers["sections"]]
    summary = escape_user_text(truncate(narrative, NARRATIVE_LIMIT))
    text = "\n\n".join([f"{title}\n{period}", *lines, f"*In short*\n{summary}"])
    parts: list[dict] = [blocks.header(title), blocks.context(period)]
    for section in lines:
        parts += blocks.sections(section)
    if not lines:
        parts += blocks.sections("No sections were chosen for this digest.")
    parts += [blocks.divider(), *blocks.sections(f"*In short*\n{summary}"),
              blocks.context("The one-pager with the charts is attached as an image.")]
    return text, parts


def fit(lines: list[str], limit: int) -> str:
    """The lines joined, as many as fit in `limit` characters, and how many more there were."""
    kept: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        more = len(lines) - n
        note = f"_…and {more} more not shown here._"
        if size + len(line) + 1 > limit - (len(note) + 1 if n < len(lines) - 1 else 0):
            return "\n".join([*kept, note])
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def _narrative(deps: Deps, team_id: str, numbers: dict, now: datetime) -> str:
    """The LLM's narrative when one is configured and it answers, else the template's."""
    template = content.template_narrative(numbers)
    if deps.digest_narrator is None or not numbers["sections"]:
        return template
    outcome = deps.digest_narrator(redact(content.llm_facts(numbers)).text)
    if outcome.usage is not None:
        u = outcome.usage
        with session_scope(deps.engine) as session:
            record_llm_usage(session, team_id=team_id, feature="digest", model=u.model, prompt_tokens=u.prompt_tokens,
                             completion_tokens=u.completion_tokens, latency_ms=u.latency_ms,
                             request_id=u.request_id, now=now)
    if not outcome.text:
        logger.info("digest narrative for %s from the template: %s", team_id, outcome.failure)
        return template
    return redact(outcome.text).text


DIGEST_EVENT = "pmbot_digest"  # the message metadata's event_type: how post_message finds its own earlier post


def post_message(deps: Deps, digest: Digest, channel: str, *, key: str | None = None,
                 look_back_to: datetime | None = None) -> str:
    """Post the digest message to `channel`; its ts. With `key`, the message carries metadata (`pmbot_digest`,
    `{"id": key}`); with `look_back_to` as well, pmbot first looks in the channel since then for its own message
    with that key (an earlier try that reached Slack though its answer was lost) and returns that one's ts instead
    of posting again. Slack's errors raised as deps.slack raises them."""
    if key is not None and look_back_to is not None:
        found = _own_post(deps, channel, key, look_back_to)
        if found is not None:
            return found
    message = blocks.message(digest.text, digest.blocks)  # the fallback text cut to fit, at most 50 blocks
    metadata = {"event_type": DIGEST_EVENT, "event_payload": {"id": key}} if key is not None else None
    return deps.slack.post_in_channel(channel, text=message["text"], blocks=message.get("blocks"),
                                      metadata=metadata).ts


def _own_post(deps: Deps, channel: str, key: str, since: datetime) -> str | None:
    try:
        return deps.slack.find_own_post(channel, event_type=DIGEST_EVENT, key=key, oldest=since.timestamp())
    except SlackError as exc:
        if is_transient(exc):
            raise
        logger.info("digest %s: cannot read %s's history (%s); posting it", key, channel, exc.code)
        return None


def post_onepager(deps: Deps, digest: Digest, channel: str) -> None:
    """Upload the digest's PNG one-pager to `channel`. Slack's errors raised as deps.slack raises them."""
    deps.slack.upload_in_channel(channel, content=digest.png, filename=filename(digest),
                                 title=f"Project digest one-pager ({content.day(digest.figures['today'])})")


def filename(digest: Digest) -> str:
    """The one-pager's file name, dated like the digest."""
    return f"project-digest-{digest.figures['today']}.png"


def remember(deps: Deps, digest: Digest, *, audience_key: str, now: datetime) -> None:
    """Store `digest.figures` under (team, audience_key) as the baseline of that audience's next digest."""
    with session_scope(deps.engine) as session:
        repo.save_snapshot(session, team_id=digest.team_id, audience_key=audience_key, figures=digest.figures,
                           now=now)
