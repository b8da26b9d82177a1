"""What the Jira mirror needs of each kind of item it mirrors, and the registry that holds them.

The mirror (outbox, sync, links, content, the Slack side) is generic: it imports no feature. Each feature
(bugs, risks, incidents, …) says in its own package how its items look in Jira, when they may go, how their
Slack card is redrawn and how Jira's changes apply back, as a `MirrorPlugin`; the composition root builds the
`MirrorPlugins` registry from them and carries it on `Deps.mirror`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.deps import Deps
    from bot.mirror.mapping import Mapping
    from storage.models import JiraLink


class Mirrored(Protocol):
    """What every mirrored item has: a stored row of its team, with a readable id and a title."""

    id: int | None
    team_id: str
    readable_id: str
    title: str


class MirrorPlugin(ABC):
    """One kind of item the mirror keeps in step with Jira. Subclasses set the class attributes and the abstract
    methods; the other methods are what a kind that does less (no priority, no assignee, …) gets."""

    # As stored in jira_outbox and jira_link rows; always the model's table name (see `kind_of`).
    kind: ClassVar[str]
    # The stored row class: the mirror loads items with `session.get(model, id)`.
    model: ClassVar[type]
    # The Jira issue types the kind becomes, by name: the first one the project has wins.
    issue_types: ClassVar[tuple[str, ...]]
    # Labels `labels` may add to an issue; when they no longer apply they are taken off again.
    derived_labels: ClassVar[tuple[str, ...]] = ()
    # What the person `assignee_of` names is called here ("assignee", "owner", "commander").
    role: ClassVar[str] = "assignee"
    # Whether a priority set in Jira can change the item here (`follow_priority`); the mapping is read first then.
    follows_priority: ClassVar[bool] = False
    # Said in the thread when Jira is done with the issue and the item is not, and `follow_status` left it so.
    close_hint: ClassVar[str | None] = None

    # --- out to Jira --------------------------------------------------------------------------------------

    def excluded(self, item: Any) -> bool:
        """Whether the item is never mirrored (an incident drill)."""
        return False

    def ready(self, item: Any) -> bool:
        """Whether the item can be created in Jira yet (a bug waits for its grade); the outbox asks again soon."""
        return True

    @abstractmethod
    def is_done(self, item: Any) -> bool:
        """Whether the item is over here, so its twin belongs in a done status."""

    def priority_key(self, item: Any) -> str | None:
        """Which JIRA_PRIORITIES entry applies (a grade, a risk band), if any."""
        return None

    def labels(self, item: Any) -> list[str]:
        """Labels the item's state gives its issue (a grade, a band, a category), besides pmbot's own."""
        return []

    @abstractmethod
    def describe(self, item: Any, plain: Callable[[str], str]) -> str:
        """The issue's description in Jira wiki markup, without the footer; `plain` spells out Slack's markup."""

    @abstractmethod
    def message_of(self, item: Any) -> tuple[str | None, str | None]:
        """(channel, ts) of the Slack message that stands for the item, for the link in its issue."""

    def assignee_of(self, item: Any) -> str | None:
        """The Slack user who answers for the item, whose Jira account the issue is assigned to."""
        return None

    def deliver_op(self, deps: Deps, op: str, item: Any, target: str) -> str | None:
        """Deliver an outbox row of an op of this kind's own (not fields, comment, close, reopen or assign) to its
        twin `target` (an issue id or key): "done", "wait" (the outbox asks again soon), or None when the kind
        has no such op (the row is done)."""
        return None

    # --- the Slack side -----------------------------------------------------------------------------------

    @abstractmethod
    def redraw(self, deps: Deps, item: Any) -> None:
        """Render the item's Slack message again (its Jira key, a new one, or none)."""

    def thread_of(self, item: Any) -> tuple[str | None, str | None]:
        """(channel, thread ts or None) where people follow the item and hear about its Jira twin."""
        return self.message_of(item)

    def key_shown(self, deps: Deps, item: Any, link: JiraLink) -> None:
        """Called once the item's Jira issue exists and its message shows the key (a war room bookmarks it)."""
        return None

    def relink_hint(self, readable_id: str) -> str:
        """How people link the item to another issue, said when its issue is gone."""
        return f"`/{self.kind} link {readable_id} KEY`"

    # --- back from Jira -----------------------------------------------------------------------------------

    def follow_status(self, deps: Deps, item: Any, *, done: bool, why: str) -> str | None:
        """Close or reopen the item as Jira's status says (`why` is the reason to record). The verb said in the
        thread ("closed", "reopened"), or None when nothing changed here."""
        return None

    def follow_priority(self, deps: Deps, item: Any, *, priority_id: str, chosen: Mapping, why: str) -> str | None:
        """Apply a priority set in Jira (only when `follows_priority`). What changed, as said in the thread
        ("grade 3 → 1"), or None when nothing did."""
        return None

    def follow_assignee(self, deps: Deps, item: Any, slack_user: str | None) -> bool:
        """Make `slack_user` (None: nobody) the one who answers for the item, as Jira's assignee says. False when
        this kind keeps its own here, whatever Jira says."""
        return False


def kind_of(item: Any) -> str:
    """The kind of a mirrored item, for code with no registry at hand: its table's name, which every plugin's
    `kind` is (the registry checks it)."""
    return type(item).__tablename__


class UnknownKind(LookupError):
    """An item or a stored row of a kind no plugin was registered for."""


class MirrorPlugins:
    """The plugins of a running bot, by model and by kind; built once in the composition root."""

    def __init__(self, plugins: Iterable[MirrorPlugin] = ()) -> None:
        self._by_kind: dict[str, MirrorPlugin] = {}
        self._by_model: dict[type, MirrorPlugin] = {}
        for plugin in plugins:
            self._add(plugin)

    def _add(self, plugin: MirrorPlugin) -> None:
        if plugin.kind in self._by_kind or plugin.model in self._by_model:
            raise ValueError(f"a mirror plugin for {plugin.kind} ({plugin.model.__name__}) is registered already")
        if getattr(plugin.model, "__tablename__", None) != plugin.kind:
            raise ValueError(f"mirror plugin {plugin.kind}: the kind must be {plugin.model.__name__}'s table name")
        self._by_kind[plugin.kind] = plugin
        self._by_model[plugin.model] = plugin

    def __iter__(self) -> Iterator[MirrorPlugin]:
        return iter(self._by_kind.values())

    def of(self, item: Any) -> MirrorPlugin:
        """The plugin of an item."""
        try:
            return self._by_model[type(item)]
        except KeyError:
            raise UnknownKind(f"no mirror plugin for {type(item).__name__}") from None

    def for_kind(self, kind: str) -> MirrorPlugin:
        """The plugin of a kind, as stored in the mirror's rows."""
        try:
            return self._by_kind[kind]
        except KeyError:
            raise UnknownKind(f"no mirror plugin for kind {kind!r}") from None

    def load(self, session: Session, kind: str, entity_id: int) -> Any | None:
        """The item a mirror row is about, or None when it was deleted since."""
        return session.get(self.for_kind(kind).model, entity_id)

    def type_names(self) -> dict[str, tuple[str, ...]]:
        """The issue type names of every kind, for the mapping."""
        return {plugin.kind: plugin.issue_types for plugin in self}

    def derived_labels(self) -> list[str]:
        """Every label some kind derives from its state, in registration order, once each."""
        return list(dict.fromkeys(label for plugin in self for label in plugin.derived_labels))
