"""Shared pieces of the HTTP benchmarks: a sandbox Slack, pmbot and a bare Bolt app on loopback, load clients,
percentiles and table rows.

Import it from a script in `bench/` (`from _harness import ...`: a script's own folder is on `sys.path`), and
end the script with `stop_all()` in a `finally`.

The servers under test run in this process, beside the sandbox, as `pmbot serve` would (one process). The
clients that play Slack run in a process of their own (`LoadClient`): in the same process their threads
would queue for the interpreter lock behind the server's, and latency would measure that queue.
"""

from __future__ import annotations

import http.client
import itertools
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from cheroot.wsgi import Server
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.app import Service, build
from bot.bugs.service import CARD_EVENT
from bot.http import LISTEN_BACKLOG
from bot.sandbox import Driver, SlackSandbox
from bot.sandbox.server import BOT_TOKEN, TEAM_ID, Call
from bot.sandbox.workspace import BOT_USER_ID
from bot.settings import Settings
from bot.workpool import ListenerPool
from storage.db import session_scope
from storage.migrate import upgrade
from storage.work import waiting_work

SECRET = "bench-signing-secret"
ACK_DEADLINE_SECONDS = 3.0  # Slack shows the person an error when no answer came by then
CLIENT_TIMEOUT_SECONDS = 10.0
# Invented people who file the reports (the sandbox gives each name@example.com).
REPORTERS = {"U0BENCH01": "dana", "U0BENCH02": "emeka", "U0BENCH03": "farah", "U0BENCH04": "goran",
             "U0BENCH05": "hana", "U0BENCH06": "ivo"}

_stop_at_exit: list[Callable[[], None]] = []


class BenchSettings(Settings):
    """Settings from arguments only: a benchmark never reads the developer's environment or `.env`."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)


# --- the sandbox ------------------------------------------------------------------------------------------


class TimedSandbox(SlackSandbox):
    """The sandbox, noting the moment Slack stored each bot message that carries metadata (pmbot's cards carry
    `{"event_type": "pmbot_card", "event_payload": {"id": "bug-12"}}`), and how many posts it refused."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.posted: dict[str, float] = {}  # metadata id → time.monotonic() when first stored
        self.card_posts = 0  # every card stored, a second post of the same card included
        self.refused_posts = 0  # chat.postMessage answered with an HTTP error (429 when rate limits are on)
        self._changed = threading.Condition()

    def handle_api(self, method: str, call: Call) -> tuple[int, dict[str, str], dict[str, Any] | bytes]:
        answer = super().handle_api(method, call)
        if method == "chat.postMessage":
            self._note_post(answer[0], answer[2])
        return answer

    def _note_post(self, status: int, body: dict[str, Any] | bytes) -> None:
        now = time.monotonic()
        if status != 200:
            with self._changed:
                self.refused_posts += 1
            return
        if not isinstance(body, dict) or not body.get("ok"):
            return
        metadata = (body.get("message") or {}).get("metadata") or {}
        key = (metadata.get("event_payload") or {}).get("id")
        if key is None:
            return
        with self._changed:
            self.posted.setdefault(str(key), now)
            self.card_posts += metadata.get("event_type") == CARD_EVENT
            self._changed.notify_all()

    def cards(self) -> int:
        """How many different cards were posted."""
        with self._changed:
            return sum(1 for key in self.posted if key.startswith("bug-"))

    def wait_cards(self, count: int, timeout: float) -> bool:
        """Block until `count` different cards were posted; False when `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for key in self.posted if key.startswith("bug-")) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True


def start_sandbox(*, channels: int = 200) -> TimedSandbox:
    """A started sandbox with `channels` extra public channels (`C0BENCH0001`…), the bot and the invented
    reporters in each: work spread over many channels stays clear of Slack's per-channel post limit."""
    sandbox = TimedSandbox()
    sandbox.start()
    for user_id, name in REPORTERS.items():
        sandbox.add_user(user_id, name)
    for channel_id in bench_channels(channels):
        sandbox.add_channel(channel_id, f"bench-{channel_id[-4:]}", members={BOT_USER_ID, *REPORTERS})
    _stop_at_exit.append(sandbox.stop)
    return sandbox


def bench_channels(count: int) -> list[str]:
    return [f"C0BENCH{n:04d}" for n in range(1, count + 1)]


# --- the servers under test -------------------------------------------------------------------------------


def bench_settings(sandbox: SlackSandbox, database_url: str, **overrides: Any) -> Settings:
    """pmbot's settings for a benchmark: offline grading (no LLM key), scheduler off, the sandbox as Slack."""
    values = {"slack_bot_token": BOT_TOKEN, "slack_signing_secret": SECRET, "slack_api_url": sandbox.api_url,
              "database_url": database_url, "pmbot_scheduler_enabled": False, "pmbot_instance_id": "bench",
              **overrides}
    return BenchSettings(**values)


