"""One clock everywhere: bot and storage code read "now" only from the injected clock (`deps.clock`).

Two halves: a scan of the source that fails on any other way of reading the current time outside the
places listed (with their reasons), and the bot run end to end on a clock that is not the real time —
what it stores and shows must follow that clock, as `pmbot shell` needs after `time +36m`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.sandbox.shell import Shell
from storage.db import session_scope
from storage.models import Bug, Incident, IncidentEvent, Risk, RiskChange
from tests.conftest import RunningBot, make_settings
from tests.helpers import MovableClock

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("bot", "storage")

# Every way of reading the current time, by what the name resolves to after the module's imports.
# (`time.perf_counter` and `time.monotonic` measure durations, not "now": latency timers and deadlines use them.)
READS_THE_TIME = {
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    "time.time", "time.time_ns", "time.localtime", "time.gmtime", "time.ctime", "time.asctime",
    # The real clock itself: bot code reads `deps.clock`, which is this function unless the shell replaced it.
    "storage.clock.system_clock",
}
# Any `utcnow`, ours or a library's, called or handed over as a default_factory.
READS_THE_TIME_BY_NAME = {"utcnow"}

# The only places allowed to read the real time: path → {what → why}. "*" allows everything.
EXEMPT: dict[str, dict[str, str]] = {
    "storage/clock.py": {"*": "the clock module: the one place that reads the real time"},
    "bot/deps.py": {"storage.clock.system_clock": "the default of `deps.clock`, the single source of now in bot "
                                                  "code (the composition root builds Deps with it)"},
    "bot/sandbox/shell.py": {"storage.clock.system_clock": "the shell's clock is the real time plus the offset "
                                                           "`time` moves; it is what the shell injects as "
                                                           "`deps.clock` and as the sandbox's message clock"},
    "bot/sandbox/workspace.py": {
        "time.time": "stands for Slack: Slack's own `ts` (the default of `Workspace.clock`, which the shell "
                     "points at its clock), channel `created`, trigger ids",
        "time.time_ns": "stands for Slack: a view's `hash`, an opaque version stamp",
    },
    "bot/sandbox/driver.py": {"time.time": "stands for Slack: request signatures (slack_sdk checks them against "
                                           "the real time), `event_time`, `event_ts`, `action_ts`"},
    "bot/sandbox/server.py": {"time.time": "stands for Slack: timestamps Slack itself sets"},
}


@dataclass(frozen=True)
class Reading:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _imports(tree: ast.AST) -> dict[str, str]:
    """Local name → what it stands for (`dt` → `datetime`, `stamp` → `time.time_ns`)."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    bound[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _dotted(node: ast.expr, bound: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    root = bound.get(node.id, node.id)
    return ".".join([root, *reversed(parts)])


def time_readings(source: str, path: str) -> list[Reading]:
    """Each expression in `source` that reads the current time (called or passed on as a function)."""
    tree = ast.parse(source, filename=path)
    bound = _imports(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name | ast.Attribute):
            continue
        name = _dotted(node, bound)
        if name is None:
            continue
        if name in READS_THE_TIME or name.rsplit(".", 1)[-1] in READS_THE_TIME_BY_NAME:
            found.append(Reading(path, node.lineno, name))
    return found


def _allowed(reading: Reading) -> bool:
    rules = EXEMPT.get(reading.path, {})
    return "*" in rules or reading.what in rules


def _sources() -> Iterator[tuple[str, str]]:
    for top in SCANNED:
        for file in sorted((ROOT / top).rglob("*.py")):
            yield file.relative_to(ROOT).as_posix(), file.read_text(encoding="utf-8")


# --- the scan -------------------------------------------------------------------------------------


def test_only_the_clock_module_reads_the_time() -> None:
    readings = [r for path, source in _sources() for r in time_readings(source, path)]
    assert readings, "the scan found nothing at all: it is not looking at the code"
    outside = [str(r) for r in readings if not _allowed(r)]
    assert outside == [], ("read the injected clock (`deps.clock()`, or a `now` passed in) instead of the real "
                           "time:\n" + "\n".join(outside))


def test_the_scan_sees_every_way_of_reading_the_time() -> None:
    sample = """
import datetime as dt
import time
from datetime import UTC, date, datetime
from time import time_ns as stamp
from dataclasses import field
from storage.clock import system_clock
from storage.models import utcnow

a = datetime.now(UTC)
b = dt.datetime.utcnow()
c = date.today()
d = time.time()
e = stamp()
f = field(default_factory=utcnow)
g = system_clock()
h = dt.date.today()
i = field(default_factory=time.time)
fine = (time.perf_counter(), time.monotonic(), deps.clock(), datetime.fromtimestamp(float(ts), UTC), standup.time)
"""
    found = time_readings(sample, "sample.py")
    assert sorted(r.line for r in found) == list(range(10, 19))
    assert {r.what for r in found} == {
        "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.date.today", "time.time", "time.time_ns",
        "storage.models.utcnow", "storage.clock.system_clock"}
    assert not _allowed(Reading("bot/incidents/blocks.py", 1, "storage.models.utcnow"))
    assert not _allowed(Reading("bot/sandbox/driver.py", 1, "datetime.datetime.now"))  # Slack's stand-in: ts only
    assert _allowed(Reading("bot/sandbox/driver.py", 1, "time.time"))


