"""`/incident`: declare (war room, runbook, announcement), run it (roles, notes, updates, timeline),
resolve with a post-mortem, reopen, and practise with drills."""

from __future__ import annotations

import json
import logging
import re

from slack_bolt import App

from bot import blocks
from bot.bugs import blocks as bug_blocks
from bot.bugs import service as bug_service
from bot.bugs.service import load_bug
from bot.deps import Deps
from bot.domain import incident as incident_rules
from bot.domain import incident_actions
from bot.domain.text import escape_mrkdwn, escape_user_text, unwrap_link
from bot.edge import (
    Event,
    FieldErrors,
    Reply,
    Request,
    on_action,
    on_actions_under,
    on_command,
    on_event,
    on_shortcut,
    on_view,
)
from bot.errors import IntegrationUnavailable, NotFound, UserInputError
from bot.gateways.slack import is_transient, retry_after
from bot.incidents import actions as follow_ups
from bot.incidents import blocks as inc_blocks
from bot.incidents import drills, service, stats
from bot.incidents import shortcuts as inc_shortcuts
from bot.registry import CommandSpec, Grammar, Sub, no_args, rest_of
from bot.work import Kind, Retry, run_after_ack, tell_later
from storage.db import session_scope
from storage.incidents import list_incidents, tasks, timeline
from storage.models import WorkItem

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_VERSION = re.compile(r"(?<!\S)(model|prompt|dataset|rollback)=(\"[^\"]*\"|\S+)", re.I)
_LINK = re.compile(r"^(?:[BRbr]-\d{1,9}|[A-Za-z][A-Za-z0-9_]{1,9}-\d{1,9}|https?://\S+)$")

logger = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    on_command(app, deps, SPEC, handle)
    on_actions_under(app, deps, inc_blocks.ACTION_TASK, on_task)  # incident.task.<task id>
    on_action(app, deps, inc_blocks.ACTION_JOIN, on_join)
    on_action(app, deps, inc_blocks.ACTION_SNOOZE, on_snooze)
    on_action(app, deps, inc_blocks.ACTION_RESOLVE_ANYWAY, on_resolve_anyway)
    on_action(app, deps, inc_blocks.ACTION_RESOLVE_CANCEL, on_resolve_cancel)
    on_actions_under(app, deps, inc_blocks.ACTION_CLOSE_BUG, on_close_bug)  # incident.close_bug.<bug id>
    on_action(app, deps, bug_blocks.ACTION_INCIDENT, on_bug_button)
    on_actions_under(app, deps, follow_ups.ACTION_DONE, on_action_done)  # incident.action_done.<action id>
    on_view(app, deps, inc_blocks.VIEW_DECLARE, on_declare_submitted)
    on_event(app, deps, "reaction_added", on_reaction)
    on_shortcut(app, deps, inc_shortcuts.ADD_TO_TIMELINE, inc_shortcuts.on_add_to_timeline)
    on_view(app, deps, inc_shortcuts.VIEW_TIMELINE, inc_shortcuts.on_timeline_submitted)
    on_shortcut(app, deps, inc_shortcuts.DECLARE_INCIDENT, inc_shortcuts.on_declare_incident)  # on_declare_submitted


EVENTS = ("reaction_added",)
SCOPES = ("channels:manage", "groups:write", "pins:write", "reactions:read", "usergroups:read", "files:write",
          "channels:history")
# *Add to incident timeline* on a message and *Declare incident* from anywhere (bot/incidents/shortcuts.py).
SHORTCUTS = inc_shortcuts.SHORTCUTS


def handle(request: Request, reply: Reply, deps: Deps) -> None:
    """Route `/incident …` through its grammar; there is no free text: declaring takes the word."""
    GRAMMAR.dispatch(request, reply, deps)


