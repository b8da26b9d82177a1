"""Plays Slack's side: signed slash commands, button presses, select choices, modal submissions and
events, posted to the bot's real `POST /slack/events`. People's actions also change the sandbox
workspace first (a reply is stored before its event is sent), as in Slack.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.sandbox.server import TEAM_ID, SlackSandbox
from bot.sandbox.workspace import BOT_USER_ID, kept_state

HTTP_TIMEOUT = 10
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str
    response_url: str = ""  # the command's, for answers that come after the ack

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


@dataclass(frozen=True)
class Found:
    """An interactive element found on a surface a person can see."""

    element: dict[str, Any]
    block_id: str
    surface: str  # "message", "ephemeral" or "view"
    source: dict[str, Any]  # the message or view holding it


class NotFoundOnScreen(LookupError):
    """No button, select or input matches what was asked for."""


# Dashes people type for the one in a label like "2 — High"; a label splits into parts at them.
_DASHES = re.compile(r"\s*(?:—|–|--|-)\s+|\s+(?:—|–|--|-)\s*")
_LABEL_PARTS = re.compile(r" — |: |, |\s+")


def _loose(text: str) -> str:
    """An option label or what was typed for it, compared without case, extra spaces or dash style."""
    return _DASHES.sub(" — ", " ".join(text.split())).lower()


def element_label(element: dict[str, Any]) -> str:
    for key in ("text", "placeholder"):
        value = element.get(key)
        if isinstance(value, dict):
            return value.get("text", "")
    return ""


def iter_elements(blocks: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(element, block_id, label) for every interactive element, input blocks labelled by their label."""
    for index, block in enumerate(blocks or []):
        block_id = block.get("block_id") or f"b{index}"
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                yield element, block_id, element_label(element)
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            yield block["accessory"], block_id, element_label(block["accessory"])
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            yield block["element"], block_id, (block.get("label") or {}).get("text", "")


