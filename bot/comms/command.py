"""`/pmbot comms …`: the words after `comms`, routed through their own small grammar (its table is the help)."""

from __future__ import annotations

from bot import blocks
from bot.comms import service
from bot.deps import Deps
from bot.domain.text import escape_mrkdwn
from bot.edge import Reply, Request
from bot.registry import HELP_WORDS, Grammar, Sub, row_id

_UNKNOWN = "There is no comms plan with that number; `/pmbot comms` lists them."
EXAMPLES = (
    "*Examples*",
    "• `/pmbot comms add #leadership weekly mon 09:00` — every Monday at 09:00 in the channel",
    "• `/pmbot comms add @exec-team monthly day 1 08:30 risks budget` — by DM to each member of the group, risks "
    "and budget only",
    "• `/pmbot comms add #delivery every 2 weeks fri 16:00` — every other Friday, from the next one",
    "• `/pmbot comms add #standup-notes daily 17:30 blockers` — Monday to Friday",
    "`daily`, `weekdays` and `every day` all mean Monday to Friday. A time takes a colon or am/pm (`09:00`, `9am`); "
    "after `monthly`, a number alone is the day (`monthly 15 9:30`). "
    "Times are the team's time zone (`/pmbot settings`). A digest that cannot go out within 3 hours of its time "
    "(pmbot was down, Slack kept failing) is skipped, and whoever added the plan is told. A day 29-31 that a month "
    "lacks means its last day. A group's members are read at each post, so who joins or leaves the group is "
    "counted from the next digest. Workspace admins add plans; admins and whoever added a plan can change or remove "
    "it. A second plan for the same audience at the same time is refused.",
)


def run(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    """`/pmbot comms <sub> …`; nothing is the list."""
    sub, rest = GRAMMAR.route(" ".join(args))
    (sub.run if sub is not None else _run_list)(request, reply, deps, rest)


def _run_list(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    text = service.list_text(deps, team_id=request.team_id)
    reply.ack(text, blocks.sections(text))  # one section per ~3000 characters: a long list is shown whole


def _run_help(_request: Request, reply: Reply, _deps: Deps, _args: list[str]) -> None:
    # Escaped: a raw `<#channel|@group>` would be read by Slack as a link to a channel.
    lines = [f"• `{escape_mrkdwn(f'{GRAMMAR.command} {form}')}`{' — ' + what if what else ''}"
             for form, what in GRAMMAR.usage()]
    reply.ack("\n".join(["*/pmbot comms* — who gets the project digest, and when", *lines, *EXAMPLES]))


def _run_add(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    plan = service.add(deps, team_id=request.team_id, user_id=request.user_id, words=args)
    reply.ack(f"Comms plan {plan.id} is set: {service.describe(plan)}. {service.first_post_line(plan, deps)}")


def _run_remove(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    plan = service.remove(deps, team_id=request.team_id, user_id=request.user_id, plan_id=_number(args))
    reply.ack(f"Comms plan {plan.id} is removed ({service.describe(plan)}).")


def _run_sections(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    number = _number(args)
    sections = service.read_sections(args[1:])
    plan = service.set_sections(deps, team_id=request.team_id, user_id=request.user_id, plan_id=number,
                                sections=sections)
    reply.ack(f"Comms plan {plan.id}: {service.describe(plan)}.")


def _run_pause(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    plan = service.set_paused(deps, team_id=request.team_id, user_id=request.user_id, plan_id=_number(args),
                              paused=True)
    reply.ack(f"Comms plan {plan.id} is paused; `/pmbot comms resume {plan.id}` starts it again.")


def _run_resume(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    plan = service.set_paused(deps, team_id=request.team_id, user_id=request.user_id, plan_id=_number(args),
                              paused=False)
    reply.ack(f"Comms plan {plan.id} is back on: {service.describe(plan)}. {service.first_post_line(plan, deps)}")


def _number(args: list[str]) -> int:
    return row_id(args[0].lstrip("#"), unknown=_UNKNOWN)


def _one_number(args: list[str]) -> bool:
    return len(args) == 1


GRAMMAR = Grammar(
    command="/pmbot comms",
    subs=(
        Sub("list", "", "the plans and when each posts next (also `/pmbot comms`)", run=_run_list,
            fits=lambda a: not a),
        Sub("add", "<#channel|@group> <daily|weekly|biweekly|monthly> [on <weekday>|day N] [at HH:MM] [sections…]",
            "a new plan (sections: all unless named)", run=_run_add, fits=lambda a: bool(a)),
        Sub("sections", "N <risks,bugs,…|all>", "which sections plan N shows", run=_run_sections,
            fits=lambda a: len(a) >= 2),
        Sub("pause", "N", "stop plan N for now", run=_run_pause, fits=_one_number),
        Sub("resume", "N", "start plan N again", run=_run_resume, fits=_one_number),
        Sub("remove", "N", "delete plan N", run=_run_remove, fits=_one_number, aliases=("delete",)),
        Sub("help", "", "this help, with examples", run=_run_help, fits=lambda a: not a,
            aliases=tuple(HELP_WORDS - {"help"})),
    ),
)
