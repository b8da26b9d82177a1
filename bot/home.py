"""The App Home tab: what pmbot does and how to start, shown when someone opens the bot."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot import blocks
from bot.deps import Deps
from bot.edge import event_listener
from bot.gateways.slack import call

EVENTS = ("app_home_opened",)


def register(app: App, deps: Deps) -> None:
    """Wire the `app_home_opened` event."""
    app.event("app_home_opened")(event_listener(deps, "app_home_opened", on_home_opened))


def on_home_opened(body: dict[str, Any], deps: Deps) -> None:
    """Publish the Home tab for the user who opened it."""
    event = body.get("event") or {}
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    call(deps.client, "views_publish", user_id=event["user"], view=home_view(deps))


def home_view(deps: Deps) -> dict[str, Any]:
    lines = "\n".join(f"• `{spec.name}` — {spec.summary}" for spec in deps.commands)
    return {
        "type": "home",
        "blocks": [
            blocks.header("pmbot — your AI project's day-to-day, in Slack"),
            *blocks.sections("*Commands*\n" + lines),
            blocks.context("Type `/pmbot help` in any channel for this list, `/<command> help` for details."),
        ],
    }
