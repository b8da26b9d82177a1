"""Slash commands. Adding a command means adding its module to MODULES: help and the manifest follow."""

from __future__ import annotations

from types import ModuleType

from slack_bolt import App

from bot.commands import bug, incident, pmbot, risk
from bot.deps import Deps
from bot.registry import CommandSpec

MODULES: tuple[ModuleType, ...] = (pmbot, bug, risk, incident)


def specs() -> tuple[CommandSpec, ...]:
    """Every command's spec, in help order."""
    return tuple(module.SPEC for module in MODULES)


def register_all(app: App, deps: Deps) -> None:
    """Wire every command into the Bolt app."""
    for module in MODULES:
        module.register(app, deps)
