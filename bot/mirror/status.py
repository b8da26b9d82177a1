"""What the Jira mirror is doing, in words: for `/pmbot jira status` and `pmbot jira status|retry`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.domain.text import truncate
from storage import jira as repo
from storage.db import session_scope
from storage.models import JiraOutbox

if TYPE_CHECKING:
    from bot.deps import Deps


def status_text(deps: Deps, *, team_id: str | None = None, now: datetime | None = None) -> str:
    """Counts, the pause if any, the last poll, and the rows that are failing or given up on."""
    if deps.jira is None:
        return "Jira mirroring is off: set JIRA_URL, JIRA_API_TOKEN and JIRA_PROJECT (see `pmbot doctor`)."
    now = now or deps.clock()
    with session_scope(deps.engine) as session:
        counts = repo.counts(session, team_id=team_id)
        state = repo.state(session)
        stuck = repo.stuck(session, team_id=team_id)
        paused, last_sync, last_error = state.paused_until, state.last_sync_at, state.last_error
    lines = [f"Jira {deps.settings.jira_url} · project {deps.settings.jira_project}",
             f"Outbox: {counts.get('pending', 0)} waiting, {counts.get('done', 0)} delivered, "
             f"{counts.get('dead', 0)} given up" + (f", {counts['dropped']} dropped" if counts.get("dropped") else "")]
    if paused is not None and paused > now:
        lines.append(f"Paused until {paused:%Y-%m-%d %H:%M:%S} UTC: {truncate(last_error or 'Jira unavailable', 200)}")
    lines.append(f"Last look at Jira's changes: {last_sync:%Y-%m-%d %H:%M} UTC" if last_sync
                 else "Jira's changes have not been read yet.")
    for row in stuck:
        state_word = "given up" if row.status == "dead" else f"retry at {row.next_attempt_at:%H:%M:%S} UTC"
        lines.append(f"• #{row.id} {row.readable_id} {row.op} — {row.attempts} attempt(s), {state_word}: "
                     f"{truncate(row.last_error or '', 200)}")
    if any(row.status == "dead" for row in stuck):
        lines.append("Fix the cause, then `pmbot jira retry` (all) or `pmbot jira retry --id N` replays them.")
    return "\n".join(lines)


def retry(deps: Deps, *, ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Revive given-up rows (all, or those ids), make failing rows due now, and lift a pause."""
    now = now or deps.clock()
    with session_scope(deps.engine) as session:
        revived = repo.revive(session, now=now, ids=ids)
        waiting = [JiraOutbox.status == "pending", JiraOutbox.attempts > 0]
        if ids:
            waiting.append(JiraOutbox.id.in_(ids))
        revived += session.execute(update(JiraOutbox).where(*waiting).values(next_attempt_at=now)).rowcount
        state = repo.state(session)
        state.paused_until, state.failures = None, 0
        session.add(state)
    return revived
