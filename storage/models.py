"""Every table pmbot stores, in one module. Each row carries the Slack `team_id`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Date, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import Money, UTCDateTime

# Named constraints: Alembic's SQLite batch mode needs names to alter or drop them later.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Who made a change that came from Jira (in history rows that otherwise hold a Slack user id).
JIRA_USER = "jira"

# Rows that belong to the deployment rather than to one workspace (e.g. housekeeping schedules).
GLOBAL_TEAM_ID = "*"


def _utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    # No default that reads the time: the caller passes its clock's `now` (the shell's clock may not be the
    # real one), and a row built without it fails at insert instead of being stamped with the wrong time.
    if nullable:
        return Field(default=None, sa_type=UTCDateTime(), nullable=True, index=index)
    return Field(sa_type=UTCDateTime(), nullable=False, index=index)


class SlackDelivery(SQLModel, table=True):
    """A Slack delivery already handled (event_id, or trigger_id for commands and interactions)."""

    __tablename__ = "slack_delivery"

    team_id: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=64)
    received_at: datetime = _utc_column(index=True)


class IdSequence(SQLModel, table=True):
    """The last number handed out per team and prefix, for readable ids such as B-12 or INC-7."""

    __tablename__ = "id_sequence"

    team_id: str = Field(primary_key=True, max_length=32)
    prefix: str = Field(primary_key=True, max_length=16)
    last_value: int = Field(default=0)


class Schedule(SQLModel, table=True):
    """A recurring job for one team: which job, and when (cron in a time zone)."""

    __tablename__ = "schedule"
    __table_args__ = (UniqueConstraint("team_id", "job_name", "key", name="uq_schedule_team_job_key"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    job_name: str = Field(max_length=64)
    key: str = Field(default="default", max_length=128)
    cron: str = Field(max_length=128)
    timezone: str = Field(default="UTC", max_length=64)
    enabled: bool = Field(default=True)
    created_at: datetime = _utc_column()


class JobRun(SQLModel, table=True):
    """The ledger: one row per claimed slot. The unique slot key is what makes a run happen once."""

    __tablename__ = "job_run"
    __table_args__ = (
        UniqueConstraint("slot_key", name="uq_job_run_slot_key"),
        Index("ix_job_run_job_started", "job_name", "started_at"),
        Index("ix_job_run_status_slot", "status", "slot_at"),  # each tick looks for waiting retries
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    job_name: str = Field(max_length=64)
    schedule_id: int | None = Field(default=None, foreign_key="schedule.id", ondelete="SET NULL")
    slot_key: str = Field(max_length=255)
    slot_at: datetime = _utc_column()
    status: str = Field(max_length=16)  # running | ok | failed | missed | retry | waiting (a planned retry)
    claimed_by: str = Field(max_length=128)
    started_at: datetime = _utc_column()
    finished_at: datetime | None = _utc_column(nullable=True)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class TeamSettings(SQLModel, table=True):
    """A workspace's own settings, changed with `/pmbot settings` by a workspace admin."""

    __tablename__ = "team_settings"

    team_id: str = Field(primary_key=True, max_length=32)
    timezone: str = Field(max_length=64)
    admin_channel_id: str | None = Field(default=None, max_length=32)
    number_format: str | None = Field(default=None, max_length=8)  # "en" 1,234.56 | "de" 1.234,56; None = en
    updated_by: str = Field(max_length=32)
    updated_at: datetime = _utc_column()


