"""The App Home tab, and the hello pmbot says when it is added to a channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot import blocks
from bot.commands.pmbot import ACTION_HELP
from bot.deps import Deps
from bot.edge import Event, on_event
from bot.errors import SlackError
from bot.installs import EVENTS as INSTALL_EVENTS
from storage.db import session_scope
from storage.incidents import incident_in_channel

logger = logging.getLogger(__name__)

# Every event the app subscribes to outside the command modules (the manifest reads this).
EVENTS = ("app_home_opened", "member_joined_channel", *INSTALL_EVENTS)


def register(app: App, deps: Deps) -> None:
    """Wire the events."""
    on_event(app, deps, "app_home_opened", on_home_opened)
    on_event(app, deps, "member_joined_channel", on_member_joined)


def on_home_opened(event: Event, deps: Deps) -> None:
    """Publish the Home tab for the user who opened it."""
    data = event.data
    if data.get("tab", "home") != "home" or not data.get("user"):
        return
    deps.slack.publish_home(data["user"], home_view(deps))


def home_view(deps: Deps) -> dict[str, Any]:
    lines = "\n".join(f"• `{spec.name}` — {spec.summary}" for spec in deps.commands)
    return {
        "type": "home",
        "blocks": [
            blocks.header("pmbot — your AI project's day-to-day, in Slack"),
            *blocks.sections("*Commands*\n" + lines),
            blocks.context("Type `/pmbot help` in any channel for this list, `/pmbot status` for the bot's health."),
        ],
    }


def on_member_joined(event: Event, deps: Deps) -> None:
    """When pmbot itself is added to a channel, say hello once; other people's joins are not ours to greet."""
    data = event.data
    if not event.bot_user_id or data.get("user") != event.bot_user_id or not data.get("channel"):
        return
    if _created_by_us(event, deps, data["channel"]):
        return  # a war room or drill room pmbot made itself: its runbook says what it is for
    text = ("Hi! I'm pmbot. I keep this project's risks, bugs, incidents, stand-ups and budget in order. "
            "Type `/pmbot help` to see what I can do.")
    hello = [*blocks.sections(text), blocks.actions(blocks.button("Show commands", ACTION_HELP))]
    deps.slack.post_message(data["channel"], text=text, blocks=hello)


def _created_by_us(event: Event, deps: Deps, channel_id: str) -> bool:
    """A channel pmbot created: a stored war room, or (when the join outran storing its id) Slack's creator."""
    with session_scope(deps.engine) as session:
        if incident_in_channel(session, team_id=event.team_id, channel_id=channel_id) is not None:
            return True
    try:
        info = deps.slack.channel_info(channel_id)
    except SlackError as exc:
        logger.info("member_joined_channel: %s cannot be looked up (%s); greeting anyway", channel_id, exc.code)
        return False
    return bool(info.get("creator")) and info.get("creator") == event.bot_user_id
