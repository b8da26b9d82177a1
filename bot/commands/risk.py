"""`/risk`: the risk register — quick add with a thread intake, the form, list, show, update, close,
accept, link, the heat map and the CSV export."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

from slack_bolt import App

from bot import blocks, replies
from bot.deps import Deps
from bot.domain import risk as risk_rules
from bot.domain.text import escape_user_text, unwrap_link
from bot.edge import (
    Event,
    FieldErrors,
    Reply,
    Request,
    cannot_post_hint,
    channel_kind,
    on_action,
    on_actions_under,
    on_command,
    on_shortcut,
    on_view,
)
from bot.errors import SlackError, UserInputError
from bot.mirror import outbox
from bot.mirror.links import is_jira_key
from bot.registry import MAX_PAGE, CommandSpec, Grammar, Sub, bounded_int, is_number, no_args, rest_of
from bot.risks import blocks as risk_blocks
from bot.risks import matrix, service
from bot.risks import shortcuts as risk_shortcuts
from storage.db import session_scope
from storage.risks import RiskFilter, add_category, history, list_risks

PAGE_SIZE = 15
_OUR_ID = re.compile(r"^(?:B|R|INC)-\d+$")
_ID = re.compile(r"^[Rr]-\d{1,9}$")
_STATUS_WORDS = {"open": "open", "active": "active", "closed": "closed", "accepted": "accepted",
                 "mitigating": "mitigating", "all": "all"}
_LINK = re.compile(r"^(?:[BRbr]-\d{1,9}|INC-\d{1,9}|[A-Z][A-Z0-9_]{1,9}-\d{1,9}|https?://\S+)$")


def register(app: App, deps: Deps) -> None:
    """Wire `/risk`, the intake's buttons and selects, the review buttons, the forms and thread replies."""
    on_command(app, deps, SPEC, handle)
    on_actions_under(app, deps, risk_blocks.ACTION_ANSWER, on_answer)  # risk.answer.<step>[.<n>]
    on_actions_under(app, deps, risk_blocks.ACTION_SKIP, on_skip)  # risk.skip.<step>
    on_action(app, deps, risk_blocks.ACTION_EDIT, on_edit)
    on_action(app, deps, risk_blocks.ACTION_MORE, on_more)
    on_action(app, deps, risk_blocks.ACTION_STILL_VALID, on_still_valid)
    on_action(app, deps, risk_blocks.ACTION_UPDATE, on_edit)
    on_action(app, deps, risk_blocks.ACTION_CLOSE, on_close_pressed)
    on_view(app, deps, risk_blocks.VIEW_FORM, on_form_submitted)
    on_view(app, deps, risk_blocks.VIEW_CLOSE, on_close_submitted)
    on_shortcut(app, deps, risk_shortcuts.FILE_AS_RISK, risk_shortcuts.on_file_as_risk)  # saved by on_form_submitted


EVENTS = ("message.channels", "message.groups")
SCOPES = ("channels:history", "groups:history", "files:write", "files:read")
SHORTCUTS = risk_shortcuts.SHORTCUTS  # *File as risk* on a message (bot/risks/shortcuts.py)


def handle(request: Request, reply: Reply, deps: Deps) -> None:
    """Route `/risk …` through its grammar: a sub-command, the form, or a new risk."""
    GRAMMAR.dispatch(request, reply, deps)


