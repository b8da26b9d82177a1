"""Stand-ups at scale: 500 stand-ups due in the same local minute, Slack's rate limits on (issue #18).

Run: .venv/bin/python bench/standups.py [--quick] [--count N] [--postgres URL] [--replicas 2] [--no-limits]

What it does, in order:
1. Starts the sandbox (`SlackSandbox()`: Slack's published rate limits on when the sandbox has them) and adds N
   channels, each with pmbot and three to five members.
2. Sets up N stand-ups, one per channel, through `service.setup` as `/standup setup` does — all at 09:30 local
   time in zones that share one UTC offset (Berlin, Paris, Madrid, Amsterdam, Rome), half with a holiday
   calendar, on a working day that is no holiday in any of them. Setting up is not measured, and runs with the
   limits off: 500 set-ups call conversations.info (Tier 3) and in real life happen over weeks, not in a minute.
3. Runs the clock from the due minute at real speed and ticks the scheduler as production does (`Scheduler.tick`,
   what APScheduler calls every PMBOT_SCHEDULER_TICK_SECONDS): the tick claims the `standup` job's slot in the
   ledger and runs the job on the scheduler's pool; later ticks run any try the job asked for (RetryLater).
   With `--replicas N` (N ≥ 2) every replica (its own engine, Slack client and scheduler, one database) ticks, and
   each one but the first also starts `pmbot jobs run standup --now <due>` (`Scheduler.run_now`) at the same
   moment, so the job body runs N times at once: only the (stand-up, day) claims keep each post to one.
4. Measures the wall time from the due minute until all N day posts are in the sandbox, then prints the posted
   count, duplicates (must be 0), 429s per method (the sandbox's counters) and the Slack calls per method.
5. Baseline, in the same run: N bare `chat.postMessage` calls from a plain slack_sdk WebClient, one per channel,
   one after another, and their elapsed time.

The target: all N posted within 60 s with the limits on. The first tick here comes at the due minute itself; in
production it comes up to PMBOT_SCHEDULER_TICK_SECONDS (15 s) later, which the 60 s must also cover. Loopback only;
the database is a temporary SQLite file, or a scratch database created (and dropped) on the `--postgres` server.
Exits 1 when the target is missed or any post is doubled or missing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot.app import build_deps
from bot.deps import Deps
from bot.domain.standup import holiday_name
from bot.sandbox import SlackSandbox
from bot.sandbox.server import BOT_TOKEN, BOT_USER_ID
from bot.scheduler import RunResult, Scheduler
from bot.settings import Settings, normalize_database_url
from bot.standups import service
from storage.db import session_scope
from storage.migrate import upgrade
from storage.models import StandupDay

TARGET_SECONDS = 60.0
FULL_COUNT, QUICK_COUNT = 500, 50
LOCAL_TIME = "09:30"
# Zones with one UTC offset all year (the EU's DST rules): 09:30 local is one moment in all of them. Each with
# the holiday calendar a team there would set (given to every other stand-up).
ZONES = (("Europe/Berlin", "DE-BY"), ("Europe/Paris", "FR"), ("Europe/Madrid", "ES"),
         ("Europe/Amsterdam", "NL"), ("Europe/Rome", "IT"))
USERS = 60  # the workspace's people; each stand-up takes three to five of them
PARENT_PREFIX = "Stand-up —"  # how a day's post starts (bot/standups/blocks.py `parent`)
SETUP_LEAD = timedelta(minutes=10)  # the clock during set-up: this long before the due minute
POLL_SECONDS = 0.05


class _Isolated(Settings):
    """Settings from the arguments only: no environment, no .env file."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)


class BenchClock:
    """The bot's clock (and the sandbox's, for message ts): held before the due minute while setting up, then
    running from the due minute at real speed, so Slack's token buckets and the scheduler's ticks agree."""

    def __init__(self, due: datetime):
        self.due = due
        self._started: float | None = None

    def start(self) -> None:
        """The due minute is now."""
        self._started = time.monotonic()

    def elapsed(self) -> float:
        return 0.0 if self._started is None else time.monotonic() - self._started

    def __call__(self) -> datetime:
        if self._started is None:
            return self.due - SETUP_LEAD
        return self.due + timedelta(seconds=self.elapsed())

    def epoch(self) -> float:
        return self().timestamp()


