"""Listing and aggregation commands as tables grow 100×: each must stay flat (README, *Performance*).

Run: .venv/bin/python bench/queries.py [--sizes 10000,1000000] [--quick] [--db sqlite,postgresql] [--runs 30]
                                       [--explain]

For each size the rows are generated once and loaded into each database: a temporary SQLite file, and on
PostgreSQL (PMBOT_BENCH_POSTGRES_URL, default the local server's `postgres` database as admin) a scratch database
`pmbot_bench_<size>`, dropped afterwards. The schema comes from the migrations; the rows go in bulk (executemany
on SQLite, COPY on PostgreSQL), then ANALYZE. Each command then runs through its own handler — the grammar, the
storage and service functions, the reply text — with a Request from the asking channel; only Slack is left out.
The two sizes take turns run by run, so the machine's other work weighs on both alike.

The shape: rows spread over 1,000 teams, mixed statuses, grades and dates over two years. The asking team holds
the same slice (2,000 rows of each table) at every size: the table grows 100×, the team's own rows do not, so a
command that reads only what it needs stays flat. The ratio printed is the median at the big size over the
median at the small one; the target is ≤ 2×. `--explain` prints every statement's plan at the big size.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from bot.commands import budget as budget_command
from bot.commands import bug as bug_command
from bot.commands import incident as incident_command
from bot.commands import risk as risk_command
from bot.deps import Deps
from bot.edge import Reply, Request
from bot.metrics import Metrics
from bot.settings import Settings, normalize_database_url
from storage.db import make_engine
from storage.migrate import upgrade

POSTGRES_ENV = "PMBOT_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://pmbot:pmbot@127.0.0.1:5432/postgres"
SCRATCH_DB = "pmbot_bench"

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # mid-month: `/budget status` has a period under way
SPAN_DAYS = 730  # two years of history
TEAMS = 1000
ASK_TEAM = "T0ASK0001"
ASK_CHANNEL = "C0ASK0001"
ASK_USER = "U0ASK0001"
ASK_ROWS = 2000
VARIANTS = 512  # distinct combinations of the columns no query filters on, per table

BUG_TITLES = ("Answers cite a policy that does not exist", "Summary drops the last paragraph",
              "Chat replies take 9 s at peak", "Typo on the settings page", "Tone is curt in German replies",
              "Button label cut off on mobile", "Wrong currency in the invoice answer", "Please add CSV export")
RISK_TITLES = ("Vendor model deprecated before launch", "Training data licence unclear",
               "Eval set leaks into training", "GPU quota may run out in Q1", "Prompt injection through uploads",
               "Key annotator leaves mid-project", "Drift in user questions after the redesign")
INCIDENT_TITLES = ("Assistant shows another customer's order", "Answers in the wrong language",
                   "Latency above 20 s for all users", "Hallucinated refund policy on the help page")
SERVICES = ("Amazon EC2", "Amazon SageMaker", "OpenAI API", "Labelling vendor", "Google Cloud Storage", "")
COST_CATEGORIES = ("compute", "compute", "api", "data", "annotation", "evaluation", "infra", "people")


# --- time as the databases store it -----------------------------------------------------------------------------
# Rows carry times as seconds since ORIGIN (midnight two years before NOW) and are written as the UTC digits both
# databases read: SQLite keeps them as SQLAlchemy would, PostgreSQL parses them in a UTC session. A lookup table
# per day and per second of the day makes this a fraction of what datetime arithmetic and isoformat() cost.

ORIGIN = datetime.combine((NOW - timedelta(days=SPAN_DAYS)).date(), datetime.min.time(), UTC)
NOW_S = int((NOW - ORIGIN).total_seconds())
DAY = 86_400
_DAYS = [(ORIGIN + timedelta(days=d)).date().isoformat() for d in range(SPAN_DAYS + 400)]
_CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000" for s in range(DAY)]


def stamp(seconds: int) -> str:
    """A UTC timestamp column's value."""
    return f"{_DAYS[seconds // DAY]} {_CLOCK[seconds % DAY]}"


