"""What every command and job gets: built once in the composition root, passed down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from bot.gateways.slack_port import SlackPort
from bot.metrics import Metrics
from bot.mirror.plugins import MirrorPlugins
from bot.registry import CommandSpec
from bot.settings import Settings
from storage.clock import Clock, system_clock

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.gateways.jira_gateway import JiraGateway
    from bot.gateways.paging import Pager
    from bot.grader import LlmGrader, Narrator, RiskReader
    from bot.jobs.base import JobModule
    from bot.work import WorkQueue


@dataclass
class Deps:
    settings: Settings
    engine: Engine
    metrics: Metrics
    # The raw slack_sdk client: Bolt's (App(client=…)), and the one `slack` is built over. Services ask `slack`.
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
    # What time it is: the one clock of bot code (the real one, or the shell's movable one). Everything
    # that needs "now" reads it here and passes it down (into the domain and into stored rows).
    clock: Clock = system_clock
    started_at: datetime = field(init=False)
    # Filled in by the scheduler: whether this process currently runs the schedules.
    scheduler_role: str = "off"
    # Runs what requests leave for after their ack (set by the composition root; None in the CLI and jobs).
    work: WorkQueue | None = None
    # Names for Slack ids (`U0BOB` → `bob`), for files, CSV, Jira and charts; ids stay ids until set.
    names: Callable[[str], str | None] = field(default=lambda _id: None)
    # What the Jira mirror knows of each kind it mirrors (bugs, risks, incidents), registered by the
    # composition root: the mirror imports no feature.
    mirror: MirrorPlugins = field(default_factory=MirrorPlugins)
    # What pmbot asks of Slack, by name (bot.gateways.slack_port): built over `client` unless given (a test's fake).
    slack: SlackPort = field(default=None)  # type: ignore[assignment]
    # Pages the on-call for serious incidents (PagerDuty or Opsgenie); None when paging is not configured.
    pager: Pager | None = None
    # Writes a stakeholder digest's summary from its redacted figures; None without an LLM (a template writes it).
    digest_narrator: Narrator | None = None

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        if self.slack is None:
            self.slack = SlackPort(self.client)