class Driver:
    """Builds payloads, signs them, posts them, and returns the bot's HTTP answer."""

    def __init__(self, events_url: str, signing_secret: str, sandbox: SlackSandbox | None = None,
                 *, team_id: str = TEAM_ID, subscriptions: set[str] | None = None):
        self.events_url = events_url
        # The app's bot_events (e.g. "message.channels"); None sends every event, as tests want.
        self.subscriptions = subscriptions
        self.signer = SignatureVerifier(signing_secret)
        self.sandbox = sandbox
        self.team_id = team_id
        self._ids = itertools.count(1)

    # --- transport ----------------------------------------------------------------------------

    def post(self, body: str, content_type: str, *, timestamp: int | None = None, signature: str | None = None,
             retry_num: int | None = None) -> Response:
        """POST a raw body, signed now unless a timestamp or signature is forced."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self.signer.generate_signature(timestamp=ts, body=body),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        request = urllib.request.Request(self.events_url, data=body.encode("utf-8"), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as resp:
                return Response(resp.status, dict(resp.headers), resp.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            return Response(err.code, dict(err.headers), err.read().decode("utf-8"))

    def _next(self, prefix: str) -> str:
        return f"{prefix}{int(time.time() * 1000)}{next(self._ids):04d}"

    def _trigger(self, user: str) -> str:
        if self.sandbox is None:
            return self._next("13345224609.")
        with self.sandbox.lock:
            return self.sandbox.ws.issue_trigger(user)

    def _user(self, user: str) -> dict[str, str]:
        name = self.sandbox.users[user].name if self.sandbox and user in self.sandbox.users else user
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    def _channel_name(self, channel: str) -> str:
        if self.sandbox and channel in self.sandbox.channels:
            return self.sandbox.channels[channel].name
        return "unknown"

    # --- slash commands -----------------------------------------------------------------------

    def command(self, command: str, text: str = "", *, user: str = "U0ALICE", channel: str = "C0GENERAL",
                trigger_id: str | None = None, **post_options: Any) -> Response:
        """A slash command as Slack sends it (form-encoded, with trigger_id and response_url)."""
        response_url = (self.sandbox.new_response_url(channel, user) if self.sandbox
                        else "http://127.0.0.1:9/response/0")
        form = {
            "token": "deprecated-verification-token",
            "team_id": self.team_id,
            "team_domain": "sandbox",
            "channel_id": channel,
            "channel_name": self._channel_name(channel),
            "user_id": user,
            "user_name": self._user(user)["name"],
            "command": command,
            "text": text,
            "api_app_id": "A0PMBOT",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or self._trigger(user),
        }
        response = replace(self.post(urlencode(form), FORM, **post_options), response_url=response_url)
        self._show_ack(response, channel, user)
        return response

    def answer(self, response: Response) -> dict[str, Any]:
        """What the person saw in answer to a command: the ack's body, or, when the ack was empty (the command
        acked before asking Slack or Jira something), the first answer posted to its response_url since."""
        acked = response.json() if response.body.strip().startswith("{") else {}
        if acked.get("text") or acked.get("blocks") or self.sandbox is None or not response.response_url:
            return acked
        response_id = response.response_url.rstrip("/").rsplit("/", 1)[-1]
        with self.sandbox.lock:
            later = [r for r in self.sandbox.responses if r.get("response_id") == response_id]
        return {k: v for k, v in later[0].items() if k != "response_id"} if later else acked

    def _show_ack(self, response: Response, channel: str, user: str) -> None:
        """Slack shows a command's ack body as a message: ephemeral unless response_type is in_channel."""
        if self.sandbox is None or response.status != 200 or not response.body.strip().startswith("{"):
            return
        answer = response.json()
        if not answer.get("text") and not answer.get("blocks"):
            return
        with self.sandbox.lock:
            ws = self.sandbox.ws
            if answer.get("response_type") == "in_channel" and channel in ws.channels:
                ws.post(ws.channels[channel], BOT_USER_ID, {"text": answer.get("text"), "blocks": answer.get("blocks")})
            else:
                ws.ephemeral.append({"channel": channel, "user": user, "ts": ws.next_ts(),
                                     "text": answer.get("text") or "", "blocks": answer.get("blocks") or [],
                                     "source": "ack"})

    # --- finding things on screen -------------------------------------------------------------

    def surfaces(self, user: str, channel: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """What `user` sees, newest first: their open modal, then messages and ephemeral ones in `channel`."""
        if self.sandbox is None:
            return
        ws = self.sandbox.ws
        with self.sandbox.lock:
            stack = list(ws.view_stacks.get(user) or [])
            views = [ws.views[v] for v in reversed(stack) if v in ws.views]
            home = ws.home_views.get(user)
            messages = [("message", m) for m in ws.messages if channel is None or m["channel"] == channel]
            messages += [("ephemeral", m) for m in ws.ephemeral
                         if m["user"] == user and (channel is None or m["channel"] == channel)]
        for view in views:
            yield "view", view
        yield from sorted(messages, key=lambda pair: float(pair[1]["ts"]), reverse=True)
        if home is not None:
            yield "view", home

    def find(self, label: str, *, user: str = "U0ALICE", channel: str | None = "C0GENERAL",
             types: tuple[str, ...] | None = None) -> Found:
        """The newest element whose label or action_id matches `label` (case-insensitive)."""
        wanted = label.strip().lower()
        for surface, source in self.surfaces(user, channel):
            for element, block_id, text in iter_elements(source.get("blocks") or []):
                if types and element.get("type") not in types:
                    continue
                if wanted in (text.strip().lower(), str(element.get("action_id", "")).lower()):
                    return Found(element, block_id, surface, source)
        raise NotFoundOnScreen(f"nothing labelled {label!r} is on screen")

    # --- interactions -------------------------------------------------------------------------

    def press(self, label: str, *, user: str = "U0ALICE", channel: str | None = "C0GENERAL", times: int = 1,
              **post_options: Any) -> Response:
        """Press a button by its label or action_id; `times=2` is a double click (both from the same message)."""
        found = self.find(label, user=user, channel=channel, types=("button",))
        action = {"type": "button", "action_id": found.element.get("action_id"), "block_id": found.block_id,
                  "text": found.element.get("text"), "value": found.element.get("value", ""),
                  "action_ts": f"{time.time():.6f}"}
        responses = [self._block_actions(found, action, user, **post_options) for _ in range(times)]
        return responses[0]

    def choose(self, label: str, option: str, *, user: str = "U0ALICE", channel: str | None = "C0GENERAL",
               **post_options: Any) -> Response:
        """Pick `option` in a select: its label, a part of it, its value or its number in the list (see
        `_option`); a user or channel id for pickers."""
        found = self.find(label, user=user, channel=channel)
        element = found.element
        action: dict[str, Any] = {"type": element.get("type"), "action_id": element.get("action_id"),
                                  "block_id": found.block_id, "action_ts": f"{time.time():.6f}"}
        kind = element.get("type", "")
        if kind in ("static_select", "radio_buttons"):
            action["selected_option"] = self._option(element, option)
        elif kind == "users_select":
            action["selected_user"] = option
        elif kind in ("conversations_select", "channels_select"):
            action["selected_conversation" if kind == "conversations_select" else "selected_channel"] = option
        else:
            raise NotFoundOnScreen(f"{label!r} is a {kind}, not a select")
        return self._block_actions(found, action, user, **post_options)

    @staticmethod
    def _option(element: dict[str, Any], option: str) -> dict[str, Any]:
        """The option a person means by `option`, tried in this order: its value or its whole label
        (`2 — High`, dashes and spaces as typed), one word of the label (`2`, `High`), its 1-based number in
        the list (unless the labels carry numbers of their own), or the start of exactly one label (`crit`)."""
        options = list(element.get("options") or [])
        for group in element.get("option_groups") or []:
            options += group.get("options", [])
        wanted = _loose(option)
        labels = [_loose(o["text"]["text"]) for o in options]
        words = [_LABEL_PARTS.split(label) for label in labels]
        rules = (
            lambda n: wanted in (_loose(options[n].get("value", "")), labels[n]),
            lambda n: wanted in words[n],
            lambda n: wanted.isdigit() and int(wanted) == n + 1 and not any(w.isdigit() for ws in words for w in ws),
        )
        for rule in rules:
            found = [options[n] for n in range(len(options)) if rule(n)]
            if found:
                return found[0]
        started = [o for o, label, ws in zip(options, labels, words, strict=True)
                   if wanted and any(part.startswith(wanted) for part in (label, *ws))]
        if len(started) == 1:
            return started[0]
        shown = " | ".join(o["text"]["text"] for o in options)
        raise NotFoundOnScreen(f"no option {option!r} (the options: {shown or 'none'})")

    def _block_actions(self, found: Found, action: dict[str, Any], user: str, **post_options: Any) -> Response:
        payload: dict[str, Any] = {
            "type": "block_actions", "user": self._user(user), "api_app_id": "A0PMBOT",
            "token": "deprecated-verification-token", "team": {"id": self.team_id, "domain": "sandbox"},
            "trigger_id": self._trigger(user), "actions": [action], "state": {"values": {}},
            "is_enterprise_install": False, "enterprise": None,
        }
        source = found.source
        if found.surface == "view":
            payload["container"] = {"type": "view", "view_id": source["id"]}
            payload["view"] = source
        else:
            channel = source["channel"]
            ephemeral = found.surface == "ephemeral"
            payload["container"] = {"type": "message", "message_ts": source["ts"], "channel_id": channel,
                                    "is_ephemeral": ephemeral}
            payload["channel"] = {"id": channel, "name": self._channel_name(channel)}
            if not ephemeral:
                payload["message"] = source
            payload["response_url"] = self.sandbox.new_response_url(channel, user, message_ts=source["ts"],
                                                                    ephemeral=ephemeral)
        return self.post(urlencode({"payload": json.dumps(payload)}), FORM, **post_options)

    # --- shortcuts ----------------------------------------------------------------------------

    def shortcut(self, callback_id: str, *, message: dict[str, Any] | None = None, user: str = "U0ALICE",
                 channel: str = "C0GENERAL", **post_options: Any) -> Response:
        """A shortcut, as Slack sends it: on a stored `message` (its "More actions" menu) a `message_action`
        with the channel, the message and a response_url; without one a global `shortcut` (composer or
        search), which carries no channel. Both carry a trigger_id that views.open accepts. Shapes from
        Slack's shortcut payload reference (api.slack.com/reference/interaction-payloads/shortcuts) and
        bolt-js's MessageShortcut type (docs.slack.dev/tools/bolt-js/reference/interfaces/MessageShortcut)."""
        payload: dict[str, Any] = {
            "type": "shortcut", "token": "deprecated-verification-token", "action_ts": f"{time.time():.6f}",
            "team": {"id": self.team_id, "domain": "sandbox"}, "user": self._user(user), "api_app_id": "A0PMBOT",
            "callback_id": callback_id, "trigger_id": self._trigger(user), "is_enterprise_install": False,
            "enterprise": None,
        }
        if message is not None:
            payload.update(self._message_action(message, message.get("channel") or channel, user))
        return self.post(urlencode({"payload": json.dumps(payload)}), FORM, **post_options)

    def _message_action(self, message: dict[str, Any], channel: str, user: str) -> dict[str, Any]:
        """The fields a message shortcut adds: the message as Slack shows it to apps (no `channel` key, file
        ids turned into file objects) and a response_url that answers `user` in that channel."""
        shown = {"type": "message", **{k: v for k, v in message.items() if k != "channel"}}
        response_url = "http://127.0.0.1:9/response/0"
        if self.sandbox is not None:
            with self.sandbox.lock:
                if message.get("files"):
                    shown["files"] = self.sandbox.ws.message_files(message)
            response_url = self.sandbox.new_response_url(channel, user)
        return {"type": "message_action", "channel": {"id": channel, "name": self._channel_name(channel)},
                "message_ts": message["ts"], "message": shown, "response_url": response_url}

    # --- modals -------------------------------------------------------------------------------

    def open_view(self, user: str = "U0ALICE", *, wait: float = 5.0) -> dict[str, Any]:
        """The modal on top of the user's stack. A bot opens a form after it acked the click that asked for it,
        so one that is not there yet is waited for (up to `wait` seconds), as a person waits for it to show."""

        def top() -> dict[str, Any] | None:
            with self.sandbox.lock:
                stack = self.sandbox.ws.view_stacks.get(user) or []
                return self.sandbox.ws.views[stack[-1]] if stack else None

        view = self.sandbox.wait_for(top, timeout=wait)
        if view is None:
            raise NotFoundOnScreen("no modal is open")
        return view

    def submit(self, values: dict[str, str] | None = None, *, user: str = "U0ALICE", wait: float = 5.0,
               **post_options: Any) -> Response:
        """Submit the open modal, filling inputs by label, block_id or action_id; applies the bot's answer.

        Inputs not named keep what the modal shows: what was typed before an error answer, else the
        initial value."""
        view = self.open_view(user, wait=wait)
        state = self._state(view, values or {})
        submitted = {**view, "state": {"values": state}}
        payload = {"type": "view_submission", "team": {"id": self.team_id, "domain": "sandbox"},
                   "user": self._user(user), "api_app_id": "A0PMBOT", "token": "deprecated-verification-token",
                   "trigger_id": self._trigger(user), "view": submitted, "response_urls": [],
                   "is_enterprise_install": False}
        response = self.post(urlencode({"payload": json.dumps(payload)}), FORM, **post_options)
        self._apply_view_answer(user, view, response, state)
        return response

    def _state(self, view: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        wanted = {k.strip().lower(): v for k, v in values.items()}
        shown = (view.get("state") or {}).get("values") or {}
        state: dict[str, Any] = {}
        for element, block_id, label in iter_elements(view.get("blocks") or []):
            action_id = element.get("action_id") or "a"
            keys = {label.strip().lower(), block_id.lower(), action_id.lower()}
            value = next((wanted.pop(k) for k in list(wanted) if k in keys), None)
            kept = (shown.get(block_id) or {}).get(action_id)
            entry = kept if value is None and kept is not None else self._input_value(element, value)
            state.setdefault(block_id, {})[action_id] = entry
        if wanted:
            raise NotFoundOnScreen(f"the modal has no field {', '.join(repr(k) for k in wanted)}")
        return state

    def _input_value(self, element: dict[str, Any], value: str | None) -> dict[str, Any]:
        kind = element.get("type", "")
        result: dict[str, Any] = {"type": kind}
        if kind == "plain_text_input":
            result["value"] = value if value is not None else element.get("initial_value")
        elif kind in ("static_select", "radio_buttons"):
            result["selected_option"] = self._option(element, value) if value else element.get("initial_option")
        elif kind == "users_select":
            result["selected_user"] = value or element.get("initial_user")
        elif kind == "multi_users_select":
            result["selected_users"] = value.split(",") if value else list(element.get("initial_users") or [])
        elif kind == "conversations_select":
            result["selected_conversation"] = value or element.get("initial_conversation")
        elif kind == "channels_select":
            result["selected_channel"] = value or element.get("initial_channel")
        elif kind == "datepicker":
            result["selected_date"] = value or element.get("initial_date")
        elif kind == "number_input":
            result["value"] = value if value is not None else element.get("initial_value")
        else:
            result["value"] = value
        return result

    def _apply_view_answer(self, user: str, view: dict[str, Any], response: Response,
                           state: dict[str, Any]) -> None:
        """What Slack does with the HTTP answer to a view_submission: an `errors` answer leaves the modal
        open with what the person typed still in it; an `update` keeps what was typed in inputs whose
        block_id and action_id the new view still has."""
        if response.status != 200:
            return
        answer = response.json() if response.body.strip().startswith("{") else {}
        action = answer.get("response_action")
        ws = self.sandbox.ws
        with self.sandbox.lock:
            stack = ws.view_stacks.get(user) or []
            if action == "errors":
                ws.views[view["id"]].update(errors=answer.get("errors", {}), state={"values": state})
            elif action == "update":
                kept = kept_state(state, answer["view"])
                ws.views[view["id"]] = {**view, **answer["view"], "id": view["id"], "errors": {}, "state": kept}
            elif action == "push":
                pushed = ws._view(answer["view"], user, root=view["root_view_id"], previous=view["id"])
                stack.append(pushed["id"])
            elif action == "clear":
                stack.clear()
            elif stack:
                stack.pop()

    def close(self, *, user: str = "U0ALICE", **post_options: Any) -> Response | None:
        """Cancel the open modal; the bot hears of it only if the view asked (notify_on_close)."""
        view = self.open_view(user)
        with self.sandbox.lock:
            stack = self.sandbox.ws.view_stacks.get(user) or []
            if stack:
                stack.pop()
        if not view.get("notify_on_close"):
            return None
        payload = {"type": "view_closed", "team": {"id": self.team_id}, "user": self._user(user),
                   "api_app_id": "A0PMBOT", "view": view, "is_cleared": False}
        return self.post(urlencode({"payload": json.dumps(payload)}), FORM, **post_options)

    # --- events -------------------------------------------------------------------------------

    def subscribed(self, event: dict[str, Any]) -> bool:
        """Would Slack send this event to an app with these subscriptions?"""
        if self.subscriptions is None:
            return True
        name = event.get("type", "")
        if name == "message":
            kind = {"channel": "channels", "group": "groups", "im": "im", "mpim": "mpim"}
            name = "message." + kind.get(event.get("channel_type", "channel"), "channels")
        return name in self.subscriptions

    def event(self, event: dict[str, Any], *, event_id: str | None = None, **post_options: Any) -> Response | None:
        """An Events API callback wrapping `event`; None when the app is not subscribed to it."""
        if not self.subscribed(event):
            return None
        payload = {
            "token": "deprecated-verification-token",
            "team_id": self.team_id,
            "api_app_id": "A0PMBOT",
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or self._next("Ev"),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        return self.post(json.dumps(payload), "application/json", **post_options)

    def say(self, text: str, *, user: str = "U0ALICE", channel: str = "C0GENERAL", thread_ts: str | None = None,
            broadcast: bool = False, **post_options: Any) -> tuple[Response | None, dict[str, Any]]:
        """A person posts a message (in a thread when `thread_ts`); stored, then the `message` event sent."""
        with self.sandbox.lock:
            message = self.sandbox.ws.post(self.sandbox.channels[channel], user,
                                           {"text": text, "thread_ts": thread_ts})
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": message["ts"],
                 "channel_type": "channel" if not self.sandbox.channels[channel].is_private else "group"}
        if "thread_ts" in message:
            event["thread_ts"] = message["thread_ts"]
            if broadcast:
                event["subtype"] = "thread_broadcast"
        return self.event(event, **post_options), message

    def reply(self, thread_ts: str, text: str, **options: Any) -> tuple[Response | None, dict[str, Any]]:
        """A person replies in a thread."""
        return self.say(text, thread_ts=thread_ts, **options)

    def edit(self, message: dict[str, Any], text: str, **post_options: Any) -> Response | None:
        """A person edits their message: `message_changed`."""
        previous = dict(message)
        with self.sandbox.lock:
            message["text"] = text
            message["edited"] = {"user": message["user"], "ts": f"{time.time():.6f}"}
        event = {"type": "message", "subtype": "message_changed", "channel": message["channel"],
                 "hidden": True, "ts": f"{time.time():.6f}", "message": dict(message), "previous_message": previous}
        return self.event(event, **post_options)

    def react(self, name: str, message: dict[str, Any], *, user: str = "U0ALICE",
              **post_options: Any) -> Response | None:
        """A person adds an emoji reaction: stored, then `reaction_added` sent."""
        name = name.strip(":")
        with self.sandbox.lock:
            self.sandbox.ws.react(message["channel"], message["ts"], name, user)
        event = {"type": "reaction_added", "user": user, "reaction": name, "item_user": message.get("user"),
                 "item": {"type": "message", "channel": message["channel"], "ts": message["ts"]}}
        return self.event(event, **post_options)

    def join(self, user: str, channel: str, **post_options: Any) -> Response | None:
        """Someone joins a channel: membership stored, then `member_joined_channel` sent."""
        with self.sandbox.lock:
            self.sandbox.channels[channel].members.add(user)
        event = {"type": "member_joined_channel", "user": user, "channel": channel,
                 "channel_type": "G" if self.sandbox.channels[channel].is_private else "C", "team": self.team_id}
        return self.event(event, **post_options)

    def open_home(self, user: str = "U0ALICE", **post_options: Any) -> Response | None:
        """Someone opens the bot's Home tab."""
        return self.event({"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"},
                          **post_options)

    def share_file(self, name: str, content: bytes = b"", *, text: str = "", user: str = "U0ALICE",
                   channel: str = "C0GENERAL", thread_ts: str | None = None,
                   **post_options: Any) -> tuple[Response | None, dict[str, Any]]:
        """A person uploads a file (a screenshot, say), with a message or none, in a channel or a thread: file
        and message stored, then the `message` event with subtype `file_share` and the file in `files` sent.
        The file's url_private points at the sandbox, which hands its bytes to the bot token."""
        room = self.sandbox.channels[channel]
        with self.sandbox.lock:
            ws = self.sandbox.ws
            file = ws.add_file(name, content, user=user)
            message = ws.post(room, user, {"text": text, "thread_ts": thread_ts, "files": [file["id"]]})
            share = {"ts": message["ts"], **({"thread_ts": message["thread_ts"]} if "thread_ts" in message else {})}
            file["shares"] = {"private" if room.is_private else "public": {channel: [share]}}
            parent_user = ws.message(channel, message["thread_ts"]).get("user") if "thread_ts" in message else None
            files = ws.message_files(message)
        event = {"type": "message", "subtype": "file_share", "text": text, "files": files, "upload": True,
                 "user": user, "display_as_bot": False, "ts": message["ts"], "channel": channel,
                 "channel_type": "group" if room.is_private else "channel"}
        if "thread_ts" in message:
            event.update(thread_ts=message["thread_ts"], parent_user_id=parent_user)
        return self.event(event, **post_options), message

    def delete(self, message: dict[str, Any], **post_options: Any) -> Response | None:
        """A person deletes their message: removed, then `message_deleted` sent with the message as it was."""
        with self.sandbox.lock:
            ws = self.sandbox.ws
            ws.messages[:] = [m for m in ws.messages if m is not message]
            if message.get("thread_ts") not in (None, message["ts"]):
                parent = ws.message(message["channel"], message["thread_ts"])
                parent["reply_count"] = max(0, parent.get("reply_count", 1) - 1)
        room = self.sandbox.channels[message["channel"]]
        event = {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": message["channel"],
                 "ts": f"{time.time():.6f}", "deleted_ts": message["ts"], "previous_message": dict(message),
                 "channel_type": "group" if room.is_private else "channel"}
        return self.event(event, **post_options)