def day(seconds: int) -> str:
    """A date column's value."""
    return _DAYS[seconds // DAY]


def slack_ts(seconds: int, salt: int) -> str:
    return f"{int(ORIGIN.timestamp()) + seconds}.{salt % 1_000_000:06d}"


# --- who owns what ------------------------------------------------------------------------------------------------


def team_id(index: int) -> str:
    """Team 0 is the one that asks; the others are its neighbours on the same deployment."""
    return ASK_TEAM if index == 0 else f"T{index:08d}"


TEAM_IDS = [team_id(t) for t in range(TEAMS)]
CHANNELS = [(ASK_CHANNEL, "C0ASK0002", "C0ASK0003") if t == 0 else tuple(f"C{t:07d}{c}" for c in range(3))
            for t in range(TEAMS)]
USERS = [tuple(ASK_USER if t == 0 and u == 0 else f"U{t:06d}{u:02d}" for u in range(40)) for t in range(TEAMS)]


def owners(rng: random.Random, size: int, ask_rows: int) -> list[int]:
    """Which team owns row i of a table of `size` rows: `ask_rows` of them, scattered, belong to the asking
    team; the rest are spread over the other teams. Rows are in time order, so the slice spans two years."""
    owned = rng.choices(range(1, TEAMS), k=size)
    for position in rng.sample(range(size), ask_rows):
        owned[position] = 0
    return owned


def created_seconds(rng: random.Random, size: int) -> list[int]:
    """Creation times of `size` rows, in order, over the two years before NOW."""
    start, span = NOW_S - SPAN_DAYS * DAY, SPAN_DAYS * DAY
    return [start + int((i + rng.random()) * span / size) for i in range(size)]


class Numbers:
    """Per-team counters for the readable ids (B-12, R-3, INC-7), as the id sequence hands them out."""

    def __init__(self) -> None:
        self.last: dict[tuple[int, str], int] = {}

    def next(self, team: int, prefix: str) -> str:
        value = self.last.get((team, prefix), 0) + 1
        self.last[(team, prefix)] = value
        return f"{prefix}-{value}"


def js(value: Any) -> str:
    return json.dumps(value)


# --- the tables ---------------------------------------------------------------------------------------------------
# Each table is (columns, rows): the columns that vary per row (ids, owner, times) come first, then a variant —
# one of VARIANTS pre-built combinations of the columns no command filters or sorts on by themselves.


@dataclass
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)


BUG = ("id", "team_id", "readable_id", "delivery_key", "channel_id", "reporter_id", "assignee_id", "message_channel",
       "message_ts", "created_at", "graded_at", "closed_at", "closed_by", "status",
       "title", "text", "details", "pii", "grade", "auto_grade", "grade_source", "category", "unsure_of", "reasons",
       "confidence", "floor", "resolution")
GRADE_CHANGE = ("id", "team_id", "bug_id", "user_id", "kind", "from_grade", "to_grade", "reason", "created_at")
RISK = ("id", "team_id", "readable_id", "delivery_key", "channel_id", "owner_id", "created_by", "message_channel",
        "message_ts", "created_at", "updated_at", "review_on", "accepted_until",
        "status", "title", "description", "category", "probability", "impact", "response", "mitigation", "trigger",
        "close_reason", "links", "guessed", "intake_step", "intake_question_ts", "intake_reminded", "reminded_on",
        "escalated_on")
INCIDENT = ("id", "team_id", "readable_id", "delivery_key", "origin_channel", "channel_id", "channel_name",
            "runbook_ts", "announcement_channel", "announcement_ts", "declared_by", "commander_id", "scribe_id",
            "declared_at", "acknowledged_at", "first_update_at", "mitigated_at", "resolved_at", "next_update_due",
            "archive_after", "archived", "status", "resolution",
            "title", "grade", "drill", "scenario", "topic_set", "invited", "comms_id", "bug_id", "links", "versions",
            "next_inject")
COST = ("id", "team_id", "budget_id", "day", "user_id", "delivery_key", "created_at",
        "category", "amount", "service", "lines", "note", "import_id")
LLM = ("id", "team_id", "request_id", "created_at", "feature", "model", "prompt_tokens", "completion_tokens",
       "latency_ms")
