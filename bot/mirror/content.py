"""What an item looks like in Jira: its fields on create, and the fields we keep in step.

Everything here is already redacted (free text is redacted before it is stored); issue types and
priorities are sent by id, from the mapping in use (`bot.mirror.mapping`). What differs by kind (the
description, the derived labels, the priority) comes from the kind's plugin (`bot.mirror.plugins`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.domain import jira_text as wiki
from bot.domain.text import NameLookup, readable
from bot.mirror.mapping import Mapping

if TYPE_CHECKING:
    from bot.mirror.plugins import Mirrored, MirrorPlugin


def our_label(team_id: str, readable_id: str) -> str:
    """The label that marks a Jira issue as the twin of one of our items (found before any create)."""
    return wiki.label(f"pmbot-{team_id}-{readable_id}")


def labels(plugin: MirrorPlugin, item: Mirrored) -> list[str]:
    """pmbot's own labels (ours, this kind, this item), then those the item's state gives it."""
    return ["pmbot", f"pmbot-{plugin.kind}", our_label(item.team_id, item.readable_id), *plugin.labels(item)]


def label_update(plugin: MirrorPlugin, item: Mirrored, derived: Iterable[str]) -> dict[str, Any]:
    """Jira's `update` verbs that swap our derived labels (grade, band, category) for the current ones;
    `derived` is every label any kind derives (`MirrorPlugins.derived_labels`)."""
    current = labels(plugin, item)
    stale = [label for label in derived if label not in current]
    return {"labels": [{"add": label} for label in current] + [{"remove": label} for label in stale]}


def create_fields(mapping: Mapping, plugin: MirrorPlugin, item: Mirrored, *, permalink: str | None,
                  names: NameLookup | None = None) -> dict[str, Any]:
    """The fields of a new Jira issue for one of our items."""
    fields: dict[str, Any] = {"project": {"key": mapping.project},
                              "issuetype": {"id": mapping.issue_type_id(plugin.kind)},
                              **kept_fields(mapping, plugin, item, permalink=permalink, names=names),
                              "labels": labels(plugin, item)}
    component = mapping.components.get(plugin.kind)
    if component:
        fields["components"] = [{"id": component}]
    return fields


def kept_fields(mapping: Mapping, plugin: MirrorPlugin, item: Mirrored, *, permalink: str | None,
                names: NameLookup | None = None) -> dict[str, Any]:
    """The fields we keep in step after every change here: summary, description, priority. (Labels change
    through `label_update`, so labels people added in Jira stay.)"""
    fields: dict[str, Any] = {"summary": wiki.summary(item.readable_id, readable(item.title, names)),
                              "description": description(plugin, item, permalink=permalink, names=names)}
    priority = mapping.priority_id(plugin.priority_key(item))
    if priority is not None:
        fields["priority"] = {"id": priority}
    return fields


def description(plugin: MirrorPlugin, item: Mirrored, *, permalink: str | None,
                names: NameLookup | None = None) -> str:
    """The issue's description in wiki markup; Slack's mentions and links spelt out (Jira cannot show them)."""

    def plain(text: str) -> str:
        return readable(text, names)

    footer = [f"Mirrored by pmbot from Slack as {item.readable_id}."]
    if permalink:
        footer.append(wiki.link("Open it in Slack", permalink))
    return plugin.describe(item, plain) + "\n\n----\n" + " ".join(footer)
