"""The App Home dashboard's build time with 10^5 bugs in one team, next to two baselines measured in the same run.

Run: .venv/bin/python bench/home.py [--bugs 100000] [--runs 50] [--db sqlite,postgresql] [--explain]

One team holds `--bugs` bugs (a quarter open, grades 1–5, some ungraded, spread over 40 reporters and two years),
2,000 risks (a tenth without an owner), 300 incidents (a few active), twelve budgets with a month of costs (the heavy
person is in eight of their channels), `--llm-calls` of pmbot's own LLM calls this month (counted in the first
budget) and one stand-up. The database is a
temporary SQLite file and, when PMBOT_TEST_POSTGRES_URL (or PMBOT_BENCH_POSTGRES_URL) names a PostgreSQL server, a
scratch database on it (`pmbot_bench_home`, dropped afterwards); the schema comes from the migrations, then ANALYZE.

Timed, each `--runs` times (after a warm-up), in turns so the machine's other work weighs on all alike:
- `static home`: the old Home (the command list), built without a database: the floor;
- `one COUNT`: the team's open bugs counted from the index: one indexed read;
- `dashboard …`: `bot.home_dashboard.dashboard_view` for three people: one with thousands of open bugs, risks due,
  incidents and the stand-up; one with a few; one with none. Slack is a stand-in answering at once: the workspace
  URL and each channel's members are kept five minutes, so after the warm-up no build asks it (a cold build asks
  auth.test once and conversations.members once per budget channel and active war room: Slack's time, not ours);
- `budget snapshot …`: the first budget's figures (`bot.budgets.service.snapshot`, which prices pmbot's own LLM
  calls of the month) with `--llm-calls` calls and with 1% of them.
`--explain` prints the plan of every statement one dashboard build runs (PostgreSQL: as executed).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from _harness import percentiles, print_machine, print_row
from queries import analyze, bench_deps, explain_run
from slack_sdk import WebClient
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from bot.budgets import service as budget_service
from bot.deps import Deps
from bot.gateways.slack_port import SlackPort
from bot.home import home_view
from bot.home_dashboard import dashboard_view
from bot.registry import CommandSpec
from bot.settings import normalize_database_url
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Budget, Bug, CostEntry, Incident, LlmUsage, Risk, Standup, StandupDay

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # a Friday afternoon, mid-month
TEAM = "T0HOME0001"
SMALL_TEAM = "T0HOME0002"  # the same shape with 1,000 bugs: the dashboard's time should not depend on the count
SMALL_BUGS = 1000
CHANNELS = [f"C0HOME{n:04d}" for n in range(1, 21)]
REPORTERS = [f"U0REP{n:04d}" for n in range(1, 41)]
HEAVY, LIGHT, EMPTY = REPORTERS[0], "U0LIGHT001", "U0NOBODY01"
BUDGETS = 12
HEAVY_CHANNELS = set(CHANNELS[:BUDGETS:3]) | set(CHANNELS[1:BUDGETS:3])  # 8 of the 12 budget channels
SCRATCH_DB = "pmbot_bench_home"
POSTGRES_ENVS = ("PMBOT_BENCH_POSTGRES_URL", "PMBOT_TEST_POSTGRES_URL")
TITLES = ("Answers cite a policy that does not exist", "Summary drops the last paragraph",
          "Chat replies take 9 s at peak", "Typo on the settings page", "Tone is curt in German replies")


# --- the rows ---------------------------------------------------------------------------------------------------


def _bugs(rng: random.Random, team: str, count: int) -> Iterator[dict]:
    for n in range(1, count + 1):
        created = NOW - timedelta(seconds=rng.randrange(730 * 86400))
        is_open = rng.random() < 0.25
        reporter = HEAVY if n % 10 == 0 else rng.choice(REPORTERS)
        assignee = HEAVY if n % 37 == 0 else (rng.choice(REPORTERS) if rng.random() < 0.4 else None)
        channel = rng.choice(CHANNELS)
        yield {"team_id": team, "readable_id": f"B-{n}", "delivery_key": f"bench-bug-{n}", "channel_id": channel,
               "reporter_id": reporter, "title": rng.choice(TITLES), "text": "redacted text", "details": {},
               "pii": [], "status": "open" if is_open else "closed",
               "grade": None if rng.random() < 0.03 else rng.choice((1, 2, 3, 3, 4, 4, 4, 5)),
               "reasons": [], "floor": False, "assignee_id": assignee, "message_channel": channel,
               "message_ts": f"{created.timestamp():.6f}", "created_at": created,
               "closed_at": None if is_open else created + timedelta(days=3)}
    # The light user: three open bugs.
    for n in range(3):
        yield {"team_id": team, "readable_id": f"B-L{n}", "delivery_key": f"bench-light-{n}", "channel_id": CHANNELS[0],
               "reporter_id": LIGHT, "title": TITLES[n], "text": "redacted text", "details": {}, "pii": [],
               "status": "open", "grade": n + 2, "reasons": [], "floor": False, "assignee_id": None,
               "message_channel": CHANNELS[0], "message_ts": f"{NOW.timestamp() - n:.6f}",
               "created_at": NOW - timedelta(days=n), "closed_at": None}


def _risks(rng: random.Random, team: str, count: int) -> Iterator[dict]:
    today = NOW.date()
    for n in range(1, count + 1):
        owner = HEAVY if n % 50 == 0 else rng.choice(REPORTERS)
        author = owner
        if n % 10 == 5:  # nobody owns it: its author is asked to review it
            owner, author = None, HEAVY if n % 20 == 5 else rng.choice(REPORTERS)
        yield {"team_id": team, "readable_id": f"R-{n}", "delivery_key": f"bench-risk-{n}",
               "channel_id": rng.choice(CHANNELS), "title": "Vendor model deprecated before launch",
               "probability": rng.randint(1, 5), "impact": rng.randint(1, 5), "owner_id": owner,
               "review_on": today + timedelta(days=rng.randint(-30, 90)),
               "status": rng.choice(("open", "open", "mitigating", "accepted", "closed")), "links": [],
               "guessed": [], "created_by": author, "created_at": NOW - timedelta(days=rng.randint(1, 400)),
               "updated_at": NOW, "intake_reminded": False}


def _incidents(rng: random.Random, team: str, count: int) -> Iterator[dict]:
    for n in range(1, count + 1):
        active = n > count - 6
        commander = HEAVY if n % 3 == 0 else rng.choice(REPORTERS)
        declared = NOW - timedelta(hours=rng.randint(1, 9000))
        yield {"team_id": team, "readable_id": f"INC-{n}", "delivery_key": f"bench-inc-{n}",
               "title": "Answers in the wrong language", "grade": rng.randint(1, 3),
               "status": rng.choice(("investigating", "mitigated")) if active else "resolved", "drill": False,
               "origin_channel": rng.choice(CHANNELS), "channel_id": f"C0WAR{n:05d}", "topic_set": True,
               "invited": True, "declared_by": commander, "commander_id": commander, "links": [], "versions": {},
               "declared_at": declared, "archived": False, "next_inject": 0}


def _llm_calls(rng: random.Random, team: str, count: int) -> Iterator[dict]:
    start = datetime(NOW.year, NOW.month, 1, tzinfo=UTC)
    for _ in range(count):
        yield {"team_id": team, "feature": "grading", "model": "gpt-4o-mini",  # priced by default
               "prompt_tokens": rng.randint(300, 3000), "completion_tokens": rng.randint(20, 400),
               "latency_ms": rng.randint(300, 4000), "created_at": start + (NOW - start) * rng.random()}


def seed(engine: Engine, team: str, bugs: int, llm_calls: int) -> None:
    rng = random.Random(23)
    with engine.begin() as conn:
        for table, rows in ((Bug.__table__, _bugs(rng, team, bugs)), (Risk.__table__, _risks(rng, team, 2000)),
                            (Incident.__table__, _incidents(rng, team, 300)),
                            (LlmUsage.__table__, _llm_calls(rng, team, llm_calls))):
            batch: list[dict] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 5000:
                    conn.execute(insert(table), batch)
                    batch = []
            if batch:
                conn.execute(insert(table), batch)
        for n, channel in enumerate(CHANNELS[:BUDGETS]):
            budget_id = conn.execute(insert(Budget.__table__).values(
                team_id=team, channel_id=channel, post_channel_id=channel, amount=Decimal(5000 + 1000 * n),
                currency="USD", period="month", caps={}, categories=[], report_weekday=0, report_hour=9,
                set_by=HEAVY, updated_at=NOW)).inserted_primary_key[0]
            conn.execute(insert(CostEntry.__table__), [
                {"team_id": team, "budget_id": budget_id, "day": date(2026, 11, d), "category": "compute",
                 "amount": Decimal("123.45"), "service": "", "lines": 1, "note": "", "user_id": HEAVY,
                 "created_at": NOW} for d in range(1, 21)])
        standup_id = conn.execute(insert(Standup.__table__).values(
            team_id=team, channel_id=CHANNELS[0], members=[HEAVY, LIGHT], time="09:30", timezone="UTC",
            workdays=[0, 1, 2, 3, 4], questions=["Yesterday?", "Today?", "Blockers?"], reminder_minutes=60,
            summary_minutes=240, digest=False, created_by=HEAVY, created_at=NOW, mode="thread")).inserted_primary_key[0]
        conn.execute(insert(StandupDay.__table__).values(standup_id=standup_id, day=NOW.date(), kind="standup",
                                                         parent_ts=f"{NOW.timestamp():.6f}", posted_at=NOW,
                                                         reminded=False, summarised=False))


# --- the databases ----------------------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory(prefix="pmbot-bench-home-") as folder:
        yield f"sqlite:///{Path(folder) / 'home.db'}"


def postgres_admin() -> str | None:
    for name in POSTGRES_ENVS:
        if os.environ.get(name):
            return normalize_database_url(os.environ[name])
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    admin_url = postgres_admin()
    assert admin_url is not None
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{SCRATCH_DB}"'))
    try:
        yield make_url(admin_url).set(database=SCRATCH_DB).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
        admin.dispose()


DATABASES = {"sqlite": sqlite_database, "postgresql": postgres_database}


class StandInSlack(SlackPort):
    """Slack's two answers the dashboard asks for, at once: the workspace URL and a channel's members (the heavy
    person in eight of the budget channels and in every war room; the light one in the first channel)."""

    def __init__(self) -> None:
        super().__init__(WebClient())
        self.asked = 0

    def identity(self) -> dict[str, str]:
        self.asked += 1
        return {"user_id": "U0PMBOT", "user": "pmbot", "team": "Bench", "url": "https://bench.slack.com/"}

    def channel_members(self, channel: str, cursor: str | None = None) -> dict:
        self.asked += 1
        members = {LIGHT} if channel == CHANNELS[0] else set()
        if channel in HEAVY_CHANNELS or channel.startswith("C0WAR"):
            members.add(HEAVY)
        return {"members": sorted(members), "response_metadata": {"next_cursor": ""}}


# --- the measurements -------------------------------------------------------------------------------------------


def cases(deps: Deps, bugs: int, llm_calls: int) -> dict[str, Callable[[], object]]:
    with deps.engine.connect() as conn:
        first = {team: Budget(**conn.execute(select(Budget.__table__).where(Budget.team_id == team)
                                             .order_by(Budget.id).limit(1)).mappings().one())
                 for team in (TEAM, SMALL_TEAM)}

    def one_count() -> int:
        with deps.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Bug).where(Bug.team_id == TEAM,
                                                                           Bug.status == "open")).scalar_one()

    return {
        "static home": lambda: home_view(deps),
        "one COUNT": one_count,
        f"dashboard heavy, {SMALL_BUGS:,} bugs": lambda: dashboard_view(deps, team_id=SMALL_TEAM, user_id=HEAVY),
        f"dashboard heavy, {bugs:,} bugs": lambda: dashboard_view(deps, team_id=TEAM, user_id=HEAVY),
        f"dashboard light, {bugs:,} bugs": lambda: dashboard_view(deps, team_id=TEAM, user_id=LIGHT),
        f"dashboard empty, {bugs:,} bugs": lambda: dashboard_view(deps, team_id=TEAM, user_id=EMPTY),
        f"budget snapshot, {llm_calls:,} LLM calls": lambda: budget_service.snapshot(deps, first[TEAM], NOW.date()),
        f"budget snapshot, {llm_calls // 100:,} LLM calls": lambda: budget_service.snapshot(
            deps, first[SMALL_TEAM], NOW.date()),
    }


def timed(work: dict[str, Callable[[], object]], runs: int, warmup: int = 3) -> dict[str, list[float]]:
    for _ in range(warmup):
        for run in work.values():
            run()
    seconds: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(runs):
        for name, run in work.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def explain(deps: Deps) -> None:
    explain_run(deps.engine, lambda: dashboard_view(deps, team_id=TEAM, user_id=HEAVY))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bugs", type=int, default=100_000, help="bugs in the team (default 10^5)")
    parser.add_argument("--runs", type=int, default=50, help="timed builds of each case")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--llm-calls", type=int, default=20_000, help="pmbot's LLM calls this month in the team")
    parser.add_argument("--explain", action="store_true", help="print the plan of each dashboard statement")
    return parser.parse_args(argv)


def seeded_databases(names: str, bugs: int, llm_calls: int) -> Iterator[tuple[str, str, Engine]]:
    """Each database named in `names` ("sqlite,postgresql"), made for this run, migrated, seeded with the big and
    the small team and analysed: (name, url, engine). One that cannot be had is skipped with a note."""
    wanted = [db for db in names.split(",") if db]
    if "postgresql" in wanted and postgres_admin() is None:
        print(f"(PostgreSQL skipped: set {' or '.join(POSTGRES_ENVS)})", file=sys.stderr)
        wanted.remove("postgresql")
    for db in wanted:
        with ExitStack() as stack:
            try:
                url = stack.enter_context(DATABASES[db]())
            except OperationalError as exc:
                print(f"({db} skipped: {exc.orig})", file=sys.stderr)
                continue
            engine = make_engine(url)
            stack.callback(engine.dispose)
            upgrade(engine)
            loading = time.perf_counter()
            seed(engine, TEAM, bugs, llm_calls)
            seed(engine, SMALL_TEAM, SMALL_BUGS, llm_calls // 100)
            analyze(engine)
            print(f"{db}: seeded and analysed in {time.perf_counter() - loading:.1f} s")
            yield db, url, engine


def print_timings(work: dict[str, Callable[[], object]], runs: int, width: int) -> None:
    """Time each case (`timed`) and print its median, p95 and max in ms."""
    for name, samples in timed(work, runs).items():
        figures = percentiles([s * 1000 for s in samples], (50, 95))
        print_row(f"  {name}", statistics.median(samples) * 1000, figures["p95"], figures["max"],
                  widths=(width, 11, 11, 11))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print_machine(f"App Home build time, {args.bugs:,} bugs in one team, {args.runs} runs each")
    print_row("", "median ms", "p95 ms", "max ms", widths=(36, 11, 11, 11))
    for _db, url, engine in seeded_databases(args.db, args.bugs, args.llm_calls):
        deps = bench_deps(url, engine)
        deps.clock = lambda: NOW
        deps.slack = slack = StandInSlack()
        deps.commands = tuple(CommandSpec(name=n, summary="…")
                              for n in ("/pmbot", "/bug", "/risk", "/incident", "/budget", "/standup"))
        print_timings(cases(deps, args.bugs, args.llm_calls), args.runs, 36)
        print(f"  (Slack stand-in asked {slack.asked} times in all: the first builds', then kept)")
        if args.explain:
            explain(deps)


if __name__ == "__main__":
    main()