BUDGET = ("id", "team_id", "channel_id", "post_channel_id", "amount", "currency", "period", "project_start",
          "project_end", "caps", "categories", "report_weekday", "report_hour", "reported_on", "set_by", "updated_at")
SETTINGS = ("team_id", "timezone", "admin_channel_id", "number_format", "updated_by", "updated_at")
SEQUENCE = ("team_id", "prefix", "last_value")


def _bug_variant(rng: random.Random, closed: bool) -> tuple[tuple, str | None]:
    """The bug's own columns, and whether a person confirmed or changed its grade (None: nobody looked)."""
    auto = None if not closed and rng.random() < 0.01 else rng.choices((1, 2, 3, 4, 5), (4, 14, 36, 30, 16))[0]
    review = None if auto is None or rng.random() >= 0.25 else ("change" if rng.random() < 0.3 else "confirm")
    grade = auto
    if review == "change":
        grade = auto + 1 if auto < 5 else auto - 1
    title = rng.choice(BUG_TITLES)
    values = (title, f"{title}. Seen by several users since the last release; steps are in the thread.", js({}),
              js([]), grade, auto, None if auto is None else ("team" if review == "change" else "rules"),
              rng.choice(("wrong_answer", "speed_cost", "display", "tone_language", "feature")), None,
              js(["seeded"] if auto else []), round(rng.random(), 2), 0,
              "fixed in the next release" if closed else None)
    return values, review


def bugs(rng: random.Random, size: int, ask_rows: int, numbers: Numbers) -> tuple[Table, Table]:
    """Bugs, and the grade reviews of a quarter of them. Old reports are mostly closed."""
    table, changes = Table("bug", BUG), Table("bug_grade_change", GRADE_CHANGE)
    kinds = {closed: [_bug_variant(rng, closed) for _ in range(VARIANTS)] for closed in (False, True)}
    start = NOW_S - SPAN_DAYS * DAY
    for i, (team, created, pick) in enumerate(zip(owners(rng, size, ask_rows), created_seconds(rng, size),
                                                  rng.choices(range(VARIANTS), k=size), strict=True)):
        closed = rng.random() < 0.25 + 0.65 * (1 - (created - start) / (SPAN_DAYS * DAY))
        values, review = kinds[closed][pick]
        users, channel = USERS[team], CHANNELS[team][i % 3]
        table.rows.append((
            i + 1, TEAM_IDS[team], numbers.next(team, "B"), f"seed-{i}", channel, users[i % 40],
            users[(i + 7) % 40] if i % 2 else None, channel, slack_ts(created, i), stamp(created),
            stamp(created + 4) if values[5] else None, stamp(min(NOW_S, created + (i % 60 + 1) * DAY)) if closed
            else None, users[(i + 3) % 40] if closed else None, "closed" if closed else "open", *values))
        if review:
            changes.rows.append((len(changes.rows) + 1, TEAM_IDS[team], i + 1, users[(i + 5) % 40], review,
                                 values[5], values[4], "seeded review" if review == "change" else None,
                                 stamp(created + 7200)))
    return table, changes


def _risk_variant(rng: random.Random) -> tuple:
    status = rng.choices(("open", "mitigating", "accepted", "closed"), (40, 20, 10, 30))[0]
    scored = rng.random() > 0.05
    return (status, rng.choice(RISK_TITLES), "Raised in the weekly review.",
            rng.choice(("privacy", "vendor", "data", "safety", "cost", "people")),
            rng.randrange(1, 6) if scored else None, rng.randrange(1, 6) if scored else None,
            rng.choice(("avoid", "mitigate", "transfer", "accept")),
            "Second vendor evaluated." if status == "mitigating" else None, None,
            "no longer applies" if status == "closed" else None, js([]), js([]), None, None, 0, None, None)