class Bug(SQLModel, table=True):
    """A bug report: stored redacted the moment it arrives, graded after the ack."""

    __tablename__ = "bug"
    __table_args__ = (
        UniqueConstraint("team_id", "readable_id", name="uq_bug_team_readable"),
        UniqueConstraint("team_id", "delivery_key", name="uq_bug_team_delivery"),
        # Counts and stats by status and grade, and the ids of a `/bug list` page in its order, from the index alone.
        Index("ix_bug_team_status_grade_created", "team_id", "status", "grade", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    readable_id: str = Field(max_length=16)
    # The Slack delivery that created it (trigger or view id): a retry finds the same bug.
    delivery_key: str = Field(max_length=128)
    channel_id: str = Field(max_length=32)
    reporter_id: str = Field(max_length=32)
    title: str = Field(max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))  # redacted; the raw text is never stored
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pii: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", max_length=16)  # open | closed
    grade: int | None = Field(default=None)
    auto_grade: int | None = Field(default=None)
    grade_source: str | None = Field(default=None, max_length=16)  # rules | model | team | llm
    category: str | None = Field(default=None, max_length=24)  # the kind of problem (bot.domain.grades.CATEGORIES)
    # When the grader could not tell two grades apart: the other one (the card asks a person to look).
    unsure_of: int | None = Field(default=None)
    reasons: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    confidence: float | None = Field(default=None)
    floor: bool = Field(default=False)
    assignee_id: str | None = Field(default=None, max_length=32)
    message_channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    resolution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _utc_column()
    graded_at: datetime | None = _utc_column(nullable=True)
    closed_at: datetime | None = _utc_column(nullable=True)
    closed_by: str | None = Field(default=None, max_length=32)


class BugGradeChange(SQLModel, table=True):
    """A person's word on a grade: a confirmation or a change, with why."""

    __tablename__ = "bug_grade_change"
    __table_args__ = (Index("ix_bug_grade_change_team_bug", "team_id", "bug_id", "kind"),)  # a team's reviews

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    bug_id: int = Field(foreign_key="bug.id", index=True, ondelete="CASCADE")
    user_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # confirm | change
    from_grade: int | None = None
    to_grade: int
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _utc_column()


class LlmUsage(SQLModel, table=True):
    """One LLM call's tokens, for the budget: missing counts stay NULL (unknown is not zero)."""

    __tablename__ = "llm_usage"
    __table_args__ = (Index("ix_llm_usage_team_created", "team_id", "created_at"),)  # a team's calls in a period

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    feature: str = Field(max_length=32)
    model: str = Field(max_length=128)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int
    request_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = _utc_column(index=True)


class Risk(SQLModel, table=True):
    """An entry of the risk register; while `intake_step` is set, its thread is still asking questions."""

    __tablename__ = "risk"
    __table_args__ = (
        UniqueConstraint("team_id", "readable_id", name="uq_risk_team_readable"),
        UniqueConstraint("team_id", "delivery_key", name="uq_risk_team_delivery"),
        # The ids of a `/risk list` page in score order, from the index alone.
        Index("ix_risk_team_status_score", "team_id", "status", "probability", "impact", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    readable_id: str = Field(max_length=16)
    delivery_key: str = Field(max_length=128)
    channel_id: str = Field(max_length=32)
    title: str = Field(max_length=200)  # redacted, like every free-text field here
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    category: str | None = Field(default=None, max_length=32)
    probability: int | None = None
    impact: int | None = None
    response: str | None = Field(default=None, max_length=16)  # avoid | mitigate | transfer | accept
    owner_id: str | None = Field(default=None, max_length=32)
    mitigation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    trigger: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    review_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    status: str = Field(default="open", max_length=16)  # open | mitigating | accepted | closed
    accepted_until: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    close_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    links: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    guessed: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()
    message_channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32, index=True)
    # The question the intake thread waits for (probability, impact, owner, category, mitigation), or None.
    intake_step: str | None = Field(default=None, max_length=16)
    intake_question_ts: str | None = Field(default=None, max_length=32)  # the question message now waiting
    intake_reminded: bool = Field(default=False)
    # Team-local dates on which the review job last reminded the owner / the channel (once a day each).
    reminded_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    escalated_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))


class RiskChange(SQLModel, table=True):
    """One change to a risk: who, which field, old → new, when."""

    __tablename__ = "risk_change"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    risk_id: int = Field(foreign_key="risk.id", index=True, ondelete="CASCADE")
    user_id: str = Field(max_length=32)
    field_name: str = Field(max_length=32)
    old_value: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    new_value: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _utc_column()


class RiskCategory(SQLModel, table=True):
    """A category a team added to the presets."""

    __tablename__ = "risk_category"

    team_id: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=32)
    label: str = Field(max_length=80)
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc_column()


