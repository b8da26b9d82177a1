"""Slash commands. Adding a command means adding its module to MODULES: help and the manifest follow."""

from __future__ import annotations

from types import ModuleType

from slack_bolt import App

from bot.commands import budget, bug, incident, pmbot, quality, risk, standup
from bot.deps import Deps
from bot.edge import Event, on_event
from bot.registry import CommandSpec

MODULES: tuple[ModuleType, ...] = (pmbot, bug, risk, incident, budget, standup, quality)


def specs() -> tuple[CommandSpec, ...]:
    """Every command's spec, in help order (a module with several commands lists them in SPECS)."""
    return tuple(spec for module in MODULES for spec in getattr(module, "SPECS", (module.SPEC,)))


def register_all(app: App, deps: Deps) -> None:
    """Wire every command into the Bolt app, and one `message` listener for the features that read replies."""
    for module in MODULES:
        module.register(app, deps)
    readers = [module.on_thread_message for module in MODULES if hasattr(module, "on_thread_message")]

    def on_message(event: Event, deps: Deps) -> None:
        # Bolt runs only the first listener that matches an event, so one listener asks each feature in turn.
        for read in readers:
            if read(event, deps):
                return

    on_event(app, deps, "message", on_message)