def risks(rng: random.Random, size: int, ask_rows: int, numbers: Numbers) -> Table:
    table = Table("risk", RISK)
    variants = [_risk_variant(rng) for _ in range(VARIANTS)]
    for i, (team, created, pick) in enumerate(zip(owners(rng, size, ask_rows), created_seconds(rng, size),
                                                  rng.choices(range(VARIANTS), k=size), strict=True)):
        values, users, channel = variants[pick], USERS[team], CHANNELS[team][i % 3]
        table.rows.append((
            i + 1, TEAM_IDS[team], numbers.next(team, "R"), f"seed-{i}", channel, users[i % 40],
            users[(i + 1) % 40], channel, slack_ts(created, i), stamp(created), stamp(created + 3 * DAY),
            day(created + (14 + i % 100) * DAY), day(created + 180 * DAY) if values[0] == "accepted" else None,
            *values))
    return table


def _incident_variant(rng: random.Random) -> tuple:
    return (rng.choice(INCIDENT_TITLES), rng.choice((1, 2, 2, 3, 3, 3)), int(rng.random() < 0.2), None, 1, 1, None,
            None, js([]), js({}), 0)


def incidents(rng: random.Random, size: int, ask_rows: int, numbers: Numbers) -> Table:
    """Incidents of the last 20 days may still be open; older ones are resolved (and archived after a week)."""
    table = Table("incident", INCIDENT)
    variants = [_incident_variant(rng) for _ in range(VARIANTS)]
    for i, (team, declared, pick) in enumerate(zip(owners(rng, size, ask_rows), created_seconds(rng, size),
                                                   rng.choices(range(VARIANTS), k=size), strict=True)):
        status = ("investigating", "mitigated", "resolved")[i % 3] if NOW_S - declared < 20 * DAY else "resolved"
        resolved, users, readable = status == "resolved", USERS[team], numbers.next(team, "INC")
        table.rows.append((
            i + 1, TEAM_IDS[team], readable, f"seed-{i}", CHANNELS[team][i % 3], f"CW{i:09d}",
            f"inc-{readable.lower()}", slack_ts(declared, i), CHANNELS[team][0], slack_ts(declared, i + 1),
            users[i % 40], users[i % 40], users[(i + 1) % 40], stamp(declared), stamp(declared + 180),
            stamp(declared + 1200), stamp(declared + 7200) if status != "investigating" else None,
            stamp(declared + 18_000) if resolved else None, None if resolved else stamp(NOW_S + 1800),
            stamp(declared + 7 * DAY) if resolved else None, int(resolved and NOW_S - declared > 7 * DAY), status,
            "rolled back" if resolved else None, *variants[pick]))
    return table


def _cost_variant(rng: random.Random) -> tuple:
    amount = Decimal(rng.randrange(-2_000, 500_000)) / 100 + Decimal("0.0000000042")
    return (rng.choice(COST_CATEGORIES), format(amount, "f"), rng.choice(SERVICES), rng.randrange(1, 40), "", None)


def cost_entries(rng: random.Random, size: int, ask_rows: int) -> Table:
    """Cost lines of each team's budget (budget id = team index + 1)."""
    table = Table("cost_entry", COST)
    variants = [_cost_variant(rng) for _ in range(VARIANTS)]
    for i, (team, created, pick) in enumerate(zip(owners(rng, size, ask_rows), created_seconds(rng, size),
                                                  rng.choices(range(VARIANTS), k=size), strict=True)):
        table.rows.append((i + 1, TEAM_IDS[team], team + 1, day(created), USERS[team][i % 40],
                           f"seed-cost-{i}" if i % 3 == 0 else None, stamp(created), *variants[pick]))
    return table


def _llm_variant(rng: random.Random) -> tuple:
    return (rng.choice(("bug.grade", "risk.read", "postmortem")), "gpt-4o-mini", rng.randrange(200, 4000),
            None if rng.random() < 0.02 else rng.randrange(20, 800), rng.randrange(300, 9000))


def llm_usage(rng: random.Random, size: int, ask_rows: int) -> Table:
    table = Table("llm_usage", LLM)
    variants = [_llm_variant(rng) for _ in range(VARIANTS)]
    for i, (team, created, pick) in enumerate(zip(owners(rng, size, ask_rows), created_seconds(rng, size),
                                                  rng.choices(range(VARIANTS), k=size), strict=True)):
        table.rows.append((i + 1, TEAM_IDS[team], f"req_{i:010d}", stamp(created), *variants[pick]))
    return table