class Incident(SQLModel, table=True):
    """An incident (or a drill) and its war room; the channel id is stored before anything else is done."""

    __tablename__ = "incident"
    __table_args__ = (
        UniqueConstraint("team_id", "readable_id", name="uq_incident_team_readable"),
        UniqueConstraint("team_id", "delivery_key", name="uq_incident_team_delivery"),
        Index("ix_incident_team_status", "team_id", "status"),
        Index("ix_incident_team_newest", "team_id", "id"),  # `/incident list`: a team's newest first
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    readable_id: str = Field(max_length=16)
    delivery_key: str = Field(max_length=128)
    title: str = Field(max_length=200)  # redacted
    grade: int
    status: str = Field(default="investigating", max_length=16)  # investigating | mitigated | resolved
    drill: bool = Field(default=False)
    scenario: str | None = Field(default=None, max_length=32)
    origin_channel: str = Field(max_length=32)
    channel_id: str | None = Field(default=None, max_length=32, index=True)
    channel_name: str | None = Field(default=None, max_length=80)
    topic_set: bool = Field(default=False)
    invited: bool = Field(default=False)
    runbook_ts: str | None = Field(default=None, max_length=32)
    announcement_channel: str | None = Field(default=None, max_length=32)
    announcement_ts: str | None = Field(default=None, max_length=32)
    declared_by: str = Field(max_length=32)
    commander_id: str = Field(max_length=32)
    comms_id: str | None = Field(default=None, max_length=32)
    scribe_id: str | None = Field(default=None, max_length=32)
    bug_id: str | None = Field(default=None, max_length=16)  # the readable id of the bug it came from
    links: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    versions: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # model, prompt, …
    declared_at: datetime = _utc_column()
    acknowledged_at: datetime | None = _utc_column(nullable=True)
    first_update_at: datetime | None = _utc_column(nullable=True)
    mitigated_at: datetime | None = _utc_column(nullable=True)
    resolved_at: datetime | None = _utc_column(nullable=True)
    resolution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_update_due: datetime | None = _utc_column(nullable=True, index=True)
    archive_after: datetime | None = _utc_column(nullable=True)
    archived: bool = Field(default=False)
    next_inject: int = Field(default=0)  # drills: how many scripted injects were posted


class IncidentEvent(SQLModel, table=True):
    """One line of an incident's timeline, at its original time."""

    __tablename__ = "incident_event"
    __table_args__ = (UniqueConstraint("incident_id", "source_ts", name="uq_incident_event_source"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    at: datetime = _utc_column()
    kind: str = Field(max_length=16)  # declared, note, pinned, update, status, role, task, grade, inject, …
    user_id: str | None = Field(default=None, max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))  # redacted
    # The Slack message a pin came from: one timeline entry per message, however often it is pinned.
    source_ts: str | None = Field(default=None, max_length=32)


class IncidentTask(SQLModel, table=True):
    """One runbook item: ticked once, by whom and when."""

    __tablename__ = "incident_task"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    position: int
    key: str = Field(max_length=16)
    text: str = Field(max_length=200)
    done_by: str | None = Field(default=None, max_length=32)
    done_at: datetime | None = _utc_column(nullable=True)


class DrillSchedule(SQLModel, table=True):
    """A recurring drill: announced a day and an hour before, started at the slot when automatic."""

    __tablename__ = "drill_schedule"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    channel_id: str = Field(max_length=32)  # where it is announced
    description: str = Field(max_length=120)  # as typed: "first tue 15:00 Europe/Berlin"
    day: str = Field(max_length=32)  # APScheduler cron fields
    day_of_week: str = Field(max_length=32)
    hour: int
    minute: int
    timezone: str = Field(max_length=64)
    scenario: str = Field(max_length=32)
    automatic: bool = Field(default=False)
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc_column()
    # The slot each step was last done for (claimed with a conditional UPDATE).
    warned_day_for: datetime | None = _utc_column(nullable=True)
    warned_hour_for: datetime | None = _utc_column(nullable=True)
    started_for: datetime | None = _utc_column(nullable=True)
    # Who is invited when it starts (user ids); empty: who scheduled it plus the grade's responders.
    participants: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))


class Budget(SQLModel, table=True):
    """A channel's budget: an amount per period (month, quarter or a project's dates), optional caps."""

    __tablename__ = "budget"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_budget_team_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    channel_id: str = Field(max_length=32)  # where it was set: it belongs to this channel
    post_channel_id: str = Field(max_length=32)  # where its alerts and reports go
    amount: Decimal = Field(sa_type=Money(), nullable=False)
    currency: str = Field(max_length=3)
    period: str = Field(max_length=16)  # month | quarter | project
    project_start: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    project_end: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    caps: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # category → "amount"
    categories: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # a team's own
    report_weekday: int = Field(default=0)  # 0 Monday … 6 Sunday, team-local
    report_hour: int = Field(default=9)
    reported_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    set_by: str = Field(max_length=32)
    updated_at: datetime = _utc_column()


