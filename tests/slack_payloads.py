"""Payloads in the structure Slack documents (Events API, interactivity, slash commands), with our own values.

Each builder returns the body Slack would POST; `as_event`, `as_interaction` and `as_command` encode it the
way Slack sends it, ready for `Driver.post(body, content_type)`. The variants Slack sends from other places:

- `grid=True`: a workspace install inside an Enterprise Grid org (`enterprise_id`, `authorizations[].
  enterprise_id`, `context_enterprise_id`, `enterprise` objects in interactions).
- `org_install=True`: an org-wide install: `is_enterprise_install` true, and the installation's `team_id`
  empty in `authorizations` (Slack keys such an install by the organisation).
- `shared=True`: from a Slack Connect channel: the outer `team_id` is the other organisation's, the event
  carries `user_team`/`source_team`, the body `is_ext_shared_channel: true`; `authorizations[0]` stays ours.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.workspace import BOT_USER_ID, TEAM_ID

APP_ID = "A0PMBOT"
ENTERPRISE_ID = "E0ACME"
OTHER_TEAM_ID = "T0PARTNER"  # the organisation on the other side of a Slack Connect channel
OTHER_ENTERPRISE_ID = "E0PARTNER"
OTHER_BOT_ID = "B0DEPLOYBOT"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_ids = itertools.count(1)


def _next(prefix: str) -> str:
    return f"{prefix}{int(time.time())}{next(_ids):05d}"


def _ts() -> str:
    return f"{time.time():.6f}"


# --- encodings --------------------------------------------------------------------------------------


def as_event(body: dict[str, Any]) -> tuple[str, str]:
    """Events API deliveries are JSON."""
    return json.dumps(body), JSON


def as_interaction(payload: dict[str, Any]) -> tuple[str, str]:
    """Interactivity is a form with one field, `payload`, holding JSON."""
    return urlencode({"payload": json.dumps(payload)}), FORM


def as_command(form: dict[str, str]) -> tuple[str, str]:
    """Slash commands are plain form fields."""
    return urlencode(form), FORM


# --- the Events API envelope ------------------------------------------------------------------------


def event_callback(event: dict[str, Any], *, team: str = TEAM_ID, grid: bool = False, org_install: bool = False,
                   shared: bool = False, event_id: str | None = None) -> dict[str, Any]:
    """The `event_callback` wrapping one event, as delivered to our installation."""
    outer_team = OTHER_TEAM_ID if shared else team
    authorization: dict[str, Any] = {"enterprise_id": None, "team_id": team, "user_id": BOT_USER_ID,
                                     "is_bot": True, "is_enterprise_install": False}
    body: dict[str, Any] = {
        "token": "deprecated-verification-token",
        "team_id": outer_team,
        "api_app_id": APP_ID,
        "event": {"event_ts": _ts(), **event},
        "type": "event_callback",
        "event_id": event_id or _next("Ev"),
        "event_time": int(time.time()),
        "authorizations": [authorization],
        "is_ext_shared_channel": shared,
        "context_team_id": outer_team,
        "context_enterprise_id": None,
    }
    if grid or org_install:
        enterprise = OTHER_ENTERPRISE_ID if shared else ENTERPRISE_ID
        body["enterprise_id"] = enterprise
        body["context_enterprise_id"] = enterprise
        authorization["enterprise_id"] = ENTERPRISE_ID
    if org_install:
        authorization.update(team_id=None, is_enterprise_install=True)
    return body


def app_rate_limited(*, team: str = TEAM_ID, minute: int = 1_893_456_000) -> dict[str, Any]:
    """Not an event_callback: a top-level notice with no inner event."""
    return {"token": "deprecated-verification-token", "type": "app_rate_limited", "team_id": team,
            "minute_rate_limited": minute, "api_app_id": APP_ID}


# --- events -----------------------------------------------------------------------------------------


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [{"type": "rich_text", "block_id": _next("rt"),
             "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]


def message(channel: str, user: str, text: str, *, ts: str | None = None, thread_ts: str | None = None,
            team: str = TEAM_ID, channel_type: str = "channel", shared: bool = False) -> dict[str, Any]:
    """A person's message (a thread reply when `thread_ts`)."""
    event: dict[str, Any] = {"type": "message", "client_msg_id": _next("msg-"), "user": user, "text": text,
                             "ts": ts or _ts(), "team": OTHER_TEAM_ID if shared else team, "channel": channel,
                             "channel_type": channel_type, "blocks": _rich_text(text)}
    if shared:
        event.update(user_team=OTHER_TEAM_ID, source_team=OTHER_TEAM_ID)
    if thread_ts:
        event.update(thread_ts=thread_ts, parent_user_id=BOT_USER_ID)
    return event


def thread_broadcast(channel: str, user: str, text: str, *, thread_ts: str, ts: str | None = None,
                     team: str = TEAM_ID) -> dict[str, Any]:
    """A thread reply also sent to the channel."""
    event = message(channel, user, text, ts=ts, thread_ts=thread_ts, team=team)
    event["subtype"] = "thread_broadcast"
    event["root"] = {"type": "message", "user": BOT_USER_ID, "text": "", "ts": thread_ts, "thread_ts": thread_ts}
    return event


