"""`/bug`: report a bug and get it graded, posted and reviewed; list, show, close, reopen, stats."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

from slack_bolt import App

from bot import blocks
from bot.bugs import blocks as bug_blocks
from bot.bugs import service
from bot.bugs import shortcuts as bug_shortcuts
from bot.deps import Deps
from bot.domain.grades import GRADES
from bot.edge import FieldErrors, Reply, Request, cannot_post_hint, on_action, on_command, on_shortcut, on_view
from bot.errors import NotFound, UserInputError
from bot.mirror import outbox
from bot.registry import MAX_PAGE, CommandSpec, Grammar, Sub, bounded_int, is_number, no_args, rest_of
from bot.work import Kind, Retry, run_after_ack, tell_later
from storage.bugs import BugFilter, bug_by_id, bug_stats, get_bug, grade_history, list_bugs
from storage.db import session_scope
from storage.incidents import incidents_of_bug
from storage.models import WorkItem

logger = logging.getLogger(__name__)

# Reading a channel's history finds a card Slack took just before a crash, so it is not posted twice.
SCOPES = ("channels:history", "groups:history", "im:history")
# *File as bug* on a message and *Report a bug* from anywhere (bot/bugs/shortcuts.py); shortcuts need `commands`.
SHORTCUTS = bug_shortcuts.SHORTCUTS
PAGE_SIZE = 15
_ID = re.compile(r"^[Bb]-\d{1,9}$")


def register(app: App, deps: Deps) -> None:
    """Wire `/bug`, its card's buttons and its two modals."""
    on_command(app, deps, SPEC, handle)
    on_action(app, deps, bug_blocks.ACTION_CONFIRM, on_confirm)
    on_action(app, deps, bug_blocks.ACTION_CHANGE, on_change)
    on_action(app, deps, bug_blocks.ACTION_ASSIGN, on_assign)
    on_action(app, deps, bug_blocks.ACTION_MORE, on_more)
    on_view(app, deps, bug_blocks.VIEW_REPORT, on_report_submitted)
    on_view(app, deps, bug_blocks.VIEW_CHANGE, on_change_submitted)
    on_shortcut(app, deps, bug_shortcuts.FILE_AS_BUG, bug_shortcuts.on_file_as_bug)
    on_shortcut(app, deps, bug_shortcuts.REPORT_A_BUG, bug_shortcuts.on_report_a_bug)
    on_view(app, deps, bug_shortcuts.VIEW_FROM_MESSAGE, bug_shortcuts.on_from_message_submitted)
    on_view(app, deps, bug_shortcuts.VIEW_ANYWHERE, bug_shortcuts.on_anywhere_submitted)


def handle(request: Request, reply: Reply, deps: Deps) -> None:
    """Route `/bug …` through its grammar: a sub-command, a form, or a report."""
    GRAMMAR.dispatch(request, reply, deps)


