"""`/budget` and `/cost`: a channel's budget (admins only), its costs, threshold alerts and the chart."""

from __future__ import annotations

import re
from datetime import timedelta

from slack_bolt import App

from bot.budgets import chart, files, service
from bot.deps import Deps
from bot.domain import bills
from bot.domain import budget as budget_rules
from bot.domain.text import escape_user_text
from bot.edge import Reply, Request, on_command, on_shortcut
from bot.errors import UserInputError
from bot.registry import CommandSpec, Grammar, Sub, is_number, no_args, rest_of
from bot.team_locale import team_today
from storage.budgets import budget_of, entries
from storage.db import session_scope

_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")
_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_RATE = re.compile(r"(?:^|\s)--rate[= ]\s*(\S+)", re.I)
IMPORT_SHORTCUT = "cost_import_file"
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def register(app: App, deps: Deps) -> None:
    on_command(app, deps, SPEC, handle_budget)
    on_command(app, deps, COST_SPEC, handle_cost)
    on_shortcut(app, deps, IMPORT_SHORTCUT, import_shared_file)


# files:read: the *Import costs* shortcut reads the file it is used on (files.info and the download).
SCOPES = ("usergroups:read", "files:write", "files:read")
SHORTCUTS = ({"name": "Import costs", "type": "message", "callback_id": IMPORT_SHORTCUT,
              "description": "Import the cost file (CSV or JSON bill) shared in this message into the budget"},)


def handle_budget(request: Request, reply: Reply, deps: Deps) -> None:
    """Route `/budget …` through its grammar; nothing typed shows the status."""
    BUDGET_GRAMMAR.dispatch(request, reply, deps)


