"""The Slack edge of every listener: ack, error translation, metrics, and repeat-delivery filtering.

Handlers stay plain functions of (request, reply, deps); the wrappers here make them Bolt listeners, and the
`on_*` functions register each one from its id in one call. A handler reads a submitted form by block id
(`request.field("title")`, `request.selected("grade")`), never by digging through `state`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, BoltResponse, Respond

from bot import blocks, workpool
from bot.deps import Deps
from bot.domain.text import escape_user_text, from_slack, strip_controls, strip_controls_in
from bot.errors import PmbotError, SlackError
from bot.registry import CommandSpec, is_help
from storage.db import session_scope
from storage.repos import claim_click, mark_back, record_delivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """A slash command or an interaction, as our handlers see it."""

    name: str  # the command ("/pmbot") or the action_id / callback_id
    text: str
    team_id: str
    user_id: str
    channel_id: str
    trigger_id: str
    response_url: str
    value: str = ""
    message_ts: str = ""
    private_metadata: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    block_id: str = ""
    view_id: str = ""
    channel_name: str = ""  # as the payload gives it: `directmessage` for a DM, `mpdm-…` for a group DM
    message: dict[str, Any] = field(default_factory=dict)  # the message a message shortcut was used on

    @property
    def channel_kind(self) -> str:
        """Where the request came from: `channel`, `private`, `im` (a DM) or `mpim` (a group DM)."""
        return channel_kind(self.channel_id, self.channel_name)

    # --- what was entered in a submitted form, by block id ------------------------------------------------
    # Our forms give each input block one element whose action_id is the block's id, so the block id is
    # enough; `action_id` names the element where a form does otherwise.

    def element(self, block_id: str, action_id: str | None = None) -> dict[str, Any]:
        """One input of the submitted form as Slack sent it; {} when the form had no such input."""
        return (self.state.get(block_id) or {}).get(action_id or block_id) or {}

    def field(self, block_id: str, action_id: str | None = None) -> str:
        """What was typed in a text or number input, as typed; "" when it was left empty."""
        return self.element(block_id, action_id).get("value") or ""

    def selected(self, block_id: str, action_id: str | None = None) -> str:
        """The value of the option chosen in a static select; "" when none was."""
        return (self.element(block_id, action_id).get("selected_option") or {}).get("value") or ""

    def selected_user(self, block_id: str, action_id: str | None = None) -> str:
        """The user picked in a users select; "" when none was."""
        return self.element(block_id, action_id).get("selected_user") or ""

    def selected_users(self, block_id: str, action_id: str | None = None) -> list[str]:
        """The users picked in a multi-users select, in order; [] when none were."""
        return list(self.element(block_id, action_id).get("selected_users") or [])

    def selected_conversation(self, block_id: str, action_id: str | None = None) -> str:
        """The channel or DM picked in a conversations select; "" when none was."""
        return self.element(block_id, action_id).get("selected_conversation") or ""

    def selected_date(self, block_id: str, action_id: str | None = None) -> str:
        """The day picked in a date picker (`YYYY-MM-DD`); "" when none was."""
        return self.element(block_id, action_id).get("selected_date") or ""

    def answer(self, block_id: str, action_id: str | None = None) -> str:
        """What one input holds whatever its kind (typed text, a chosen option, a picked user, channel or
        day): for forms read input by input in a loop. "" when nothing was given."""
        element = self.element(block_id, action_id)
        if "selected_option" in element:
            return self.selected(block_id, action_id)
        for key in ("selected_user", "selected_conversation", "selected_date"):
            if key in element:
                return element.get(key) or ""
        return element.get("value") or ""

    @classmethod
    def from_command(cls, body: dict[str, Any]) -> Request:
        # Slack escapes &, < and > in command text; decoded here, once, and plain from here on.
        return cls(name=body.get("command", ""), text=from_slack(body.get("text") or "").strip(),
                   team_id=installation_team(body), user_id=body.get("user_id", ""),
                   channel_id=body.get("channel_id", ""), trigger_id=body.get("trigger_id", ""),
                   response_url=body.get("response_url", ""), channel_name=body.get("channel_name") or "")

    @classmethod
    def from_interaction(cls, body: dict[str, Any]) -> Request:
        action = (body.get("actions") or [{}])[0]
        view = body.get("view") or {}
        container = body.get("container") or {}
        return cls(
            name=action.get("action_id") or view.get("callback_id") or body.get("callback_id", ""),
            text="",
            team_id=installation_team(body),
            user_id=(body.get("user") or {}).get("id", ""),
            channel_id=(body.get("channel") or {}).get("id", "") or container.get("channel_id", ""),
            trigger_id=body.get("trigger_id", ""),
            response_url=body.get("response_url", ""),
            value=strip_controls(_action_value(action)),
            message_ts=container.get("message_ts") or body.get("message_ts", ""),
            private_metadata=view.get("private_metadata", ""),
            # What a person typed into a modal, stripped of control characters like command text is.
            state=strip_controls_in((view.get("state") or {}).get("values", {})),
            block_id=action.get("block_id", ""),
            view_id=view.get("id", ""),
            channel_name=(body.get("channel") or {}).get("name") or "",
            message=(body.get("message") or {}) if body.get("type") == "message_action" else {},
        )


def installation_team(body: dict[str, Any]) -> str:
    """The team our rows are keyed by: the installation a payload was delivered for.

    Not the outer `team_id` of an event, which in a Slack Connect channel (and across an Enterprise Grid)
    is the organisation the event came from. For an org-wide install (Grid) it is the organisation's id,
    the same for every workspace in it, because Slack then leaves the installation's team_id empty.
    """
    auth = (body.get("authorizations") or [None])[0]
    if isinstance(auth, dict):  # Events API: the installation that received this delivery
        if _flag(auth.get("is_enterprise_install")) and auth.get("enterprise_id"):
            return str(auth["enterprise_id"])
        if auth.get("team_id"):
            return str(auth["team_id"])
    if _flag(body.get("is_enterprise_install")) and _enterprise_id(body):
        return _enterprise_id(body)
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    team = body.get("team")
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    for candidate in (view.get("app_installed_team_id"),  # a modal opened from a Connect channel
                      team.get("id") if isinstance(team, dict) else None,
                      body.get("team_id"), user.get("team_id"), view.get("team_id")):
        if candidate:
            return str(candidate)
    return ""


def _enterprise_id(body: dict[str, Any]) -> str:
    enterprise = body.get("enterprise")
    if isinstance(enterprise, dict) and enterprise.get("id"):
        return str(enterprise["id"])
    team = body.get("team") if isinstance(body.get("team"), dict) else {}
    return str(body.get("enterprise_id") or team.get("enterprise_id") or "")


def _flag(value: Any) -> bool:
    """Slack sends booleans as JSON true in events and as the string "true" in form-encoded commands."""
    return value is True or value == "true"


def channel_kind(channel_id: str, channel_name: str = "") -> str:
    """`im`, `mpim`, `private` or `channel`, from the payload's channel name (ids alone cannot tell all)."""
    if channel_name == "directmessage" or channel_id.startswith("D"):
        return "im"
    if channel_name.startswith("mpdm-"):
        return "mpim"
    if channel_name == "privategroup" or channel_id.startswith("G"):
        return "private"
    return "channel"


