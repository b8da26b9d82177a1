"""STAND-IN for the digest helper's `bot/digest/service.py`: the contract's API and nothing more, so the comms plan
and its job can be built and tested before the real digest is merged. The lead drops this file at merge."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.deps import Deps

SECTIONS: tuple[str, ...] = ("risks", "bugs", "incidents", "budget", "quality", "blockers")

# A 1x1 transparent PNG: the stand-in's "one-pager".
_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


@dataclass(frozen=True)
class Digest:
    team_id: str
    text: str
    blocks: list[dict]
    png: bytes
    figures: dict = field(default_factory=dict)


def build(deps: Deps, *, team_id: str, sections: Sequence[str], now: datetime,
          audience_key: str | None = None) -> Digest:
    """A placeholder digest naming its sections."""
    text = f"Project digest — {now:%a %d %b %Y} ({', '.join(sections)})"
    return Digest(team_id, text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], _PNG,
                  {"sections": list(sections)})


def post(deps: Deps, digest: Digest, channel: str) -> None:
    """The message, then the PNG."""
    deps.slack.post_in_channel(channel, text=digest.text, blocks=digest.blocks)
    deps.slack.upload_in_channel(channel, content=digest.png, filename="digest.png", title="Project digest")


def remember(deps: Deps, digest: Digest, *, audience_key: str, now: datetime) -> None:
    """The stand-in keeps no baseline."""