@dataclass(frozen=True)
class Team:
    """One bench channel and the people in its stand-up."""

    channel_id: str
    name: str
    members: tuple[str, ...]


@dataclass
class Replica:
    """One process's worth of pmbot: its own engine, Slack client and scheduler."""

    name: str
    deps: Deps
    scheduler: Scheduler
    futures: list[Future] = field(default_factory=list)
    manual: list[RunResult] = field(default_factory=list)


# --- the workspace and the stand-ups ---------------------------------------------------------------------


def due_moment(today: date) -> datetime:
    """09:30 local on the first Wednesday after `today` that is no public holiday in any bench calendar."""
    day = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
    while any(holiday_name(day, *_calendar(cal)) for _zone, cal in ZONES):
        day += timedelta(days=7)
    hour, minute = map(int, LOCAL_TIME.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(ZONES[0][0])).astimezone(UTC)


def _calendar(code: str) -> tuple[str, str | None]:
    country, _, subdivision = code.partition("-")
    return country, subdivision or None


def populate(sandbox: SlackSandbox, count: int) -> list[Team]:
    """The people and `count` channels, pmbot a member of each, three to five people per channel."""
    people = [f"U0DEV{n:03d}" for n in range(USERS)]
    for n, user in enumerate(people):
        sandbox.add_user(user, f"dev{n:03d}", tz=ZONES[n % len(ZONES)][0])
    teams = []
    for n in range(count):
        size = 3 + n % 3
        members = tuple(people[(n * 7 + k) % USERS] for k in range(size))
        team = Team(f"C0SU{n:05d}", f"standup-{n:05d}", members)
        sandbox.add_channel(team.channel_id, team.name, members={BOT_USER_ID, *members})
        teams.append(team)
    return teams


def setup_line(team: Team, n: int) -> str:
    """What a team lead types after `/standup setup` (Slack completes the channel and the mentions)."""
    zone, calendar = ZONES[n % len(ZONES)]
    people = " ".join(f"<@{u}|dev{u[-3:]}>" for u in team.members)
    holidays = f" holidays={calendar}" if n % 2 == 0 else ""
    return f"<#{team.channel_id}|{team.name}> {LOCAL_TIME} {zone} mon-fri {people}{holidays}"


def set_up_standups(deps: Deps, sandbox: SlackSandbox, teams: list[Team]) -> float:
    """Every stand-up through `service.setup`, with the sandbox's limits off meanwhile; the seconds it took."""
    limits = getattr(sandbox, "limits", None)
    was_on = bool(limits and limits.enabled)
    if limits is not None:
        limits.enabled = False
    started = time.perf_counter()
    try:
        for n, team in enumerate(teams):
            service.setup(deps, team_id=sandbox.team_id, user_id=team.members[0], channel_id=team.channel_id,
                          text=setup_line(team, n))
    finally:
        if limits is not None:
            limits.enabled = was_on
            limits.reset()
    return time.perf_counter() - started


# --- databases and replicas ------------------------------------------------------------------------------


