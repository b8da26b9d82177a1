"""`/pmbot`: what the bot can do, and how it is doing."""

from __future__ import annotations

from datetime import timedelta

from slack_bolt import App

from bot import __version__, blocks
from bot.deps import Deps
from bot.domain.text import escape_mrkdwn, truncate
from bot.edge import CommandRequest, Reply, command_listener
from bot.errors import UserInputError
from bot.registry import CommandSpec, is_help
from storage.db import ping
from storage.migrate import current_revision, head_revision
from storage.models import utcnow

SPEC = CommandSpec(
    name="/pmbot",
    summary="help and status for pmbot",
    usage_hint="help | status",
    usage=(
        ("help", "every command, one line each"),
        ("status", "version, database and integrations"),
    ),
    own_help=True,
)


def register(app: App, deps: Deps) -> None:
    """Wire `/pmbot` into Bolt."""
    app.command(SPEC.name)(command_listener(deps, SPEC, handle))


def handle(request: CommandRequest, reply: Reply, deps: Deps) -> None:
    """Route `/pmbot <sub>`."""
    sub = request.text.split(maxsplit=1)[0].lower() if request.text else ""
    if sub == "" or is_help(sub):
        reply.ack(*overview(deps))
    elif sub == "status":
        reply.ack()
        text = status_text(deps)
        reply.later(text, blocks.sections(text))
    else:
        raise UserInputError(
            f"I don't know `{truncate(sub, 40)}`. Try `/pmbot help` for the list of commands."
        )


def overview(deps: Deps) -> tuple[str, list[dict]]:
    """Every command with one line each."""
    lines = [f"• `{spec.name}` — {spec.summary}" for spec in deps.commands]
    text = "*pmbot commands*\n" + "\n".join(lines)
    footer = "`/pmbot status` shows how the bot is doing; `/<command> help` explains one command."
    return text, [*blocks.sections(text), blocks.context(footer)]



def status_text(deps: Deps) -> str:
    """Version, database, integrations: what an admin checks first."""
    settings = deps.settings
    return "\n".join(
        [
            f"*pmbot {__version__}* — up {_duration(utcnow() - deps.started_at)}",
            f"• Database: {_database_line(deps)}",
            "• Slack: " + ("Socket Mode" if settings.socket_mode else "HTTP (events at `/slack/events`)")
            + f", Web API `{escape_mrkdwn(settings.slack_api_url)}`",
            "• LLM: " + (f"on, model `{escape_mrkdwn(settings.pmbot_llm_model)}`" if settings.llm_configured
                         else "off — bugs are graded by the offline rules"),
            "• Jira: " + (f"on, project `{escape_mrkdwn(settings.jira_project or '')}`"
                          if settings.jira_configured else "off"),
            f"• Scheduler: {deps.scheduler_role}",
            f"• Time zone: {settings.pmbot_timezone}",
        ]
    )


def _database_line(deps: Deps) -> str:
    dialect = deps.engine.dialect.name
    try:
        ping(deps.engine)
        current, head = current_revision(deps.engine), head_revision(deps.engine)
    except Exception as exc:  # noqa: BLE001 — status reports the failure instead of failing
        return f"{dialect}, *unreachable* ({escape_mrkdwn(type(exc).__name__)})"
    schema = "up to date" if current == head else f"at {current}, {head} available: run `pmbot migrate`"
    return f"{dialect}, reachable, schema {schema}"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days"
