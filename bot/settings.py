"""The one settings object: environment variables (and a `.env` file), validated once at start-up."""

from __future__ import annotations

import logging
import os
import re
import socket
from decimal import Decimal, InvalidOperation
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///pmbot.db"


class ConfigError(Exception):
    """A setting is wrong; the message is one line a person can act on."""


def _http_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def normalize_database_url(url: str) -> str:
    """Accept the `postgres://` / `postgresql://` forms hosting providers hand out; use psycopg 3."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    if url.startswith("postgresql+"):
        raise ValueError("DATABASE_URL: only the psycopg 3 driver is installed; use postgresql://…")
    raise ValueError("DATABASE_URL must start with sqlite:// or postgresql://")


class Settings(BaseSettings):
    """Every knob pmbot has. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL

    # Storage
    database_url: str = DEFAULT_DATABASE_URL

    # LLM
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    pmbot_llm_model: str = "gpt-4o-mini"
    pmbot_llm_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 20.0

    # Jira
    jira_url: str | None = None
    jira_user: str | None = None
    jira_api_token: SecretStr | None = None
    jira_project: str | None = None
    # What our items become in Jira, by id (names differ per instance and language). Left empty, they are
    # chosen by name from the project's create metadata (Bug, Risk or Task, Incident or Bug; Highest … Lowest);
    # ids given here win: issue types "bug=10004; risk=10005; incident=10006"; priorities per bug/incident
    # grade and risk band "1=1; 2=2; 3=3; 4=4; 5=5; critical=1; high=2; medium=3; low=4"; components "bug=10100".
    jira_issue_types: str = ""
    jira_priorities: str = ""
    jira_components: str = ""
    # Workflow transitions by name, first one the issue offers wins ("Done" / "Reopen, To Do").
    jira_transition_close: str = "Done"
    jira_transition_reopen: str = "Reopen, To Do"
    jira_max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    # An issue deleted in Jira unlinks its item. Off: the item waits to be linked again (`/bug link`); on: its
    # next change here creates a fresh issue.
    jira_recreate_deleted: bool = False
    jira_webhook_secret: SecretStr | None = None
    # Where the bot tells admins that something needs a person (Jira deliveries that gave up).
    pmbot_admin_channel: str | None = None

    # MLflow (`pmbot quality pull mlflow`): the tracking server and its credentials, read as MLflow's own
    # clients read them: a bearer token, or a user name and password (basic auth, which wins when both are set).
    mlflow_tracking_uri: str | None = None
    mlflow_tracking_token: SecretStr | None = None
    mlflow_tracking_username: str | None = None
    mlflow_tracking_password: SecretStr | None = None

    # Paging (incidents of PMBOT_PAGING_GRADES page the on-call): PagerDuty's Events API v2 with a service's
    # integration (routing) key, or Opsgenie's Alert API with an API integration's key (EU accounts use
    # https://api.eu.opsgenie.com). The URLs change only for a stand-in. Opsgenie responders, optional (the
    # integration's own routing applies without them): "team:SRE; escalation:AI on-call; schedule:Primary;
    # user:ana@example.com".
    pmbot_pagerduty_routing_key: SecretStr | None = None
    pmbot_pagerduty_url: str = "https://events.pagerduty.com"
    pmbot_opsgenie_api_key: SecretStr | None = None
    pmbot_opsgenie_api_url: str = "https://api.opsgenie.com"
    pmbot_opsgenie_responders: str = ""
    pmbot_paging_grades: str = "1"
    # pagerduty | opsgenie; unset, nobody is paged. Declared after the keys: its check reads them.
    pmbot_paging_provider: str | None = None

    # Behaviour
    pmbot_escalation_channel: str | None = None
    pmbot_timezone: str = "UTC"
    # Risk reviews: the team-local hour the daily reminders go out, and after how many overdue days the
    # risk's channel hears about it too.
    pmbot_risk_review_hour: Annotated[int, Field(ge=0, le=23)] = 9
    pmbot_risk_escalate_after_days: Annotated[int, Field(ge=1, le=365)] = 3
    # Incidents: where they are announced; who is invited per grade ("1=S0ONCALL U0BOB; 2=S0ONCALL; *=U0LEAD",
    # user or user-group ids); legal/compliance contacts invited to grade 1; the timeline reaction; how long a
    # resolved war room stays open before it is archived.
    pmbot_incident_channel: str | None = None
    pmbot_incident_responders: str = ""
    pmbot_legal_contacts: str = ""
    pmbot_timeline_emoji: str = "pushpin"
    pmbot_incident_archive_after_hours: Annotated[float, Field(ge=0, le=24 * 365)] = 72.0
    # A drill nobody acts in (no step ticked, no note, no update) ends by itself after this many minutes.
    pmbot_drill_unattended_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 60
    # Budgets: who may set them (user ids; a user group can be added with /budget admins), and what the bot's
    # own LLM calls cost per 1K tokens: "gpt-4o-mini=0.00015/0.0006; gpt-4o=0.0025/0.01" (input/output).
    pmbot_budget_admins: str = ""
    pmbot_llm_prices: str = "gpt-4o-mini=0.00015/0.0006"
    pmbot_log_level: str = "INFO"
    # Threads for work after the ack: listeners once they have acked, and the work queue (each gets this many).
    pmbot_worker_threads: Annotated[int, Field(ge=1, le=64)] = 8
    # How often each process looks for queued work nobody runs (new, retried, or left by a process that died).
    pmbot_work_poll_seconds: Annotated[float, Field(gt=0, le=600)] = 2.0
    pmbot_http_threads: Annotated[int, Field(ge=1, le=128)] = 16
    pmbot_scheduler_enabled: bool = True
    pmbot_scheduler_tick_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    pmbot_misfire_grace_seconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 900
    pmbot_drain_seconds: Annotated[float, Field(ge=0, le=600)] = 25.0
    pmbot_instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")

    @field_validator("pmbot_incident_responders")
    @classmethod
    def _responders(cls, value: str) -> str:
        responders_by_grade(value)  # raises with a message naming the bad part
        return value

    @field_validator("jira_issue_types", "jira_components")
    @classmethod
    def _jira_kinds(cls, value: str, info) -> str:
        jira_ids(value, info.field_name.upper(), keys=JIRA_KINDS)
        return value

    @field_validator("jira_priorities")
    @classmethod
    def _jira_priorities(cls, value: str) -> str:
        jira_ids(value, "JIRA_PRIORITIES", keys=JIRA_PRIORITY_KEYS)
        return value

    @field_validator("jira_project")
    @classmethod
    def _jira_project(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,49}|\d+", value.strip()):
            raise ValueError(f"JIRA_PROJECT should be a project key such as PM or AIPLAT, got {value!r}")
        return value.strip()

    @field_validator("pmbot_llm_prices")
    @classmethod
    def _prices(cls, value: str) -> str:
        llm_prices(value)  # raises with a message naming the bad part
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        _http_url(value, "SLACK_API_URL")
        # slack_sdk joins method names with urljoin: without the trailing slash the path is dropped.
        return value if value.endswith("/") else value + "/"

    @field_validator("openai_base_url", "jira_url")
    @classmethod
    def _optional_url(cls, value: str | None, info) -> str | None:
        if value in (None, ""):
            return None
        return _http_url(value, info.field_name.upper())

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _mlflow_tracking_uri(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        # MLflow also takes file paths and `databricks`; pmbot reads a tracking server over its REST API only.
        # The value is not echoed: it may hold credentials (http://user:password@host).
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("MLFLOW_TRACKING_URI must be the http(s) URL of an MLflow tracking server, e.g. "
                             "http://mlflow.example.com:5000 (file paths and databricks are not read)")
        return value.strip().rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("pmbot_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"PMBOT_TIMEZONE: unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("pmbot_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("PMBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator("pmbot_pagerduty_url", "pmbot_opsgenie_api_url")
    @classmethod
    def _paging_url(cls, value: str, info) -> str:
        return _http_url(value.strip(), info.field_name.upper()).rstrip("/")

    @field_validator("pmbot_paging_grades")
    @classmethod
    def _paging_grades(cls, value: str) -> str:
        paging_grades(value)  # raises with a message naming the bad part
        return value

    @field_validator("pmbot_opsgenie_responders")
    @classmethod
    def _opsgenie_responders(cls, value: str) -> str:
        opsgenie_responders(value)
        return value

    @field_validator("pmbot_paging_provider")
    @classmethod
    def _paging_provider(cls, value: str | None, info) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().lower()
        key = {"pagerduty": "pmbot_pagerduty_routing_key", "opsgenie": "pmbot_opsgenie_api_key"}.get(value)
        if key is None:
            raise ValueError(f"PMBOT_PAGING_PROVIDER must be pagerduty or opsgenie (or unset), got {value[:30]!r}")
        if info.data.get(key) is None:
            raise ValueError(f"PMBOT_PAGING_PROVIDER is {value}, but {key.upper()} is not set")
        return value

    # What is configured, in words people read in logs, /pmbot status and doctor.
    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None

    @property
    def jira_configured(self) -> bool:
        return bool(self.jira_url and self.jira_api_token and self.jira_project)

    @property
    def paging_configured(self) -> bool:
        return self.pmbot_paging_provider is not None

    def missing_integrations(self) -> list[str]:
        """One sentence per optional integration that is off, for the start-up log."""
        missing = []
        if not self.llm_configured:
            missing.append("LLM grading is off (OPENAI_API_KEY unset): the offline grader grades bugs.")
        if not self.jira_configured:
            missing.append("Jira mirroring is off (JIRA_URL, JIRA_API_TOKEN and JIRA_PROJECT not all set).")
        return missing

    def database_label(self) -> str:
        """The database URL with any password hidden."""
        parts = urlsplit(self.database_url)
        if parts.password:
            netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.database_url


def load_settings(**overrides) -> Settings:
    """Build Settings or raise ConfigError with one readable line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        message = first.get("msg", "invalid value").removeprefix("Value error, ")
        env_name = field.upper()
        if message.startswith(env_name):
            raise ConfigError(message) from None
        raise ConfigError(f"{env_name}: {message}") from None


def responders_by_grade(value: str) -> dict[str, list[str]]:
    """`1=S0ONCALL U0BOB; 2=S0ONCALL; *=U0LEAD` → {"1": [...], "2": [...], "*": [...]}."""
    found: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        grade, sep, people = part.partition("=")
        grade = grade.strip()
        ids = people.replace(",", " ").split()
        if not sep or grade not in ("1", "2", "3", "*") or not ids or not all(
                re.fullmatch(r"[USW][A-Z0-9]{2,}", i) for i in ids):
            raise ValueError(f"PMBOT_INCIDENT_RESPONDERS: {part!r} should look like 1=S0ONCALL U0BOB "
                             "(grade 1, 2, 3 or *, then user or user-group ids)")
        found[grade] = ids
    return found


JIRA_KINDS = ("bug", "risk", "incident", "incident_action")
JIRA_PRIORITY_KEYS = ("1", "2", "3", "4", "5", "critical", "high", "medium", "low")


def jira_ids(value: str, name: str, *, keys: tuple[str, ...]) -> dict[str, str]:
    """`bug=10004; risk=10005` → {"bug": "10004", …}; ids are Jira's numeric ids."""
    found: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        key, sep, ident = (x.strip() for x in part.partition("="))
        if not sep or key.lower() not in keys or not ident.isdigit():
            raise ValueError(f"{name}: {part!r} should look like {keys[0]}=10004 "
                             f"(one of {', '.join(keys)}, then the numeric id Jira shows for it)")
        found[key.lower()] = ident
    return found


def jira_transition_names(value: str) -> list[str]:
    """`Reopen, To Do` → ["Reopen", "To Do"]."""
    return [name.strip() for name in value.split(",") if name.strip()]


def llm_prices(value: str) -> dict[str, tuple[Decimal, Decimal]]:
    """`gpt-4o-mini=0.00015/0.0006; …` → {model: (per 1K input tokens, per 1K output tokens)}."""
    prices: dict[str, tuple[Decimal, Decimal]] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        model, sep, pair = part.partition("=")
        given, slash, taken = pair.partition("/")
        try:
            if not (sep and slash and model.strip()):
                raise InvalidOperation
            prices[model.strip()] = (Decimal(given.strip()), Decimal(taken.strip()))
        except InvalidOperation:
            raise ValueError(f"PMBOT_LLM_PRICES: {part!r} should look like gpt-4o-mini=0.00015/0.0006 "
                             "(price per 1K input/output tokens)") from None
    return prices


PAGING_GRADES = ("1", "2", "3")
RESPONDER_TYPES = ("team", "escalation", "schedule", "user")


def paging_grades(value: str) -> frozenset[int]:
    """`1` or `1,2` → the incident grades that page the on-call."""
    parts = value.replace(",", " ").split()
    if not parts or any(p not in PAGING_GRADES for p in parts):
        raise ValueError(f"PMBOT_PAGING_GRADES: {value!r} should list incident grades, e.g. 1 or 1,2")
    return frozenset(int(p) for p in parts)


def opsgenie_responders(value: str) -> list[dict[str, str]]:
    """`team:SRE; user:ana@example.com` → Opsgenie's responders (teams, escalations, schedules by name; users by
    user name)."""
    found: list[dict[str, str]] = []
    for part in filter(None, (p.strip() for p in value.split(";"))):
        kind, sep, name = (x.strip() for x in part.partition(":"))
        if not sep or kind.lower() not in RESPONDER_TYPES or not name:
            raise ValueError(f"PMBOT_OPSGENIE_RESPONDERS: {part!r} should look like team:SRE (one of "
                             f"{', '.join(RESPONDER_TYPES)}, a colon, then its name)")
        found.append({"type": kind.lower(), "username" if kind.lower() == "user" else "name": name})
    return found