def cannot_post_hint(kind: str, *, usage: str) -> str:
    """What to do when pmbot could not post where a command was typed, said for that kind of place
    (`Request.channel_kind`)."""
    if kind in ("im", "mpim"):
        where = "a direct message between people" if kind == "im" else "a group DM I am not in"
        return f"I can't post in {where}; run `{usage}` in a channel, or in your DM with me."
    return "I could not post in this channel; invite me with `/invite @pmbot` and try again."


def _action_value(action: dict[str, Any]) -> str:
    if "value" in action:
        return str(action["value"])
    for key in ("selected_option", "selected_user", "selected_conversation", "selected_channel", "selected_date"):
        chosen = action.get(key)
        if isinstance(chosen, dict):
            return str(chosen.get("value", ""))
        if chosen:
            return str(chosen)
    return ""


# The request context key holding when a request arrived (time.monotonic()), set by the HTTP edge or,
# for Socket Mode, by `received_middleware`.
RECEIVED = "pmbot_received"
# Slack waits 3 s for an ack, and Bolt answers an error when none came by then. A listener that starts later
# than this must not act: the person was (or is about to be) told it failed, and may well try again.
ACK_DEADLINE_SECONDS = 2.5


def received_middleware() -> Callable[..., Any]:
    """Global middleware: stamps the arrival time on requests that did not come through the HTTP edge."""

    def received(context: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002 (Bolt's name)
        context.setdefault(RECEIVED, time.monotonic())
        return next()

    return received


def too_late(deps: Deps, context: dict[str, Any], label: str) -> bool:
    """True, logged and counted, when a listener starts after the ack deadline of its request."""
    received = context.get(RECEIVED)
    waited = time.monotonic() - received if received is not None else 0.0
    if waited <= ACK_DEADLINE_SECONDS:
        return False
    logger.warning("%s started %.1f s after it arrived, too late to ack: not carried out", label, waited)
    deps.metrics.requests.labels(label, "too_late").inc()
    return True


class Reply:
    """How a handler answers: in the ack while it is young (commands), through response_url after."""

    def __init__(self, ack: Ack, respond: Respond | None, *, ack_carries_text: bool = True):
        self._ack = ack
        self._respond = respond
        self._ack_carries_text = ack_carries_text
        self.acked = False
        # A call to Slack, Jira or the LLM before the handler acked acks first (see workpool.before_remote_call).
        workpool.ack_before_remote_calls(self.ack)

    def ack(self, text: str | None = None, blocks_: list[dict] | None = None) -> None:
        """Acknowledge now, optionally with a private answer. What the handler does next is slow work: it
        waits for a work slot (see `workpool.ListenerPool`), never in the way of another request's ack.
        When the request was acked already (before a remote call), the answer goes through response_url."""
        if self.acked:
            if text is not None:
                self.later(text, blocks_)
            return
        self.acked = True
        if text is not None and self._ack_carries_text:
            self._ack(response_type="ephemeral", **blocks.message(text, blocks_))
        else:
            self._ack()
        workpool.acked()
        if text is not None and not self._ack_carries_text:
            self.later(text, blocks_)

    def later(self, text: str, blocks_: list[dict] | None = None, *, public: bool = False) -> None:
        """Answer after the ack (the slow path), privately unless `public`."""
        if self._respond is None:
            logger.warning("no response_url to answer with: %s", text[:200])
            return
        self._respond(response_type="in_channel" if public else "ephemeral", replace_original=False,
                      **blocks.message(text, blocks_))

    def private(self, text: str) -> None:
        """A private message, whichever way is still open."""
        if self.acked:
            self.later(text)
        else:
            self.ack(text)


Handler = Callable[[Request, Reply, Deps], None]


def unexpected_error_text(error_id: str) -> str:
    return (
        "Something went wrong on our side and this did not finish. "
        f"Please try again; if it keeps failing, give your admin the error id `{error_id}`."
    )


# Slack's answers when pmbot may not post where a command was typed (a private channel it is not in, a DM
# between people), from the calls that post there; the person is told what to do rather than Slack's code.
_CANNOT_POST = {"not_in_channel", "channel_not_found", "method_not_supported_for_channel_type"}
_POSTING = {"chat.postMessage", "conversations.join", "files.upload_v2", "files.completeUploadExternal"}


def _guarded(deps: Deps, label: str, reply: Reply, work: Callable[[], None], *,
             request: Request | None = None) -> None:
    """Run `work`; typed errors become the user's message, the unexpected get a traceback and an id."""
    outcome = "ok"
    try:
        work()
    except SlackError as exc:
        outcome = "user_error"
        if request is not None and exc.code in _CANNOT_POST and exc.method in _POSTING:
            reply.private(cannot_post_hint(request.channel_kind, usage=f"{request.name} …"))
        else:
            reply.private(escape_user_text(str(exc)))
    except PmbotError as exc:
        outcome = "user_error"
        reply.private(escape_user_text(str(exc)))
    except Exception:
        outcome = "error"
        error_id = uuid.uuid4().hex[:10]
        logger.exception("%s failed (error id %s)", label, error_id)
        reply.private(unexpected_error_text(error_id))
    finally:
        if not reply.acked:
            reply.ack()
        deps.metrics.requests.labels(label, outcome).inc()


def command_listener(deps: Deps, spec: CommandSpec, handler: Handler) -> Callable[..., None]:
    """Wrap a plain handler as a Bolt command listener; `help` is answered from the spec."""

    def listener(ack: Ack, respond: Respond, body: dict[str, Any], context: dict[str, Any]) -> None:
        if too_late(deps, context, spec.name):
            return
        request = Request.from_command(body)
        reply = Reply(ack, respond)
        if is_help(request.text) and not spec.own_help:
            _guarded(deps, spec.name, reply, lambda: reply.ack(spec.help_text()))
        else:
            _guarded(deps, spec.name, reply, lambda: handler(request, reply, deps), request=request)

    listener.__name__ = f"command_{spec.name.strip('/')}"
    return listener


def action_listener(deps: Deps, action_id: str, handler: Handler) -> Callable[..., None]:
    """Wrap a plain handler as a Bolt block-action listener (button press, select choice)."""

    def listener(ack: Ack, respond: Respond, body: dict[str, Any], context: dict[str, Any]) -> None:
        label = f"action:{action_id}"
        if too_late(deps, context, label):
            return
        if not _first_click(deps, body, action_id):
            ack()
            logger.info("%s: the same click again within %d s, ignored", label, CLICK_WINDOW.total_seconds())
            deps.metrics.requests.labels(label, "duplicate").inc()
            return
        reply = Reply(ack, respond if body.get("response_url") else None, ack_carries_text=False)
        _guarded(deps, label, reply, lambda: handler(Request.from_interaction(body), reply, deps))

    listener.__name__ = f"action_{action_id.replace('.', '_')}"
    return listener


# The same click again this soon is a double click, handled once. Slack gives each click a trigger_id of its own,
# so the delivery filter (`dedupe_middleware`) cannot see it; `click_key` names the click instead.
CLICK_WINDOW = timedelta(seconds=10)


def click_key(body: dict[str, Any]) -> str | None:
    """What makes a click on a button the same click: the action (its id, block and value, not its time), the
    message or modal it is on, and who clicked; hashed to fit the delivery table's key. None for anything but a
    button: a select fires once per change (choosing again after cancelling its form is a new choice), and a
    shortcut is never a double click (a person may open the same form again at once)."""
    action = (body.get("actions") or [{}])[0]
    if body.get("type") != "block_actions" or action.get("type") != "button":
        return None
    action = {k: v for k, v in action.items() if k != "action_ts"}
    container = body.get("container") or {}
    where = (container.get("channel_id") or (body.get("channel") or {}).get("id", ""),
             container.get("message_ts") or container.get("view_id") or (body.get("view") or {}).get("id", ""))
    who = (body.get("user") or {}).get("id", "")
    named = json.dumps([action, where, who], sort_keys=True, ensure_ascii=False)
    return "click:" + hashlib.sha256(named.encode("utf-8", "surrogatepass")).hexdigest()[:48]


def _first_click(deps: Deps, body: dict[str, Any], action_id: str) -> bool:
    """False when this click repeats one claimed less than `CLICK_WINDOW` ago; the claim is committed before the
    handler runs, so of two clicks arriving together only one is handled."""
    key = click_key(body)
    if key is None:
        return True
    with session_scope(deps.engine) as session:
        return claim_click(session, team_id=installation_team(body), key=key, kind=f"click:{action_id}"[:64],
                           now=deps.clock(), window=CLICK_WINDOW)


class FieldErrors(PmbotError):
    """Modal input that cannot be used: messages shown under the fields, by block_id."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


ViewHandler = Callable[[Request, Deps], dict[str, Any] | Callable[[], None] | None]


def view_listener(deps: Deps, callback_id: str, handler: ViewHandler) -> Callable[..., None]:
    """Wrap a modal submission handler. It returns the ack (a dict), None to close the modal, or a
    function to run after the modal has closed (the slow part of the work)."""

    def listener(ack: Ack, body: dict[str, Any], context: dict[str, Any]) -> None:
        label = f"view:{callback_id}"
        if too_late(deps, context, label):
            return
        outcome = "ok"
        later = None
        try:
            answer = handler(Request.from_interaction(body), deps)
            if callable(answer):
                later = answer
                ack()
            elif answer:
                ack(**answer)
            else:
                ack()
        except FieldErrors as exc:
            outcome = "user_error"
            ack(response_action="errors", errors=exc.errors)
        except PmbotError as exc:
            outcome = "user_error"
            ack(response_action="update", view=message_view("Not saved", escape_user_text(str(exc))))
        except Exception:
            outcome = "error"
            error_id = uuid.uuid4().hex[:10]
            logger.exception("%s failed (error id %s)", label, error_id)
            ack(response_action="update", view=message_view("Not saved", unexpected_error_text(error_id)))
        if later is not None:
            workpool.acked()
            try:
                later()
            except Exception:  # the modal is closed: nobody to answer, so it must be in the log
                outcome = "error"
                logger.exception("%s failed after closing the modal (error id %s)", label, uuid.uuid4().hex[:10])
        deps.metrics.requests.labels(label, outcome).inc()

    listener.__name__ = f"view_{callback_id.replace('.', '_')}"
    return listener


def message_view(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something."""
    return {"type": "modal", "title": blocks.plain(title, 24), "close": blocks.plain("Close", 24),
            "blocks": blocks.sections(text)}


@dataclass(frozen=True)
class Event:
    """An Events API event, with who the bot is (to tell its own joins and messages apart)."""

    body: dict[str, Any]
    bot_user_id: str

    @property
    def team_id(self) -> str:
        """The team our rows are keyed by (the installation's), whoever in a shared channel acted."""
        return installation_team(self.body)

    @property
    def data(self) -> dict[str, Any]:
        """The event, its message text (and an edit's new and old text) decoded once: plain from here on."""
        return _decoded(self.body.get("event") or {})


def _decoded(event: dict[str, Any]) -> dict[str, Any]:
    copy = dict(event)
    if isinstance(copy.get("text"), str):
        copy["text"] = from_slack(copy["text"])
    for key in ("message", "previous_message"):
        if isinstance(copy.get(key), dict) and isinstance(copy[key].get("text"), str):
            copy[key] = {**copy[key], "text": from_slack(copy[key]["text"])}
    return copy


EventHandler = Callable[[Event, Deps], None]


def event_listener(deps: Deps, name: str, handler: EventHandler) -> Callable[..., None]:
    """Wrap an event handler: Bolt has acked already; failures are logged with an id, never lost silently."""

    def listener(body: dict[str, Any], context: dict[str, Any]) -> None:
        workpool.acked()  # Bolt acked the event before calling us: all of this is slow work
        outcome = "ok"
        try:
            handler(Event(body, context.get("bot_user_id") or ""), deps)
        except PmbotError as exc:
            outcome = "user_error"
            logger.warning("event %s: %s", name, exc)
        except Exception:
            outcome = "error"
            logger.exception("event %s failed (error id %s)", name, uuid.uuid4().hex[:10])
        finally:
            deps.metrics.requests.labels(f"event:{name}", outcome).inc()

    listener.__name__ = f"event_{name}"
    return listener


# --- registering listeners: each id named once -------------------------------------------------------
# A feature's `register` wires each listener with one call from its id constant, so the id Bolt matches and
# the id our metrics and click claims are labelled with cannot drift apart.


def on_command(app: App, deps: Deps, spec: CommandSpec, handler: Handler) -> None:
    """Answer the slash command `spec.name` with `handler`."""
    app.command(spec.name)(command_listener(deps, spec, handler))


def on_action(app: App, deps: Deps, action_id: str, handler: Handler) -> None:
    """Handle clicks on (or choices in) the element whose action_id is `action_id`."""
    app.action(action_id)(action_listener(deps, action_id, handler))


def on_actions_under(app: App, deps: Deps, prefix: str, handler: Handler) -> None:
    """Handle every element whose action_id is `<prefix>.<something>`: a family of buttons built from one
    constant (one per intake question or runbook task). They share the prefix's metrics label."""
    app.action(actions_under(prefix))(action_listener(deps, prefix, handler))


def actions_under(prefix: str) -> re.Pattern[str]:
    """The pattern matching the action ids `<prefix>.<something>`, made from the prefix itself."""
    return re.compile(rf"^{re.escape(prefix)}\.")


def on_shortcut(app: App, deps: Deps, callback_id: str, handler: Handler) -> None:
    """Handle the global or message shortcut `callback_id` (answered like a click)."""
    app.shortcut(callback_id)(action_listener(deps, callback_id, handler))


def on_view(app: App, deps: Deps, callback_id: str, handler: ViewHandler) -> None:
    """Handle submissions of the modal `callback_id` (see `view_listener` for what `handler` returns)."""
    app.view(callback_id)(view_listener(deps, callback_id, handler))


def on_event(app: App, deps: Deps, name: str, handler: EventHandler) -> None:
    """Handle the Events API event `name`."""
    app.event(name)(event_listener(deps, name, handler))


def delivery_key(body: dict[str, Any]) -> tuple[str, str, str] | None:
    """(team, key, kind) naming one Slack delivery: the event id, or the trigger id of an interaction."""
    team_id = installation_team(body)
    if body.get("event_id"):
        return team_id, str(body["event_id"]), (body.get("event") or {}).get("type", "event")
    if body.get("trigger_id"):
        kind = body.get("command") or body.get("type") or "interaction"
        return team_id, str(body["trigger_id"]), kind
    return None


# The events that say pmbot may no longer act in a team (bot/installs.py keeps the mark).
GOODBYE_EVENTS = ("app_uninstalled", "tokens_revoked")


def dedupe_middleware(deps: Deps) -> Callable[..., Any]:
    """Global middleware: a delivery already recorded is answered 200 and not handled again."""

    def dedupe(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002 (Bolt's name)
        found = delivery_key(body)
        if found is not None:
            team_id, key, kind = found
            with session_scope(deps.engine) as session:
                fresh = record_delivery(session, team_id=team_id, key=key, kind=kind, now=deps.clock())
                # Any command, click or event but a goodbye from a team marked uninstalled means it is back.
                back = fresh and kind not in GOODBYE_EVENTS and mark_back(session, team_id=team_id,
                                                                          now=deps.clock())
            if back:
                logger.info("team %s uses pmbot again: scheduled posts resume", team_id)
            if not fresh:
                logger.info("repeat delivery %s (%s) ignored", key, kind)
                deps.metrics.requests.labels(kind, "duplicate").inc()
                return BoltResponse(status=200, body="")
        return next()

    return dedupe


def rate_limited_middleware(deps: Deps) -> Callable[..., Any]:
    """Global middleware: Slack's `app_rate_limited` notice (a top-level type, not an event) is acknowledged
    and logged. No listener can match it, and answering 404 would count against the app's event deliveries."""

    def rate_limited(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002 (Bolt's name)
        if body.get("type") != "app_rate_limited":
            return next()
        logger.warning("Slack is rate-limiting event deliveries for team %s since minute %s (epoch); events "
                       "of that minute may not arrive", body.get("team_id") or "?", body.get("minute_rate_limited"))
        deps.metrics.requests.labels("app_rate_limited", "ok").inc()
        return BoltResponse(status=200, body="")

    return rate_limited


def unhandled_listener(deps: Deps, kind: str) -> Callable[..., None]:
    """The last listener of its kind: a shortcut, button, closed modal or event nothing here handles is
    acknowledged and logged, so Slack shows no error (a 404 would)."""

    def listener(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        action = (body.get("actions") or [{}])[0]
        name = (body.get("callback_id") or action.get("action_id") or view.get("callback_id")
                or (body.get("event") or {}).get("type") or "?")
        logger.info("%s %r: nothing handles it here; acknowledged", kind, name)
        deps.metrics.requests.labels(f"{kind}:unhandled", "ok").inc()

    listener.__name__ = f"unhandled_{kind}"
    return listener
