"""Slash commands. Adding a command means adding its module to MODULES: help and the manifest follow."""

from __future__ import annotations

from types import ModuleType

from slack_bolt import App

from bot.commands import budget, bug, incident, pmbot, risk
from bot.deps import Deps
from bot.registry import CommandSpec

MODULES: tuple[ModuleType, ...] = (pmbot, bug, risk, incident, budget)


def specs() -> tuple[CommandSpec, ...]:
    """Every command's spec, in help order (a module with several commands lists them in SPECS)."""
    return tuple(spec for module in MODULES for spec in getattr(module, "SPECS", (module.SPEC,)))


def register_all(app: App, deps: Deps) -> None:
    """Wire every command into the Bolt app."""
    for module in MODULES:
        module.register(app, deps)
