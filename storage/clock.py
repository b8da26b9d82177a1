"""The one place that reads the real time. Everything else is handed a clock (bot: `deps.clock`) or a `now`.

Storage sits below the bot, so the clock lives here where both can import it; bot code does not call it:
it reads `deps.clock`, which is this function in production and the shell's movable clock in `pmbot shell`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

# What a clock is: a function returning the current moment, timezone-aware, in UTC.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, aware, in UTC."""
    return datetime.now(UTC)
