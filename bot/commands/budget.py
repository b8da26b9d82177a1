"""`/budget` and `/cost`: a channel's budget (admins only), its costs, threshold alerts and the chart."""

from __future__ import annotations

import re
from datetime import timedelta

from slack_bolt import App

from bot.budgets import chart, service
from bot.deps import Deps
from bot.domain import budget as rules
from bot.domain.text import escape_mrkdwn
from bot.edge import Reply, Request, command_listener
from bot.errors import UserInputError
from bot.gateways.slack import resolve_channel, upload_file
from bot.registry import CommandSpec, Grammar, Sub, no_args, rest_of
from bot.teams import team_today
from storage.budgets import budget_of, entries
from storage.db import session_scope

_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")
_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>|^(S[A-Z0-9]+)$")
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def register(app: App, deps: Deps) -> None:
    app.command(SPEC.name)(command_listener(deps, SPEC, handle_budget))
    app.command(COST_SPEC.name)(command_listener(deps, COST_SPEC, handle_cost))


SCOPES = ("usergroups:read", "files:write")


def handle_budget(request: Request, reply: Reply, deps: Deps) -> None:
    """Route `/budget …` through its grammar; nothing typed shows the status."""
    BUDGET_GRAMMAR.dispatch(request, reply, deps)


def _budget_set(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    budget = service.set_budget(deps, team_id=request.team_id, channel_id=request.channel_id,
                                user_id=request.user_id, text=rest_of(request.text, 1))
    caps = ", ".join(f"{c} {rules.money(rules.Decimal(v), budget.currency)}" for c, v in budget.caps.items())
    reply.ack(f"Budget set: {rules.money(budget.amount, budget.currency)} per {budget.period}"
              + (f" ({budget.project_start} – {budget.project_end})" if budget.period == "project" else "")
              + (f"; caps: {caps}" if caps else "") + ".")
    service.check_alerts(deps, budget)


def _budget_status(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    reply.ack(service.status_text(service.snapshot(deps, budget)))


def _budget_chart(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    reply.ack("Drawing the budget chart…")
    snap = service.snapshot(deps, budget)
    upload_file(deps.client, request.channel_id, content=chart.budget_png(snap),
                filename=f"budget-{snap.today.isoformat()}.png", title=f"Budget {snap.today.isoformat()}",
                comment=service.status_text(snap))


def _budget_channel(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    target = _channel(deps, rest_of(request.text, 1))
    if not target:
        raise UserInputError("Name the channel: `/budget channel #finance`.")
    _change(deps, request, post_channel_id=target)
    reply.ack(f"Budget alerts and reports now go to <#{target}>.")


def _fits_report(args: list[str]) -> bool:
    return len(args) == 2 and args[0][:3].lower() in _WEEKDAYS and args[1].isdigit() and int(args[1]) < 24


def _budget_report(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    _change(deps, request, report_weekday=_WEEKDAYS[args[0][:3].lower()], report_hour=int(args[1]))
    reply.ack(f"The weekly report goes out on {args[0][:3].capitalize()} at {int(args[1]):02d}:00 team time.")


def _budget_category_add(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    name = re.sub(r"[^a-z0-9_-]", "", args[1].lower())[:32]
    if len(name) < 2:
        raise UserInputError("A category name is one word of letters, digits, - or _.")
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    if name in service.categories_of(budget):
        raise UserInputError(f"`{name}` is a category already.")
    _change(deps, request, categories=[*(budget.categories or []), name])
    reply.ack(f"Added the category `{name}`.")


def _budget_admins(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    found = _GROUP.search(rest_of(request.text, 1).strip())
    if not found:
        raise UserInputError("Name a user group: `/budget admins @ml-leads` (pick it from Slack's list).")
    service.set_admins(deps, team_id=request.team_id, user_id=request.user_id, usergroup=found[1] or found[2])
    reply.ack("Members of that group can now set budgets here.")


def _change(deps: Deps, request: Request, **values) -> None:
    service.require_admin(deps, request.team_id, request.user_id)
    with session_scope(deps.engine) as session:
        budget = budget_of(session, team_id=request.team_id, channel_id=request.channel_id)
        if budget is None:
            raise UserInputError("This channel has no budget yet: `/budget set 20000 USD month` first.")
        for name, value in values.items():
            setattr(budget, name, value)
        session.add(budget)


def handle_cost(request: Request, reply: Reply, deps: Deps) -> None:
    """Route `/cost …` through its grammar."""
    COST_GRAMMAR.dispatch(request, reply, deps)


def _cost_nothing(_request: Request, _reply: Reply, _deps: Deps, _args: list[str]) -> None:
    raise UserInputError("Say what to do: `/cost add 1200 compute`, `/cost list`, `/cost undo` or "
                         "`/cost import …`. `/cost help` has the details.")


def _cost_add(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    entry = service.add_cost(deps, budget, user_id=request.user_id, delivery_key=request.trigger_id,
                             text=rest_of(request.text, 1))
    reply.ack(f"Recorded {rules.money(entry.amount, budget.currency)} on {entry.category} for {entry.day}.")
    service.check_alerts(deps, budget)


def _cost_list(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    reply.ack(_list(deps, request, args[0].lower() if args else "period"))


def _cost_undo(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    entry = service.undo(deps, team_id=request.team_id, channel_id=request.channel_id, user_id=request.user_id)
    reply.ack(f"Removed your entry of {entry.amount} on {entry.category} ({entry.day}).")


def _cost_import(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    content = rest_of(request.text, 1).strip()
    if not content:
        raise UserInputError("Paste the CSV lines after `/cost import` (date, category or service, amount, "
                             "currency, note), or use `pmbot cost import FILE --channel C…` for a big file.")
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    count = service.import_costs(deps, budget, user_id=request.user_id, content=content)
    reply.ack(f"Imported {count} cost lines.")
    service.check_alerts(deps, budget)


def _list(deps: Deps, request: Request, span: str) -> str:
    if span not in ("week", "month", "period"):
        raise UserInputError("`/cost list`, `/cost list week` or `/cost list month`.")
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    today = team_today(deps, request.team_id)
    period = rules.period_for(budget.period, today, project_start=budget.project_start,
                              project_end=budget.project_end)
    start = {"week": today - timedelta(days=today.weekday()), "month": today.replace(day=1),
             "period": period.start}[span]
    with session_scope(deps.engine) as session:
        found = entries(session, budget_id=budget.id, start=start, end=today)
    if not found:
        return f"No costs recorded since {start:%d %b}."
    total = rules.spent([rules.Entry(e.day, e.category, e.amount) for e in found])
    lines = [f"• {e.day:%d %b} {e.category} {rules.money(e.amount, budget.currency)} "
             f"{escape_mrkdwn(e.note)} (<@{e.user_id}>)".rstrip() for e in found[-60:]]
    more = f"\n…and {len(found) - 60} earlier" if len(found) > 60 else ""
    return f"*Costs since {start:%d %b}*: {rules.money(total, budget.currency)}\n" + "\n".join(lines) + more


def _channel(deps: Deps, text: str) -> str | None:
    """A channel from Slack's escaped form, or a `#name` typed by hand."""
    if found := _CHANNEL.search(text):
        return found[1]
    if re.fullmatch(r"\s*#[a-z0-9_\-]{1,80}\s*", text):
        channel = resolve_channel(deps.client, text.strip())
        if channel is None:
            raise UserInputError(f"There is no channel {text.strip()} I can see.")
        return channel
    return None


BUDGET_GRAMMAR = Grammar(
    command="/budget",
    empty=_budget_status,
    subs=(
        Sub("set", "<amount> [currency] [month|quarter|project <start> <end>] [category=amount …]",
            "set or change the budget (budget admins only); caps per category are optional", run=_budget_set,
            fits=bool),
        Sub("status", "", "spent, percent, this week vs last, burn rate, forecast, when it runs out",
            run=_budget_status, fits=no_args),
        Sub("chart", "", "the chart: cumulative spend per category against the budget and the forecast",
            run=_budget_chart, fits=no_args),
        Sub("channel", "#finance", "post alerts and the weekly report in another channel", run=_budget_channel,
            fits=lambda args: len(args) == 1),
        Sub("report", "<weekday> <HH>", "the weekly report's day and hour (team time), e.g. `report mon 9`",
            run=_budget_report, fits=_fits_report),
        Sub("category", "add <name>", "a category of your own, next to compute, data, annotation, api, "
            "evaluation, infra, people", run=_budget_category_add,
            fits=lambda args: len(args) == 2 and args[0].lower() == "add"),
        Sub("admins", "@group", "the user group whose members may set budgets (besides PMBOT_BUDGET_ADMINS)",
            run=_budget_admins, fits=lambda args: len(args) == 1),
    ),
)

COST_GRAMMAR = Grammar(
    command="/cost",
    empty=_cost_nothing,
    subs=(
        Sub("add", "<amount> <category> [date] [note]", "record a cost (today unless a date is given)",
            run=_cost_add, fits=lambda args: len(args) >= 2),
        Sub("list", "[week|month]", "this period's costs (or this week's, or this month's)", run=_cost_list,
            fits=lambda args: len(args) <= 1),
        Sub("undo", "", "remove your own last cost entry", run=_cost_undo, fits=no_args),
        Sub("import", "<CSV lines pasted after the word import>",
            "date, category or cloud service, amount, currency, note — all lines or none; the same file counts "
            "once", run=_cost_import),
    ),
)

SPEC = CommandSpec(
    name="/budget",
    summary="this channel's budget: set it (budget admins), see spend and forecast, get the chart",
    usage_hint="set 20000 USD month [compute=8000 …] | status | chart | channel #x",
    usage=BUDGET_GRAMMAR.usage(),
)

COST_SPEC = CommandSpec(
    name="/cost",
    summary="record what the project spends: add a cost, list, undo, import a CSV",
    usage_hint="add 1200 compute [2026-11-20] [note] | list [week|month] | undo | import",
    usage=COST_GRAMMAR.usage(),
)

SPECS = (SPEC, COST_SPEC)
