"""Running `pmbot` as a real process, the way an operator does."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from bot.sandbox.server import BOT_TOKEN
from tests.conftest import SIGNING_SECRET, RunningBot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bot_env(**extra: str) -> dict[str, str]:
    """A clean environment: only what the test says, plus what Python needs to run."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV", "PYTHONPATH")}
    return {**keep, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "PMBOT_LOG_LEVEL": "INFO", **extra}


def pmbot(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


class ServeProcess:
    """`pmbot serve` in a child process, with its log collected in a file."""

    def __init__(self, env: dict[str, str], cwd: Path, *, port: int | None = None, name: str = "serve"):
        self.port = port or free_port()
        self.log_path = cwd / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 — closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_healthy(self, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"pmbot serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    return {"http": resp.status, **json.loads(resp.read())}
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        raise AssertionError(f"pmbot serve did not become healthy:\n{self.log()}")

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._log.close()


class MovableClock:
    """What `pmbot shell` injects, made exact: a moment that moves only when the test says so (for the bot's
    `deps.clock`, the scheduler's ticks and, through `seconds`, the sandbox's message ts)."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        """The same moment as Slack's epoch seconds, for the sandbox's message ts."""
        return self.now.timestamp()

    def drive(self, bot: RunningBot) -> RunningBot:
        """Put a running bot (and its sandbox's message ts) on this clock; the bot, for a fixture to return."""
        bot.runtime.deps.clock = self
        bot.sandbox.ws.clock = self.seconds
        return bot
