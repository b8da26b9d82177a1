"""How risks are mirrored to Jira: the mirror's plugin for them (registered in the composition root)."""

from __future__ import annotations

from collections.abc import Callable

from bot.deps import Deps
from bot.domain import jira_text as wiki
from bot.domain.risk import band, score
from bot.mirror.plugins import MirrorPlugin
from bot.risks import service
from storage.db import session_scope
from storage.models import JIRA_USER, Risk
from storage.risks import apply_changes

DONE = ("closed", "accepted")
BAND_LABELS = tuple(f"risk-{b}" for b in ("low", "medium", "high", "critical"))


class RiskMirror(MirrorPlugin):
    """A risk's twin: its priority is the risk's band; Jira can close, reopen and re-own it."""

    kind = "risk"
    model = Risk
    issue_types = ("Risk", "Task")
    derived_labels = BAND_LABELS
    role = "owner"

    def is_done(self, item: Risk) -> bool:
        return item.status in DONE

    def priority_key(self, item: Risk) -> str | None:
        value = score(item.probability, item.impact)
        return band(value) if value is not None else None

    def labels(self, item: Risk) -> list[str]:
        found = []
        value = score(item.probability, item.impact)
        if value is not None:
            found.append(f"risk-{band(value)}")
        if item.category:
            found.append(wiki.label(f"category-{item.category}"))
        return found

    def describe(self, item: Risk, plain: Callable[[str], str]) -> str:
        value = score(item.probability, item.impact)
        rating = (f"*{band(value).capitalize()} {value}* (probability {item.probability} × impact {item.impact})"
                  if value is not None else "*Not scored yet*")
        rows = [("Category", item.category), ("Response", item.response), ("Status", item.status),
                ("Review by", item.review_on.isoformat() if item.review_on else None)]
        parts = [rating, wiki.bullets([f"{name}: {val}" for name, val in rows if val])]
        for name, text in (("Description", item.description), ("Mitigation", item.mitigation),
                           ("Early-warning sign", item.trigger)):
            if text:
                parts.append(f"*{name}*\n" + wiki.literal(plain(text)))
        return "\n\n".join(parts)

    def message_of(self, item: Risk) -> tuple[str | None, str | None]:
        return item.message_channel, item.message_ts

    def assignee_of(self, item: Risk) -> str | None:
        return item.owner_id

    def redraw(self, deps: Deps, item: Risk) -> None:
        service.redraw(deps, item)

    def follow_status(self, deps: Deps, item: Risk, *, done: bool, why: str) -> str | None:
        with session_scope(deps.engine) as session:
            row = session.get(Risk, item.id)
            if done and row.status not in DONE:
                changes: dict[str, object] = {"status": "closed", "close_reason": why}
                verb = "closed"
            elif not done and row.status in DONE:
                changes = {"status": "open", "close_reason": None, "accepted_until": None}
                verb = "reopened"
            else:
                return None
            apply_changes(session, risk=row, user_id=JIRA_USER, changes=changes, now=deps.clock())
        return verb

    def follow_assignee(self, deps: Deps, item: Risk, slack_user: str | None) -> bool:
        """Jira's assignee becomes the owner; an issue left unassigned leaves the owner as they are."""
        if slack_user is None:
            return False
        with session_scope(deps.engine) as session:
            row = session.get(Risk, item.id)
            apply_changes(session, risk=row, user_id=JIRA_USER, changes={"owner_id": slack_user}, now=deps.clock())
        return True
