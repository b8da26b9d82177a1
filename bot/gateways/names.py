"""Names for Slack ids, for the surfaces where Slack does not render `<@U…>` (files, CSV, Jira, charts)."""

from __future__ import annotations

import logging
import threading
import time

from bot.errors import IntegrationUnavailable, SlackError
from bot.gateways.slack_port import SlackPort

logger = logging.getLogger(__name__)

CACHE_SECONDS = 3600


class Names:
    """Looks a user's or channel's name up once (users.info, conversations.info) and keeps it an hour.

    Call it with an id: `names("U0BOB")` → `"bob"`; None when Slack does not know the id or cannot be
    reached (the caller then shows the id).
    """

    def __init__(self, slack: SlackPort, *, cache_seconds: float = CACHE_SECONDS):
        self._slack = slack
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, some_id: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(some_id)
        # An id Slack could not name is asked again after a minute (Slack may have been down).
        if cached is not None and now - cached[0] < (self._cache_seconds if cached[1] else 60):
            return cached[1]
        name = self._look_up(some_id)
        with self._lock:
            self._cache[some_id] = (now, name)
        return name

    def _look_up(self, some_id: str) -> str | None:
        try:
            if some_id[:1] in ("U", "W"):
                user = self._slack.user_info(some_id)
                profile = user.get("profile") or {}
                return profile.get("display_name") or user.get("name") or profile.get("real_name") or None
            if some_id[:1] in ("C", "G"):
                return self._slack.channel_info(some_id).get("name")
        except (SlackError, IntegrationUnavailable) as exc:
            logger.info("no name for %s: %s", some_id, exc)
        return None
