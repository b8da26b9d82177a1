"""Fixtures: a fresh database on SQLite and PostgreSQL, the Slack sandbox, and a running bot."""

from __future__ import annotations

import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.app import Runtime, Service, build
from bot.sandbox import Driver, SlackSandbox
from bot.sandbox.server import BOT_TOKEN
from bot.settings import Settings, normalize_database_url
from storage.db import make_engine
from storage.migrate import upgrade
from tests.slack_contract import violations

SIGNING_SECRET = "sandbox-signing-secret"
POSTGRES_ENV = "PMBOT_TEST_POSTGRES_URL"
DATABASES = ["sqlite", "postgresql"]


def postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            raise RuntimeError(f"{POSTGRES_ENV} must be set in CI: every storage test runs on PostgreSQL too")
        return None
    return normalize_database_url(url)


def _admin_engine(url: str) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    admin_url = postgres_admin_url()
    if admin_url is None:
        yield None
        return
    name = f"pmbot_tmpl_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    template_url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(template_url)
    upgrade(engine)
    engine.dispose()
    with admin.connect() as conn:
        # Nobody (autovacuum included) may sit in the template, or cloning it fails now and then.
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
    yield name
    _drop(admin, name)
    admin.dispose()


def _create_from_template(admin: Engine, name: str, template: str) -> None:
    for attempt in range(5):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            return
        except OperationalError as exc:  # "source database is being accessed by other users"
            if "being accessed" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2)


def _drop(admin: Engine, name: str) -> None:
    """Drop a test database; an autovacuum worker still in it (not ours to terminate) is waited out."""
    for _ in range(50):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except (OperationalError, ProgrammingError):
            time.sleep(0.1)
    warnings.warn(f"test database {name} could not be dropped", stacklevel=1)


def _fresh_postgres(template: str | None) -> Iterator[str]:
    if template is None:
        pytest.skip(f"{POSTGRES_ENV} not set (CI sets it; see README)")
    admin_url = postgres_admin_url()
    assert admin_url is not None
    name = f"pmbot_t_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine(admin_url)
    _create_from_template(admin, name, template)
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    _drop(admin, name)
    admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `sqlite_only` exercise logic, not SQL: their PostgreSQL run adds minutes, not coverage (each
    such file keeps a PostgreSQL run of the tests that do touch what differs). Deselected, and counted as such."""
    dropped = [item for item in items if item.get_closest_marker("sqlite_only")
               and getattr(item, "callspec", None) is not None and item.callspec.params.get("db_url") == "postgresql"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path,
           postgres_template: str | None) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a PostgreSQL database cloned from a template."""
    if request.param == "sqlite":
        path = tmp_path / "pmbot.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
    else:
        yield from _fresh_postgres(postgres_template)


@pytest.fixture
def postgres_url(postgres_template: str | None) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, for what only PostgreSQL does (leader election)."""
    yield from _fresh_postgres(postgres_template)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def unchecked_sandbox() -> Iterator[SlackSandbox]:
    """The local Slack, for tests that send it wrong requests on purpose."""
    box = SlackSandbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def sandbox(unchecked_sandbox: SlackSandbox) -> Iterator[SlackSandbox]:
    """The local Slack; when the test ends, every request made to it is checked against Slack's spec."""
    yield unchecked_sandbox
    problems = violations(unchecked_sandbox.calls)
    assert problems == [], "requests that break Slack's contract:\n" + "\n".join(problems)


class IsolatedSettings(Settings):
    """Settings from arguments only: tests never read a developer's environment or .env file."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)


def make_settings(**overrides) -> Settings:
    values = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "pmbot_scheduler_enabled": False,
        "pmbot_instance_id": "test",
        **overrides,
    }
    return IsolatedSettings(**values)


@dataclass
class RunningBot:
    runtime: Runtime
    service: Service
    sandbox: SlackSandbox
    driver: Driver

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service.http.port}"


@pytest.fixture
def bot_factory(db_url: str, sandbox: SlackSandbox) -> Iterator[Callable[..., RunningBot]]:
    """Start the real bot with settings of the test's choosing (one per test)."""
    started: list[RunningBot] = []

    def start(**overrides) -> RunningBot:
        settings = make_settings(slack_api_url=sandbox.api_url, database_url=db_url, **overrides)
        runtime = build(settings)
        service = Service(runtime, host="127.0.0.1", port=0)
        service.start()
        driver = Driver(f"http://127.0.0.1:{service.http.port}/slack/events", SIGNING_SECRET, sandbox)
        started.append(RunningBot(runtime, service, sandbox, driver))
        return started[-1]

    yield start
    for running in started:
        running.service.stop()


@pytest.fixture
def bot(bot_factory: Callable[..., RunningBot]) -> RunningBot:
    """The real bot: cheroot HTTP server, Bolt, slack_sdk → sandbox, on a fresh database."""
    return bot_factory()