def start_pmbot(sandbox: SlackSandbox, **settings: Any) -> tuple[Service, Driver]:
    """The whole bot (cheroot, Bolt, work queue) on a fresh SQLite file in a temporary folder, serving on a free
    loopback port; `settings` override `bench_settings`. Stopped, and the folder removed, by `stop_all()`."""
    folder = Path(tempfile.mkdtemp(prefix="pmbot-bench-"))
    runtime = build(bench_settings(sandbox, f"sqlite:///{folder / 'bench.db'}", **settings))
    upgrade(runtime.deps.engine)
    service = Service(runtime, host="127.0.0.1", port=0)
    service.start()
    _stop_at_exit.append(lambda: shutil.rmtree(folder, ignore_errors=True))
    _stop_at_exit.append(service.stop)
    return service, Driver(f"http://127.0.0.1:{service.http.port}/slack/events", SECRET, sandbox)


def start_bare_bolt(sandbox: SlackSandbox, *, settings: Settings | None = None, commands: Sequence[str] = ("/bug",),
                    answer: str = "Got it: *B-1* is stored and being graded.") -> Driver:
    """A Bolt app that only acks `commands` with `answer`, on pmbot's server stack: cheroot with pmbot's HTTP
    thread count, listen backlog and drain time, Bolt with pmbot's options (acks before processing, listener
    threads started on demand up to the same maximum). Nothing else runs in it: the floor pmbot is compared with."""
    settings = settings or bench_settings(sandbox, "sqlite://")
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    executor = ThreadPoolExecutor(max_workers=listener_threads(), thread_name_prefix="bare-listener")
    app = App(client=client, signing_secret=SECRET, token_verification_enabled=False, process_before_response=False,
              listener_executor=executor)
    for command in commands:
        app.command(command)(lambda ack: ack(response_type="ephemeral", text=answer))
    server = Server(("127.0.0.1", 0), SlackRequestHandler(app), numthreads=settings.pmbot_http_threads,
                    shutdown_timeout=settings.pmbot_drain_seconds, request_queue_size=LISTEN_BACKLOG)
    server.prepare()
    threading.Thread(target=server.serve, name="bare-http", daemon=True).start()
    _stop_at_exit.append(server.stop)
    return Driver(f"http://127.0.0.1:{server.bind_addr[1]}/slack/events", SECRET, sandbox)


def listener_threads() -> int:
    """The most listener threads pmbot's Bolt starts (ListenerPool's default)."""
    return int(ListenerPool.__init__.__kwdefaults__["max_threads"])


def stack_description(settings: Settings) -> str:
    workers = settings.pmbot_worker_threads
    return (f"cheroot {settings.pmbot_http_threads} HTTP threads, listen backlog {LISTEN_BACKLOG}, Bolt "
            f"process_before_response=False, listener threads on demand (max {listener_threads()}); pmbot: "
            f"{workers} work slots + {workers} queue threads, SQLite (WAL), offline grading, scheduler off")


def settle_pmbot(service: Service, *, cards: int, sandbox: TimedSandbox, timeout: float) -> bool:
    """Wait until `cards` cards are posted and nothing is left queued (in memory or in the database)."""
    runtime = service.runtime
    deadline = time.monotonic() + timeout
    if not sandbox.wait_cards(cards, timeout):
        return False
    while time.monotonic() < deadline:
        with session_scope(runtime.deps.engine) as session:
            left = waiting_work(session)
        if left == 0 and runtime.settle(max(0.1, deadline - time.monotonic())):
            return True
        time.sleep(0.05)
    return False


def stop_all() -> None:
    """Stop what the start_* helpers started, newest first. Call it in a `finally`: cheroot's worker threads are
    not daemons, and the interpreter waits for them before it would run an `atexit` hook."""
    while _stop_at_exit:
        try:
            _stop_at_exit.pop()()
        except Exception as exc:  # noqa: BLE001 — stopping the rest matters more than one failure
            print(f"(stopping: {type(exc).__name__}: {exc})", file=sys.stderr)



# --- requests as Slack sends them -------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One slash command ready to send: its form body (signed when sent) and the trigger id it carries."""

    body: str
    trigger_id: str
    channel: str


_triggers = itertools.count(1)


def slash_command(sandbox: SlackSandbox, command: str, text: str, *, channel: str, user: str) -> Command:
    """A slash command's form, with the fields Slack sends (as `Driver.command` builds them), a response_url
    the sandbox answers, and a trigger id of its own (pmbot files a report once per trigger)."""
    trigger_id = f"{next(_triggers)}.{time.time_ns()}.bench"
    form = {
        "token": "deprecated-verification-token", "team_id": TEAM_ID, "team_domain": "sandbox",
        "channel_id": channel, "channel_name": sandbox.channels[channel].name, "user_id": user,
        "user_name": sandbox.users[user].name, "command": command, "text": text, "api_app_id": "A0PMBOT",
        "is_enterprise_install": "false", "response_url": sandbox.new_response_url(channel, user),
        "trigger_id": trigger_id,
    }
    return Command(urlencode(form), trigger_id, channel)


