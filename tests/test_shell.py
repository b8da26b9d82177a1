"""`pmbot shell`: the real bot on a local workspace, driven line by line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.shell import Shell
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
    assert "`/pmbot` — help, status and team settings" in result.stdout
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
    shell = Shell(make_settings(database_url=db_url), files_dir=tmp_path / "files", out=lines.append)
    yield Session(shell, lines)
    shell.close()


def test_buttons_and_modals(session: Session) -> None:
    out = session.run("/pmbot", "click Show status")
    assert "(only you) pmbot: *pmbot commands*" in out and "• Database: " in out
    out = session.run("/pmbot settings", "fill Team time zone = Atlantis/Capital", "submit")
    assert "┌─ pmbot settings" in out and "⚠ “Atlantis/Capital” is not a time zone" in out
    out = session.run("fill Team time zone = Asia/Tokyo", "fill Admin channel = #general", "submit")
    assert "Saved: team time zone Asia/Tokyo, admin channel #general." in out
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


def test_time_moves_the_clock_and_runs_due_jobs(session: Session) -> None:
    out = session.run("time 2030-01-01T10:00", "time +2h")
    assert "the clock now reads Tue 01 Jan 2030 10:00 UTC" in out
    assert "older scheduled runs skipped" in out and out.count("ran housekeeping") == 50
    assert "ran housekeeping for Tue 01 Jan 2030 10:17 UTC: ok" in out
    assert "ran housekeeping for Tue 01 Jan 2030 11:17 UTC: ok" in out
    assert "neither +1d" in session.run("time someday")
    assert session.shell.runtime.deps.clock().year == 2030


def test_uploaded_files_are_saved_with_their_path(session: Session, tmp_path: Path) -> None:
    client = session.shell.runtime.deps.client
    client.files_upload_v2(channel="C0GENERAL", file=b"\x89PNG fake", filename="budget.png", title="Budget")
    out = session.run("open #general")
    saved = tmp_path / "files"
    files = list(saved.iterdir())
    assert len(files) == 1 and files[0].read_bytes() == b"\x89PNG fake"
    assert f"📎 Budget saved to {files[0]}" in out
