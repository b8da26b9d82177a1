"""How incidents are mirrored to Jira: the mirror's plugin for them (registered in the composition root)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.deps import Deps
from bot.domain import jira_text as wiki
from bot.errors import SlackError
from bot.incidents import service
from bot.mirror.plugins import MirrorPlugin
from storage.models import Incident, JiraLink

logger = logging.getLogger(__name__)

GRADE_LABELS = tuple(f"grade-{n}" for n in range(1, 6))


class IncidentMirror(MirrorPlugin):
    """An incident's twin (drills have none): the war room is where its thread is; it is resolved here only,
    and its commander stays whoever Jira assigns."""

    kind = "incident"
    model = Incident
    issue_types = ("Incident", "Bug")
    derived_labels = GRADE_LABELS
    role = "commander"
    close_hint = "Resolve the incident here with `/incident resolve <summary>` when it is over."

    def excluded(self, item: Incident) -> bool:
        return item.drill

    def is_done(self, item: Incident) -> bool:
        return item.status == "resolved"

    def priority_key(self, item: Incident) -> str | None:
        return str(item.grade) if item.grade is not None else None

    def labels(self, item: Incident) -> list[str]:
        return [f"grade-{item.grade}"] if item.grade is not None else []

    def describe(self, item: Incident, plain: Callable[[str], str]) -> str:
        rows = [("Grade", str(item.grade)), ("Status", item.status),
                ("War room", f"#{item.channel_name}" if item.channel_name else None),
                ("From bug", item.bug_id)]
        rows += [(name, value) for name, value in sorted((item.versions or {}).items())]
        parts = [wiki.bullets([f"{name}: {val}" for name, val in rows if val])]
        if item.resolution:
            parts.append("*Resolution*\n" + wiki.literal(plain(item.resolution)))
        return "\n\n".join(parts)

    def message_of(self, item: Incident) -> tuple[str | None, str | None]:
        """The announcement, or the runbook in the war room before there is one."""
        if item.announcement_ts:
            return item.announcement_channel, item.announcement_ts
        return item.channel_id, item.runbook_ts

    def thread_of(self, item: Incident) -> tuple[str | None, str | None]:
        """The war room while it is open, else the announcement's thread."""
        if item.channel_id and not item.archived:
            return item.channel_id, None
        return item.announcement_channel, item.announcement_ts

    def assignee_of(self, item: Incident) -> str | None:
        return item.commander_id

    def redraw(self, deps: Deps, item: Incident) -> None:
        service.refresh(deps, item)

    def key_shown(self, deps: Deps, item: Incident, link: JiraLink) -> None:
        """Bookmark the issue in the war room (the announcement carries the key as well)."""
        if not item.channel_id or item.archived:
            return
        try:
            deps.slack.add_bookmark(item.channel_id, title=f"Jira {link.jira_key}", link=link.url)
        except SlackError as exc:
            logger.warning("could not bookmark %s in %s's war room: %s", link.jira_key, item.readable_id, exc.code)

    def relink_hint(self, readable_id: str) -> str:
        return "`/incident link KEY` in the war room"
