"""`/pmbot`: what the bot can do, how it is doing, and the team's settings."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_bolt import App

from bot import __version__, blocks
from bot.comms import command as comms
from bot.deps import Deps
from bot.digest import command as digest
from bot.domain.text import escape_mrkdwn, truncate
from bot.edge import FieldErrors, Reply, Request, on_action, on_command, on_view
from bot.errors import NotAllowed
from bot.mirror import status as jira_status
from bot.registry import HELP_WORDS, CommandSpec, Grammar, Sub, no_args
from bot.reports import command as report_command
from bot.team_locale import team_number_format
from storage.db import ping, session_scope
from storage.migrate import current_revision, head_revision
from storage.repos import save_team_settings, team_settings

ACTION_STATUS = "pmbot.status"
ACTION_HELP = "pmbot.help"
VIEW_SETTINGS = "pmbot.settings"
BLOCK_TZ, ACTION_TZ = "timezone", "timezone_input"
BLOCK_ADMIN_CHANNEL, ACTION_ADMIN_CHANNEL = "admin_channel", "admin_channel_select"
BLOCK_NUMBERS, ACTION_NUMBERS = "number_format", "number_format_select"
NUMBER_CHOICES = {"en": "1,234.56 (comma for thousands, point for decimals)",
                  "de": "1.234,56 (point for thousands, comma for decimals)"}


def register(app: App, deps: Deps) -> None:
    """Wire `/pmbot`, its buttons and its settings modal into Bolt."""
    on_command(app, deps, SPEC, handle)
    on_action(app, deps, ACTION_STATUS, show_status)
    on_action(app, deps, ACTION_HELP, show_help)
    on_view(app, deps, VIEW_SETTINGS, save_settings)


def handle(request: Request, reply: Reply, deps: Deps) -> None:
    """Route `/pmbot <sub>` through its grammar; nothing typed is the overview."""
    GRAMMAR.dispatch(request, reply, deps)


def _run_help(_request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack(*overview(deps))


def _run_status(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack()
    show_status(request, reply, deps)


def _run_settings(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    open_settings(request, reply, deps)


def _run_jira(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack()
    text = jira_status.status_text(deps, team_id=request.team_id)
    reply.later(text, blocks.sections(escape_mrkdwn(text)))


def show_help(request: Request, reply: Reply, deps: Deps) -> None:
    """The [Show commands] button."""
    reply.ack(*overview(deps))


def overview(deps: Deps) -> tuple[str, list[dict]]:
    """Every command with one line each, and a button to the status."""
    lines = [f"• `{spec.name}` — {spec.summary}" for spec in deps.commands]
    text = "*pmbot commands*\n" + "\n".join(lines)
    footer = "Add `help` to any command for its details, e.g. `/pmbot help`."
    return text, [*blocks.sections(text), blocks.context(footer),
                  blocks.actions(blocks.button("Show status", ACTION_STATUS))]


def show_status(request: Request, reply: Reply, deps: Deps) -> None:
    """Status, sent after the ack (it touches the database)."""
    text = status_text(deps, request.team_id)
    reply.later(text, blocks.sections(text))


def status_text(deps: Deps, team_id: str) -> str:
    """Version, database, integrations, team settings: what an admin checks first."""
    settings = deps.settings
    team_tz, admin_channel = _team_settings(deps, team_id)
    return "\n".join(
        [
            f"*pmbot {__version__}* — up {_duration(deps.clock() - deps.started_at)}",
            f"• Database: {_database_line(deps)}",
            "• Slack: " + ("Socket Mode" if settings.socket_mode else "HTTP (events at `/slack/events`)")
            + f", Web API `{escape_mrkdwn(settings.slack_api_url)}`",
            "• LLM: " + (f"on, model `{escape_mrkdwn(settings.pmbot_llm_model)}`" if settings.llm_configured
                         else "off — bugs are graded by the offline grader"),
            "• Jira: " + (f"on, project `{escape_mrkdwn(settings.jira_project or '')}`"
                          if settings.jira_configured else "off"),
            f"• Scheduler: {deps.scheduler_role}",
            f"• Team time zone: {team_tz}",
            "• Admin channel: " + (f"<#{admin_channel}>" if admin_channel else "not set (`/pmbot settings`)"),
        ]
    )


def _team_settings(deps: Deps, team_id: str) -> tuple[str, str | None]:
    try:
        with session_scope(deps.engine) as session:
            row = team_settings(session, team_id=team_id)
    except Exception:  # noqa: BLE001 — the database line of the status says what is wrong
        row = None
    if row is None:
        return deps.settings.pmbot_timezone, None
    return row.timezone, row.admin_channel_id


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
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days"


# --- settings modal ---------------------------------------------------------------------------


def _require_admin(deps: Deps, user_id: str) -> None:
    if not deps.slack.is_workspace_admin(user_id):
        raise NotAllowed("Only workspace admins and owners can change pmbot's team settings.")


def open_settings(request: Request, reply: Reply, deps: Deps) -> None:
    """Open the settings modal at once (the trigger expires in 3 s), for admins."""
    reply.ack()
    _require_admin(deps, request.user_id)
    team_tz, admin_channel = _team_settings(deps, request.team_id)
    deps.slack.open_view(request.trigger_id,
                         settings_view(team_tz, admin_channel, origin_channel=request.channel_id,
                                       number_format=team_number_format(deps, request.team_id)))


def settings_view(timezone: str, admin_channel: str | None, *, origin_channel: str, number_format: str = "en"
                  ) -> dict:
    """The team settings modal."""
    channel_select: dict = {"type": "conversations_select", "action_id": ACTION_ADMIN_CHANNEL,
                            "placeholder": blocks.plain("Pick a channel"),
                            "filter": {"include": ["public", "private"], "exclude_bot_users": True}}
    if admin_channel:
        channel_select["initial_conversation"] = admin_channel
    return {
        "type": "modal",
        "callback_id": VIEW_SETTINGS,
        "title": blocks.plain("pmbot settings", 24),
        "submit": blocks.plain("Save", 24),
        "close": blocks.plain("Cancel", 24),
        "private_metadata": json.dumps({"channel": origin_channel}),
        "blocks": [
            {"type": "input", "block_id": BLOCK_TZ, "label": blocks.plain("Team time zone"),
             "hint": blocks.plain("An IANA name such as Europe/Berlin or America/New_York."),
             "element": {"type": "plain_text_input", "action_id": ACTION_TZ, "initial_value": timezone}},
            {"type": "input", "block_id": BLOCK_ADMIN_CHANNEL, "optional": True,
             "label": blocks.plain("Admin channel"),
             "hint": blocks.plain("Where pmbot reports problems that need an admin (e.g. Jira sync failures)."),
             "element": channel_select},
            {"type": "input", "block_id": BLOCK_NUMBERS, "label": blocks.plain("How the team writes amounts"),
             "hint": blocks.plain("Amounts typed in /cost and /budget are read this way; anything else is asked."),
             "element": {"type": "static_select", "action_id": ACTION_NUMBERS,
                         "options": [_option(k, v) for k, v in NUMBER_CHOICES.items()],
                         "initial_option": _option(number_format, NUMBER_CHOICES[number_format])}},
        ],
    }


def _option(value: str, label: str) -> dict:
    return {"text": blocks.plain(label, 75), "value": value}


def save_settings(request: Request, deps: Deps) -> None:
    """Validate and store the modal's values; confirm privately where the command was typed."""
    _require_admin(deps, request.user_id)
    timezone = request.field(BLOCK_TZ, ACTION_TZ).strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldErrors({BLOCK_TZ: f"“{truncate(timezone, 60)}” is not a time zone I know. "
                                     "Use a name like Europe/Berlin."}) from None
    channel = request.selected_conversation(BLOCK_ADMIN_CHANNEL, ACTION_ADMIN_CHANNEL) or None
    numbers = request.selected(BLOCK_NUMBERS, ACTION_NUMBERS)
    numbers = numbers if numbers in NUMBER_CHOICES else None
    with session_scope(deps.engine) as session:
        save_team_settings(session, team_id=request.team_id, timezone=timezone, admin_channel_id=channel,
                           updated_by=request.user_id, now=deps.clock(), number_format=numbers)
    origin = json.loads(request.private_metadata or "{}").get("channel")
    text = (f"Saved: team time zone {timezone}" + (f", admin channel <#{channel}>" if channel else "")
            + (f", amounts written like {NUMBER_CHOICES[numbers].split()[0]}" if numbers else "") + ".")
    deps.slack.tell_privately(request.user_id, origin, text=text)


