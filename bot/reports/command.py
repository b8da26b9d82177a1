"""`/pmbot report [from] [to]`: read the period, ack, build the markdown file and upload it where it was typed."""

from __future__ import annotations

from bot.deps import Deps
from bot.edge import Reply, Request
from bot.registry import HELP_WORDS
from bot.reports import period, report
from bot.team_locale import team_zone
from storage.db import session_scope
from storage.reports import first_activity

ARGS = "[from] [to]"
HELP = ("the project report over a period, uploaded here as a markdown file: budget vs actual, bugs and incidents "
        "over time, risks closed and accepted, quality against the plan (e.g. `2026-09-01 2026-10-31`, "
        "`2026-09-01`, `last month`, `this quarter`, `30d`; nothing: since the team's first activity)")


def fits(args: list[str]) -> bool:
    return len(args) <= 2


def run(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    """Wrong dates are answered at once; the queries and the upload come after the ack."""
    if len(args) == 1 and args[0].lower() in HELP_WORDS:
        reply.ack(help_text())
        return
    zone = team_zone(deps, request.team_id)
    today = deps.clock().astimezone(zone).date()
    first = None
    if not args:
        with session_scope(deps.engine) as session:
            first = first_activity(session, team_id=request.team_id, zone=zone)
    span = period.parse(args, today=today, first_activity=first)
    reply.ack()
    built = report.build(deps, team_id=request.team_id, channel_id=request.channel_id, span=span, zone=zone)
    deps.slack.upload_in_channel(request.channel_id, content=built.content, filename=built.filename,
                                 title=built.title)
    reply.later(f"Report for {span.label()} uploaded here: `{built.filename}`.")


def help_text() -> str:
    return ("*/pmbot report [from] [to]* — the project report over a period, uploaded in this channel as a markdown "
            "file: budget vs actual, bugs and incidents over time, risks closed and accepted, quality against the "
            "plan, and a heading for the lessons learned, which are yours to write.\n"
            "• Dates are the team's days (`/pmbot settings` sets its time zone), both included; nothing typed "
            f"covers everything since the team's first activity (at most {period.MAX_DAYS:,} days).\n"
            f"• For example: {period.EXAMPLES}.\n"
            f"• Named periods (weeks run Monday to Sunday): {period.NAMED_TEXT}.")
