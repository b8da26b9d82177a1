"""Which Jira issue type and priority our items get: ids from the settings where given, else chosen by name
from the project's create metadata (read through the gateway, which keeps it for a day).

Names are a fallback, not a guess: a type or priority is only chosen when the project has one by that name,
and the choice says where it came from (`pmbot doctor` prints it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.gateways.jira_gateway import JiraNotFound, JiraRejected, ProjectMeta
from bot.settings import JIRA_KINDS, JIRA_PRIORITY_KEYS, Settings, jira_ids

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.gateways.jira_gateway import JiraGateway

TypeNames = dict[str, tuple[str, ...]]  # kind → the names of the issue types it may become

# The issue type each kind the settings know (JIRA_KINDS) becomes, first name the project has wins. The running
# bot takes them from its mirror plugins (`MirrorPlugins.type_names`); these are for callers without them
# (`pmbot doctor`), and a test keeps the two the same.
TYPE_NAMES: TypeNames = {"bug": ("Bug",), "risk": ("Risk", "Task"), "incident": ("Incident", "Bug"),
                         "incident_action": ("Task",)}
# Priorities by name: Jira's default scheme first, then the older Blocker … Trivial scheme.
_BY_GRADE = {"1": ("Highest", "Blocker"), "2": ("High", "Critical"), "3": ("Medium", "Major"),
             "4": ("Low", "Minor"), "5": ("Lowest", "Trivial")}
PRIORITY_NAMES: dict[str, tuple[str, ...]] = {**_BY_GRADE, "critical": _BY_GRADE["1"], "high": _BY_GRADE["2"],
                                              "medium": _BY_GRADE["3"], "low": _BY_GRADE["4"]}
FROM_SETTINGS = "set"
FROM_JIRA = "found by name"


class MappingMissing(Exception):
    """Neither the settings nor the project say which Jira id to use for something we must send."""


@dataclass(frozen=True)
class Choice:
    id: str
    name: str | None  # Jira's name for it, when known
    source: str  # FROM_SETTINGS | FROM_JIRA

    def describe(self) -> str:
        named = f" {self.name}" if self.name else ""
        return f"{self.id}{named} ({self.source})"


@dataclass(frozen=True)
class Mapping:
    project: str
    issue_types: dict[str, Choice] = field(default_factory=dict)
    priorities: dict[str, Choice] = field(default_factory=dict)
    components: dict[str, str] = field(default_factory=dict)
    # The kinds in use and the issue type names each may become.
    type_names: TypeNames = field(default_factory=lambda: dict(TYPE_NAMES))

    @property
    def complete(self) -> bool:
        """Whether every type and priority is named, so Jira need not be asked."""
        return set(self.type_names) <= set(self.issue_types) and set(self.priorities) == set(JIRA_PRIORITY_KEYS)

    def issue_type_id(self, kind: str) -> str:
        choice = self.issue_types.get(kind)
        if choice is None:
            names = " or ".join(f"“{n}”" for n in self.type_names.get(kind, ()))
            raise MappingMissing(f"project {self.project} has no issue type named {names} for {kind}s; set "
                                 f"JIRA_ISSUE_TYPES (e.g. {kind}=10004) to the id of the type to use")
        return choice.id

    def priority_id(self, key: str | None) -> str | None:
        choice = self.priorities.get(key) if key is not None else None
        return choice.id if choice is not None else None

    def grade_of(self, priority_id: str) -> int | None:
        """The bug grade a Jira priority stands for (the most severe grade mapped to it), if any."""
        for grade in ("1", "2", "3", "4", "5"):
            choice = self.priorities.get(grade)
            if choice is not None and choice.id == priority_id:
                return int(grade)
        return None


def explicit(settings: Settings, type_names: TypeNames | None = None) -> Mapping:
    """What the settings alone say; `type_names` as in `resolve`."""
    types = jira_ids(settings.jira_issue_types, "JIRA_ISSUE_TYPES", keys=JIRA_KINDS)
    priorities = jira_ids(settings.jira_priorities, "JIRA_PRIORITIES", keys=JIRA_PRIORITY_KEYS)
    return Mapping(project=settings.jira_project or "",
                   issue_types={k: Choice(v, None, FROM_SETTINGS) for k, v in types.items()},
                   priorities={k: Choice(v, None, FROM_SETTINGS) for k, v in priorities.items()},
                   components=jira_ids(settings.jira_components, "JIRA_COMPONENTS", keys=JIRA_KINDS),
                   type_names=dict(TYPE_NAMES if type_names is None else type_names))


def resolve(settings: Settings, gateway: JiraGateway | None, *, with_names: bool = False,
            type_names: TypeNames | None = None) -> Mapping:
    """The mapping in use: the settings' ids, and for what they leave out, the project's names (Jira is asked
    only then, or when `with_names` wants Jira's names for the ids given). `type_names` are the kinds to map and
    their issue type names (the mirror plugins'); TYPE_NAMES when not given. Raises JiraUnavailable when Jira
    must be asked and cannot be; MappingMissing when the project is not there."""
    given = explicit(settings, type_names)
    if gateway is None or (given.complete and not with_names):
        return given
    try:
        meta = gateway.project_meta()
    except JiraNotFound as exc:
        raise MappingMissing(f"cannot read project {given.project}'s issue types ({exc}); check JIRA_PROJECT "
                             "and that the Jira account may create issues there") from exc
    except JiraRejected as exc:
        raise MappingMissing(f"cannot read project {given.project}'s issue types: {exc}") from exc
    return _fill(given, meta)


def in_use(deps: Deps) -> Mapping:
    """The mapping of the running bot's kinds (those its mirror plugins name), as `resolve` finds it."""
    return resolve(deps.settings, deps.jira, type_names=deps.mirror.type_names())


def _fill(given: Mapping, meta: ProjectMeta) -> Mapping:
    types, priorities = dict(given.issue_types), dict(given.priorities)
    for kind, type_names in given.type_names.items():
        if kind not in types and (found := _by_name(meta.issue_types, type_names)) is not None:
            types[kind] = found
    names_of = dict(meta.priorities)
    for key in JIRA_PRIORITY_KEYS:
        if key in priorities:
            priorities[key] = Choice(priorities[key].id, names_of.get(priorities[key].id), FROM_SETTINGS)
        elif (found := _by_name(meta.priorities, PRIORITY_NAMES[key])) is not None:
            priorities[key] = found
    names_of_types = dict(meta.issue_types)
    types = {k: Choice(c.id, c.name or names_of_types.get(c.id), c.source) for k, c in types.items()}
    return Mapping(given.project, types, priorities, given.components, given.type_names)


def _by_name(offered: tuple[tuple[str, str], ...], names: tuple[str, ...]) -> Choice | None:
    folded = {name.casefold(): (ident, name) for ident, name in offered}
    for wanted in names:
        hit = folded.get(wanted.casefold())
        if hit is not None:
            return Choice(hit[0], hit[1], FROM_JIRA)
    return None
