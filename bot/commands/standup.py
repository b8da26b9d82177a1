"""`/standup`: daily stand-up threads that run themselves — set-up, absences, answers, reports."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime

from slack_bolt import App
from sqlalchemy import select

from bot.bugs import blocks as bug_blocks
from bot.deps import Deps
from bot.domain.standup import DM, SetupError, blocker_index, parse_questions
from bot.domain.text import escape_user_text, readable
from bot.edge import Event, FieldErrors, Reply, Request, on_action, on_command, on_view
from bot.errors import UserInputError
from bot.registry import CommandSpec, Grammar, Sub, is_number, no_args, rest_of, row_id
from bot.risks import blocks as risk_blocks
from bot.risks.service import team_categories
from bot.standups import blocks as su_blocks
from bot.standups import dm, service
from bot.team_locale import team_today
from storage.db import session_scope
from storage.models import Standup, StandupAnswer, StandupBlocker


def register(app: App, deps: Deps) -> None:
    on_command(app, deps, SPEC, handle)
    on_action(app, deps, su_blocks.ACTION_ANSWER, on_answer_button)
    on_action(app, deps, su_blocks.ACTION_RISK, on_make_risk)
    on_action(app, deps, su_blocks.ACTION_BUG, on_file_bug)
    on_view(app, deps, su_blocks.VIEW_ANSWER, on_answer_submitted)
    on_view(app, deps, su_blocks.VIEW_SETUP, on_setup_submitted)


EVENTS = ("message.channels", "message.groups", "message.im")  # message.im: answers typed in a DM-mode prompt
SCOPES = ("channels:history", "groups:history", "channels:join", "channels:read", "groups:read", "im:history",
          "im:write")


def on_thread_message(event: Event, deps: Deps) -> bool:
    if event.data.get("channel_type") == "im":
        return dm.typed_answer(deps, event.data)
    return service.thread_reply(deps, event.data)


def handle(request: Request, reply: Reply, deps: Deps) -> None:
    """Route `/standup …` through its grammar; nothing typed lists the stand-ups."""
    GRAMMAR.dispatch(request, reply, deps)


def _run_setup(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    if not args:
        reply.ack()
        deps.slack.open_view(request.trigger_id,
                             su_blocks.setup_view(channel=request.channel_id, timezone=deps.settings.pmbot_timezone))
        return
    row = service.setup(deps, team_id=request.team_id, user_id=request.user_id, channel_id=request.channel_id,
                        text=rest_of(request.text, 1))
    reply.ack(f"Stand-up {row.id} is set: {_describe(row)}.")


def _run_list(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack(_list(deps, request.team_id))


def _run_edit(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    number = _number(args[0])
    row = service.edit(deps, team_id=request.team_id, number=number, text=rest_of(request.text, 2))
    reply.ack(f"Stand-up {number} updated: {_describe(row)}.")


def _run_questions(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    number = _number(args[0])
    row = service.set_questions(deps, team_id=request.team_id, number=number, text=rest_of(request.text, 2))
    asked = "\n".join(f"{n}. {escape_user_text(q)}" for n, q in enumerate(row.questions, start=1))
    blocker = blocker_index(row.questions)
    note = (f"Question {blocker + 1} is the blocker question." if blocker is not None
            else "No question mentions blocking, so no answer counts as a blocker.")
    reply.ack(f"Stand-up {number} now asks:\n{asked}\n{note}")


def _run_mode(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    number = _number(args[0])
    row = service.set_mode(deps, team_id=request.team_id, number=number, mode=args[1])
    reply.ack(f"Stand-up {number}: {_mode_text(row)}.")


def _mode_text(row: Standup) -> str:
    if row.mode == DM:
        return (f"each member is asked by DM at {row.time} in their own time zone ({row.timezone} when Slack does "
                "not say), answers gathered in the day's thread")
    return f"one thread in <#{row.channel_id}> at {row.time} {row.timezone}"


def _run_change(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    verb = request.text.split()[0].lower()
    reply.ack(_change(deps, request, verb, _number(args[0]), args[1:]))


def _run_away(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    row = service.away(deps, team_id=request.team_id, user_id=request.user_id, text=rest_of(request.text, 1),
                       today=team_today(deps, request.team_id))
    reply.ack(f"Noted: away from {row.start:%a %d %b} to {row.end:%a %d %b}. No reminders until then.")


def _run_report(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    reply.ack(_report(deps, request, args))


def _numbered(count: int | None = None) -> Callable[[list[str]], bool]:
    """Arguments that start with a stand-up number (and have exactly `count` words, when given)."""
    def fits(args: list[str]) -> bool:
        return bool(args) and is_number(args[0]) and (count is None or len(args) == count)
    return fits


def _number(word: str) -> int:
    """A stand-up's number as typed; one too large to be any stand-up's gets the answer an unknown one gets."""
    return row_id(word, unknown=f"There is no stand-up {word}: `/standup list` shows them.")


def _describe(row: Standup) -> str:
    holidays = f", holidays {row.country}{'-' + row.subdivision if row.subdivision else ''}" if row.country else ""
    members = f"{len(row.members)} member{'' if len(row.members) == 1 else 's'}"
    return (f"<#{row.channel_id}> at {row.time} {row.timezone} on {su_blocks.days_text(row.workdays)}{holidays}; "
            f"{members} ({', '.join(f'<@{u}>' for u in row.members)}); reminder after "
            f"{row.reminder_minutes} min, summary after {row.summary_minutes} min"
            + (f"; paused until {row.paused_until}" if row.paused_until else "")
            + f"; mode {row.mode}; {len(row.questions)} question{'' if len(row.questions) == 1 else 's'}")


def _list(deps: Deps, team_id: str) -> str:
    rows = service.listing(deps, team_id)
    if not rows:
        return "No stand-ups yet: `/standup setup #team 09:30 Europe/Berlin mon-fri @ana @ben`."
    return "*Stand-ups*\n" + "\n".join(f"• {r.id}: {_describe(r)}; {_next(r, at)}" for r, at in rows)


def _next(row: Standup, at: datetime | None) -> str:
    """The next post as its members read it: local date and time in the stand-up's zone."""
    if at is None:
        return (f"no post coming: paused, `/standup resume {row.id}` starts it again" if row.paused_until
                else "no post coming within a year")
    if row.mode == DM:  # each member is asked at that time in their own zone
        return f"next prompts {at:%a %d %b} at {at:%H:%M}, each member's own time (by DM)"
    return f"next post {at:%a %d %b} at {at:%H:%M} {row.timezone}"