class CostEntry(SQLModel, table=True):
    """Money spent (negative: a credit or refund), in the budget's currency, exact to 10 decimals. An imported
    bill is stored as one entry per day, service and category, with the number of bill lines it sums."""

    __tablename__ = "cost_entry"
    __table_args__ = (Index("ix_cost_entry_budget_day", "budget_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    budget_id: int = Field(foreign_key="budget.id", ondelete="CASCADE")
    day: date = Field(sa_column=Column(Date, nullable=False))
    category: str = Field(max_length=32)  # a budget category, or "unmapped"
    amount: Decimal = Field(sa_type=Money(10), nullable=False)
    service: str = Field(default="", max_length=128)  # as the bill names it ("Amazon SageMaker", "AmazonEC2")
    lines: int = Field(default=1)
    note: str = Field(default="", max_length=200)
    user_id: str = Field(max_length=32)
    import_id: int | None = Field(default=None, foreign_key="cost_import.id", ondelete="CASCADE")
    delivery_key: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = _utc_column()


class CostImport(SQLModel, table=True):
    """One imported file: the same file again is recognised by its key and not counted twice."""

    __tablename__ = "cost_import"
    __table_args__ = (UniqueConstraint("budget_id", "file_key", name="uq_cost_import_budget_file"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    budget_id: int = Field(foreign_key="budget.id", ondelete="CASCADE")
    file_key: str = Field(max_length=64)
    rows: int  # entries stored
    format: str = Field(default="pmbot", max_length=32)  # the layout detected: aws-cur, gcp-billing, …
    lines: int = Field(default=0)  # bill lines read
    skipped: int = Field(default=0)  # zero-cost lines
    unmapped: int = Field(default=0)  # services with no category (stored as "unmapped")
    currency: str = Field(default="", max_length=3)  # the file's currency
    rate: Decimal | None = Field(default=None, sa_type=Money(10), nullable=True)  # file currency → budget's
    user_id: str = Field(max_length=32)
    created_at: datetime = _utc_column()


class BudgetAlert(SQLModel, table=True):
    """A threshold alert: claimed once per budget, period, scope and threshold, stored with its text, and posted
    by whoever claimed it; one Slack could not take is posted by the hourly job (`posted_at` still empty)."""

    __tablename__ = "budget_alert"
    __table_args__ = (UniqueConstraint("budget_id", "period_start", "scope", "kind", "threshold",
                                       name="uq_budget_alert_once"),)

    id: int | None = Field(default=None, primary_key=True)
    budget_id: int = Field(foreign_key="budget.id", ondelete="CASCADE")
    period_start: date = Field(sa_column=Column(Date, nullable=False))
    scope: str = Field(max_length=32)  # "total" or a category
    kind: str = Field(max_length=16)  # actual | forecast
    threshold: int
    text: str = Field(default="", max_length=600)
    channel_id: str = Field(default="", max_length=32)
    posted_at: datetime | None = _utc_column(nullable=True)
    attempts: int = Field(default=0)
    created_at: datetime = _utc_column()


class ServiceMapping(SQLModel, table=True):
    """A team's own choice of category for a service named on its bills (`/cost map "Amazon SageMaker" compute`);
    the built-in defaults in `bot.domain.bills` apply where a team has none."""

    __tablename__ = "service_mapping"

    team_id: str = Field(primary_key=True, max_length=32)
    service_key: str = Field(primary_key=True, max_length=128)  # the name folded: "amazon sagemaker"
    service: str = Field(max_length=128)  # as typed
    category: str = Field(max_length=32)
    set_by: str = Field(max_length=32)
    updated_at: datetime = _utc_column()


class BudgetAdminGroup(SQLModel, table=True):
    """Who may set and change a team's budgets besides PMBOT_BUDGET_ADMINS: a user group and/or people."""

    __tablename__ = "budget_admin_group"

    team_id: str = Field(primary_key=True, max_length=32)
    usergroup_id: str | None = Field(default=None, max_length=32)
    user_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    set_by: str = Field(max_length=32)
    updated_at: datetime = _utc_column()


class Standup(SQLModel, table=True):
    """A team's daily stand-up: where, who, when (local time and zone), which days, which questions."""

    __tablename__ = "standup"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    channel_id: str = Field(max_length=32)
    members: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    time: str = Field(max_length=5)  # "09:30", local
    timezone: str = Field(max_length=64)
    workdays: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # 0 = Monday
    country: str | None = Field(default=None, max_length=8)
    subdivision: str | None = Field(default=None, max_length=16)
    questions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reminder_minutes: int = Field(default=60)
    summary_minutes: int = Field(default=240)
    paused_until: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    digest: bool = Field(default=False)  # the weekly participation report, on Fridays
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc_column()
    mode: str = Field(default="thread", max_length=8)  # thread: one post at its time | dm: each member by DM


class StandupDay(SQLModel, table=True):
    """One day of a stand-up: claimed once (the unique key), then posted, reminded and summarised once each."""

    __tablename__ = "standup_day"
    __table_args__ = (UniqueConstraint("standup_id", "day", name="uq_standup_day_once"),)

    id: int | None = Field(default=None, primary_key=True)
    standup_id: int = Field(foreign_key="standup.id", index=True, ondelete="CASCADE")
    day: date = Field(sa_column=Column(Date, nullable=False))
    kind: str = Field(default="standup", max_length=16)  # standup | holiday | missed (never posted)
    parent_ts: str | None = Field(default=None, max_length=32, index=True)
    posted_at: datetime = _utc_column()
    reminded: bool = Field(default=False)
    summarised: bool = Field(default=False)


class StandupAnswer(SQLModel, table=True):
    """One person's answers for one day (the latest edit wins)."""

    __tablename__ = "standup_answer"
    __table_args__ = (UniqueConstraint("standup_day_id", "user_id", name="uq_standup_answer_once"),)

    id: int | None = Field(default=None, primary_key=True)
    standup_day_id: int = Field(foreign_key="standup_day.id", index=True, ondelete="CASCADE")
    standup_id: int = Field(index=True)
    user_id: str = Field(max_length=32)
    answers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # question → text
    blocker: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    late: bool = Field(default=False)
    message_ts: str | None = Field(default=None, max_length=32)
    answered_at: datetime = _utc_column()
    first_answered_at: datetime | None = _utc_column(nullable=True)  # answered_at moves with edits; this does not
    thread_ts: str | None = Field(default=None, max_length=32)  # DM mode: this answer, as posted in the day's thread


class StandupBlocker(SQLModel, table=True):
    """A blocker, carried from day to day while its owner still reports it (or has not answered since)."""

    __tablename__ = "standup_blocker"

    id: int | None = Field(default=None, primary_key=True)
    standup_id: int = Field(foreign_key="standup.id", index=True, ondelete="CASCADE")
    user_id: str = Field(max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))
    first_day: date = Field(sa_column=Column(Date, nullable=False))
    last_day: date = Field(sa_column=Column(Date, nullable=False))
    resolved_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))


class StandupPrompt(SQLModel, table=True):
    """A DM-mode stand-up asking one member by DM on one day, at the set time in their zone: the row is the claim
    (unique per stand-up, day and person), so two schedulers send one DM; it also holds the reminder's flag and
    where the answer was posted in the day's thread."""

    __tablename__ = "standup_prompt"
    __table_args__ = (UniqueConstraint("standup_id", "day", "user_id", name="uq_standup_prompt_once"),
                      Index("ix_standup_prompt_dm_channel_user", "dm_channel", "user_id"))  # latest_prompt

    id: int | None = Field(default=None, primary_key=True)
    standup_id: int = Field(foreign_key="standup.id", index=True, ondelete="CASCADE")
    day: date = Field(sa_column=Column(Date, nullable=False))
    user_id: str = Field(max_length=32)
    timezone: str = Field(max_length=64)  # the zone they were asked in
    asked_at: datetime = _utc_column()
    dm_channel: str | None = Field(default=None, max_length=32)
    dm_ts: str | None = Field(default=None, max_length=32)
    reminded: bool = Field(default=False)
    answer_ts: str | None = Field(default=None, max_length=32)  # no longer written: see StandupAnswer.thread_ts


class MemberZone(SQLModel, table=True):
    """A person's time zone as their Slack profile says (users.info `tz`), kept a day before it is asked again."""

    __tablename__ = "member_zone"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_member_zone"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    timezone: str | None = Field(default=None, max_length=64)  # None: Slack did not say
    checked_at: datetime = _utc_column()


class Absence(SQLModel, table=True):
    """Someone away (always with an end): no reminders, shown in the summary."""

    __tablename__ = "absence"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    user_id: str = Field(max_length=32)
    start: date = Field(sa_column=Column(Date, nullable=False))
    end: date = Field(sa_column=Column(Date, nullable=False))


class JiraOutbox(SQLModel, table=True):
    """A change to mirror to Jira, written in the same transaction as the change itself.

    Rows of one item (team, kind, entity) are delivered in id order; a row is `pending` until it is `done`,
    `dead` after too many attempts (an admin is told once, `pmbot jira retry` revives it), or `dropped`
    when it no longer applies (an item linked by hand before its create was delivered).
    """

    __tablename__ = "jira_outbox"
    __table_args__ = (Index("ix_jira_outbox_status_due", "status", "next_attempt_at"),
                      Index("ix_jira_outbox_item", "team_id", "kind", "entity_id"))

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # bug | risk | incident
    entity_id: int
    readable_id: str = Field(max_length=16)
    op: str = Field(max_length=16)  # create | fields | comment | close | reopen | adopt
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | done | dead | dropped
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _utc_column()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    alerted: bool = Field(default=False)
    created_at: datetime = _utc_column()
    done_at: datetime | None = _utc_column(nullable=True)


class JiraLink(SQLModel, table=True):
    """Which Jira issue mirrors an item, and the Jira state we last saw or set (so our own changes coming
    back from Jira are recognised as echoes, not news)."""

    __tablename__ = "jira_link"
    __table_args__ = (UniqueConstraint("team_id", "kind", "entity_id", name="uq_jira_link_item"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    entity_id: int
    readable_id: str = Field(max_length=16)
    jira_key: str = Field(max_length=64, index=True)  # the current key: it changes when the issue is moved
    jira_id: str | None = Field(default=None, max_length=32, index=True)  # stays when the issue is moved
    url: str = Field(max_length=500)
    origin: str = Field(default="created", max_length=16)  # created | linked
    status_done: bool | None = None
    status_name: str | None = Field(default=None, max_length=80)
    priority_id: str | None = Field(default=None, max_length=32)
    assignee: str | None = Field(default=None, max_length=200)  # Jira's display name, for people to read
    assignee_id: str | None = Field(default=None, max_length=128)  # accountId (Cloud) or name (Data Center)
    # How new the state above is, in Jira's terms: the issue's `updated` (or the webhook's timestamp) and
    # the changelog id. A delivery older than this is stale and ignored.
    seen_at: datetime | None = _utc_column(nullable=True)
    seen_change: int | None = Field(default=None, sa_type=BigInteger)
    # Set when the issue was deleted in Jira (or answered 404): the link is a tombstone, kept so the item is
    # not mirrored again behind people's backs unless JIRA_RECREATE_DELETED says so.
    gone_at: datetime | None = _utc_column(nullable=True)
    created_at: datetime = _utc_column()


class JiraState(SQLModel, table=True):
    """Deployment-wide Jira bookkeeping: when deliveries may resume after an outage or a 429, and the last
    time the poll saw Jira's changes."""

    __tablename__ = "jira_state"

    name: str = Field(primary_key=True, max_length=32)  # "jira"
    paused_until: datetime | None = _utc_column(nullable=True)
    failures: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_sync_at: datetime | None = _utc_column(nullable=True)


class JiraPerson(SQLModel, table=True):
    """Who a Slack user is in Jira, found by e-mail (Slack profile → Jira user search) and cached; a row with
    no account says the look-up found nobody (tried again after a day). No e-mail is stored."""

    __tablename__ = "jira_person"
    __table_args__ = (Index("ix_jira_person_account", "team_id", "jira_account"),)

    team_id: str = Field(primary_key=True, max_length=32)
    slack_user_id: str = Field(primary_key=True, max_length=32)
    jira_account: str | None = Field(default=None, max_length=128)  # accountId (Cloud) or name (Data Center)
    display_name: str | None = Field(default=None, max_length=200)
    checked_at: datetime = _utc_column()


class TeamInstallation(SQLModel, table=True):
    """Whether Slack still lets pmbot act in a team. Marked when the app is uninstalled or its bot token is
    revoked (scheduled posts stop, the team's data stays); cleared when the team calls on pmbot again."""

    __tablename__ = "team_installation"

    team_id: str = Field(primary_key=True, max_length=32)
    uninstalled_at: datetime | None = _utc_column(nullable=True)
    reason: str | None = Field(default=None, max_length=32)  # app_uninstalled | tokens_revoked
    changed_at: datetime = _utc_column()


class WorkItem(SQLModel, table=True):
    """Work a request left for after its ack (grade and post a report, open a war room), kept until done.

    Written in the transaction that stores what the person sent, so nothing acked can be lost. Any process
    may run an item: it leases it first (`lease_until`), so two never run it at once, and an item whose
    process died is taken over when the lease runs out. A failure that passes (Slack or the LLM down) puts
    it off until `not_before`, with backoff; `done_at` is set when it is finished or given up.
    """

    __tablename__ = "work_item"
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="uq_work_item_kind_ref"),
                      Index("ix_work_item_due", "done_at", "not_before"))

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    kind: str = Field(max_length=32)  # e.g. bug.finish | incident.open
    ref_id: int  # the row the work is about (a bug's or an incident's id)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = Field(default=0)
    not_before: datetime = _utc_column()
    lease_until: datetime | None = _utc_column(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    told: bool = Field(default=False)  # the person was told it is delayed
    created_at: datetime = _utc_column()
    done_at: datetime | None = _utc_column(nullable=True)


# --- quality (the Quality Management Plan, issue #22) ---------------------------------------------------------


class QualityPlan(SQLModel, table=True):
    """A team's Quality Management Plan: where its breaches are reported and how long a metric must stay back
    within target before its breach is closed. Its metrics are `QualityMetric` rows."""

    __tablename__ = "quality_plan"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, unique=True)
    channel_id: str = Field(max_length=32)  # where breach bugs are filed and their cards posted
    template: str | None = Field(default=None, max_length=32)
    recover_runs: int = Field(default=3)
    updated_by: str = Field(max_length=32)
    updated_at: datetime = _utc_column()


class QualityMetric(SQLModel, table=True):
    """One line of a plan: a metric, which way is better, its target and the grade a breach is."""

    __tablename__ = "quality_metric"
    __table_args__ = (UniqueConstraint("team_id", "name", name="uq_quality_metric_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    position: int = Field(default=0)
    name: str = Field(max_length=60)
    unit: str = Field(max_length=8)
    direction: str = Field(max_length=8)  # lower | higher (which is better)
    target: float
    grade: int
    measured: str = Field(default="", sa_column=Column(Text, nullable=False))
    drop_margin: float | None = Field(default=None)


class QualityRun(SQLModel, table=True):
    """One evaluation's results: a model version on a dataset, its metric values (by metric key, in each
    metric's unit), where it came from. `source_key` makes a file, a pull or a retried POST count once."""

    __tablename__ = "quality_run"
    __table_args__ = (UniqueConstraint("team_id", "source_key", name="uq_quality_run_team_source_key"),
                      Index("ix_quality_run_team_model", "team_id", "model", "id"))

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    model: str = Field(max_length=120)
    version: str = Field(default="", max_length=120)
    dataset: str = Field(default="", max_length=200)
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    samples: int | None = Field(default=None)
    source: str = Field(max_length=32)  # api | slack | promptfoo | lm-eval | csv | json | mlflow
    source_key: str | None = Field(default=None, max_length=200)
    metrics: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recorded_by: str = Field(max_length=64)  # a Slack user id, `api` or `cli`
    created_at: datetime = _utc_column()


class QualityBreach(SQLModel, table=True):
    """A metric of a model out of its target, and the bug filed for it. One open breach per metric and model:
    `open_slot` is "open" while it is open and NULL once closed, and NULLs never collide in a unique index."""

    __tablename__ = "quality_breach"
    __table_args__ = (UniqueConstraint("team_id", "metric", "model", "open_slot", name="uq_quality_breach_open"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    metric: str = Field(max_length=60)
    model: str = Field(max_length=120)
    bug_id: int | None = Field(default=None)
    first_run_id: int
    last_run_id: int
    passing_runs: int = Field(default=0)  # runs in a row back within target since the last failing one
    open_slot: str | None = Field(default="open", max_length=8)
    opened_at: datetime = _utc_column()
    closed_at: datetime | None = _utc_column(nullable=True)


class QualityToken(SQLModel, table=True):
    """A team's token for `POST /api/quality/runs`, stored hashed (SHA-256 of a 32-byte random token)."""

    __tablename__ = "quality_token"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, unique=True)
    token_hash: str = Field(max_length=64, unique=True)
    hint: str = Field(max_length=8)  # the token's last characters, to say which one is in use
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc_column()


class QualityGate(SQLModel, table=True):
    """A go / no-go asked of the plan for a version, with who asked and what it was based on."""

    __tablename__ = "quality_gate"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    version: str = Field(max_length=120)
    run_id: int | None = Field(default=None)
    go: bool
    failed: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # metric names
    asked_by: str = Field(max_length=32)
    asked_at: datetime = _utc_column()


class IncidentAction(SQLModel, table=True):
    """A follow-up action of an incident (A-12): an owner, an optional due date, done once by whom and when."""

    __tablename__ = "incident_action"
    __table_args__ = (
        UniqueConstraint("team_id", "readable_id", name="uq_incident_action_team_readable"),
        UniqueConstraint("team_id", "delivery_key", name="uq_incident_action_team_delivery"),
        Index("ix_incident_action_team_open", "team_id", "done_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    readable_id: str = Field(max_length=16)
    delivery_key: str = Field(max_length=128)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=300)  # redacted
    owner_id: str = Field(max_length=32)
    due_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc_column()
    done_at: datetime | None = _utc_column(nullable=True)
    done_by: str | None = Field(default=None, max_length=32)
    # The reminders sent, claimed once: the due date the day-before one was for, the last day of an overdue one.
    reminded_before: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    reminded_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))


# --- stakeholder digests (issue #23) ------------------------------------------------------------------------------


class DigestSnapshot(SQLModel, table=True):
    """The figures a digest showed to one audience, remembered as the baseline of that audience's next digest
    ("up from 9", "closed since"). History is kept: the latest row of a team and audience is the baseline."""

    __tablename__ = "digest_snapshot"
    __table_args__ = (Index("ix_digest_snapshot_team_audience_taken", "team_id", "audience_key", "taken_at"),
                      Index("ix_digest_snapshot_team_taken", "team_id", "taken_at"))

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    audience_key: str = Field(max_length=128)  # e.g. "plan:3" (a comms plan), whoever remembers it says
    figures: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    taken_at: datetime = _utc_column()


# --- communication plans (issue #23) ------------------------------------------------------------------------------


class CommsPlan(SQLModel, table=True):
    """Who gets the project digest when (`/pmbot comms`): a channel, or each member of a user group by DM, on a
    cadence at a team-local time. `claimed_on` is the local day of the last slot a run took (claimed once)."""

    __tablename__ = "comms_plan"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    audience_kind: str = Field(max_length=16)  # "channel" or "usergroup"
    audience_id: str = Field(max_length=32)
    audience_name: str = Field(max_length=100)
    cadence: str = Field(max_length=16)  # "daily" (Mon–Fri), "weekly", "biweekly", "monthly"
    weekday: int | None = Field(default=None)  # 0 = Monday; weekly and biweekly
    day_of_month: int | None = Field(default=None)  # 1-31, clamped to the month's last day; monthly
    at_time: str = Field(max_length=5)  # "HH:MM", team-local
    anchor_on: date = Field(sa_column=Column(Date, nullable=False))  # the first slot's day (biweekly counts from it)
    sections: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    paused: bool = Field(default=False)
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc_column()
    claimed_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    # While a run works on the slot of `claimed_on`: when it claimed it (a lease; NULL once the slot is settled).
    claimed_at: datetime | None = _utc_column(nullable=True)


class CommsDelivery(SQLModel, table=True):
    """One recipient of one plan slot (the channel, or a member by DM): inserted once before the post, so a retry
    after a passing Slack failure posts only to those not yet served. `outcome`: sending, sent or refused."""

    __tablename__ = "comms_delivery"
    __table_args__ = (UniqueConstraint("plan_id", "slot_on", "recipient", name="uq_comms_delivery_slot_recipient"),
                      Index("ix_comms_delivery_slot_on", "slot_on"))

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="comms_plan.id", index=True, ondelete="CASCADE")
    slot_on: date = Field(sa_column=Column(Date, nullable=False))
    recipient: str = Field(max_length=32)
    outcome: str = Field(max_length=16)
    at: datetime = _utc_column()
    ts: str | None = Field(default=None, max_length=32)  # the digest message's ts once it is posted


class CommsSlot(SQLModel, table=True):
    """One comms plan slot's digest, built once and kept until the slot is settled, so every recipient and every
    retry of the slot gets the same figures, narrative and one-pager."""

    __tablename__ = "comms_slot"
    __table_args__ = (UniqueConstraint("plan_id", "slot_on", name="uq_comms_slot_plan_day"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="comms_plan.id", index=True, ondelete="CASCADE")
    slot_on: date = Field(sa_column=Column(Date, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    blocks: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    figures: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    built_at: datetime = _utc_column()


# --- the App Home dashboard (issue #23): one person's open bugs and risks due, read in index order -------------
# Declared here, after the tables, so the tables above stay as they were; migration 0024 creates them.

Index("ix_bug_team_reporter_open", Bug.team_id, Bug.reporter_id, Bug.status, Bug.grade, Bug.created_at, Bug.id)
Index("ix_bug_team_assignee_open", Bug.team_id, Bug.assignee_id, Bug.status, Bug.grade, Bug.created_at, Bug.id,
      Bug.reporter_id)
Index("ix_risk_team_owner_review", Risk.team_id, Risk.owner_id, Risk.status, Risk.review_on)


# --- the stakeholder digest (issue #23): bugs opened and closed in a period, per grade, from an index range -------
# Migration 0025 creates them.

Index("ix_bug_team_closed_grade", Bug.team_id, Bug.closed_at, Bug.grade)
Index("ix_bug_team_created_grade", Bug.team_id, Bug.created_at, Bug.grade)