def _open_form(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack()
    deps.slack.open_view(request.trigger_id, bug_blocks.report_view(request.channel_id))


def _is_id(word: str) -> bool:
    return bool(_ID.match(word))


def _run_list(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    where = _list_filter(args, request.user_id)
    assert where is not None  # the grammar only routes arguments that fit
    reply.ack(*_list(deps, request.team_id, *where))


def _run_by_id(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    verb = request.text.split()[0].lower()
    _by_id(verb, args[0], rest_of(request.text, 2), request, reply, deps)


def _run_link(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    link = service.link_jira(deps, team_id=request.team_id, readable_id=args[0], user_id=request.user_id,
                             key=args[1])
    reply.ack(f"{args[0].upper()} is now mirrored to Jira {link.jira_key}; I will label it and keep it in step.")


def _run_stats(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    reply.ack(_stats(deps, request.team_id))


def _run_report(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    _report(request, reply, deps, text=rest_of(request.text, 1))


def _run_free_report(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    _report(request, reply, deps, text=request.text)


def _by_id(verb: str, readable_id: str, rest: str, request: Request, reply: Reply, deps: Deps) -> None:
    if verb == "show":
        with session_scope(deps.engine) as session:
            bug = get_bug(session, team_id=request.team_id, readable_id=readable_id)
            history = grade_history(session, bug_id=bug.id) if bug else []
            jira = outbox.jira_of(session, bug) if bug else None
            incidents = incidents_of_bug(session, team_id=bug.team_id, readable_id=bug.readable_id) if bug else []
        if bug is None:
            raise UserInputError(f"There is no bug {readable_id.upper()} here. `/bug list all` shows them.")
        text = bug_blocks.details(bug, history, jira=jira, incidents=incidents)
        reply.ack(text, blocks.sections(text))
        return
    reply.ack()
    if verb == "close":
        bug = service.close(deps, team_id=request.team_id, readable_id=readable_id, user_id=request.user_id,
                            resolution=rest or None)
        reply.later(f"{bug.readable_id} is closed.")
    else:
        bug = service.reopen(deps, team_id=request.team_id, readable_id=readable_id, user_id=request.user_id)
        reply.later(f"{bug.readable_id} is open again.")


def _report(request: Request, reply: Reply, deps: Deps, *, text: str, title: str | None = None,
            details: dict[str, str] | None = None, delivery_key: str | None = None) -> None:
    reply_to = {"response_url": request.response_url, "user": request.user_id, "channel_kind": request.channel_kind}
    intake = service.file_report(deps, team_id=request.team_id, channel_id=request.channel_id,
                                 reporter_id=request.user_id, delivery_key=delivery_key or request.trigger_id,
                                 text=text, title=title, details=details, reply_to=reply_to)
    reply.ack(f"Got it: *{intake.readable_id}* is stored and being graded.")
    if intake.removed:
        reply.later(f"Before storing {intake.readable_id} I removed {intake.removed}. Nothing else sees it: "
                    "not the database, the LLM or Jira.")
    run_after_ack(deps, intake.work_id)


def finish_report(deps: Deps, item: WorkItem) -> None:
    """The queued half of a report: grade it and post its card. When the channel refuses the card for good
    (a DM, a private channel pmbot is not in) the reporter gets it privately instead."""
    try:
        service.grade_and_post(deps, team_id=item.team_id, bug_id=item.ref_id, maybe_posted=item.attempts > 1)
    except NotFound:
        logger.info("bug %s was deleted before its card was posted", item.ref_id)
    except service.CardNotPosted as exc:
        if exc.transient:
            raise Retry(f"Slack did not take the card of {exc.bug.readable_id} ({exc})", after=exc.after) from exc
        text, card = bug_blocks.card(exc.bug)
        hint = cannot_post_hint(item.payload.get("channel_kind", "channel"), usage="/bug …")
        hint += " Here is the card, just for you."
        tell_later(deps, item.payload, channel=exc.bug.channel_id, text=hint, blocks_=[blocks.context(hint), *card])


def _card_delayed(deps: Deps, item: WorkItem, _why: str) -> None:
    with session_scope(deps.engine) as session:
        bug = bug_by_id(session, team_id=item.team_id, bug_id=item.ref_id)
    if bug is None:
        return
    tell_later(deps, item.payload, channel=bug.channel_id,
               text=f"Slack is having trouble, so the card of {bug.readable_id} is not posted yet. The report is "
                    "stored; I will post its card here as soon as Slack answers.")


WORK = Kind(service.WORK, finish_report, delayed=_card_delayed)


# --- listing ------------------------------------------------------------------------------------


def _list_filter(words: list[str], user_id: str) -> tuple[BugFilter, int] | None:
    """Parse `[open|closed|all] [grade N] [mine] [page N]`; None when the words are not list arguments."""
    status, grade, mine, page = "open", None, False, 1
    i = 0
    while i < len(words):
        word = words[i].lower()
        if word in ("open", "closed", "all"):
            status = word
        elif word == "mine":
            mine = True
        elif word in ("grade", "page") and i + 1 < len(words) and is_number(words[i + 1]):
            if word == "grade":
                if words[i + 1] not in {str(g) for g in GRADES}:
                    raise UserInputError("Grades go from 1 to 5: try `/bug list grade 1`.")
                grade = int(words[i + 1])
            else:
                page = bounded_int(words[i + 1], low=1, high=MAX_PAGE, what="a page")
            i += 1
        else:
            return None
        i += 1
    return BugFilter(status=status, grade=grade, user_id=user_id if mine else None), page


def _list(deps: Deps, team_id: str, where: BugFilter, page: int) -> tuple[str, list[dict]]:
    with session_scope(deps.engine) as session:
        bugs, total = list_bugs(session, team_id=team_id, where=where, offset=(page - 1) * PAGE_SIZE,
                                limit=PAGE_SIZE)
    scope = {"open": "Open bugs", "closed": "Closed bugs", "all": "All bugs"}[where.status]
    scope += f", grade {where.grade}" if where.grade else ""
    scope += ", yours" if where.user_id else ""
    if not bugs:
        text = f"{scope}: none." if page == 1 else f"{scope}: no page {page} (there are {total})."
        return text, blocks.sections(text)
    first, last = (page - 1) * PAGE_SIZE + 1, (page - 1) * PAGE_SIZE + len(bugs)
    text = f"*{scope}* ({first}–{last} of {total})\n" + "\n".join(bug_blocks.line(b) for b in bugs)
    parts = blocks.sections(text)
    if last < total:
        value = json.dumps({"status": where.status, "grade": where.grade, "mine": bool(where.user_id),
                            "page": page + 1})
        parts.append(blocks.actions(blocks.button("Next page", bug_blocks.ACTION_MORE, value)))
    return text, parts


def on_more(request: Request, reply: Reply, deps: Deps) -> None:
    wanted = json.loads(request.value or "{}")
    where = BugFilter(status=wanted.get("status", "open"), grade=wanted.get("grade"),
                      user_id=request.user_id if wanted.get("mine") else None)
    reply.ack(*_list(deps, request.team_id, where, int(wanted.get("page", 1))))


def _stats(deps: Deps, team_id: str) -> str:
    with session_scope(deps.engine) as session:
        stats = bug_stats(session, team_id=team_id, now=deps.clock())
    if not stats.by_grade_status:
        return "No bugs yet. Report one with `/bug what went wrong`."
    lines = ["*Bugs by grade*  (open / closed)"]
    for grade, info in GRADES.items():
        opened = stats.by_grade_status.get((grade, "open"), 0)
        closed = stats.by_grade_status.get((grade, "closed"), 0)
        lines.append(f"• {grade} {info.label}: {opened} / {closed}")
    waiting = stats.by_grade_status.get((None, "open"), 0)
    if waiting:
        lines.append(f"• still being graded: {waiting}")
    if stats.median_open_age_days is not None:
        lines.append(f"Median age of open bugs: {stats.median_open_age_days:.1f} days")
    lines.append("*Automatic grade, as people judged it*  (confirmed / changed)")
    for grade in GRADES:
        confirmed, changed = stats.reviews.get(grade, (0, 0))
        judged = confirmed + changed
        share = f" — {confirmed / judged:.0%} right" if judged else ""
        lines.append(f"• graded {grade}: {confirmed} / {changed}{share}")
    return "\n".join(lines)


# --- the card's buttons -------------------------------------------------------------------------


def _bug_id(value: str) -> int:
    try:
        return int(value.split(":")[0])
    except ValueError:
        raise UserInputError("That button belongs to a message I no longer understand.") from None


def on_confirm(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    service.confirm(deps, team_id=request.team_id, bug_id=_bug_id(request.value), user_id=request.user_id)


def on_change(request: Request, reply: Reply, deps: Deps) -> None:
    """Picking a grade opens a small form asking why."""
    reply.ack()
    bug_id, _, grade = request.value.partition(":")
    with session_scope(deps.engine) as session:
        bug = service.load_bug(session, request.team_id, _bug_id(bug_id))
    view = bug_blocks.change_grade_view(bug, int(grade), channel=request.channel_id, ts=request.message_ts)
    deps.slack.open_view(request.trigger_id, view)


def on_change_submitted(request: Request, deps: Deps) -> None:
    meta = json.loads(request.private_metadata or "{}")
    grade = int(request.selected("grade") or 0)
    reason = request.field("reason")
    if len(reason.strip()) < 3:
        raise FieldErrors({"reason": "Please say why, in a few words: it is kept in the bug's history."})
    service.change_grade(deps, team_id=request.team_id, bug_id=int(meta["bug"]), user_id=request.user_id,
                         grade=grade, reason=reason)


def on_assign(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    bug_id = _card_bug_id(request)
    service.assign(deps, team_id=request.team_id, bug_id=bug_id, user_id=request.user_id, assignee=request.value)


def _card_bug_id(request: Request) -> int:
    # The users_select carries no value of ours; the card's block id does (bug.actions.<id>).
    return _bug_id(request.block_id.rsplit(".", 1)[-1])


# --- the report form ----------------------------------------------------------------------------


def on_report_submitted(request: Request, deps: Deps):
    values = {block: request.field(block)
              for block in ("title", "what", "expected", "steps", "version", "environment", "link")}
    errors = {}
    if not values["title"].strip():
        errors["title"] = "A title helps people find it: say what broke in a few words."
    if len(values["what"].strip()) < 10:
        errors["what"] = "Please describe what happened (at least a sentence)."
    link = values["link"].strip()
    if link and (urlsplit(link).scheme not in ("http", "https") or not urlsplit(link).netloc):
        errors["link"] = "That is not a link: it should start with https://"
    if errors:
        raise FieldErrors(errors)
    channel = json.loads(request.private_metadata or "{}").get("channel") or request.user_id
    text = "\n\n".join(part for part in (values["what"], _labelled("Expected", values["expected"]),
                                          _labelled("Steps", values["steps"])) if part)
    details = {k: values[k] for k in ("expected", "steps", "version", "environment", "link") if values[k]}
    origin = Request(name=request.name, text="", team_id=request.team_id, user_id=request.user_id,
                     channel_id=channel, trigger_id=request.trigger_id, response_url="")

    def after_close() -> None:
        _report(origin, _DirectReply(deps, request.user_id, channel), deps, text=text, title=values["title"],
                details=details, delivery_key=f"view:{request.view_id}")

    return after_close


def _labelled(label: str, value: str) -> str:
    return f"{label}: {value.strip()}" if value.strip() else ""


class _DirectReply(Reply):
    """After a modal there is no response_url: private notes go as ephemeral messages, or a DM."""

    def __init__(self, deps: Deps, user_id: str, channel: str):
        super().__init__(ack=lambda **_: None, respond=None)
        self._deps, self._user, self._channel = deps, user_id, channel
        self.acked = True

    def ack(self, text: str | None = None, blocks_: list[dict] | None = None) -> None:
        if text:
            self.later(text, blocks_)

    def later(self, text: str, blocks_: list[dict] | None = None, *, public: bool = False) -> None:
        self._deps.slack.tell_privately(self._user, self._channel, **blocks.message(text, blocks_))


GRAMMAR = Grammar(
    command="/bug",
    free=Sub("", "<what went wrong>", "report it; it is graded, posted here, and personal data is removed",
             run=_run_free_report),
    empty=_open_form,
    empty_help="(nothing) opens a form with title, steps, expected result, model version…",
    free_word="report",
    subs=(
        Sub("list", "[open|closed|all] [grade N] [mine] [page N]", "bugs, most severe first", run=_run_list,
            fits=lambda args: _list_filter(args, "") is not None),
        Sub("show", "B-12", "one bug with its grade history", run=_run_by_id,
            fits=lambda args: len(args) == 1 and _is_id(args[0])),
        Sub("close", "B-12 [resolution]", "close it, saying how it was resolved", run=_run_by_id,
            fits=lambda args: len(args) >= 1 and _is_id(args[0])),
        Sub("reopen", "B-12", "open it again", run=_run_by_id, fits=lambda args: len(args) == 1 and _is_id(args[0])),
        Sub("link", "B-12 PM-7", "make an existing Jira issue this bug's Jira twin (instead of creating one)",
            run=_run_link, fits=lambda args: len(args) == 2 and _is_id(args[0])),
        Sub("stats", "", "counts by grade and status, open age, how often people agreed with the grade",
            run=_run_stats, fits=no_args),
        Sub("report", "<what went wrong>", "report text that starts with one of these words, as it is",
            run=_run_report, fits=bool),
    ),
)

SPEC = CommandSpec(
    name="/bug",
    summary="report a bug: graded 1–5 at once, redacted, posted with what to do",
    usage_hint="<what went wrong> | list | show B-12 | close B-12 | link B-12 PM-7 | stats",
    usage=GRAMMAR.usage(),
)