def per_team() -> tuple[Table, Table]:
    """Each team's settings and its one budget, in its main channel (the asking team's is its first budget)."""
    start = stamp(NOW_S - SPAN_DAYS * DAY)
    settings = Table("team_settings", SETTINGS, [
        (TEAM_IDS[t], "Europe/Berlin" if t % 3 else "UTC", None, None, USERS[t][0], start) for t in range(TEAMS)])
    budgets = Table("budget", BUDGET, [
        (t + 1, TEAM_IDS[t], CHANNELS[t][0], CHANNELS[t][0], "20000.00", "USD", "quarter" if t % 4 == 3 else "month",
         None, None, js({"compute": "8000"} if t % 2 == 0 else {}), js([]), 0, 9, None, USERS[t][0], start)
        for t in range(TEAMS)])
    return settings, budgets


def generate(size: int, ask_rows: int) -> list[Table]:
    """Every table the five commands read, in foreign-key order."""
    rng, numbers = random.Random(18), Numbers()
    gc.disable()  # millions of fresh tuples: the collector would walk them again and again for nothing
    try:
        settings, budgets = per_team()
        bug_table, changes = bugs(rng, size, ask_rows, numbers)
        tables = [settings, budgets, bug_table, changes, risks(rng, size, ask_rows, numbers),
                  incidents(rng, size, ask_rows, numbers), cost_entries(rng, size, ask_rows),
                  llm_usage(rng, size, ask_rows)]
        tables.append(Table("id_sequence", SEQUENCE, [(TEAM_IDS[team], prefix, value)
                                                      for (team, prefix), value in numbers.last.items()]))
    finally:
        gc.enable()
    return tables


# --- loading it fast ------------------------------------------------------------------------------------------


def load(engine: Engine, table: Table) -> None:
    """All rows of one table in one transaction: executemany on SQLite, COPY on PostgreSQL. The table's plain
    indexes are dropped first and built again from their own definitions afterwards (one sort instead of a
    million random inserts); those behind primary keys and unique constraints stay, and are checked as usual."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        rebuild = _drop_plain_indexes(cursor, engine.dialect.name, table.name)
        if engine.dialect.name == "postgresql":
            _copy(cursor, table)
        else:
            placeholders = ", ".join("?" * len(table.columns))
            cursor.executemany(f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({placeholders})",
                               table.rows)
        for definition in rebuild:
            cursor.execute(definition)
        raw.commit()
    finally:
        raw.close()


def _drop_plain_indexes(cursor, dialect: str, table_name: str) -> list[str]:
    """Drop the table's indexes that back no constraint; their CREATE INDEX statements."""
    if dialect == "postgresql":
        cursor.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                       "WHERE indrelid = %s::regclass AND NOT EXISTS "
                       "(SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)", (table_name,))
    else:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                       "AND sql IS NOT NULL", (table_name,))
    found = cursor.fetchall()
    for name, _definition in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in found]


def _copy(cursor, table: Table) -> None:
    cursor.execute("SET TIME ZONE 'UTC'")  # the timestamps are UTC digits
    with cursor.copy(f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN") as copy:
        for row in table.rows:
            copy.write_row(row)
    if table.columns[0] == "id":  # explicit ids: move the sequence past them, as inserts would have
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), max(id)) FROM {table.name}")


def seed(url: str, tables: list[Table]) -> None:
    """Load with a connection of its own (SQLite: a big cache and no fsync while loading), closed afterwards so
    the timed commands get the application's ordinary connections."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _fast_sqlite_load)
    try:
        for table in tables:
            load(engine, table)
    finally:
        engine.dispose()


def _fast_sqlite_load(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA cache_size=-262144")
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def analyze(engine: Engine) -> None:
    """Planner statistics, as a deployment has them (PostgreSQL's autovacuum also sets the visibility map)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(SQLModel.metadata.tables)}")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        with engine.connect() as conn:  # a live database's WAL is checkpointed; a fresh 2 GB one slows every read
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# --- the databases --------------------------------------------------------------------------------------------


@contextmanager
def sqlite_database(size: int) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix=f"pmbot-bench-{size}-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def postgres_admin() -> str:
    return normalize_database_url(os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES))