@contextmanager
def database(postgres: str | None) -> Iterator[str]:
    """A fresh database URL: a temporary SQLite file, or a scratch database on the PostgreSQL server."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'standups.db'}"
        return
    server = normalize_database_url(postgres)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"pmbot_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_replica(n: int, url: str, sandbox: SlackSandbox, clock: BenchClock) -> Replica:
    """What `pmbot serve` builds for its scheduler (as `pmbot jobs run` does: no Bolt app), on the shared clock."""
    settings = _Isolated(slack_bot_token=BOT_TOKEN, slack_signing_secret="bench-secret",
                         slack_api_url=sandbox.api_url, database_url=url, pmbot_instance_id=f"bench-{n}")
    deps = build_deps(settings)
    deps.clock = clock
    return Replica(f"replica {n}", deps, Scheduler(deps))


# --- the measured minute ---------------------------------------------------------------------------------


class PostWatch:
    """Counts the day posts in the bench channels as the sandbox stores them (reading only what is new)."""

    def __init__(self, sandbox: SlackSandbox, channels: set[str]):
        self.sandbox = sandbox
        self.channels = channels
        self.per_channel: Counter = Counter()
        with sandbox.lock:
            self._next = len(sandbox.messages)

    def poll(self) -> int:
        """Channels with their day post so far."""
        with self.sandbox.lock:
            new = self.sandbox.messages[self._next:]
            self._next += len(new)
        for message in new:
            if (message["channel"] in self.channels and not message.get("thread_ts")
                    and message.get("text", "").startswith(PARENT_PREFIX)):
                self.per_channel[message["channel"]] += 1
        return len(self.per_channel)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.per_channel.values())


@dataclass
class Measured:
    """What the measured minute produced, as the sandbox and the job runs saw it."""

    posted: int
    duplicates: int
    elapsed: float | None  # seconds from the due minute until the last post was in; None if some never came
    calls: Counter
    limited: dict[str, int] | None
    results: list[tuple[str, RunResult]]


def tick_loop(replica: Replica, stop: threading.Event) -> None:
    """What APScheduler does in `pmbot serve`: `Scheduler.tick` now, then every PMBOT_SCHEDULER_TICK_SECONDS."""
    while not stop.is_set():
        replica.futures.extend(replica.scheduler.tick())
        stop.wait(replica.deps.settings.pmbot_scheduler_tick_seconds)


def run_minute(replicas: list[Replica], sandbox: SlackSandbox, teams: list[Team], clock: BenchClock,
               timeout: float) -> Measured:
    """Start the due minute, let the scheduler(s) work, wait for every post (or the timeout); what happened."""
    watch = PostWatch(sandbox, {t.channel_id for t in teams})
    first_call = len(sandbox.calls)
    stop = threading.Event()
    threads = [threading.Thread(target=tick_loop, args=(r, stop), name=f"tick-{r.name}") for r in replicas]
    threads += [threading.Thread(target=lambda r=r: r.manual.extend(r.scheduler.run_now("standup", clock.due)),
                                 name=f"manual-{r.name}") for r in replicas[1:]]
    clock.start()
    for thread in threads:
        thread.start()
    elapsed = None
    while clock.elapsed() < timeout:
        if watch.poll() >= len(teams):
            elapsed = clock.elapsed()
            break
        time.sleep(POLL_SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    for replica in replicas:
        replica.scheduler.wait_idle(timeout=120)
    watch.poll()  # a post that a second run doubled after the last one counted
    limits = getattr(sandbox, "limits", None)
    with sandbox.lock:
        calls = Counter(c.method for c in sandbox.calls[first_call:])
        limited = dict(limits.limited) if limits is not None else None
    return Measured(len(watch.per_channel), watch.duplicates, elapsed, calls, limited, _results(replicas))


def _results(replicas: list[Replica]) -> list[tuple[str, RunResult]]:
    """The stand-up job's runs on every replica: scheduled (and retried) ones, then manual ones."""
    found = []
    for replica in replicas:
        for future in replica.futures:
            result = future.result()
            if result.job_name == "standup":
                found.append((replica.name, result))
        found += [(f"{replica.name} (manual)", result) for result in replica.manual]
    return found


def recorded_days(deps: Deps, day_count: int) -> tuple[int, int]:
    """(day rows with their post's ts, distinct ts among them): both must equal the stand-up count."""
    with session_scope(deps.engine) as session:
        rows = session.execute(select(func.count(StandupDay.id), func.count(StandupDay.parent_ts.distinct()))
                               .where(StandupDay.parent_ts.is_not(None))).one()
    return int(rows[0]), int(rows[1])


# --- the baseline ----------------------------------------------------------------------------------------


def baseline(sandbox: SlackSandbox, teams: list[Team]) -> tuple[float, int, int, dict[str, int] | None]:
    """N bare chat.postMessage calls, one per channel, one after another, from a plain WebClient (slack_sdk's
    defaults: no 429 retries). (elapsed, posted, failed, 429s per method)."""
    limits = getattr(sandbox, "limits", None)
    if limits is not None:
        limits.reset()  # the same quiet start the stand-up job had
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    posted = failed = 0
    started = time.perf_counter()
    for team in teams:
        try:
            client.chat_postMessage(channel=team.channel_id, text=f"Baseline post for {team.name}")
            posted += 1
        except SlackApiError:
            failed += 1
    elapsed = time.perf_counter() - started
    return elapsed, posted, failed, (dict(limits.limited) if limits is not None else None)


# --- output ----------------------------------------------------------------------------------------------


