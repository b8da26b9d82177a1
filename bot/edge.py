"""The Slack edge of every listener: ack, error translation, metrics, and repeat-delivery filtering."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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
class CommandRequest:
    """A slash command as our handlers see it."""

    command: str
    text: str
    team_id: str
    user_id: str
    channel_id: str
    trigger_id: str
    response_url: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> CommandRequest:
        return cls(
            command=body.get("command", ""),
            text=(body.get("text") or "").strip(),
            team_id=body.get("team_id", ""),
            user_id=body.get("user_id", ""),
            channel_id=body.get("channel_id", ""),
            trigger_id=body.get("trigger_id", ""),
            response_url=body.get("response_url", ""),
        )


class Reply:
    """How a handler answers: in the ack while it is young, through response_url after."""

    def __init__(self, ack: Ack, respond: Respond):
        self._ack = ack
        self._respond = respond
        self.acked = False

    def ack(self, text: str | None = None, blocks_: list[dict] | None = None) -> None:
        """Acknowledge now, optionally with a private answer."""
        self.acked = True
        if text is None:
            self._ack()
        else:
            self._ack(response_type="ephemeral", **blocks.message(text, blocks_))

    def later(self, text: str, blocks_: list[dict] | None = None, *, public: bool = False) -> None:
        """Answer after the ack (the slow path), privately unless `public`."""
        self._respond(
            response_type="in_channel" if public else "ephemeral",
            replace_original=False,
            **blocks.message(text, blocks_),
        )

    def private(self, text: str) -> None:
        """A private message, whichever way is still open."""
        if self.acked:
            self.later(text)
        else:
            self.ack(text)


CommandHandler = Callable[[CommandRequest, Reply, Deps], None]


def unexpected_error_text(error_id: str) -> str:
    return (
        "Something went wrong on our side and the command did not finish. "
        f"Please try again; if it keeps failing, give your admin the error id `{error_id}`."
    )


def command_listener(deps: Deps, spec: CommandSpec, handler: CommandHandler) -> Callable[..., None]:
    """Wrap a plain handler as a Bolt listener: help, typed errors, an error id for the unexpected."""

    def listener(ack: Ack, respond: Respond, body: dict[str, Any]) -> None:
        request = CommandRequest.from_body(body)
        reply = Reply(ack, respond)
        outcome = "ok"
        try:
            if is_help(request.text) and not spec.own_help:
                reply.ack(spec.help_text())
            else:
                handler(request, reply, deps)
        except PmbotError as exc:
            outcome = "user_error"
            reply.private(escape_mrkdwn(str(exc)))
        except Exception:
            outcome = "error"
            error_id = uuid.uuid4().hex[:10]
            logger.exception("command %s failed (error id %s)", spec.name, error_id)
            reply.private(unexpected_error_text(error_id))
        finally:
            if not reply.acked:
                reply.ack()
            deps.metrics.requests.labels(spec.name, outcome).inc()

    listener.__name__ = f"command_{spec.name.strip('/')}"
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


EventHandler = Callable[[dict[str, Any], Deps], None]


def event_listener(deps: Deps, name: str, handler: EventHandler) -> Callable[..., None]:
    """Wrap an event handler: Bolt has acked already; failures are logged with an id, never lost silently."""

    def listener(body: dict[str, Any]) -> None:
        outcome = "ok"
        try:
            handler(body, deps)
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