def postgres_reachable() -> str | None:
    """None when the server answers; else why not (the bench then runs SQLite only)."""
    try:
        engine = create_engine(postgres_admin(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)


@contextmanager
def postgres_database(size: int) -> Iterator[str]:
    """A scratch database beside the admin URL's (`pmbot_bench_<size>`), dropped afterwards."""
    name = f"{SCRATCH_DB}_{size}"
    admin = create_engine(postgres_admin(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_admin()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


DATABASES = {"sqlite": sqlite_database, "postgresql": postgres_database}


# --- the commands ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A slash command as the asking channel types it, and the module whose handler Bolt would call."""

    text: str
    handler: Callable[[Request, Reply, Deps], None]

    def run(self, deps: Deps) -> str:
        name, _, rest = self.text.partition(" ")
        request = Request(name=name, text=rest, team_id=ASK_TEAM, user_id=ASK_USER, channel_id=ASK_CHANNEL,
                          trigger_id="bench-trigger", response_url="https://hooks.example.com/bench",
                          channel_name="project-bench")
        answer: dict[str, Any] = {}
        self.handler(request, Reply(lambda **body: answer.update(body), None), deps)
        return answer.get("text", "")


COMMANDS = (
    Command("/bug list", bug_command.handle),
    Command("/bug stats", bug_command.handle),
    Command("/risk list", risk_command.handle),
    Command("/budget status", budget_command.handle_budget),
    # There is no `/incident stats`: `/incident list` (and `status` outside a war room, the same query) is
    # what `/incident` lists or counts.
    Command("/incident list", incident_command.handle),
    Command("/incident list all", incident_command.handle),
)


class BenchSettings(Settings):
    """Settings from arguments only: the bench never reads the environment or a .env file."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)


def bench_deps(url: str, engine: Engine) -> Deps:
    """What the handlers need, with a fixed clock and no Slack, LLM or Jira."""
    settings = BenchSettings(database_url=url)
    return Deps(settings=settings, engine=engine, metrics=Metrics(), client=WebClient(), commands=(), jobs={},
                clock=lambda: NOW)


# --- plans ------------------------------------------------------------------------------------------------------


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL (and its parameters, as the driver got them) that runs inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany):
        if not executemany:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def explain(engine: Engine, command: Command, deps: Deps) -> None:
    """Print each SELECT the command runs with the database's plan for it (PostgreSQL: as executed)."""
    explain_run(engine, lambda: command.run(deps))


def explain_run(engine: Engine, run: Callable[[], object]) -> None:
    """Run `run` once and print each SELECT it sent with the database's plan for it (PostgreSQL: as executed)."""
    with recorded_statements(engine) as statements:
        run()
    prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if engine.dialect.name == "postgresql" else \
        "EXPLAIN QUERY PLAN "
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(prefix + statement, parameters)
            plan = [str(row[-1]) for row in cursor.fetchall()]
            print(f"  -- {' '.join(statement.split())[:160]}")
            print("\n".join(f"     {line}" for line in plan))
        raw.rollback()
    finally:
        raw.close()


# --- the run ------------------------------------------------------------------------------------------------------


@dataclass
class Built:
    """One database at one size, loaded and analysed, with the engine the timed commands use."""

    db: str
    size: int
    url: str
    engine: Engine
    deps: Deps


def build(stack: ExitStack, db: str, size: int, tables: list[Table]) -> Built:
    """Migrate, load and ANALYZE a scratch database that lives until `stack` closes."""
    url = stack.enter_context(DATABASES[db](size))
    engine = make_engine(url)
    stack.callback(engine.dispose)
    upgrade(engine)
    engine.dispose()  # the load runs on a connection of its own
    started = time.perf_counter()
    seed(url, tables)
    loaded = time.perf_counter()
    analyze(engine)
    engine.dispose()  # the timed commands start from fresh connections
    total = sum(len(t.rows) for t in tables)
    print(f"loaded {db} at {size:,}: {total:,} rows in {loaded - started:.1f} s ({total / (loaded - started):,.0f} "
          f"rows/s), ANALYZE {time.perf_counter() - loaded:.1f} s", flush=True)
    return Built(db, size, url, engine, bench_deps(url, engine))


def time_interleaved(command: Command, built: list[Built], *, runs: int, warmup: int) -> dict[int, float]:
    """Median ms per size. The sizes take turns run by run, so a neighbour's load on this machine weighs on
    both alike instead of on whichever size happened to be timed while it ran."""
    for one in built:
        assert command.run(one.deps), f"{command.text} gave no answer"
        for _ in range(warmup):
            command.run(one.deps)
    samples: dict[int, list[float]] = {one.size: [] for one in built}
    for _ in range(runs):
        for one in built:
            started = time.perf_counter()
            command.run(one.deps)
            samples[one.size].append((time.perf_counter() - started) * 1000)
    return {size: statistics.median(values) for size, values in samples.items()}


def print_table(medians: dict[tuple[str, str], dict[int, float]], sizes: Sequence[int]) -> None:
    small, big = min(sizes), max(sizes)
    head = f"{'command':<20} {'db':<11} {f'ms @{small:,}':>13} {f'ms @{big:,}':>15} {'ratio':>7}"
    print("\n" + head + "\n" + "-" * len(head))
    worst = 0.0
    for (db, typed), by_size in medians.items():
        ratio = by_size[big] / by_size[small]
        worst = max(worst, ratio)
        flag = "" if ratio <= 2 else "  > 2×"
        print(f"{typed:<20} {db:<11} {by_size[small]:>13.2f} {by_size[big]:>15.2f} {ratio:>6.2f}×{flag}")
    print(f"\nworst ratio {worst:.2f}× (target ≤ 2×)")


def print_plans(built: list[Built]) -> None:
    """Each command's statements and plans, on the biggest database of each kind."""
    for one in built:
        if one.size != max(b.size for b in built if b.db == one.db):
            continue
        for command in COMMANDS:
            print(f"\n[{one.db}, {one.size:,} rows] {command.text} → {command.run(one.deps).splitlines()[0][:100]}")
            explain(one.engine, command, one.deps)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="rows per table, comma-separated (two sizes)")
    parser.add_argument("--quick", action="store_true", help="10^3 and 10^5 rows instead")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print each command's plans at the largest size")
    args = parser.parse_args(argv)
    args.sizes = [1000, 100_000] if args.quick else sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    args.db = [d.strip() for d in args.db.split(",") if d.strip()]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    ask_rows = min(ASK_ROWS, min(args.sizes) // 5)
    print(f"Tables grow {max(args.sizes) // min(args.sizes)}× ({min(args.sizes):,} → {max(args.sizes):,} rows each, "
          f"over {TEAMS:,} teams and two years); the asking team {ASK_TEAM} (channel {ASK_CHANNEL}) holds "
          f"{ask_rows:,} rows of each at every size. Median of {args.runs} runs after {args.warmup} warm-up runs, "
          "the sizes taking turns.")
    if "postgresql" in args.db and (why := postgres_reachable()):
        print(f"PostgreSQL not reachable ({why}); running SQLite only.")
        args.db = [d for d in args.db if d != "postgresql"]
    started = time.perf_counter()
    with ExitStack() as stack:
        built = []
        for size in args.sizes:
            generating = time.perf_counter()
            tables = generate(size, ask_rows)
            print(f"generated {size:,} rows per table in {time.perf_counter() - generating:.1f} s: "
                  + ", ".join(f"{t.name} {len(t.rows):,}" for t in tables), flush=True)
            built += [build(stack, db, size, tables) for db in args.db]
            del tables
        timing = time.perf_counter()
        medians = {(db, command.text): time_interleaved(command, [b for b in built if b.db == db], runs=args.runs,
                                                        warmup=args.warmup)
                   for db in args.db for command in COMMANDS}
        timed = time.perf_counter() - timing
        if args.explain:
            print_plans(built)
    print_table(medians, args.sizes)
    print(f"timing {timed:.0f} s; wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