def _open_form(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack()
    view = risk_blocks.form_view(channel=request.channel_id, categories=service.team_categories(
        deps, request.team_id), today=service.team_today(deps, request.team_id))
    deps.slack.open_view(request.trigger_id, view)


def _is_id(word: str) -> bool:
    return bool(_ID.match(word))


def _run_list(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    where = _list_filter(deps, request, args)
    if where is None:
        raise UserInputError("`/risk list [open|mine|closed|accepted|all|<category>|<band>] [page N]` — "
                             f"`{' '.join(args)}` is not one of those. `/risk categories` lists the categories.")
    reply.ack(*_list(deps, request.team_id, *where))


def _run_by_id(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    verb = request.text.split()[0].lower()
    _by_id(verb, args[0].upper(), rest_of(request.text, 2), request, reply, deps)


def _run_matrix(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    _matrix(request, reply, deps, args)


def _run_export(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    _export(request, reply, deps)


def _run_categories(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack(_categories_text(deps, request.team_id))


def _run_category_add(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    _add_category(request, reply, deps, " ".join(args[1:]))


def _run_add(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    _quick_add(request, reply, deps, text=rest_of(request.text, 1))


def _run_free_add(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    _quick_add(request, reply, deps, text=request.text)


def _quick_add(request: Request, reply: Reply, deps: Deps, *, text: str) -> None:
    added = service.quick_add(deps, team_id=request.team_id, channel_id=request.channel_id, user_id=request.user_id,
                              delivery_key=request.trigger_id, text=text)
    risk = added.risk
    reply.ack(f"Added *{risk.readable_id}*. Posting it here" + (" and asking for the rest in its thread."
                                                                  if risk.intake_step or deps.risk_llm else "."))
    if added.removed:
        reply.later(f"Before saving {risk.readable_id} I removed {added.removed}.")
    if added.created:
        _publish(deps, risk, request)


def _publish(deps: Deps, risk, request: Request) -> None:
    """Post the card; where pmbot cannot post (a DM between people), say where to run `/risk` instead."""
    try:
        service.publish(deps, risk)
    except UserInputError as exc:
        if not isinstance(exc.__cause__, SlackError) or request.channel_kind not in ("im", "mpim"):
            raise
        hint = cannot_post_hint(request.channel_kind, usage="/risk …")
        raise UserInputError(f"{risk.readable_id} is saved. {hint}") from exc


def _by_id(verb: str, readable_id: str, rest: str, request: Request, reply: Reply, deps: Deps) -> None:
    team = request.team_id
    if verb == "show":
        with session_scope(deps.engine) as session:
            risk = service.by_readable(session, team, readable_id)
            changes = history(session, risk_id=risk.id)
            jira = outbox.jira_of(session, risk)
        text = risk_blocks.details(risk, service.team_categories(deps, team), changes, jira=jira)
        reply.ack(text, blocks.sections(text))
        return
    today = service.team_today(deps, team)
    if verb == "update":
        try:
            changes = risk_rules.parse_updates(rest, today=today, categories=service.team_categories(deps, team))
        except risk_rules.FieldError as exc:
            raise UserInputError(str(exc)) from None
        reply.ack()
        risk = service.update(deps, team_id=team, readable_id=readable_id, user_id=request.user_id, changes=changes)
        reply.later(f"{risk.readable_id} updated: {risk_blocks.rating(risk)}.")
    elif verb == "close":
        if len(rest.strip()) < 3:
            raise UserInputError(f"Say why it is closed: `/risk close {readable_id} the vendor signed a two-year "
                                 "deal`.")
        with session_scope(deps.engine) as session:
            if service.by_readable(session, team, readable_id).status == "closed":
                raise UserInputError(f"{readable_id} is closed already.")
        reply.ack()
        service.close(deps, team_id=team, readable_id=readable_id, user_id=request.user_id, reason=rest)
        reply.later(f"{readable_id} is closed.")
    elif verb == "accept":
        until, reason = _accept_args(rest, today, readable_id)
        reply.ack()
        service.accept(deps, team_id=team, readable_id=readable_id, user_id=request.user_id, until=until,
                       reason=reason)
        reply.later(f"{readable_id} is accepted until {until.isoformat()}; I will reopen it then.")
    else:
        target = unwrap_link(rest)  # Slack sends a typed address as <https://…>
        if not _LINK.match(target):
            raise UserInputError("Link a bug (B-12), another risk (R-3), an incident (INC-4), a Jira key (AI-123) "
                                 "or a link (https://…).")
        if target.upper() == readable_id:
            raise UserInputError("A risk cannot be linked to itself.")
        target = target if target.startswith("http") else target.upper()
        if deps.jira is not None and is_jira_key(target) and not _OUR_ID.match(target):
            link = service.link_jira(deps, team_id=team, readable_id=readable_id, user_id=request.user_id, key=target)
            reply.ack(f"{readable_id} is now mirrored to Jira {link.jira_key}; I will label it and keep it in step.")
            return
        service.link(deps, team_id=team, readable_id=readable_id, user_id=request.user_id, target=target)
        reply.ack(f"{readable_id} is linked to {escape_user_text(target)}.")


def _accept_args(rest: str, today: date, readable_id: str) -> tuple[date, str]:
    found = re.match(r"^\s*until\s+(\S+)\s*(.*)$", rest, re.I | re.S)
    if not found:
        raise UserInputError(f"Accepting needs an end date: `/risk accept {readable_id} until 2027-03-31 <why>`.")
    try:
        until = risk_rules.parse_date(found[1], today=today, what="The acceptance end date")
    except risk_rules.FieldError as exc:
        raise UserInputError(str(exc)) from None
    if until == today:
        raise UserInputError("The acceptance must last at least until tomorrow.")
    if len(found[2].strip()) < 3:
        raise UserInputError(f"Say why the risk is accepted, after the date: `/risk accept {readable_id} until "
                             f"{until.isoformat()} the cost of avoiding it is higher`.")
    return until, found[2]


# --- listing ---------------------------------------------------------------------------------------


def _list_filter(deps: Deps, request: Request, words: list[str]) -> tuple[RiskFilter, int] | None:
    """Parse `[open|mine|closed|…|<category>|<band>] [page N]`; None when the words are not list arguments."""
    status, owner, category, band_name, page = "active", None, None, None, 1
    known = service.team_categories(deps, request.team_id)
    i = 0
    while i < len(words):
        word = words[i].lower().lstrip("#")
        if word in _STATUS_WORDS:
            status = _STATUS_WORDS[word]
        elif word == "mine":
            owner = request.user_id
        elif word in risk_blocks.BAND_NAMES:
            band_name = word
        elif word == "page" and i + 1 < len(words) and is_number(words[i + 1]):
            page, i = bounded_int(words[i + 1], low=1, high=MAX_PAGE, what="a page"), i + 1
        elif (key := risk_rules.category_key(word, known)) is not None:
            category = key
        else:
            return None
        i += 1
    return RiskFilter(status=status, owner_id=owner, category=category, band=band_name), page


def _list(deps: Deps, team_id: str, where: RiskFilter, page: int) -> tuple[str, list[dict]]:
    with session_scope(deps.engine) as session:
        risks, total = list_risks(session, team_id=team_id, where=where, offset=(page - 1) * PAGE_SIZE,
                                  limit=PAGE_SIZE)
    scope = {"active": "Risks not closed", "open": "Open risks", "closed": "Closed risks",
             "accepted": "Accepted risks", "mitigating": "Risks being mitigated", "all": "All risks"}[where.status]
    if where.category:
        scope += f", {service.team_categories(deps, team_id).get(where.category, where.category)}"
    scope += f", {where.band}" if where.band else ""
    scope += ", yours" if where.owner_id else ""
    if not risks:
        text = f"{scope}: none." if page == 1 else f"{scope}: no page {page} (there are {total})."
        return text, blocks.sections(escape_user_text(text))
    first, last = (page - 1) * PAGE_SIZE + 1, (page - 1) * PAGE_SIZE + len(risks)
    text = f"*{escape_user_text(scope)}* ({first}–{last} of {total})\n" + "\n".join(risk_blocks.line(r) for r in risks)
    parts = blocks.sections(text)
    if last < total:
        value = json.dumps({"status": where.status, "owner": bool(where.owner_id), "category": where.category,
                            "band": where.band, "page": page + 1})
        parts.append(blocks.actions(blocks.button("Next page", risk_blocks.ACTION_MORE, value)))
    return text, parts


def on_more(request: Request, reply: Reply, deps: Deps) -> None:
    wanted = json.loads(request.value or "{}")
    where = RiskFilter(status=wanted.get("status", "active"), owner_id=request.user_id if wanted.get("owner") else None,
                       category=wanted.get("category"), band=wanted.get("band"))
    reply.ack()
    reply.later(*_list(deps, request.team_id, where, int(wanted.get("page", 1))))


def _categories_text(deps: Deps, team_id: str) -> str:
    known = service.team_categories(deps, team_id)
    lines = [f"• `#{key}` — {escape_user_text(label)}" for key, label in sorted(known.items(), key=lambda kv: kv[1])]
    return "*Risk categories* (use them as `#key` when adding a risk)\n" + "\n".join(lines)


def _add_category(request: Request, reply: Reply, deps: Deps, name: str) -> None:
    label = name.strip()[:80]
    key = risk_rules.slug(label)
    if len(key) < 2:
        raise UserInputError("A category name needs at least two letters or digits.")
    with session_scope(deps.engine) as session:
        added = add_category(session, team_id=request.team_id, key=key, label=label, user_id=request.user_id,
                             now=deps.clock())
    if not added:
        raise UserInputError(f"`#{key}` exists already: `/risk categories` lists them.")
    reply.ack(f"Added the category `#{key}` ({escape_user_text(label)}).")


# --- the heat map and the export -------------------------------------------------------------------


def _matrix(request: Request, reply: Reply, deps: Deps, words: list[str]) -> None:
    where = _list_filter(deps, request, words)
    if where is None:
        raise UserInputError("`/risk matrix` takes nothing, `mine`, or a category, e.g. `/risk matrix #privacy`.")
    reply.ack("Drawing the heat map…")
    with session_scope(deps.engine) as session:
        risks, _ = list_risks(session, team_id=request.team_id, where=where[0])
    today = service.team_today(deps, request.team_id)
    png = matrix.heat_map_png(risks, title="Risk heat map — impact × probability", as_of=today)
    scored = sum(1 for r in risks if r.probability and r.impact)
    _upload(deps, request, reply, content=png, filename=f"risk-matrix-{today.isoformat()}.png",
            title=f"Risk heat map {today.isoformat()}",
            comment=f"Risk heat map as of {today.isoformat()}: {scored} scored risk{'' if scored == 1 else 's'} "
                    "not closed.")


def _export(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack("Exporting the register…")
    with session_scope(deps.engine) as session:
        risks, total = list_risks(session, team_id=request.team_id, where=RiskFilter(status="all"))
    today = service.team_today(deps, request.team_id)
    content = matrix.register_csv(risks, service.team_categories(deps, request.team_id), deps.names)
    _upload(deps, request, reply, content=content, filename=f"risk-register-{today.isoformat()}.csv",
            title=f"Risk register {today.isoformat()}", comment=f"The risk register: {total} risks.")


def _upload(deps: Deps, request: Request, reply: Reply, **file) -> None:
    try:
        deps.slack.upload_in_channel(request.channel_id, **file)
    except UserInputError:
        raise
    except Exception as exc:  # noqa: BLE001 — the person learns it did not arrive, the log says why
        code = getattr(exc, "code", type(exc).__name__)
        raise UserInputError(f"I could not upload the file here ({code}). Invite me with `/invite @pmbot` "
                             "and try again.") from exc


# --- the intake thread -----------------------------------------------------------------------------


def _target(request: Request) -> tuple[int, str]:
    """(risk id, step) from an intake button's value, or from the block id of a select."""
    if request.value and request.value.count(":") >= 1 and request.value.split(":")[0].isdigit():
        risk_id, step = request.value.split(":")[:2]
        return int(risk_id), step
    _, step, risk_id = (request.block_id.split(".") + ["", "", ""])[:3]
    if not risk_id.isdigit():
        raise UserInputError("That question belongs to a message I no longer understand.")
    return int(risk_id), step


def on_answer(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    risk_id, step = _target(request)
    if step in ("probability", "impact"):
        value: object = int(request.value.split(":")[2])
    else:
        value = request.value
    if not service.answer(deps, team_id=request.team_id, risk_id=risk_id, step=step, value=value,
                          user_id=request.user_id):
        reply.later("That question was answered already.")


def on_skip(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    risk_id, step = _target(request)
    if not service.answer(deps, team_id=request.team_id, risk_id=risk_id, step=step, value=None,
                          user_id=request.user_id):
        reply.later("That question was answered already.")


def on_thread_message(event: Event, deps: Deps) -> bool:
    """A reply in a risk's thread (plain, broadcast, with a file, or an edit) answers the question it is waiting
    on; True when it was a risk's thread."""
    reply = replies.thread_reply(event.data, bot_user_id=event.bot_user_id)
    if reply is None:
        return False
    handled, problem = service.typed_answer(deps, team_id=event.team_id, channel_id=reply.channel,
                                            thread_ts=reply.thread_ts, ts=reply.ts, user_id=reply.user,
                                            text=reply.answer_text(), edited=reply.edited)
    if problem and reply.files and not reply.text.strip():
        problem = f"I cannot read an answer from a file. {problem}"  # a file alone only answers the mitigation
    if problem:
        deps.slack.post_ephemeral(reply.channel, reply.user, thread_ts=reply.thread_ts, text=escape_user_text(problem))
    return handled


# --- Edit, review buttons and the forms ------------------------------------------------------------


def _risk_id(value: str) -> int:
    if not value.isdigit():
        raise UserInputError("That button belongs to a message I no longer understand.")
    return int(value)


def on_edit(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    with session_scope(deps.engine) as session:
        risk = service.load(session, request.team_id, _risk_id(request.value))
    view = risk_blocks.form_view(channel=risk.channel_id, categories=service.team_categories(deps, request.team_id),
                                 risk=risk, today=service.team_today(deps, request.team_id))
    deps.slack.open_view(request.trigger_id, view)


def on_still_valid(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    risk = service.still_valid(deps, team_id=request.team_id, risk_id=_risk_id(request.value),
                               user_id=request.user_id)
    reply.later(f"Thanks — {risk.readable_id} is next reviewed on {risk.review_on}.")


def on_close_pressed(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    with session_scope(deps.engine) as session:
        risk = service.load(session, request.team_id, _risk_id(request.value))
    deps.slack.open_view(request.trigger_id, risk_blocks.close_view(risk, channel=request.channel_id))


def on_close_submitted(request: Request, deps: Deps):
    meta = json.loads(request.private_metadata or "{}")
    reason = request.field("reason")
    if len(reason.strip()) < 3:
        raise FieldErrors({"reason": "Please say why, in a few words: it is kept with the risk."})
    with session_scope(deps.engine) as session:
        risk = service.load(session, request.team_id, int(meta["risk"]))
    service.close(deps, team_id=request.team_id, readable_id=risk.readable_id, user_id=request.user_id,
                  reason=reason)


def on_form_submitted(request: Request, deps: Deps):
    meta = json.loads(request.private_metadata or "{}")
    today = service.team_today(deps, request.team_id)
    values, errors = _form_values(request, today)
    if errors:
        raise FieldErrors(errors)
    channel = meta.get("channel") or request.user_id
    if meta.get("source_link") and not meta.get("risk"):  # *File as risk*: the message's link is stored with it
        values["links"] = [meta["source_link"]]

    def after_close() -> None:
        try:
            service.save_form(deps, team_id=request.team_id, channel_id=channel, user_id=request.user_id,
                              delivery_key=f"view:{request.view_id}", risk_id=meta.get("risk"), values=values)
        except service.CardNotPosted as exc:
            _card_privately(deps, request.user_id, channel, meta.get("kind") or channel_kind(channel), exc)
        except UserInputError as exc:
            deps.slack.tell_privately(request.user_id, channel, text=escape_user_text(str(exc)))

    return after_close


def _card_privately(deps: Deps, user_id: str, channel: str, kind: str, exc: service.CardNotPosted) -> None:
    """A saved risk whose card could not be posted: the card to the person, privately, with what to do."""
    readable = exc.risk.readable_id
    if kind in ("im", "mpim"):
        why = cannot_post_hint(kind, usage=f"/risk show {readable}")
    else:
        why = f"I cannot post in <#{channel}>: invite me with `/invite @pmbot`, then `/risk show {readable}`."
    said = f"{readable} is saved, but its card is not posted. {why} Here is the card, just for you."
    deps.slack.tell_privately(user_id, channel, text=said, blocks=[blocks.context(said), *exc.blocks])


def _form_values(request: Request, today: date) -> tuple[dict[str, object], dict[str, str]]:
    raw = {block: request.answer(block).strip() for block in (
        "title", "description", "probability", "impact", "category", "owner", "response", "mitigation", "trigger",
        "review_on")}
    errors: dict[str, str] = {}
    if len(raw["title"]) < 3:
        errors["title"] = "Say what could go wrong, in a few words."
    values: dict[str, object] = {"title": raw["title"][:200]}
    for name in ("probability", "impact"):
        if raw[name] in ("1", "2", "3", "4", "5"):
            values[name] = int(raw[name])
        else:
            errors[name] = f"Choose the {name}, from 1 to 5."
    if raw["review_on"]:
        try:
            values["review_on"] = risk_rules.parse_date(raw["review_on"], today=today, what="The review date")
        except risk_rules.FieldError as exc:
            errors["review_on"] = str(exc)
    if raw["response"] and raw["response"] not in risk_rules.RESPONSES:
        errors["response"] = "Choose one of the responses."
    for name in ("description", "mitigation", "trigger", "category", "response"):
        values[name] = raw[name] or None
    values["owner_id"] = raw["owner"] or None
    return values, errors


def _id_then(count: int | None = None, *, at_least: int = 1) -> Callable[[list[str]], bool]:
    """Arguments that start with a risk id: exactly `count` words, or at least `at_least`."""
    def fits(args: list[str]) -> bool:
        sized = len(args) == count if count is not None else len(args) >= at_least
        return sized and _is_id(args[0])
    return fits


GRAMMAR = Grammar(
    command="/risk",
    free=Sub("", "<what could go wrong> [p=1–5] [i=1–5] [owner=@x] [#category] [due=2026-12-15]",
             "add it now; what is missing is asked in the thread, one question at a time", run=_run_free_add),
    empty=_open_form,
    empty_help="(nothing) opens the full form",
    free_word="add",
    subs=(
        Sub("list", "[open|mine|closed|accepted|all|<category>|<band>] [page N]", "risks, highest score first",
            run=_run_list, fits=lambda args: len(args) <= 3),
        Sub("show", "R-3", "one risk with every change made to it", run=_run_by_id, fits=_id_then(1)),
        Sub("update", "R-3 probability=4 owner=@maria mitigation=\"…\"",
            "change fields (p, i, owner, due, category, response, status, mitigation, trigger, title)",
            run=_run_by_id, fits=_id_then(at_least=2)),
        Sub("close", "R-3 <reason>", "close it, saying why", run=_run_by_id, fits=_id_then(at_least=1)),
        Sub("accept", "R-3 until 2027-03-31 <reason>", "accept it for a while; it reopens when that date passes",
            run=_run_by_id, fits=_id_then(at_least=1)),
        Sub("link", "R-3 B-12|INC-4|PM-7|https://…",
            "link a bug, an incident or a web link; a Jira key makes that issue this risk's Jira twin",
            run=_run_by_id, fits=_id_then(2)),
        Sub("matrix", "[mine|<category>]", "the 5×5 heat map, as a picture", run=_run_matrix,
            fits=lambda args: len(args) <= 1),
        Sub("export", "", "the whole register as a CSV file", run=_run_export, fits=no_args),
        Sub("categories", "", "the categories", run=_run_categories, fits=no_args),
        Sub("category", "add <name>", "add your team's own category", run=_run_category_add,
            fits=lambda args: len(args) >= 2 and args[0].lower() == "add"),
        Sub("add", "<what could go wrong>", "add a risk whose text starts with one of these words, as it is",
            run=_run_add, fits=bool),
    ),
)

SPEC = CommandSpec(
    name="/risk",
    summary="the risk register: add a risk in a line, score it P×I, review it before it bites",
    usage_hint="<what could go wrong> [p=4 i=5 owner=@x #category] | list | show R-3 | matrix",
    usage=GRAMMAR.usage(),
)