class LogCount(logging.Handler):
    """Counts the bot's warnings and errors (500 of them would bury the report) and keeps the first few."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.counts: Counter = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] += 1
        if len(self.first) < 5:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()[:160]}")


def _per_method(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "n/a (this sandbox has no rate limits: bot/sandbox/limits.py is not there yet)"
    return ", ".join(f"{m} {n}" for m, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))) or "none"


def report(count: int, measured: Measured, days: tuple[int, int], base: tuple[float, int, int, dict | None],
           logs: LogCount) -> bool:
    """Print the figures; True when the target is met and nothing is doubled or missing."""
    elapsed = f"{measured.elapsed:.2f} s" if measured.elapsed is not None else "not all posted before the timeout"
    print(f"stand-up posts: {measured.posted}/{count} posted, {measured.duplicates} duplicates, elapsed {elapsed} "
          "(from the due minute)")
    print(f"day rows: {days[0]} with a post, {days[1]} distinct post ts")
    print(f"429s received per method: {_per_method(measured.limited)}")
    print(f"Slack calls per method: {_per_method(dict(measured.calls))}")
    for who, result in measured.results:
        print(f"  {who}: slot {result.slot_at:%H:%M:%S} UTC, {result.status}: {result.detail}")
    base_elapsed, base_posted, base_failed, base_limited = base
    print(f"baseline: {base_posted}/{count} bare chat.postMessage calls in {base_elapsed:.2f} s "
          f"({base_elapsed / count * 1000:.2f} ms each), {base_failed} failed; 429s: {_per_method(base_limited)}")
    if measured.elapsed is not None:
        print(f"ratio stand-up job / baseline: {measured.elapsed / base_elapsed:.1f}x")
    print(f"bot log: {dict(logs.counts) or 'no warnings or errors'}")
    for line in logs.first:
        print(f"  {line}")
    ok = (measured.posted == count and measured.duplicates == 0 and days == (count, count)
          and measured.elapsed is not None and measured.elapsed <= TARGET_SECONDS)
    print(f"target (all {count} posted within {TARGET_SECONDS:.0f} s, none twice): {'met' if ok else 'NOT met'}")
    return ok


# --- main ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT} stand-ups instead of {FULL_COUNT}")
    parser.add_argument("--count", type=int, default=None, help="how many stand-ups (overrides --quick)")
    parser.add_argument("--postgres", metavar="URL", default=None,
                        help="a PostgreSQL server URL; a scratch database is created on it and dropped after")
    parser.add_argument("--replicas", type=int, default=1, help="pmbot processes on one database (threads here)")
    parser.add_argument("--no-limits", action="store_true", help="switch the sandbox's rate limits off")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for every post")
    args = parser.parse_args()
    count = args.count or (QUICK_COUNT if args.quick else FULL_COUNT)

    logs = LogCount()
    logging.basicConfig(level=logging.WARNING, handlers=[logs])
    sandbox = SlackSandbox()
    sandbox.start()
    if args.no_limits and hasattr(sandbox, "limits"):
        sandbox.limits.enabled = False
    limits_on = getattr(getattr(sandbox, "limits", None), "enabled", False)
    clock = BenchClock(due_moment(datetime.now(UTC).date()))
    sandbox.ws.clock = clock.epoch
    try:
        with database(args.postgres) as url:
            replicas = [make_replica(n + 1, url, sandbox, clock) for n in range(max(1, args.replicas))]
            upgrade(replicas[0].deps.engine)
            replicas[0].scheduler.ensure_default_schedules()  # as `Scheduler.start` does, before the due minute
            teams = populate(sandbox, count)
            set_up = set_up_standups(replicas[0].deps, sandbox, teams)
            print(f"{count} stand-ups due {LOCAL_TIME} local on {clock.due:%a %Y-%m-%d} ({clock.due:%H:%M} UTC), "
                  f"{len(replicas)} replica(s), {replicas[0].deps.engine.dialect.name}, rate limits "
                  f"{'on' if limits_on else 'off'}; set up in {set_up:.1f} s (not measured)")
            print(f"first tick at the due minute itself (in production it comes within "
                  f"{replicas[0].deps.settings.pmbot_scheduler_tick_seconds:.0f} s of it)")
            measured = run_minute(replicas, sandbox, teams, clock, args.timeout)
            days = recorded_days(replicas[0].deps, count)
            base = baseline(sandbox, teams)
            for replica in replicas:
                replica.scheduler.shutdown(wait=True)
                replica.deps.engine.dispose()
    finally:
        sandbox.stop()
    return 0 if report(count, measured, days, base, logs) else 1


if __name__ == "__main__":
    sys.exit(main())
