"""The Slack app manifest: every registered command, scope, event and URL, for "create app from manifest"."""

from __future__ import annotations

from typing import Any

import yaml

from bot import commands, home
from bot.http import EVENTS_PATH
from bot.registry import CommandSpec

DEFAULT_URL = "https://pmbot.example.com"
# Scopes of what every part uses; command modules add theirs in `SCOPES`. tests/test_scopes.py checks the union
# against every Web API method the code can call, so a scope is never only remembered.
# chat:write (messages, ephemeral notes), commands, users:read (admin checks, time zones, names where Slack does
# not render mentions), channels:read + groups:read (member_joined_channel, finding a channel by name), im:write
# (DMs when a channel is closed to us), channels:join (a bug card or an admin notice in a public channel pmbot was
# not invited to), bookmarks:write (the Jira mirror bookmarks an incident's issue in its war room), users:read.email
# (the Jira mirror matches people by e-mail: a Slack assignee's Jira account, a Jira assignee's Slack user).
BASE_SCOPES = ("bookmarks:write", "channels:join", "channels:read", "chat:write", "commands", "groups:read",
               "im:write", "users:read", "users:read.email")
DESCRIPTION_LIMIT = 2000


def build_manifest(specs: tuple[CommandSpec, ...], *, url: str = DEFAULT_URL,
                   socket_mode: bool = False) -> dict[str, Any]:
    """The manifest as a dict."""
    endpoint = url.rstrip("/") + EVENTS_PATH
    slash_commands = []
    for spec in specs:
        command: dict[str, Any] = {"command": spec.name, "description": spec.summary[:DESCRIPTION_LIMIT],
                                   # Escaped: mentions arrive as <@U…|name> and <#C…|name>, ids we can use.
                                   "should_escape": True}
        if spec.usage_hint:
            command["usage_hint"] = spec.usage_hint
        if not socket_mode:
            command["url"] = endpoint
        slash_commands.append(command)
    events: dict[str, Any] = {"bot_events": sorted(set(home.EVENTS) | _from_modules("EVENTS"))}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        events["request_url"] = endpoint
        interactivity["request_url"] = endpoint
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "pmbot",
            "description": "Risks, bugs, incidents, stand-ups and budget for generative-AI teams",
            "background_color": "#2c2d30",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False},
            "bot_user": {"display_name": "pmbot", "always_online": True},
            "slash_commands": slash_commands,
            "shortcuts": sorted((dict(s) for m in commands.MODULES for s in getattr(m, "SHORTCUTS", ())),
                                key=lambda s: s["callback_id"]),
        },
        "oauth_config": {"scopes": {"bot": sorted(set(BASE_SCOPES) | _from_modules("SCOPES"))}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(specs: tuple[CommandSpec, ...], *, url: str = DEFAULT_URL, socket_mode: bool = False) -> str:
    return yaml.safe_dump(build_manifest(specs, url=url, socket_mode=socket_mode), sort_keys=False,
                          allow_unicode=True)


def _from_modules(name: str) -> set[str]:
    """Events or scopes a command module needs beyond the base (`/risk` reads thread replies, uploads files)."""
    return {value for module in commands.MODULES for value in getattr(module, name, ())}
