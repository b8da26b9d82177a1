"""What every command and job gets: built once in the composition root, passed down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.metrics import Metrics
from bot.registry import CommandSpec
from bot.settings import Settings
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.gateways.jira_gateway import JiraGateway
    from bot.grader import LlmGrader, Narrator, RiskReader
    from bot.jobs.base import JobModule


@dataclass
class Deps:
    settings: Settings
    engine: Engine
    metrics: Metrics
    client: WebClient
    commands: tuple[CommandSpec, ...]
    jobs: dict[str, JobModule]
    # Grades a redacted report with the LLM; None when no LLM is configured.
    llm: LlmGrader | None = None
    # Reads a redacted risk's prose for probability, impact and category; None without an LLM.
    risk_llm: RiskReader | None = None
    # Writes a post-mortem's narrative from redacted facts; None without an LLM.
    narrator: Narrator | None = None
    # Mirrors bugs, risks and incidents to Jira (from the jobs only); None when Jira is not configured.
    jira: JiraGateway | None = None
    # What time it is: the wall clock, or the shell's movable one. Handlers pass it into the domain.
    clock: Callable[[], datetime] = utcnow
    started_at: datetime = field(default_factory=utcnow)
    # Filled in by the scheduler: whether this process currently runs the schedules.
    scheduler_role: str = "off"
