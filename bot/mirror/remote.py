"""What a Jira issue says about the state we mirror, and how new that is. Read by the outbox (to settle what it
just set) and by the sync (to apply what changed in Jira)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.models import JiraLink


@dataclass(frozen=True)
class MirroredState:
    """The state of an issue that we mirror."""

    status_done: bool | None
    status_name: str | None
    priority_id: str | None
    assignee_id: str | None
    assignee: str | None


def seen_by(link: JiraLink) -> MirroredState:
    """The state the link last saw or set."""
    return MirroredState(link.status_done, link.status_name, link.priority_id, link.assignee_id, link.assignee)


def state_of(issue: dict[str, Any], link: JiraLink | None = None) -> MirroredState:
    """What Jira says now; fields it did not send keep what the link knew."""
    fields = issue.get("fields") or {}
    known = seen_by(link) if link is not None else MirroredState(None, None, None, None, None)
    status = fields.get("status") or None
    done = ((status.get("statusCategory") or {}).get("key") == "done") if status else known.status_done
    priority = (fields.get("priority") or {}).get("id") if fields.get("priority") else known.priority_id
    if "assignee" in fields:
        person = fields.get("assignee") or {}
        assignee_id = person.get("accountId") or person.get("name") or None
        assignee = person.get("displayName") or ("someone" if assignee_id else None)  # never the id (an e-mail on DC)
    else:
        assignee_id, assignee = known.assignee_id, known.assignee
    return MirroredState(done, status.get("name") if status else known.status_name, priority, assignee_id, assignee)


def version_of(issue: dict[str, Any], event: dict[str, Any] | None) -> tuple[datetime | None, int | None]:
    """How new a delivery is: the issue's `updated` (else the webhook's `timestamp`), and the changelog id."""
    at = _jira_time((issue.get("fields") or {}).get("updated"))
    if at is None and event is not None and isinstance(event.get("timestamp"), int | float):
        at = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
    change = None
    if event is not None:
        try:
            change = int((event.get("changelog") or {}).get("id"))
        except (TypeError, ValueError):
            change = None
    return at, change


def _jira_time(value: Any) -> datetime | None:
    """Jira's `2026-11-30T10:00:00.123+0000` (also with `Z` or `+00:00`)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
