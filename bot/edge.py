"""The Slack edge of every listener: ack, error translation, metrics, and repeat-delivery filtering.

Handlers stay plain functions of (request, reply, deps); the wrappers here make them Bolt listeners.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack, BoltResponse, Respond

from bot import blocks
from bot.deps import Deps
from bot.domain.text import escape_mrkdwn
from bot.errors import PmbotError
from bot.registry import CommandSpec, is_help
from storage.db import session_scope
from storage.repos import record_delivery

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

    @classmethod
    def from_command(cls, body: dict[str, Any]) -> Request:
        return cls(name=body.get("command", ""), text=(body.get("text") or "").strip(),
                   team_id=body.get("team_id", ""), user_id=body.get("user_id", ""),
                   channel_id=body.get("channel_id", ""), trigger_id=body.get("trigger_id", ""),
                   response_url=body.get("response_url", ""))

    @classmethod
    def from_interaction(cls, body: dict[str, Any]) -> Request:
        action = (body.get("actions") or [{}])[0]
        view = body.get("view") or {}
        container = body.get("container") or {}
        return cls(
            name=action.get("action_id") or view.get("callback_id", ""),
            text="",
            team_id=(body.get("team") or {}).get("id", "") or (body.get("user") or {}).get("team_id", ""),
            user_id=(body.get("user") or {}).get("id", ""),
            channel_id=(body.get("channel") or {}).get("id", "") or container.get("channel_id", ""),
            trigger_id=body.get("trigger_id", ""),
            response_url=body.get("response_url", ""),
            value=_action_value(action),
            message_ts=container.get("message_ts", ""),
            private_metadata=view.get("private_metadata", ""),
            state=(view.get("state") or {}).get("values", {}),
            block_id=action.get("block_id", ""),
            view_id=view.get("id", ""),
        )


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


class Reply:
    """How a handler answers: in the ack while it is young (commands), through response_url after."""

    def __init__(self, ack: Ack, respond: Respond | None, *, ack_carries_text: bool = True):
        self._ack = ack
        self._respond = respond
        self._ack_carries_text = ack_carries_text
        self.acked = False

    def ack(self, text: str | None = None, blocks_: list[dict] | None = None) -> None:
        """Acknowledge now, optionally with a private answer."""
        self.acked = True
        if text is not None and self._ack_carries_text:
            self._ack(response_type="ephemeral", **blocks.message(text, blocks_))
            return
        self._ack()
        if text is not None:
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


def _guarded(deps: Deps, label: str, reply: Reply, work: Callable[[], None]) -> None:
    """Run `work`; typed errors become the user's message, the unexpected get a traceback and an id."""
    outcome = "ok"
    try:
        work()
    except PmbotError as exc:
        outcome = "user_error"
        reply.private(escape_mrkdwn(str(exc)))
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

    def listener(ack: Ack, respond: Respond, body: dict[str, Any]) -> None:
        request = Request.from_command(body)
        reply = Reply(ack, respond)
        if is_help(request.text) and not spec.own_help:
            _guarded(deps, spec.name, reply, lambda: reply.ack(spec.help_text()))
        else:
            _guarded(deps, spec.name, reply, lambda: handler(request, reply, deps))

    listener.__name__ = f"command_{spec.name.strip('/')}"
    return listener


def action_listener(deps: Deps, action_id: str, handler: Handler) -> Callable[..., None]:
    """Wrap a plain handler as a Bolt block-action listener (button press, select choice)."""

    def listener(ack: Ack, respond: Respond, body: dict[str, Any]) -> None:
        reply = Reply(ack, respond if body.get("response_url") else None, ack_carries_text=False)
        _guarded(deps, f"action:{action_id}", reply, lambda: handler(Request.from_interaction(body), reply, deps))

    listener.__name__ = f"action_{action_id.replace('.', '_')}"
    return listener


class FieldErrors(PmbotError):
    """Modal input that cannot be used: messages shown under the fields, by block_id."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


ViewHandler = Callable[[Request, Deps], dict[str, Any] | Callable[[], None] | None]


def view_listener(deps: Deps, callback_id: str, handler: ViewHandler) -> Callable[..., None]:
    """Wrap a modal submission handler. It returns the ack (a dict), None to close the modal, or a
    function to run after the modal has closed (the slow part of the work)."""

    def listener(ack: Ack, body: dict[str, Any]) -> None:
        label = f"view:{callback_id}"
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
            ack(response_action="update", view=message_view("Not saved", escape_mrkdwn(str(exc))))
        except Exception:
            outcome = "error"
            error_id = uuid.uuid4().hex[:10]
            logger.exception("%s failed (error id %s)", label, error_id)
            ack(response_action="update", view=message_view("Not saved", unexpected_error_text(error_id)))
        if later is not None:
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
    def data(self) -> dict[str, Any]:
        return self.body.get("event") or {}


EventHandler = Callable[[Event, Deps], None]


def event_listener(deps: Deps, name: str, handler: EventHandler) -> Callable[..., None]:
    """Wrap an event handler: Bolt has acked already; failures are logged with an id, never lost silently."""

    def listener(body: dict[str, Any], context: dict[str, Any]) -> None:
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


def delivery_key(body: dict[str, Any]) -> tuple[str, str, str] | None:
    """(team, key, kind) naming one Slack delivery: the event id, or the trigger id of an interaction."""
    team_id = body.get("team_id") or (body.get("team") or {}).get("id") or ""
    if body.get("event_id"):
        return team_id, str(body["event_id"]), (body.get("event") or {}).get("type", "event")
    if body.get("trigger_id"):
        kind = body.get("command") or body.get("type") or "interaction"
        return team_id, str(body["trigger_id"]), kind
    return None


def dedupe_middleware(deps: Deps) -> Callable[..., Any]:
    """Global middleware: a delivery already recorded is answered 200 and not handled again."""

    def dedupe(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002 (Bolt's name)
        found = delivery_key(body)
        if found is not None:
            team_id, key, kind = found
            with session_scope(deps.engine) as session:
                fresh = record_delivery(session, team_id=team_id, key=key, kind=kind)
            if not fresh:
                logger.info("repeat delivery %s (%s) ignored", key, kind)
                deps.metrics.requests.labels(kind, "duplicate").inc()
                return BoltResponse(status=200, body="")
        return next()

    return dedupe