# --- the bot on a clock that is not the real time -------------------------------------------------

MOMENT = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)  # a Tuesday, years from the real time



@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(MOMENT)


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    running = bot_factory()
    clock.drive(running)
    return running


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def rows(bot: RunningBot, model, order) -> list:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(model).order_by(order)))


def test_an_incident_is_open_for_as_long_as_the_clock_moved(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "/incident", "declare Chatbot shows other users' order history grade 2")
    [incident] = rows(bot, Incident, Incident.id)
    assert incident.declared_at == MOMENT
    clock.now = MOMENT + timedelta(minutes=36)
    assert "Open for 36 min" in command(bot, "/incident", "INC-1 status")["text"]


def test_a_pin_after_the_clock_moved_lands_after_the_declaration(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "/incident", "declare Summaries invent figures grade 2")
    [incident] = rows(bot, Incident, Incident.id)
    clock.now = MOMENT + timedelta(minutes=36)
    _, message = bot.driver.say("Rolled the summariser back to v11", channel=incident.channel_id, user="U0BOB")
    bot.driver.react("pushpin", message, user="U0BOB")
    bot.runtime.settle()
    timeline = rows(bot, IncidentEvent, IncidentEvent.at)
    assert [e.kind for e in timeline][0] == "declared" and timeline[-1].kind == "pinned"
    declared, pinned = timeline[0], timeline[-1]
    assert declared.at == MOMENT
    assert timedelta(minutes=36) <= pinned.at - declared.at < timedelta(minutes=36, seconds=1)
    status = command(bot, "/incident", "INC-1 status")["text"]
    assert "• 09:36 <@U0BOB> pinned: Rolled the summariser back to v11" in status


def test_a_bug_is_stamped_with_the_injected_time(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "/bug", "The export button does nothing in Safari")
    [bug] = rows(bot, Bug, Bug.id)
    assert (bug.created_at, bug.graded_at) == (MOMENT, MOMENT)
    clock.now = MOMENT + timedelta(hours=5)
    command(bot, "/bug", "close B-1 fixed the click handler")
    [bug] = rows(bot, Bug, Bug.id)
    assert bug.closed_at == MOMENT + timedelta(hours=5)


def test_a_risk_and_its_history_are_stamped_with_the_injected_time(bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "/risk", "The vendor may retire our model p=3 i=4 owner=<@U0ALICE|alice>")
    [risk] = rows(bot, Risk, Risk.id)
    assert (risk.created_at, risk.updated_at) == (MOMENT, MOMENT)
    clock.now = MOMENT + timedelta(days=1)
    command(bot, "/risk", "update R-1 probability=4")
    [risk] = rows(bot, Risk, Risk.id)
    [change] = [c for c in rows(bot, RiskChange, RiskChange.id) if c.field_name == "probability"]
    assert (change.old_value, change.new_value) == ("3", "4")
    assert change.created_at == risk.updated_at == MOMENT + timedelta(days=1)


# --- the same in `pmbot shell`, where it was seen ---------------------------------------------------


@pytest.fixture
def shell(db_url: str, tmp_path: Path) -> Iterator[Shell]:
    shell = Shell(make_settings(database_url=db_url), files_dir=tmp_path / "files", out=lambda _line: None,
                  state_path=tmp_path / "sandbox.json")
    yield shell
    shell.close()


def test_in_the_shell_time_moves_the_incident_clock_and_the_timeline(shell: Shell) -> None:
    lines: list[str] = []
    shell.out = lines.append
    shell.step("/incident declare Chatbot shows other users' order history grade 2")
    shell.runtime.settle()
    shell.step("time +36m")
    with session_scope(shell.runtime.deps.engine) as session:
        [incident] = list(session.exec(select(Incident)))
    shell.step(f"in #{shell.sandbox.channels[incident.channel_id].name}")
    shell.step("say rolled back to v11")
    shell.step("react :pushpin:")
    shell.runtime.settle()
    lines.clear()
    shell.step("/incident INC-1 status")
    shell.runtime.settle()
    assert any("Open for 36 min" in line for line in lines), "\n".join(lines)
    with session_scope(shell.runtime.deps.engine) as session:
        timeline = list(session.exec(select(IncidentEvent).order_by(IncidentEvent.at, IncidentEvent.id)))
    assert [e.kind for e in timeline][0] == "declared" and timeline[-1].kind == "pinned"
    # A message ts has whole seconds (and a counter): the pin is 36 minutes after, give or take one second.
    assert timeline[-1].at - timeline[0].at > timedelta(minutes=36, seconds=-1)