def _open_form(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack()
    deps.slack.open_view(request.trigger_id, inc_blocks.declare_view(channel=request.channel_id))


def _run_declare(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    _declare(request, reply, deps, rest_of(request.text, 1))


def _run_list(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    reply.ack(_list(deps, request.team_id, active_only=not args))


def _run_drill(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    drills.handle(request, reply, deps, args)


def _run_action(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    """A war-room action (`/incident update …`), on the incident of this channel."""
    verb = request.text.split()[0].lower()
    if verb == "status" and not _in_war_room(deps, request):
        reply.ack(_list(deps, request.team_id, active_only=True))
        return
    incident = service.find(deps, team_id=request.team_id, channel_id=request.channel_id, readable_id=None)
    _act(verb, rest_of(request.text, 1), incident, request, reply, deps)


def _run_named(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    """`/incident INC-3 [action …]`: an action on the incident named, from anywhere."""
    verb = args[0].lower() if args else "status"
    if verb not in _ACTIONS:
        raise UserInputError(f"`{args[0]}` is not something I can do to an incident; try "
                             f"`/incident {request.text.split()[0].upper()} status`.")
    incident = service.find(deps, team_id=request.team_id, channel_id=request.channel_id,
                            readable_id=request.text.split()[0].upper())
    _act(verb, rest_of(request.text, 2), incident, request, reply, deps)


def _in_war_room(deps: Deps, request: Request) -> bool:
    try:
        service.find(deps, team_id=request.team_id, channel_id=request.channel_id)
        return True
    except UserInputError:
        return False


def _declare(request: Request, reply: Reply, deps: Deps, text: str) -> None:
    try:
        title, grade = incident_rules.parse_declare(text)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    reply_to = {"response_url": request.response_url, "user": request.user_id}
    declared = service.declare(deps, team_id=request.team_id, channel_id=request.channel_id,
                               user_id=request.user_id, delivery_key=request.trigger_id, title=title, grade=grade,
                               reply_to=reply_to)
    reply.ack(f"Declaring *{declared.incident.readable_id}* (grade {grade}): opening the war room…")
    run_after_ack(deps, declared.work_id)


def open_war_room(deps: Deps, item: WorkItem) -> None:
    """The queued half of a declaration: the war room's steps, each done once; Slack down means later."""
    try:
        incident = service.open_war_room(deps, item.ref_id, item.team_id,
                                         invitees=list((item.payload or {}).get("invite") or []) or None,
                                         also_invite=list((item.payload or {}).get("also_invite") or []) or None)
    except NotFound:
        logger.info("incident %s was deleted before its war room opened", item.ref_id)
        return
    except IntegrationUnavailable as exc:  # Slack refused, had trouble, or could not be reached
        if is_transient(exc):
            raise Retry(f"Slack: {exc}", after=retry_after(exc)) from exc
        logger.warning("the war room of incident %s cannot be opened: %s", item.ref_id, exc)
        tell_later(deps, item.payload, channel=service.get(deps, item.team_id, item.ref_id).origin_channel,
                   text=f"I could not open the war room: {escape_mrkdwn(str(exc))}")
        return
    tell_later(deps, item.payload, channel=incident.origin_channel,
               text=f"War room ready for *{incident.readable_id}*: <#{incident.channel_id}>. "
                    "The runbook is pinned there.")


def _war_room_delayed(deps: Deps, item: WorkItem, _why: str) -> None:
    incident = service.get(deps, item.team_id, item.ref_id)
    tell_later(deps, item.payload, channel=incident.origin_channel,
               text=f"{incident.readable_id} is declared, but Slack is having trouble, so its war room is not "
                    "ready yet. I will finish it as soon as Slack answers.")


WORK = Kind(service.WORK, open_war_room, delayed=_war_room_delayed)


def _act(verb: str, rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    _ACTIONS[verb](rest, incident, request, reply, deps)


def _status(_rest: str, incident, _request: Request, reply: Reply, deps: Deps) -> None:
    with session_scope(deps.engine) as session:
        items = tasks(session, incident_id=incident.id)
        events = timeline(session, incident_id=incident.id)
    text = "\n".join([inc_blocks.status_text(incident, items, events, now=deps.clock()),
                      *follow_ups.status_lines(deps, incident)])
    reply.ack(text, blocks.sections(text))


def _role(rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    found = _USER.search(rest)
    plain = re.search(r"(?<![\w<])@([\w.\-]+)", rest)
    person = found[1] if found else (deps.slack.find_user(plain[1]) if plain else None)
    role = rest.split()[-1].lower() if rest.split() else ""
    if not person or role not in incident_rules.ROLES:
        raise UserInputError("Say who and which role: `/incident role @maria scribe` (commander, comms, scribe).")
    reply.ack()
    service.set_role(deps, incident, user_id=request.user_id, person=person, role=role)


def _note(rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    service.note(deps, incident, user_id=request.user_id, text=rest)
    reply.ack("Added to the timeline.")


def _update(rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    service.post_update(deps, incident, user_id=request.user_id, text=rest)


def _set(rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    values = {m[1].lower(): m[2].strip('"') for m in _VERSION.finditer(rest)}
    if not values:
        raise UserInputError("Record versions as `/incident set model=v12 prompt=p7 dataset=d3 rollback=v11`.")
    service.set_versions(deps, incident, user_id=request.user_id, values=values)
    reply.ack("Recorded: " + ", ".join(f"{k} {escape_user_text(v)}" for k, v in values.items()))


def _grade(rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    if rest.strip() not in ("1", "2", "3"):
        raise UserInputError("An incident is grade 1, 2 or 3: `/incident grade 1`.")
    service.require_lead(deps, incident, request.user_id, "change the grade of")
    reply.ack()
    service.change_grade(deps, incident, user_id=request.user_id, grade=int(rest.strip()))


def _resolve(rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    """Resolve; with runbook steps still open, ask first (Resolve anyway / Cancel)."""
    service.require_lead(deps, incident, request.user_id, "resolve")
    if incident.status == "resolved":
        raise UserInputError(f"{incident.readable_id} is resolved already; `/incident reopen` if it is back.")
    still_open = service.open_steps(deps, incident)
    if still_open:
        with session_scope(deps.engine) as session:
            total = len(tasks(session, incident_id=incident.id))
        value = _resolve_value(incident.id, rest, _reopened(deps, incident.id))
        text, parts = inc_blocks.confirm_resolve(incident, still_open, total, value)
        reply.ack(text, parts)
        return
    reply.ack(f"Resolving {incident.readable_id} and drafting the post-mortem…")
    service.resolve(deps, incident, user_id=request.user_id, summary=rest)


def _reopen(_rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    service.require_lead(deps, incident, request.user_id, "reopen")
    reply.ack()
    service.reopen(deps, incident, user_id=request.user_id)


def _link(rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    target = unwrap_link(rest)  # Slack sends a typed address as <https://…>
    if not _LINK.match(target):
        raise UserInputError("Link a bug (B-12), a risk (R-3), a Jira key (AI-123) or a link (https://…).")
    target = target if target.startswith("http") else target.upper()
    reply.ack(service.link(deps, incident, user_id=request.user_id, target=target))


_ACTIONS = {"status": _status, "role": _role, "note": _note, "update": _update, "set": _set, "grade": _grade,
            "resolve": _resolve, "reopen": _reopen, "link": _link}


def _follow_up(rest: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    """`/incident INC-7 action <text> …` (or `… action done|reopen A-12`): the named form of `/incident action`."""
    args = rest.split()
    if args and args[0].lower() in ("done", "reopen") and (len(args) == 1
                                                         or incident_actions.ACTION_ID.fullmatch(args[1])):
        _change_follow_up(args, request, reply, deps, incident=incident)
        return
    _add_follow_up(rest, incident, request, reply, deps)


_ACTIONS["action"] = _follow_up


def _list(deps: Deps, team_id: str, *, active_only: bool) -> str:
    with session_scope(deps.engine) as session:
        found = list_incidents(session, team_id=team_id, active_only=active_only)
    if not found:
        return "No open incidents. 🎉" if active_only else "No incidents yet."
    title = "*Open incidents*" if active_only else "*Incidents* (newest first)"
    return title + "\n" + "\n".join(inc_blocks.line(i) for i in found)


# --- buttons, the form, reactions ---------------------------------------------------------------------


def on_task(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    incident_id, _, task_id = request.value.partition(":")
    if not (incident_id.isdigit() and task_id.isdigit()):
        raise UserInputError("That button belongs to a message I no longer understand.")
    if not service.complete_task(deps, team_id=request.team_id, incident_id=int(incident_id),
                                 task_id=int(task_id), user_id=request.user_id):
        reply.later("That step was ticked already.")


def on_join(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    incident = service.get(deps, request.team_id, int(request.value))
    service.invite(deps, incident, [request.user_id])
    reply.later(f"You are in <#{incident.channel_id}>.")


def on_snooze(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    incident = service.snooze(deps, team_id=request.team_id, incident_id=int(request.value), user_id=request.user_id)
    reply.later(f"Snoozed: I will ask again about {incident.readable_id} in 15 minutes.")


def _resolve_value(incident_id: int, summary: str, reopened: int) -> str:
    """What Resolve anyway carries: the incident, the summary typed (Slack keeps 2000 characters) and how often it
    had been reopened (a click on a question asked before a reopen is stale)."""
    summary = summary.strip()[:1500]
    while len(value := json.dumps({"i": incident_id, "s": summary, "r": reopened}, ensure_ascii=False)) > 2000:
        summary = summary[:-100]
    return value


def _reopened(deps: Deps, incident_id: int) -> int:
    with session_scope(deps.engine) as session:
        return sum(1 for e in timeline(session, incident_id=incident_id) if e.kind == "reopened")


def on_resolve_anyway(request: Request, reply: Reply, deps: Deps) -> None:
    """Resolve with steps open, confirmed; a second click or a click after it was resolved is told so."""
    reply.ack()
    try:
        data = json.loads(request.value or "")
        incident_id, summary = int(data["i"]), str(data.get("s") or "")
    except (ValueError, TypeError, KeyError):
        raise UserInputError("That button belongs to a message I no longer understand.") from None
    incident = service.get(deps, request.team_id, incident_id)
    if incident.status == "resolved":
        reply.later(f"{incident.readable_id} is resolved already.")
        return
    if data.get("r", 0) != _reopened(deps, incident.id):
        reply.later(f"That question was about {incident.readable_id} before it was reopened; "
                    "`/incident resolve` asks again.")
        return
    service.resolve(deps, incident, user_id=request.user_id, summary=summary, skipped=True)


def on_resolve_cancel(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    incident = service.get(deps, request.team_id, int(request.value)) if request.value.isdigit() else None
    if incident is None:
        raise UserInputError("That button belongs to a message I no longer understand.")
    if incident.status == "resolved":
        reply.later(f"{incident.readable_id} is resolved already.")
        return
    reply.later(f"Not resolved: {incident.readable_id} stays open. Tick the steps in the runbook, then "
                "`/incident resolve`.")


def on_close_bug(request: Request, reply: Reply, deps: Deps) -> None:
    """*Close B-14* under a resolved incident: the bug is closed through `/bug close`'s path (Jira follows)."""
    reply.ack()
    incident_id, _, bug_id = request.value.partition(":")
    if not incident_id.isdigit() or not bug_id.startswith("B-"):
        raise UserInputError("That button belongs to a message I no longer understand.")
    incident = service.get(deps, request.team_id, int(incident_id))
    if incident.status != "resolved":
        raise UserInputError(f"{incident.readable_id} is open again, so {bug_id} stays open; close it with "
                             f"`/bug close {bug_id}` when it is really fixed.")
    if bug_id not in service.linked_bugs(deps, incident):
        raise UserInputError(f"{bug_id} is not linked to {incident.readable_id}; `/bug close {bug_id}` closes it.")
    bug = bug_service.close(deps, team_id=request.team_id, readable_id=bug_id, user_id=request.user_id,
                            resolution=f"fixed with incident {incident.readable_id}")
    reply.later(f"{bug.readable_id} is closed (fixed with {incident.readable_id}).")


def on_bug_button(request: Request, reply: Reply, deps: Deps) -> None:
    """"Declare incident" on a grade 1–2 bug: the form, filled in from the bug and linked to it."""
    reply.ack()
    bug_id = int(request.value.split(":")[0]) if request.value.split(":")[0].isdigit() else 0
    with session_scope(deps.engine) as session:
        bug = load_bug(session, request.team_id, bug_id)
    grade = bug.grade if bug.grade in incident_rules.INCIDENT_GRADES else 2
    deps.slack.open_view(request.trigger_id,
                         inc_blocks.declare_view(channel=request.channel_id, title=bug.title, grade=grade,
                                                 bug=bug.readable_id, model=(bug.details or {}).get("version", "")))


def on_declare_submitted(request: Request, deps: Deps):
    title, grade = request.field("title").strip(), request.selected("grade")
    errors = {}
    if len(title) < 3:
        errors["title"] = "Say what is happening, in a few words."
    if grade not in ("1", "2", "3"):
        errors["grade"] = "Choose the grade."
    if errors:
        raise FieldErrors(errors)
    meta = json.loads(request.private_metadata or "{}")
    channel = meta.get("channel") or request.user_id
    versions = {k: request.field(k).strip() for k in ("model", "prompt", "dataset")}
    chosen = request.selected_users("responders")  # only the *Declare incident* shortcut's form asks

    def after_close() -> None:  # the chosen people are invited by the queued work: nothing remote before declare
        declared = service.declare(deps, team_id=request.team_id, channel_id=channel, user_id=request.user_id,
                                   delivery_key=f"view:{request.view_id}", title=title, grade=int(grade),
                                   bug_id=meta.get("bug"), versions=versions, reply_to={"user": request.user_id},
                                   also_invite=chosen or None)
        run_after_ack(deps, declared.work_id)

    return after_close


def on_reaction(event: Event, deps: Deps) -> None:
    data = event.data
    item = data.get("item") or {}
    if data.get("reaction") != deps.settings.pmbot_timeline_emoji or item.get("type") != "message":
        return
    service.pin_to_timeline(deps, team_id=event.team_id, channel_id=item.get("channel", ""),
                            ts=item.get("ts", ""), user_id=data.get("user", ""))


def _some(args: list[str]) -> bool:
    return bool(args)


# --- follow-up actions and statistics ------------------------------------------------------------------


def _run_follow_up(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    """`/incident action <text> [@owner] [due]`, `… action INC-7 <text>`, `… action done|reopen A-12`."""
    verb = args[0].lower()
    if verb in ("done", "reopen") and (len(args) == 1 or incident_actions.ACTION_ID.fullmatch(args[1])):
        _change_follow_up(args, request, reply, deps)
        return
    named = re.fullmatch(r"INC-\d{1,9}", args[0], re.I)
    try:
        incident = service.find(deps, team_id=request.team_id, channel_id=request.channel_id,
                                readable_id=args[0].upper() if named else None)
    except UserInputError as exc:
        if named:
            raise
        raise UserInputError("This is not an incident channel. Add it in the war room, or name the incident: "
                             "`/incident action INC-3 add a PII filter to the export @maria friday`.") from exc
    _add_follow_up(rest_of(request.text, 2 if named else 1), incident, request, reply, deps)


def _change_follow_up(args: list[str], request: Request, reply: Reply, deps: Deps, *, incident=None) -> None:
    """`action done|reopen A-12` (`incident`: the one the command named, which the action must belong to)."""
    verb = args[0].lower()
    if len(args) != 2:
        raise UserInputError(f"Say which action: `/incident action {verb} A-12` (`/incident actions` lists them).")
    action = follow_ups.find(deps, request.team_id, args[1])
    if incident is not None and action.incident_id != incident.id:
        owner = service.get(deps, request.team_id, action.incident_id)
        raise UserInputError(f"{action.readable_id} is a follow-up of {owner.readable_id}, not "
                             f"{incident.readable_id}: `/incident action {verb} {action.readable_id}`.")
    change = follow_ups.close if verb == "done" else follow_ups.reopen
    outcome = change(deps, action, user_id=request.user_id)
    reply.ack(outcome.text)
    if outcome.changed:
        _postmortem_after(deps, request.team_id, action.incident_id, f"{action.readable_id} {verb}")


def _postmortem_after(deps: Deps, team_id: str, incident_id: int, why: str) -> None:
    """After the ack: a resolved incident's post-mortem is drawn again with its follow-ups as they are now."""
    service.postmortem_updated(deps, incident_id, team_id, why)


def _add_follow_up(text: str, incident, request: Request, reply: Reply, deps: Deps) -> None:
    action = follow_ups.add(deps, incident, user_id=request.user_id, text=text, delivery_key=request.trigger_id)
    due = f", due {action.due_on.isoformat()}" if action.due_on else ""
    resolved = incident.status == "resolved"
    reply.ack(f"Follow-up *{action.readable_id}* added to {incident.readable_id}: "
              f"{escape_user_text(action.title)} (owner <@{action.owner_id}>{due}). "
              f"`/incident action done {action.readable_id}` closes it."
              + (f" {incident.readable_id} is resolved: its post-mortem draft is posted again with it"
                 + (f" in <#{incident.channel_id}>." if incident.channel_id else ".") if resolved else ""))
    if resolved:
        _postmortem_after(deps, incident.team_id, incident.id, f"{action.readable_id} added")


def _run_follow_ups(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    text, parts = follow_ups.listing(deps, team_id=request.team_id, user_id=request.user_id, mine=bool(args))
    reply.ack(text, parts)


def _run_stats(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    period = args[0].lower() if args else "month"
    figures = stats.report(deps, team_id=request.team_id, period=period)
    # These figures are yours alone; the chart Slack can only show to everyone in the channel, so say so.
    reply.ack(figures.text + ("\n_The weekly chart follows in this channel, where everyone here sees it._"
                              if figures.real else ""))
    stats.upload_chart(deps, request.channel_id, figures)  # after the ack: drawing takes a moment


def on_action_done(request: Request, reply: Reply, deps: Deps) -> None:
    """*Done* on a reminder or in `/incident actions`."""
    reply.ack()
    if not request.value.isdigit():
        raise UserInputError("That button belongs to a message I no longer understand.")
    action = follow_ups.get_by_id(deps, request.team_id, int(request.value))
    outcome = follow_ups.close(deps, action, user_id=request.user_id)
    reply.later(outcome.text)
    if outcome.changed:
        _postmortem_after(deps, request.team_id, action.incident_id, f"{action.readable_id} done")


GRAMMAR = Grammar(
    command="/incident",
    empty=_open_form,
    empty_help="(nothing) opens the form",
    subs=(
        Sub("declare", "<what is happening> [grade 1|2|3]",
            "open a war room with the grade's runbook (grade 2 if not given)", run=_run_declare, fits=_some),
        Sub("role", "@maria commander|comms|scribe", "hand out a role (commander or scribe only)",
            run=_run_action, fits=lambda args: len(args) >= 2),
        Sub("note", "<text>", "add a line to the timeline (or react with :pushpin: to any message in the war room)",
            run=_run_action, fits=_some),
        Sub("update", "<text>", "post a status update in the war room and the announcement's thread",
            run=_run_action, fits=_some),
        Sub("set", "model=v12 prompt=p7 dataset=d3 rollback=v11", "record the versions affected and rolled back to",
            run=_run_action, fits=_some),
        Sub("link", "B-12 | R-3 | AI-123", "link a bug (its card then shows the incident), a risk or a Jira issue "
            "(they go in the post-mortem)",
            run=_run_action, fits=lambda args: len(args) == 1),
        Sub("grade", "1|2|3", "change the grade (commander or scribe only)", run=_run_action,
            fits=lambda args: len(args) == 1),
        Sub("resolve", "[summary]", "resolve it and get the post-mortem draft (commander or scribe only; asks first "
            "while runbook steps are open)",
            run=_run_action),
        Sub("reopen", "", "reopen it (and its channel)", run=_run_action, fits=no_args),
        Sub("status", "", "this incident (roles, checklist, timeline, follow-ups), or the open ones outside a war room",
            run=_run_action, fits=no_args),
        Sub("INC-3", "[status|update …|resolve …]", "the same, on the incident named, from anywhere",
            run=_run_named, pattern=r"INC-\d{1,9}"),
        Sub("list", "[all]", "open incidents (all: the resolved ones too)", run=_run_list,
            fits=lambda args: args in ([], ["all"]) or [a.lower() for a in args] == ["all"]),
        Sub("action", "<what must happen> [@owner] [due: 2026-12-15 | friday | in 3 days]",
            "a follow-up action of this war room's incident, during or after it (owner: you if not given)",
            run=_run_follow_up, fits=_some),
        Sub("action", "INC-7 <what must happen> [@owner] [due] (or INC-7 action …) | action done A-12 | "
            "action reopen A-12",
            "the same from anywhere, naming the incident; close or reopen an action (who and when are recorded)",
            run=_run_follow_up, fits=_some),
        Sub("actions", "[mine]", "open follow-up actions across incidents, the most overdue first (mine: yours)",
            run=_run_follow_ups, fits=lambda args: [a.lower() for a in args] in ([], ["mine"])),
        Sub("stats", "[month|quarter]", stats.HELP, run=_run_stats,
            fits=lambda args: [a.lower() for a in args] in ([], ["month"], ["quarter"])),
        Sub("drill", "[scenario] | drill scenarios", "a practice incident with scripted injects and a scorecard",
            run=_run_drill),
        Sub("drill", "schedule first tue 15:00 Europe/Berlin [auto] [scenario] [with @ana @bob] | drill schedules | "
            "drill unschedule N", "recurring drills with their participants, announced a day and an hour before; "
            "an automatic one nobody acts in ends by itself", run=_run_drill),
    ),
)

SPEC = CommandSpec(
    name="/incident",
    summary="declare an incident: a war room in seconds, the runbook for its grade, updates, a post-mortem",
    usage_hint="declare <what is happening> [grade 1-3] | update <text> | resolve | drill",
    usage=GRAMMAR.usage(),
)