GRAMMAR = Grammar(
    command="/pmbot",
    empty=_run_help,
    subs=(
        Sub("help", "", "every command, one line each", run=_run_help, fits=no_args,
            aliases=tuple(HELP_WORDS - {"help"})),
        Sub("status", "", "version, database, integrations and this team's settings", run=_run_status, fits=no_args),
        Sub("settings", "", "this team's time zone and admin channel (workspace admins)", run=_run_settings,
            fits=no_args),
        Sub("jira", "status", "the Jira mirror: what is waiting, failing or given up (replay with "
            "`pmbot jira retry`)", run=_run_jira, fits=lambda args: [a.lower() for a in args] in ([], ["status"])),
        Sub("comms", "[add … | sections N … | pause N | resume N | remove N | help]", "who gets the project digest "
            "when: a channel, or a user group by DM (`/pmbot comms help`)", run=comms.run),
        Sub("digest", "now [#channel]", digest.HELP, run=digest.run, fits=digest.fits),
        Sub("report", report_command.ARGS, report_command.HELP, run=report_command.run, fits=report_command.fits),
    ),
)

SPEC = CommandSpec(
    name="/pmbot",
    summary="help, status, team settings, stakeholder digests and project reports",
    usage_hint="help | status | settings | jira status | comms | digest now [#channel] | report [from] [to]",
    usage=GRAMMAR.usage(),
    own_help=True,
)