def _budget_set(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    budget = service.set_budget(deps, team_id=request.team_id, channel_id=request.channel_id,
                                user_id=request.user_id, text=rest_of(request.text, 1))
    caps = ", ".join(f"{c} {budget_rules.money(budget_rules.Decimal(v), budget.currency)}"
                     for c, v in budget.caps.items())
    reply.ack(f"Budget set: {budget_rules.money(budget.amount, budget.currency)} per {budget.period}"
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
    deps.slack.upload_in_channel(request.channel_id, content=chart.budget_png(snap),
                                 filename=f"budget-{snap.today.isoformat()}.png",
                                 title=f"Budget {snap.today.isoformat()}", comment=service.status_text(snap))


def _budget_channel(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    target = _channel(deps, rest_of(request.text, 1))
    if not target:
        raise UserInputError("Name the channel: `/budget channel #finance`.")
    _change(deps, request, post_channel_id=target)
    reply.ack(f"Budget alerts and reports now go to <#{target}>.")


def _fits_report(args: list[str]) -> bool:
    return len(args) == 2 and args[0][:3].lower() in _WEEKDAYS and _is_hour(args[1])


def _is_hour(word: str) -> bool:
    """0 to 23, typed as one or two plain digits."""
    return is_number(word) and len(word) <= 2 and int(word) < 24


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
    group, people = _admins(deps, rest_of(request.text, 1))
    service.set_admins(deps, team_id=request.team_id, user_id=request.user_id, usergroup=group, people=people)
    named = ([f"<!subteam^{group}>"] if group else []) + [f"<@{p}>" for p in people]
    reply.ack(f"Budget admins: {', '.join(named)} (and PMBOT_BUDGET_ADMINS). They can set and change budgets.")


def _admins(deps: Deps, text: str) -> tuple[str | None, list[str]]:
    """A user group and people, as Slack escapes them (`<!subteam^S…>`, `<@U…>`) or typed as `@handle`."""
    groups, people = [m[1] for m in _GROUP.finditer(text)], [m[1] for m in _USER.finditer(text)]
    rest = _USER.sub(" ", _GROUP.sub(" ", text)).split()
    for word in rest:
        if re.fullmatch(r"S[A-Z0-9]{2,}", word):
            groups.append(word)
        elif found := deps.slack.find_usergroup(word):
            groups.append(found)
        elif found := deps.slack.find_user(word):
            people.append(found)
        else:
            raise UserInputError(f"I found no user group or person called `{word[:60]}`. Name them "
                                 "like `/budget admins @pm-leads @carol` (pick them from Slack's list).")
    if len(set(groups)) > 1:
        raise UserInputError("Name one user group (and as many people as you like).")
    if not groups and not people:
        raise UserInputError("Name a user group or people: `/budget admins @pm-leads @carol`.")
    return (groups[0] if groups else None), list(dict.fromkeys(people))


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
    recorded = service.add_cost(deps, budget, user_id=request.user_id, delivery_key=request.trigger_id,
                                text=rest_of(request.text, 1))
    entry = recorded.entry
    what = f"{escape_user_text(entry.service)} ({entry.category})" if entry.service else entry.category
    kind = "a credit of " if entry.amount < 0 else ""
    amount = budget_rules.money_exact(abs(entry.amount), budget.currency)
    reply.ack(f"Recorded {kind}{amount} on {what} for {entry.day}."
              + (f"\nNote: {recorded.warning}." if recorded.warning else ""))
    service.check_alerts(deps, budget)


def _cost_list(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    reply.ack(_list(deps, request, args[0].lower() if args else "period"))


def _cost_undo(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    if args:  # `undo import`
        batch, total = service.undo_import(deps, budget, user_id=request.user_id)
        reply.ack(f"Took back your import of {batch.created_at:%d %b %H:%M} UTC: {batch.lines:,} lines, "
                  f"{budget_rules.money(total, budget.currency)}.")
        return
    entry = service.undo(deps, budget, user_id=request.user_id)
    reply.ack(f"Removed your entry of {budget_rules.money_exact(entry.amount, budget.currency)} on {entry.category} "
              f"({entry.day}).")


def _cost_import(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    content = rest_of(request.text, 1)
    rate = None
    if found := _RATE.search(content):
        rate = service.parse_rate(found[1])
        content = content[:found.start()] + " " + content[found.end():]
    if not content.strip():
        raise UserInputError("Paste the CSV lines after `/cost import` (date, category or service, amount, "
                             "currency, note), use the *Import costs* shortcut on a file shared in the channel, or "
                             "`pmbot cost import FILE --channel #channel` for a big file.")
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    done = service.import_costs(deps, budget, user_id=request.user_id, lines=bills.split_pasted(content), rate=rate)
    reply.ack(done.text())
    service.check_alerts(deps, budget)


def _cost_mapping(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack(service.mapping_text(deps, request.team_id, service.budget_here(deps, request.team_id,
                                                                               request.channel_id)))


def _cost_map(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    text = rest_of(request.text, 1).strip()
    quoted = re.fullmatch(r'["“”„\']([^"“”„\']{1,128})["“”„\']\s+(\S+)', text)
    name, category = (quoted[1], quoted[2]) if quoted else (text.rpartition(" ")[0], text.rpartition(" ")[2])
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    reply.ack(service.map_service(deps, budget, user_id=request.user_id, service_name=name.strip(),
                                  category=category.lower()))


def import_shared_file(request: Request, reply: Reply, deps: Deps) -> None:
    """The *Import costs* message shortcut: the message's files, downloaded with the bot token and imported into
    the budget of the channel (or the one posting there). The answer comes privately."""
    reply.ack()
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    shared = [f for f in request.message.get("files") or [] if f.get("id")]
    if not shared:
        raise UserInputError("That message has no file. Use *Import costs* on a message with a CSV or JSON cost "
                             "file, or paste the lines after `/cost import`.")
    for file in shared:
        done = files.import_file(deps, budget, user_id=request.user_id, file_id=file["id"])
        reply.later(f"`{escape_user_text(done[0])}`: {done[1].text()}")
    service.check_alerts(deps, budget)


def _list(deps: Deps, request: Request, span: str) -> str:
    if span not in ("week", "month", "period"):
        raise UserInputError("`/cost list`, `/cost list week` or `/cost list month`.")
    budget = service.budget_here(deps, request.team_id, request.channel_id)
    today = team_today(deps, request.team_id)
    period = budget_rules.period_for(budget.period, today, project_start=budget.project_start,
                                     project_end=budget.project_end)
    start = {"week": today - timedelta(days=today.weekday()), "month": today.replace(day=1),
             "period": period.start}[span]
    with session_scope(deps.engine) as session:
        found = entries(session, budget_id=budget.id, start=start, end=today)
    if not found:
        return f"No costs recorded since {start:%d %b}."
    total = budget_rules.spent([budget_rules.Entry(e.day, e.category, e.amount) for e in found])
    lines = [f"• {e.day:%d %b} {e.category}{f' ({escape_user_text(e.service)})' if e.service else ''} "
             f"{budget_rules.money_exact(e.amount, budget.currency)} "
             f"{escape_user_text(e.note)} (<@{e.user_id}>)".rstrip() for e in found[-60:]]
    more = f"\n…and {len(found) - 60} earlier" if len(found) > 60 else ""
    return f"*Costs since {start:%d %b}*: {budget_rules.money(total, budget.currency)}\n" + "\n".join(lines) + more


def _channel(deps: Deps, text: str) -> str | None:
    """A channel from Slack's escaped form, or a `#name` typed by hand."""
    if found := _CHANNEL.search(text):
        return found[1]
    if re.fullmatch(r"\s*#[a-z0-9_\-]{1,80}\s*", text):
        channel = deps.slack.resolve_channel(text.strip())
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
        Sub("admins", "@group [@person …]", "who may set budgets besides PMBOT_BUDGET_ADMINS: a user group and "
            "people (while nobody is named, workspace admins and owners)", run=_budget_admins, fits=bool),
    ),
)

COST_GRAMMAR = Grammar(
    command="/cost",
    empty=_cost_nothing,
    subs=(
        Sub("add", "<amount> <category or service> [date] [note]", "record a cost (today unless a date is given); "
            "a service such as `Amazon EC2` counts in its mapped category, a negative amount is a credit",
            run=_cost_add, fits=lambda args: len(args) >= 2),
        Sub("list", "[week|month]", "this period's costs (or this week's, or this month's)", run=_cost_list,
            fits=lambda args: len(args) <= 1),
        Sub("undo", "[import]", "remove your own last cost entry, or with `import` your last import (all its lines)",
            run=_cost_undo, fits=lambda args: not args or [a.lower() for a in args] == ["import"]),
        Sub("import", "[--rate USD=0.92] <CSV lines>",
            "date, category or cloud service, amount, currency, note — all lines or none; the same file counts "
            "once. Bills (AWS, Google Cloud, Azure, OpenAI, Anthropic): the *Import costs* shortcut on the file, or "
            "`pmbot cost import FILE`", run=_cost_import),
        Sub("mapping", "", "which category each service on a bill counts in", run=_cost_mapping, fits=no_args),
        Sub("map", "\"<service>\" <category>", "count a service in a category, e.g. `/cost map \"Amazon SageMaker\" "
            "compute` (moves its entries too)", run=_cost_map, fits=lambda args: len(args) >= 2),
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
    summary="record what the project spends: add a cost, list, undo, import a bill, map services to categories",
    usage_hint="add 1200 compute [2026-11-20] [note] | list [week|month] | undo | import | mapping | map",
    usage=COST_GRAMMAR.usage(),
)

SPECS = (SPEC, COST_SPEC)