# --- load clients (in a process of their own) -------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One request: when it was sent (time.monotonic(), the same clock in every process on Linux), how long
    its answer took, and the HTTP status (0: no answer, the connection failed or timed out)."""

    sent: float
    seconds: float
    status: int

    @property
    def failed(self) -> bool:
        return self.status != 200 or self.seconds > ACK_DEADLINE_SECONDS


class _Sender:
    """Signs and posts form bodies to one URL, on one connection per thread (kept alive between requests
    when `keep_alive`, else a new connection for each, as urllib does)."""

    def __init__(self, url: str, secret: str, keep_alive: bool):
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.signer = SignatureVerifier(secret)
        self.keep_alive = keep_alive
        self._local = threading.local()

    def send(self, body: str) -> Sample:
        sent = time.monotonic()
        try:
            status = self._post(body)
        except (OSError, http.client.HTTPException):
            self._drop()
            status = 0
        return Sample(sent, time.monotonic() - sent, status)

    def _post(self, body: str) -> int:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=CLIENT_TIMEOUT_SECONDS)
            self._local.connection = connection
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
                   "X-Slack-Signature": self.signer.generate_signature(timestamp=timestamp, body=body)}
        if not self.keep_alive:
            headers["Connection"] = "close"
        connection.request("POST", self.path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        if not self.keep_alive or response.will_close:
            self._drop()
        return response.status

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None


def closed_loop(url: str, secret: str, bodies: Sequence[str], clients: int, keep_alive: bool) -> list[Sample]:
    """`clients` threads, each sending its next request as soon as the previous one was answered, until every
    body is sent. Samples in the order the bodies were taken."""
    sender = _Sender(url, secret, keep_alive)
    order = itertools.count()
    samples: list[Sample | None] = [None] * len(bodies)
    start = threading.Barrier(clients)

    def client() -> None:
        start.wait()
        while (index := next(order)) < len(bodies):
            samples[index] = sender.send(bodies[index])

    _run_threads(client, clients)
    return [s for s in samples if s is not None]


def open_loop(url: str, secret: str, bodies: Sequence[str], rate: float, keep_alive: bool,
              senders: int = 32) -> list[Sample]:
    """Request i is sent at start + i / rate whether or not earlier ones were answered (as Slack's users do),
    from up to `senders` threads at a time. Samples in body order; `sent` is when it really went out."""
    sender = _Sender(url, secret, keep_alive)
    order = itertools.count()
    samples: list[Sample | None] = [None] * len(bodies)
    start = time.monotonic() + 0.2

    def client() -> None:
        while (index := next(order)) < len(bodies):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            samples[index] = sender.send(bodies[index])

    _run_threads(client, senders)
    return [s for s in samples if s is not None]


def _run_threads(target: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=target, name=f"client-{n}", daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class LoadClient:
    """A process of its own that runs `closed_loop` and `open_loop` on request (started once, reused)."""

    def __init__(self) -> None:
        self._pool: Executor = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
        self._pool.submit(time.monotonic).result()  # started and imported now, not inside a measurement
        _stop_at_exit.append(self.close)

    def closed_loop(self, driver: Driver, commands: Sequence[Command], clients: int, *,
                    keep_alive: bool = False) -> list[Sample]:
        return self._pool.submit(closed_loop, driver.events_url, SECRET, [c.body for c in commands], clients,
                                 keep_alive).result()

    def open_loop(self, driver: Driver, commands: Sequence[Command], rate: float, *,
                  keep_alive: bool = False) -> list[Sample]:
        return self._pool.submit(open_loop, driver.events_url, SECRET, [c.body for c in commands], rate,
                                 keep_alive).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


# --- figures and printing ---------------------------------------------------------------------------------


def percentiles(samples: Sequence[float], points: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles (`p50`, `p95`, `p99`) and `max` of `samples`; NaN when there are none."""
    ordered = sorted(samples)
    if not ordered:
        return {**{f"p{p:g}": math.nan for p in points}, "max": math.nan}
    figures = {f"p{p:g}": ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] for p in points}
    figures["max"] = ordered[-1]
    return figures


def throughput(samples: Sequence[Sample]) -> float:
    """Requests answered per second over the measured window (first sent to last answered)."""
    if not samples:
        return 0.0
    window = max(s.sent + s.seconds for s in samples) - min(s.sent for s in samples)
    return len(samples) / window if window > 0 else math.inf


def print_row(*cells: object, widths: int | Sequence[int] = 11) -> None:
    """One table row: the first cell left-aligned, the rest right-aligned; floats with two decimals."""
    sizes = [widths] * len(cells) if isinstance(widths, int) else list(widths)
    text = []
    for n, (cell, size) in enumerate(zip(cells, sizes, strict=False)):
        shown = f"{cell:.2f}" if isinstance(cell, float) else str(cell)
        text.append(shown.ljust(size) if n == 0 else shown.rjust(size))
    print(" ".join(text).rstrip())


def print_machine(title: str) -> None:
    """What the figures were measured on: cores, Python, the date and how busy the machine was."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(title)
    print(f"machine: {cores} cores ({platform.processor() or platform.machine()}), Python {platform.python_version()}"
          f" ({platform.python_implementation()}), {platform.system()} {platform.release()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average before start: {load}")