def file_share(channel: str, user: str, text: str = "", *, ts: str | None = None, thread_ts: str | None = None,
               team: str = TEAM_ID) -> dict[str, Any]:
    """A message with an uploaded file: subtype `file_share` and a `files` array."""
    event = message(channel, user, text, ts=ts, thread_ts=thread_ts, team=team)
    file_id = _next("F")
    event.update(subtype="file_share", upload=False, display_as_bot=False, files=[{
        "id": file_id, "created": int(time.time()), "timestamp": int(time.time()), "name": "screenshot.png",
        "title": "screenshot.png", "mimetype": "image/png", "filetype": "png", "pretty_type": "PNG",
        "user": user, "user_team": team, "editable": False, "size": 48213, "mode": "hosted",
        "is_external": False, "external_type": "", "is_public": True, "public_url_shared": False,
        "display_as_bot": False, "username": "",
        "url_private": f"https://files.slack.com/files-pri/{team}-{file_id}/screenshot.png",
        "permalink": f"https://example.slack.com/files/{user}/{file_id}/screenshot.png",
    }])
    return event


def message_changed(channel: str, original: dict[str, Any], new_text: str) -> dict[str, Any]:
    """An edit: the new message under `message`, the old one under `previous_message`; hidden."""
    edited = {**original, "text": new_text, "blocks": _rich_text(new_text),
              "edited": {"user": original.get("user"), "ts": _ts()}}
    for key in ("channel", "event_ts", "channel_type"):
        edited.pop(key, None)
    previous = {k: v for k, v in original.items() if k not in ("channel", "event_ts", "channel_type")}
    return {"type": "message", "subtype": "message_changed", "hidden": True, "channel": channel, "ts": _ts(),
            "message": edited, "previous_message": previous, "channel_type": original.get("channel_type",
                                                                                         "channel")}


def message_deleted(channel: str, original: dict[str, Any]) -> dict[str, Any]:
    """A deletion: no `user` or `text` at the top; the old message under `previous_message`; hidden."""
    previous = {k: v for k, v in original.items() if k not in ("channel", "event_ts", "channel_type")}
    return {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": channel, "ts": _ts(),
            "deleted_ts": original["ts"], "previous_message": previous,
            "channel_type": original.get("channel_type", "channel")}


def bot_message(channel: str, text: str, *, thread_ts: str | None = None, legacy: bool = True) -> dict[str, Any]:
    """Another app's message: `subtype: bot_message` with `bot_id` (legacy integrations and webhooks), or an
    app's bot user posting with chat.postMessage (a `user` and `bot_id`, `bot_profile`, no subtype)."""
    event: dict[str, Any] = {"type": "message", "text": text, "ts": _ts(), "bot_id": OTHER_BOT_ID,
                             "channel": channel, "channel_type": "channel"}
    if legacy:
        event.update(subtype="bot_message", username="deploy-bot")
    else:
        event.update(user="U0DEPLOYBOT", app_id="A0DEPLOY", team=TEAM_ID,
                     bot_profile={"id": OTHER_BOT_ID, "app_id": "A0DEPLOY", "name": "deploy-bot", "deleted": False,
                                  "team_id": TEAM_ID}, blocks=_rich_text(text))
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def reaction_added(user: str, reaction: str, channel: str, ts: str, *, item_user: str | None = None
                   ) -> dict[str, Any]:
    """Someone reacted to a message."""
    event: dict[str, Any] = {"type": "reaction_added", "user": user, "reaction": reaction,
                             "item": {"type": "message", "channel": channel, "ts": ts}}
    if item_user:
        event["item_user"] = item_user
    return event


def member_joined_channel(user: str, channel: str, *, channel_type: str = "C", team: str = TEAM_ID,
                          inviter: str | None = None) -> dict[str, Any]:
    """Someone (the bot, too) joined a channel."""
    event = {"type": "member_joined_channel", "user": user, "channel": channel, "channel_type": channel_type,
             "team": team}
    if inviter:
        event["inviter"] = inviter
    return event


def app_home_opened(user: str, *, tab: str = "home") -> dict[str, Any]:
    """Someone opened the app's Home (or Messages) tab."""
    return {"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}", "tab": tab}


def tokens_revoked(*, bot: list[str] | None = None, oauth: list[str] | None = None) -> dict[str, Any]:
    """Tokens of the app were revoked: user ids by token type."""
    return {"type": "tokens_revoked", "tokens": {"oauth": oauth or [], "bot": bot or []}}


def app_uninstalled() -> dict[str, Any]:
    """The app was removed from the workspace."""
    return {"type": "app_uninstalled"}


# --- interactivity ----------------------------------------------------------------------------------


def _user(user: str, *, team: str, shared: bool) -> dict[str, Any]:
    return {"id": user, "username": user.lower(), "name": user.lower(),
            "team_id": OTHER_TEAM_ID if shared else team}


