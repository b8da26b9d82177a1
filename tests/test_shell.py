"""`pmbot shell`: the real bot on a local workspace, driven line by line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.sandbox.shell import Shell, sandbox_state_path, summarize_runs
from bot.scheduler import RunResult
from storage.db import session_scope
from storage.models import Bug
from tests.conftest import make_settings
from tests.helpers import bot_env


def test_piped_help_prints_the_commands_and_exits_0(tmp_path: Path) -> None:
    env = bot_env()
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(key)  # nothing configured: the shell brings its own workspace
    result = subprocess.run([sys.executable, "-m", "bot", "shell"], input="/pmbot help\n", env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "alice@#general> /pmbot help" in result.stdout
    assert "`/pmbot` — help, status, team settings, stakeholder digests" in result.stdout
    assert "[Show status]" in result.stdout
    assert (tmp_path / "pmbot.db").exists()  # the local SQLite database


class Session:
    def __init__(self, shell: Shell, lines: list[str]):
        self.shell = shell
        self.lines = lines

    def run(self, *commands: str) -> str:
        start = len(self.lines)
        for command in commands:
            self.lines.append(self.shell.prompt + command)
            self.shell.step(command)
        return "\n".join(self.lines[start:])


@pytest.fixture
def session(db_url: str, tmp_path: Path) -> Iterator[Session]:
    lines: list[str] = []
    shell = Shell(make_settings(database_url=db_url), files_dir=tmp_path / "files", out=lines.append,
                  state_path=tmp_path / "sandbox.json")
    yield Session(shell, lines)
    shell.close()


def test_buttons_and_modals(session: Session) -> None:
    out = session.run("/pmbot", "click Show status")
    assert "(only you) pmbot: *pmbot commands*" in out and "• Database: " in out
    out = session.run("/pmbot settings", "fill Team time zone = Atlantis/Capital", "submit")
    assert "┌─ pmbot settings" in out and "⚠ “Atlantis/Capital” is not a time zone" in out
    out = session.run("fill Team time zone = Asia/Tokyo", "fill Admin channel = #general", "submit")
    assert "Saved: team time zone Asia/Tokyo, admin channel #general, amounts written like 1,234.56." in out
    assert "no modal is open" in session.run("submit")


def test_people_channels_and_unknown_commands(session: Session) -> None:
    out = session.run("frobnicate", "channels", "users", "as @bob", "/pmbot settings")
    assert "Unknown command `frobnicate`" in out
    assert "#general" in out and "#random" in out and "@carlos  America/Mexico_City" in out
    assert "you are now @bob" in out and "Only workspace admins" in out
    assert "nobody called @zed" in session.run("as @zed")
    out = session.run("in #random", "reply hello")
    assert "now in #random" in out and "no thread to reply to yet" in out
    assert "no channel #nope" in session.run("open #nope")


def test_say_reply_react_and_open(session: Session) -> None:
    out = session.run("say the eval suite is red", "reply looking into it", "react :eyes:", "open #general")
    assert ":eyes: on “looking into it”" in out
    assert "alice: the eval suite is red" in out and "↳ alice: looking into it" in out


def test_time_moves_the_clock_and_prints_one_line_per_job(session: Session) -> None:
    out = session.run("time +2d")
    assert "the clock now reads " in out
    # An hourly job fires exactly 48 times in two days; minute jobs are cut to their latest 48 runs.
    assert "older scheduled runs skipped" in out
    assert "  housekeeping: 48 runs (48 ok) — latest: purged " in out
    assert "  incident_watch: 48 runs (48 ok)" in out
    assert "ran housekeeping" not in out and out.count("housekeeping:") == 1
    assert "neither +1d" in session.run("time someday")
    assert "the clock now reads Wed 01 Jan 2020 10:00 UTC" in session.run("time 2020-01-01T10:00")
    assert session.shell.runtime.deps.clock().year == 2020


def test_failed_runs_are_counted_with_the_first_error() -> None:
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    runs = [RunResult(1, "standup", at, "ok", "1 posted"),
            RunResult(2, "standup", at + timedelta(minutes=5), "failed", "KeyError: 'channel'"),
            RunResult(3, "standup", at + timedelta(minutes=10), "failed", "ValueError: later"),
            RunResult(4, "housekeeping", at, "ok", None)]
    lines = summarize_runs(runs, local=lambda moment: moment.strftime("%H:%M"))
    assert lines == ["  standup: 3 runs (1 ok, 2 failed) — first failure, 09:05: KeyError: 'channel'",
                     "  housekeeping: 1 run (1 ok)"]
    assert summarize_runs([], local=str) == ["  no scheduled job fell due"]


def test_uploaded_files_are_saved_with_their_path(session: Session, tmp_path: Path) -> None:
    client = session.shell.runtime.deps.client
    client.files_upload_v2(channel="C0GENERAL", file=b"\x89PNG fake", filename="budget.png", title="Budget")
    out = session.run("open #general")
    saved = tmp_path / "files"
    files = list(saved.iterdir())
    assert len(files) == 1 and files[0].read_bytes() == b"\x89PNG fake"
    assert f"📎 Budget saved to {files[0]}" in out


# --- the shell answers like Slack -----------------------------------------------------------------

UNKNOWN = ("/bgu is not a valid command. In Slack, all messages that start with the “/” character are "
           "interpreted as commands.")
FRAMEWORK_HINTS = ("Traceback", "Unhandled request", "@app.", "HTTP 4", "HTTP 5")


def test_piped_unknown_command_gets_slacks_own_answer(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "shell"], input="/bgu\n", env=bot_env(), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = result.stdout.split("alice@#general> /bgu\n", 1)[1]
    assert answer.strip() == "(only you) Slackbot: " + UNKNOWN
    assert not [hint for hint in FRAMEWORK_HINTS if hint in result.stdout + result.stderr]


def test_unknown_command_never_reaches_the_bot(session: Session) -> None:
    out = session.run("/bgu Export fails")
    assert out.splitlines()[1:] == ["(only you) Slackbot: " + UNKNOWN]
    with session_scope(session.shell.runtime.deps.engine) as db:
        assert db.exec(select(Bug)).all() == []
    # A command the app has still goes through, and Slack's own /invite works as in Slack.
    assert "`/pmbot` — help, status, team settings, stakeholder digests" in session.run("/pmbot help")
    out = session.run("in #random", "/invite @pmbot", "/invite @bob")
    assert "@pmbot joined #random" in out and "@bob is already in #random" in out
    assert "U0PMBOT" in session.shell.sandbox.channels["C0RANDOM"].members


def test_typed_text_reaches_the_bot_in_slacks_wire_form(session: Session) -> None:
    session.run("say the export of & or <1> fails for @bob in #random, cc @here")
    said = session.shell.sandbox.messages[-1]
    assert said["text"] == "the export of &amp; or &lt;1&gt; fails for <@U0BOB> in <#C0RANDOM|random>, cc <!here>"
    assert "alice: the export of & or <1> fails for @bob in #random, cc @here" in session.run("open #general")
    session.run("reply seen & fixed")
    assert session.shell.sandbox.messages[-1]["text"] == "seen &amp; fixed"
    # Typed `&lt;` is sent as `&amp;lt;`: the bot decodes once and stores what was typed, for @bob as <@U0BOB|bob>.
    session.run("/bug Export fails when the file name has & or <1> in it, and shows &lt; — @bob saw it")
    with session_scope(session.shell.runtime.deps.engine) as db:
        text = db.exec(select(Bug)).one().text
    assert text == "Export fails when the file name has & or <1> in it, and shows &lt; — <@U0BOB|bob> saw it"


def test_choose_takes_a_label_a_word_of_it_or_its_number(session: Session) -> None:
    session.run("/bug typo on the settings page")
    out = session.run("choose Change grade = 2")
    assert "┌─ Regrade B-1" in out
    session.run("cancel")
    out = session.run("choose Change grade = 7")
    assert "no option '7' (the options: 1 — Critical | 2 — High | 3 — Medium | 5 — Informational)" in out
    session.run("choose Change grade = high", "fill New grade = 2", "fill Why? = users see it on every page",
                "submit")
    with session_scope(session.shell.runtime.deps.engine) as db:
        assert db.exec(select(Bug)).one().grade == 2


def test_a_form_error_keeps_what_was_typed(session: Session) -> None:
    out = session.run("/pmbot settings", "fill Admin channel = #random", "fill Team time zone = Atlantis/Capital",
                      "submit")
    assert "⚠ “Atlantis/Capital” is not a time zone" in out
    assert "Team time zone: [Atlantis/Capital]" in out and "Admin channel (optional): [random]" in out
    out = session.run("fill Team time zone = Asia/Tokyo", "submit")  # only the wrong field again
    assert "Saved: team time zone Asia/Tokyo, admin channel #random, amounts written like 1,234.56." in out
    fields = "Team time zone, Admin channel, How the team writes amounts"
    out = session.run("/pmbot settings", "fill Colour = red")
    assert f"the modal has no field 'Colour' (its fields: {fields})" in out


# --- the workspace lives as long as the database --------------------------------------------------

def test_a_restarted_shell_keeps_channels_people_and_messages(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url=db_url)
    state = tmp_path / "sandbox.json"
    first = Session(Shell(settings, files_dir=tmp_path / "files", out=[].append, state_path=state), [])
    first.run("/incident declare the model leaks emails grade 1")
    rooms = [c for c in first.shell.sandbox.channels.values() if c.name.startswith("inc-")]
    assert len(rooms) == 1
    room = rooms[0]
    first.shell.close()

    lines: list[str] = []
    second = Session(Shell(settings, files_dir=tmp_path / "files", out=lines.append, state_path=state), lines)
    try:
        assert f"(workspace restored from {state}: 3 channels" in lines[0]
        out = second.run("channels", f"open #{room.name}")
        assert f"#{room.name} — INC-1" in out and "Runbook for grade 1" in out
        assert second.shell.sandbox.channels[room.id].members == room.members
        out = second.run("/incident status")  # the database's channel id still resolves, by name
        assert f"#{room.name}" in out and room.id not in out
        fresh = second.shell.runtime.deps.client.conversations_create(name="after-restart")["channel"]["id"]
        assert fresh != room.id  # the id counters carried on
    finally:
        second.shell.close()


def test_the_workspace_file_sits_beside_the_database(tmp_path: Path) -> None:
    assert sandbox_state_path(f"sqlite:///{tmp_path}/pmbot.db") == tmp_path / "pmbot.sandbox.json"
    assert sandbox_state_path("sqlite:///pmbot.db") == Path("pmbot.sandbox.json")
    assert sandbox_state_path("postgresql+psycopg://u:p@db:5432/pmbot") == Path("pmbot.sandbox.json")
    assert sandbox_state_path("sqlite://") is None
    assert sandbox_state_path("sqlite:///:memory:") is None


def test_piped_shells_share_the_workspace_with_the_database(tmp_path: Path) -> None:
    run = {"env": bot_env(), "cwd": tmp_path, "capture_output": True, "text": True, "timeout": 60}
    first = subprocess.run([sys.executable, "-m", "bot", "shell"], input="/incident declare eval suite red\n", **run)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "pmbot.sandbox.json").exists()
    second = subprocess.run([sys.executable, "-m", "bot", "shell"], input="channels\n/incident status\n", **run)
    assert second.returncode == 0, second.stderr
    assert "#inc-" in second.stdout and "eval-suite-red" in second.stdout
    assert "#C0" not in second.stdout
