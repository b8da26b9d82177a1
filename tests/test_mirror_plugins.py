"""Features plug into the Jira mirror: a kind the mirror has never heard of is mirrored once it is registered,
and the mirror imports no feature (so the import cycle through it cannot come back)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlmodel import select

from bot.app import mirror_plugins
from bot.deps import Deps
from bot.mirror import mapping, outbox, sync
from bot.mirror.plugins import MirrorPlugin, MirrorPlugins, UnknownKind
from storage.db import session_scope
from storage.models import JiraLink
from tests.conftest import RunningBot
from tests.jira_stub import SETTINGS, JiraStub

ROOT = Path(__file__).resolve().parent.parent
MIRROR = ROOT / "bot" / "mirror"
FEATURES = ("bot.bugs", "bot.risks", "bot.incidents", "bot.standups", "bot.budgets")
TEAM = "T0SANDBOX"
CHANNEL = "C0GENERAL"


# --- a fourth kind, known to this test only ------------------------------------------------------------


class _Base(DeclarativeBase):  # its own metadata: the app's tables and migrations never see it
    pass


class Widget(_Base):
    __tablename__ = "widget"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    readable_id: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")  # draft | open | done | secret
    shiny: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)


class WidgetMirror(MirrorPlugin):
    """Written the way a feature writes its plugin; it notes what the mirror asked of it."""

    kind = "widget"
    model = Widget
    issue_types = ("Gadget", "Task")  # the stand-in's project has no Gadget type: Task is chosen by name
    derived_labels = ("shiny",)

    def __init__(self) -> None:
        self.redrawn: list[str] = []
        self.shown: list[str] = []

    def excluded(self, item: Widget) -> bool:
        return item.status == "secret"

    def ready(self, item: Widget) -> bool:
        return item.status != "draft"

    def is_done(self, item: Widget) -> bool:
        return item.status == "done"

    def priority_key(self, item: Widget) -> str | None:
        return "medium"

    def labels(self, item: Widget) -> list[str]:
        return ["shiny"] if item.shiny else []

    def describe(self, item: Widget, plain: Callable[[str], str]) -> str:
        return f"A widget: {plain(item.title)}"

    def message_of(self, item: Widget) -> tuple[str | None, str | None]:
        return item.channel, item.ts

    def redraw(self, deps: Deps, item: Widget) -> None:
        self.redrawn.append(item.readable_id)

    def key_shown(self, deps: Deps, item: Widget, link: JiraLink) -> None:
        self.shown.append(link.jira_key)

    def follow_status(self, deps: Deps, item: Widget, *, done: bool, why: str) -> str | None:
        with session_scope(deps.engine) as session:
            row = session.get(Widget, item.id)
            if row.status == ("done" if done else "open"):
                return None
            row.status = "done" if done else "open"
        return "done" if done else "reopened"


@pytest.fixture
def jira():
    stub = JiraStub()
    yield stub
    stub.down()


@pytest.fixture
def bot(bot_factory, jira: JiraStub) -> RunningBot:
    """The real bot, with widgets registered next to the features, as `bot.app.mirror_plugins` does."""
    running = bot_factory(jira_url=jira.url, jira_user=jira.user, jira_api_token=jira.token, **SETTINGS)
    deps = running.runtime.deps
    deps.mirror = MirrorPlugins([*deps.mirror, WidgetMirror()])
    Widget.__table__.create(deps.engine)
    return running


def widgets(bot: RunningBot) -> WidgetMirror:
    plugin = bot.runtime.deps.mirror.for_kind("widget")
    assert isinstance(plugin, WidgetMirror)
    return plugin


def new_widget(bot: RunningBot, readable_id: str, *, status: str = "open") -> Widget:
    """A widget with its Slack message, its create recorded in the same transaction, as a feature does."""
    deps = bot.runtime.deps
    ts = deps.client.chat_postMessage(channel=CHANNEL, text=f"widget {readable_id}")["ts"]
    with session_scope(deps.engine) as session:
        widget = Widget(team_id=TEAM, readable_id=readable_id, title=f"The {readable_id} wobbles", status=status,
                        shiny=True, channel=CHANNEL, ts=ts)
        session.add(widget)
        session.flush()
        outbox.record(session, deps, widget, "create")
    return widget


def change(bot: RunningBot, widget: Widget, *ops: tuple[str, dict], **values) -> None:
    deps = bot.runtime.deps
    with session_scope(deps.engine) as session:
        row = session.get(Widget, widget.id)
        for name, value in values.items():
            setattr(row, name, value)
        for op, payload in ops:
            outbox.record(session, deps, row, op, **payload)


def thread(bot: RunningBot, widget: Widget) -> list[str]:
    return [m.get("text", "") for m in bot.sandbox.messages if m.get("thread_ts") == widget.ts]


@pytest.mark.sqlite_only
def test_a_fourth_kind_goes_to_jira_and_back_through_the_mirror_it_registered_with(bot: RunningBot,
                                                                                  jira: JiraStub) -> None:
    deps = bot.runtime.deps
    widget = new_widget(bot, "W-1")
    run = outbox.deliver(deps)
    assert run.delivered == 1 and run.failed == 0, str(run)
    [issue] = jira.issues.values()
    fields = issue.fields
    assert fields["issuetype"]["id"] == "10002", "Task, found by name in the project"
    assert fields["priority"]["id"] == "3", "its priority key (medium) through JIRA_PRIORITIES"
    assert {"pmbot", "pmbot-widget", f"pmbot-{TEAM}-W-1", "shiny"} <= set(fields["labels"])
    assert fields["summary"] == "W-1: The W-1 wobbles"
    assert fields["description"].startswith("A widget: The W-1 wobbles")
    assert "Open it in Slack" in fields["description"], "the permalink of the message its plugin names"
    with session_scope(deps.engine) as session:
        [link] = session.exec(select(JiraLink)).all()
    assert (link.kind, link.entity_id, link.jira_key) == ("widget", widget.id, issue.key)
    assert widgets(bot).redrawn == ["W-1"] and widgets(bot).shown == [issue.key]

    # Done here: its derived label comes off, the issue is closed, the note goes in as a comment.
    change(bot, widget, ("fields", {}), ("close", {"text": "Polished in Slack."}), status="done", shiny=False)
    run = outbox.deliver(deps)
    assert run.delivered == 2 and run.failed == 0, str(run)
    assert issue.fields["status"]["name"] == "Done"
    assert "shiny" not in issue.fields["labels"] and "pmbot-widget" in issue.fields["labels"]
    assert issue.comments[-1]["body"].startswith("Polished in Slack.")

    # Reopened in Jira: its plugin applies it here, and the message's thread hears about it once.
    jira.set_status(issue.key, "To Do")
    assert "1 change(s) applied" in sync.poll(deps)
    with session_scope(deps.engine) as session:
        assert session.get(Widget, widget.id).status == "open"
    notes = [text for text in thread(bot, widget) if "was moved to *To Do*" in text]
    assert notes == [f"🔄 Jira: {issue.key} was moved to *To Do*, so W-1 is reopened."]
    assert widgets(bot).redrawn == ["W-1", "W-1"]


@pytest.mark.sqlite_only
def test_a_kind_says_when_its_items_may_go_and_which_never_do(bot: RunningBot, jira: JiraStub) -> None:
    deps = bot.runtime.deps
    draft = new_widget(bot, "W-1", status="draft")
    new_widget(bot, "W-2", status="secret")
    run = outbox.deliver(deps)
    assert run.waiting == 1 and run.delivered == 0 and jira.issues == {}, "a draft waits; a secret is not queued"
    change(bot, draft, status="open")
    run = outbox.deliver(deps, now=deps.clock() + outbox.NOT_READY_DELAY)
    assert run.delivered == 1 and [i.fields["summary"] for i in jira.issues.values()] == ["W-1: The W-1 wobbles"]


# --- the registry ------------------------------------------------------------------------------------


def test_the_built_in_kinds_are_registered_in_the_order_their_labels_were_swapped() -> None:
    plugins = mirror_plugins()
    assert [plugin.kind for plugin in plugins] == ["bug", "risk", "incident", "incident_action"]
    assert plugins.derived_labels() == [f"grade-{n}" for n in range(1, 6)] + [
        f"risk-{b}" for b in ("low", "medium", "high", "critical")]
    # `pmbot doctor` has no registry and names the issue types from mapping.TYPE_NAMES: the two agree.
    assert plugins.type_names() == mapping.TYPE_NAMES


def test_a_kind_is_registered_once_under_its_table_name() -> None:
    with pytest.raises(ValueError, match="registered already"):
        MirrorPlugins([WidgetMirror(), WidgetMirror()])

    class Misnamed(WidgetMirror):
        kind = "gadget"

    with pytest.raises(ValueError, match="table name"):
        MirrorPlugins([Misnamed()])
    with pytest.raises(UnknownKind):
        MirrorPlugins().for_kind("widget")
    with pytest.raises(UnknownKind):
        MirrorPlugins().of(Widget())


# --- the import graph --------------------------------------------------------------------------------


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level) for every import in a file, except those only for type checkers."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(node) for stmt in tree.body
                   if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test) for node in ast.walk(stmt)}
    top = {id(stmt) for stmt in tree.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(f"{node.module}.{alias.name}", id(node) in top) for alias in node.names]
    return found


def test_the_mirror_imports_no_feature_and_nothing_inside_a_function() -> None:
    files = sorted(MIRROR.glob("*.py"))
    assert files
    features = {f"{path.name}: {name}" for path in files for name, _ in _imports(path)
                if any(name == f or name.startswith(f + ".") for f in FEATURES)}
    assert features == set()
    late = {f"{path.name}: {name}" for path in files for name, top in _imports(path) if not top}
    assert late == set(), "an import inside a function hides a cycle"


def test_loading_the_mirror_loads_no_feature() -> None:
    modules = [f"bot.mirror.{path.stem}" for path in sorted(MIRROR.glob("*.py"))]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"print(','.join(sorted(m for m in sys.modules if m.startswith({FEATURES!r}))))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == ""
