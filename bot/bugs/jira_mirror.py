"""How bugs are mirrored to Jira: the mirror's plugin for them (registered in the composition root)."""

from __future__ import annotations

from collections.abc import Callable

from bot.bugs import service
from bot.deps import Deps
from bot.domain import jira_text as wiki
from bot.domain.grades import action_plan, category_label, grade_info, grader_name
from bot.mirror import outbox
from bot.mirror.mapping import Mapping
from bot.mirror.plugins import MirrorPlugin
from storage.bugs import record_change
from storage.db import session_scope
from storage.models import JIRA_USER, Bug

GRADE_LABELS = tuple(f"grade-{n}" for n in range(1, 6))


class BugMirror(MirrorPlugin):
    """A bug's twin: created once the bug is graded; its priority follows the grade and sets it back."""

    kind = "bug"
    model = Bug
    issue_types = ("Bug",)
    derived_labels = GRADE_LABELS
    follows_priority = True

    def ready(self, item: Bug) -> bool:
        return item.grade is not None  # the create waits for the grade, which sets the issue's priority

    def is_done(self, item: Bug) -> bool:
        return item.status == "closed"

    def priority_key(self, item: Bug) -> str | None:
        return str(item.grade) if item.grade is not None else None

    def labels(self, item: Bug) -> list[str]:
        return [f"grade-{item.grade}"] if item.grade is not None else []

    def describe(self, item: Bug, plain: Callable[[str], str]) -> str:
        info = grade_info(item.grade or 3)
        graded = f"graded by {grader_name(item.grade_source)}" if item.grade == item.auto_grade else \
            "grade set by a person"
        kind = category_label(item.category)
        parts = [f"*Grade {info.number} — {wiki.escape(info.label)}* ({graded})" + (f" · {kind}" if kind else ""),
                 "*Why*\n" + wiki.bullets([plain(r) for r in item.reasons or []]),
                 f"*What to do ({wiki.escape(info.label.lower())})*\n"
                 + wiki.bullets(list(action_plan(info.number, item.category))),
                 "*The report* (personal data and secrets removed)\n" + wiki.literal(plain(item.text))]
        if item.details:
            parts.append("*Details*\n" + wiki.bullets([_detail(k, str(v), plain) for k, v in item.details.items()]))
        return "\n\n".join(parts)

    def message_of(self, item: Bug) -> tuple[str | None, str | None]:
        return item.message_channel, item.message_ts

    def assignee_of(self, item: Bug) -> str | None:
        return item.assignee_id

    def redraw(self, deps: Deps, item: Bug) -> None:
        service.redraw(deps, item)

    def follow_status(self, deps: Deps, item: Bug, *, done: bool, why: str) -> str | None:
        with session_scope(deps.engine) as session:
            row = session.get(Bug, item.id)
            if done and row.status == "open":
                row.status, row.closed_at, row.closed_by, row.resolution = "closed", deps.clock(), JIRA_USER, why
                verb = "closed"
            elif not done and row.status == "closed":
                row.status, row.closed_at, row.closed_by, row.resolution = "open", None, None, None
                verb = "reopened"
            else:
                return None
            session.add(row)
        return verb

    def follow_priority(self, deps: Deps, item: Bug, *, priority_id: str, chosen: Mapping, why: str) -> str | None:
        """A priority mapped to another grade regrades an open bug (and its labels follow in Jira)."""
        grade = chosen.grade_of(priority_id)
        if grade is None or grade == item.grade or item.status != "open":
            return None
        with session_scope(deps.engine) as session:
            row = session.get(Bug, item.id)
            before = row.grade
            record_change(session, bug=row, user_id=JIRA_USER, kind="change", to_grade=grade, reason=why,
                          now=deps.clock())
            outbox.record(session, deps, row, "fields")  # the grade label follows
        return f"grade {before} → {grade}"

    def follow_assignee(self, deps: Deps, item: Bug, slack_user: str | None) -> bool:
        with session_scope(deps.engine) as session:
            row = session.get(Bug, item.id)
            row.assignee_id = slack_user
            session.add(row)
        return True


def _detail(key: str, value: str, plain: Callable[[str], str]) -> str:
    """One detail as Jira shows it; the author of the message a bug was filed from by name, not by Slack id."""
    if key == "source_author" and value.isalnum():
        return f"filed from a message by: {plain(f'<@{value}>')}"
    if key == "source_bot":
        return f"filed from a message by the bot: {plain(value)}"
    if key == "source_link":
        return f"the message: {plain(value)}"
    return f"{key}: {plain(value)}"
