"""What a bug, risk or incident looks like in Jira: its fields on create, and the fields we keep in step.

Everything here is already redacted (free text is redacted before it is stored); issue types and
priorities are sent by id, from the mapping in use (`bot.mirror.mapping`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain import jira_text as wiki
from bot.domain.grades import action_plan, category_label, grade_info, grader_name
from bot.domain.risk import band, score
from bot.domain.text import NameLookup, readable
from bot.mirror.mapping import Mapping
from storage.models import Bug, Incident, Risk

Item = Bug | Risk | Incident
KIND_OF = {Bug: "bug", Risk: "risk", Incident: "incident"}


def our_label(team_id: str, readable_id: str) -> str:
    """The label that marks a Jira issue as the twin of one of our items (found before any create)."""
    return wiki.label(f"pmbot-{team_id}-{readable_id}")


def priority_key(kind: str, item: Item) -> str | None:
    """Which JIRA_PRIORITIES entry applies: the grade of a bug or incident, the band of a scored risk."""
    if isinstance(item, Risk):
        value = score(item.probability, item.impact)
        return band(value) if value is not None else None
    return str(item.grade) if item.grade is not None else None


def is_done(item: Item) -> bool:
    """Whether the item is over here, so its twin belongs in a done status."""
    if isinstance(item, Risk):
        return item.status in ("closed", "accepted")
    if isinstance(item, Incident):
        return item.status == "resolved"
    return item.status == "closed"


def labels(kind: str, item: Item) -> list[str]:
    found = ["pmbot", f"pmbot-{kind}", our_label(item.team_id, item.readable_id)]
    if isinstance(item, Risk):
        value = score(item.probability, item.impact)
        if value is not None:
            found.append(f"risk-{band(value)}")
        if item.category:
            found.append(wiki.label(f"category-{item.category}"))
    elif item.grade is not None:
        found.append(f"grade-{item.grade}")
    return found


def label_update(kind: str, item: Item) -> dict[str, Any]:
    """Jira's `update` verbs that swap our derived labels (grade, band, category) for the current ones."""
    current = labels(kind, item)
    ours = [f"grade-{n}" for n in range(1, 6)] + [f"risk-{b}" for b in ("low", "medium", "high", "critical")]
    stale = [label for label in ours if label not in current]
    return {"labels": [{"add": label} for label in current] + [{"remove": label} for label in stale]}


def create_fields(mapping: Mapping, kind: str, item: Item, *, permalink: str | None,
                  names: NameLookup | None = None) -> dict[str, Any]:
    """The fields of a new Jira issue for one of our items."""
    fields: dict[str, Any] = {"project": {"key": mapping.project},
                              "issuetype": {"id": mapping.issue_type_id(kind)},
                              **kept_fields(mapping, kind, item, permalink=permalink, names=names),
                              "labels": labels(kind, item)}
    component = mapping.components.get(kind)
    if component:
        fields["components"] = [{"id": component}]
    return fields


def kept_fields(mapping: Mapping, kind: str, item: Item, *, permalink: str | None,
                names: NameLookup | None = None) -> dict[str, Any]:
    """The fields we keep in step after every change here: summary, description, priority. (Labels change
    through `label_update`, so labels people added in Jira stay.)"""
    fields: dict[str, Any] = {"summary": wiki.summary(item.readable_id, readable(item.title, names)),
                              "description": description(kind, item, permalink=permalink, names=names)}
    priority = mapping.priority_id(priority_key(kind, item))
    if priority is not None:
        fields["priority"] = {"id": priority}
    return fields


def description(kind: str, item: Item, *, permalink: str | None, names: NameLookup | None = None) -> str:
    """The issue's description in wiki markup; Slack's mentions and links spelt out (Jira cannot show them)."""

    def plain(text: str) -> str:
        return readable(text, names)

    if isinstance(item, Bug):
        body = _bug(item, plain)
    elif isinstance(item, Risk):
        body = _risk(item, plain)
    else:
        body = _incident(item, plain)
    footer = [f"Mirrored by pmbot from Slack as {item.readable_id}."]
    if permalink:
        footer.append(wiki.link("Open it in Slack", permalink))
    return body + "\n\n----\n" + " ".join(footer)


def _bug(bug: Bug, plain: Callable[[str], str]) -> str:
    info = grade_info(bug.grade or 3)
    graded = f"graded by {grader_name(bug.grade_source)}" if bug.grade == bug.auto_grade else "grade set by a person"
    kind = category_label(bug.category)
    parts = [f"*Grade {info.number} — {wiki.escape(info.label)}* ({graded})" + (f" · {kind}" if kind else ""),
             "*Why*\n" + wiki.bullets([plain(r) for r in bug.reasons or []]),
             f"*What to do ({wiki.escape(info.label.lower())})*\n"
             + wiki.bullets(list(action_plan(info.number, bug.category))),
             "*The report* (personal data and secrets removed)\n" + wiki.literal(plain(bug.text))]
    if bug.details:
        parts.append("*Details*\n" + wiki.bullets([f"{k}: {plain(str(v))}" for k, v in bug.details.items()]))
    return "\n\n".join(parts)


def _risk(risk: Risk, plain: Callable[[str], str]) -> str:
    value = score(risk.probability, risk.impact)
    rating = (f"*{band(value).capitalize()} {value}* (probability {risk.probability} × impact {risk.impact})"
              if value is not None else "*Not scored yet*")
    rows = [("Category", risk.category), ("Response", risk.response), ("Status", risk.status),
            ("Review by", risk.review_on.isoformat() if risk.review_on else None)]
    parts = [rating, wiki.bullets([f"{name}: {val}" for name, val in rows if val])]
    for name, text in (("Description", risk.description), ("Mitigation", risk.mitigation),
                       ("Early-warning sign", risk.trigger)):
        if text:
            parts.append(f"*{name}*\n" + wiki.literal(plain(text)))
    return "\n\n".join(parts)


def _incident(incident: Incident, plain: Callable[[str], str]) -> str:
    rows = [("Grade", str(incident.grade)), ("Status", incident.status),
            ("War room", f"#{incident.channel_name}" if incident.channel_name else None),
            ("From bug", incident.bug_id)]
    rows += [(name, value) for name, value in sorted((incident.versions or {}).items())]
    parts = [wiki.bullets([f"{name}: {val}" for name, val in rows if val])]
    if incident.resolution:
        parts.append("*Resolution*\n" + wiki.literal(plain(incident.resolution)))
    return "\n\n".join(parts)