def _interaction(kind: str, user: str, *, team: str, grid: bool, org_install: bool, shared: bool,
                 trigger_id: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": kind, "token": "deprecated-verification-token", "api_app_id": APP_ID,
                               "user": _user(user, team=team, shared=shared),
                               "team": {"id": team, "domain": "acme"}, "is_enterprise_install": org_install,
                               "enterprise": None, "trigger_id": trigger_id or _next("1337.")}
    if grid or org_install:
        payload["enterprise"] = {"id": ENTERPRISE_ID, "name": "Acme Corp"}
        payload["team"] = {"id": team, "domain": "acme", "enterprise_id": ENTERPRISE_ID,
                           "enterprise_name": "Acme Corp"}
    if org_install:
        payload["team"] = None  # org-wide installs may leave it out: the user's team_id says where
    return payload


def block_actions(user: str, action: dict[str, Any], *, message: dict[str, Any] | None = None,
                  view: dict[str, Any] | None = None, response_url: str = "", team: str = TEAM_ID,
                  grid: bool = False, org_install: bool = False, shared: bool = False,
                  trigger_id: str | None = None) -> dict[str, Any]:
    """A button press or select choice, on a message or in a modal."""
    payload = _interaction("block_actions", user, team=team, grid=grid, org_install=org_install, shared=shared,
                           trigger_id=trigger_id)
    payload.update(actions=[{"action_ts": _ts(), **action}], state={"values": {}})
    if view is not None:
        payload.update(container={"type": "view", "view_id": view["id"]}, view=view)
    elif message is not None:
        channel = message["channel"]
        payload.update(container={"type": "message", "message_ts": message["ts"], "channel_id": channel,
                                  "is_ephemeral": False},
                       channel={"id": channel, "name": "incidents"}, message=message, response_url=response_url)
    return payload


def view_submission(user: str, view: dict[str, Any], values: dict[str, Any], *, team: str = TEAM_ID,
                    grid: bool = False, org_install: bool = False, trigger_id: str | None = None
                    ) -> dict[str, Any]:
    """A modal submitted; `values` is `view.state.values` (block_id → action_id → value)."""
    payload = _interaction("view_submission", user, team=team, grid=grid, org_install=org_install, shared=False,
                           trigger_id=trigger_id)
    payload.update(view={**view, "state": {"values": values}, "team_id": team, "app_installed_team_id": team,
                         "app_id": APP_ID, "bot_id": "B0PMBOT"}, response_urls=[])
    return payload


def view_closed(user: str, view: dict[str, Any], *, team: str = TEAM_ID, grid: bool = False) -> dict[str, Any]:
    """A modal cancelled (sent only to views opened with notify_on_close)."""
    payload = _interaction("view_closed", user, team=team, grid=grid, org_install=False, shared=False,
                           trigger_id=None)
    payload.pop("trigger_id")
    payload.update(view={**view, "team_id": team, "app_installed_team_id": team}, is_cleared=False)
    return payload


def global_shortcut(user: str, callback_id: str, *, team: str = TEAM_ID, grid: bool = False) -> dict[str, Any]:
    """A shortcut from the composer or search: type `shortcut`, no channel."""
    payload = _interaction("shortcut", user, team=team, grid=grid, org_install=False, shared=False, trigger_id=None)
    payload.update(callback_id=callback_id, action_ts=_ts())
    return payload


def message_shortcut(user: str, callback_id: str, message: dict[str, Any], *, response_url: str = "",
                     team: str = TEAM_ID, grid: bool = False, shared: bool = False) -> dict[str, Any]:
    """A shortcut on a message's menu: type `message_action`, with the channel and message."""
    payload = _interaction("message_action", user, team=team, grid=grid, org_install=False, shared=shared,
                           trigger_id=None)
    payload.update(callback_id=callback_id, action_ts=_ts(), message_ts=message["ts"],
                   channel={"id": message["channel"], "name": "general"},
                   message={k: v for k, v in message.items() if k != "channel"}, response_url=response_url)
    return payload


# --- slash commands ---------------------------------------------------------------------------------


def slash_command(command: str, text: str, *, user: str, channel: str, channel_name: str, response_url: str,
                  trigger_id: str, team: str = TEAM_ID, grid: bool = False, org_install: bool = False
                  ) -> dict[str, str]:
    """A slash command's form fields. `channel_name` is `directmessage` in a DM, `mpdm-…` in a group DM,
    `privategroup` in a private channel; booleans are the strings "true"/"false"."""
    form = {"token": "deprecated-verification-token", "team_id": team, "team_domain": "acme",
            "channel_id": channel, "channel_name": channel_name, "user_id": user, "user_name": user.lower(),
            "command": command, "text": text, "api_app_id": APP_ID,
            "is_enterprise_install": "true" if org_install else "false",
            "response_url": response_url, "trigger_id": trigger_id}
    if grid or org_install:
        form.update(enterprise_id=ENTERPRISE_ID, enterprise_name="Acme Corp")
    return form