def _change(deps: Deps, request: Request, verb: str, number: int, args: list[str]) -> str:
    service.get(deps, request.team_id, number)
    with session_scope(deps.engine) as session:
        row = session.get(Standup, number)
        if verb == "remove":
            session.delete(row)
            return f"Stand-up {number} removed."
        if verb == "resume":
            row.paused_until = None
        elif verb == "digest":
            if args not in (["on"], ["off"]):
                raise UserInputError(f"`/standup digest {number} on` or `off`.")
            row.digest = args == ["on"]
        else:
            row.paused_until = _until(args, team_today(deps, request.team_id))
        session.add(row)
    if verb == "digest":
        return f"Weekly digest for stand-up {number} {'on (Fridays)' if args == ['on'] else 'off'}."
    return f"Stand-up {number} {'resumed' if verb == 'resume' else f'paused until {row.paused_until}'}."


def _until(args: list[str], today: date) -> date:
    if not args:
        return date(9999, 12, 31)
    if args[0].lower() != "until" or len(args) != 2:
        raise UserInputError("`/standup pause N` or `/standup pause N until 2026-12-31`.")
    try:
        until = date.fromisoformat(args[1])
    except ValueError:
        raise UserInputError(f"`{args[1]}` is not a date like 2026-12-31.") from None
    if until < today:
        raise UserInputError("That date is in the past.")
    return until


# --- answering --------------------------------------------------------------------------------------------


def on_answer_button(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    if not request.value.isdigit():
        raise UserInputError("That button belongs to a message I no longer understand.")
    standup, day = service.day_by_id(deps, request.team_id, int(request.value))
    if standup.mode == DM and request.user_id not in standup.members:  # as a typed reply from them is not taken
        raise UserInputError(f"You are not a member of stand-up {standup.id}, so there is nothing for you to "
                             f"answer; to join, ask for `/standup edit {standup.id} …` with you among its members.")
    with session_scope(deps.engine) as session:
        previous = session.execute(select(StandupAnswer).where(StandupAnswer.standup_day_id == day.id,
                                                               StandupAnswer.user_id == request.user_id)).scalar()
    deps.slack.open_view(request.trigger_id, su_blocks.answer_view(standup, day.id, day.day, previous))


def on_answer_submitted(request: Request, deps: Deps):
    meta = json.loads(request.private_metadata or "{}")
    standup, day = service.day_by_id(deps, request.team_id, int(meta.get("day", 0)))
    answers = {q: request.field(f"q{n}") for n, q in enumerate(standup.questions)}
    if not any(a.strip() for a in answers.values()):
        raise FieldErrors({"q0": "Write at least one answer."})

    def after_close() -> None:
        service.record(deps, standup, day, user_id=request.user_id, answers=answers)

    return after_close


def _blocker_for(request: Request, deps: Deps) -> StandupBlocker:
    if not request.value.isdigit():
        raise UserInputError("That button belongs to a message I no longer understand.")
    return service.blocker(deps, int(request.value))


def on_make_risk(request: Request, reply: Reply, deps: Deps) -> None:
    """The blocker, as a new risk in the form, ready to score."""
    reply.ack()
    found = _blocker_for(request, deps)
    # A form field is plain text: Slack would show `<@U0BOB>` as typed, so people are named.
    text = readable(found.text, deps.names)
    who = deps.names(found.user_id) or found.user_id
    view = risk_blocks.form_view(channel=request.channel_id, categories=team_categories(deps, request.team_id),
                                 today=team_today(deps, request.team_id), title=text[:200],
                                 description=f"Blocker reported by @{who} since {found.first_day}.")
    deps.slack.open_view(request.trigger_id, view)


def on_file_bug(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    text = readable(_blocker_for(request, deps).text, deps.names)
    view = bug_blocks.report_view(request.channel_id, {"title": text[:150], "what": text})
    deps.slack.open_view(request.trigger_id, view)


def _report(deps: Deps, request: Request, args: list[str]) -> str:
    span, channel_id = "week", request.channel_id
    for arg in args:
        if arg.lower() in ("week", "month"):
            span = arg.lower()
        elif found := re.fullmatch(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>", arg):
            channel_id = found[1]
        else:
            raise UserInputError("`/standup report [week|month] [#channel]`.")
    return service.participation_report(deps, request.team_id, channel_id, span, team_today(deps, request.team_id))


_FIELD_OF = (("time zone", "timezone"), ("holiday", "holidays"), ("day", "days"), ("members", "members"),
             ("say when", "time"), ("channel", "channel"), ("invite me", "channel"))


def on_setup_submitted(request: Request, deps: Deps):
    """The set-up form: the same checks as the one-line set-up, shown under the field they concern."""
    members = " ".join(f"<@{u}>" for u in request.selected_users("members"))
    holidays = request.field("holidays").strip()
    preset = request.selected("questions") if request.selected("questions") in ("classic", "genai") else ""
    mode = request.selected("mode") if request.selected("mode") in ("thread", "dm") else ""
    channel = request.selected_conversation("channel") or request.user_id
    own = request.field("own_questions").strip()
    try:
        questions = parse_questions(own) if own else None
    except SetupError as exc:
        raise FieldErrors({"own_questions": str(exc)[:150]}) from None
    text = " ".join(filter(None, [f"<#{channel}>", request.field("time").strip(), request.field("timezone").strip(),
                                  request.field("days").strip().replace(" ", ""), members,
                                  f"holidays={holidays}" if holidays else "", preset, mode]))
    try:
        row = service.setup(deps, team_id=request.team_id, user_id=request.user_id, channel_id=channel, text=text,
                            questions=questions)
    except UserInputError as exc:
        message = str(exc)
        block = next((b for key, b in _FIELD_OF if key in message.lower()), "time")
        raise FieldErrors({block: message[:150]}) from None

    def after_close() -> None:
        deps.slack.tell_privately(request.user_id, row.channel_id, text=f"Stand-up {row.id} is set: {_describe(row)}.")

    return after_close


GRAMMAR = Grammar(
    command="/standup",
    empty=_run_list,
    subs=(
        Sub("setup", "#channel 09:30 Europe/Berlin mon-fri @ana @ben [holidays=DE-BY] [classic|genai] [thread|dm] "
            "[remind=60] [summary=240]",
            "a stand-up: local time and zone (Europe/Berlin, or a city: Berlin, New York), working days (sun-thu "
            "works too), members, questions (preset), mode (dm: each member asked by DM at that time in their own "
            "zone); one per channel and time; alone, it opens the form", run=_run_setup),
        Sub("list", "", "every stand-up here, with its next post", run=_run_list, fits=no_args),
        Sub("edit", "N <same as setup>", "replace a stand-up's settings (its questions and mode stay unless named)",
            run=_run_edit,
            fits=lambda args: len(args) >= 2 and is_number(args[0])),
        Sub("questions", 'N classic|genai | N "Q1" | "Q2" …', "what the stand-up asks: a preset (classic: "
            "yesterday/today/blockers; genai: experiments, evals, data/labelling blockers, model or prompt changes) "
            "or 1 to 6 questions of your own, split by `|`, each up to 150 characters; a question saying \"block\" "
            "is the blocker question", run=_run_questions, fits=lambda args: len(args) >= 1 and is_number(args[0])),
        Sub("mode", "N dm|thread", "dm: each member asked by DM at the set time in their own zone, answers posted "
            "in the day's thread; thread: one post in the channel", run=_run_mode, fits=_numbered(2)),
        Sub("pause", "N [until 2026-12-31]", "stop it for a while", run=_run_change, fits=_numbered()),
        Sub("resume", "N", "start it again", run=_run_change, fits=_numbered(1)),
        Sub("remove", "N", "remove it for good", run=_run_change, fits=_numbered(1)),
        Sub("away", "2026-12-20 2027-01-02 | away 3d", "you are away (always with an end): no reminders, shown as "
            "away", run=_run_away, fits=bool),
        Sub("report", "[week|month] [#channel]", "participation per person and team (on time, late, "
            "missed, away left out; rate, median answer delay, streaks) and blockers (opened, age when cleared, open)",
            run=_run_report, fits=lambda args: len(args) <= 2),
        Sub("digest", "N on|off", "post the weekly report on Fridays after the summary", run=_run_change,
            fits=_numbered(2)),
    ),
)

SPEC = CommandSpec(
    name="/standup",
    summary="daily stand-up threads that run themselves: posted, collected, reminded, summarised",
    usage_hint="setup #team 09:30 Europe/Berlin mon-fri @ana @ben | list | away 3d | report",
    usage=GRAMMAR.usage(),
)
