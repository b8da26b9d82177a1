"""Slack's published Web API rate limits, enforced by the sandbox so the bot meets them here first.

Slack limits each method per app per workspace by tier — Tier 1 about 1 a minute, Tier 2 20, Tier 3 50,
Tier 4 100, each tolerating bursts — and `chat.postMessage` by channel: about one message a second, short bursts
allowed. Past a limit Slack answers HTTP 429 `ratelimited` with `Retry-After` in seconds.

Each limit here is a token bucket: a minute's worth of calls (a tier) or a few messages (a channel) may go at once,
then calls pass at the published rate. The buckets run on the real monotonic clock, because the client waits out
`Retry-After` in real time.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}

# The tier of each method the sandbox serves, from each method's page on docs.slack.dev. Methods marked "Special"
# there that are not chat.postMessage (auth.test, chat.getPermalink) are given Tier 4, the most generous one.
TIERS: dict[str, int] = {
    "auth.test": 4,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "chat.getPermalink": 4,
    "conversations.create": 2,
    "conversations.invite": 3,
    "conversations.join": 3,
    "conversations.info": 3,
    "conversations.list": 2,
    "conversations.members": 4,
    "conversations.setTopic": 2,
    "conversations.setPurpose": 2,
    "conversations.archive": 2,
    "conversations.unarchive": 2,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.open": 3,
    "reactions.add": 3,
    "reactions.remove": 2,
    "reactions.get": 3,
    "pins.add": 2,
    "pins.remove": 2,
    "pins.list": 2,
    "bookmarks.add": 2,
    "bookmarks.list": 3,
    "users.info": 4,
    "users.lookupByEmail": 3,
    "users.list": 2,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.info": 4,
}

POST_MESSAGE = "chat.postMessage"
POSTS_PER_SECOND = 1.0
POST_BURST = 4  # "short bursts above one a second are allowed"; Slack publishes no number, four is modest


@dataclass
class Bucket:
    """Up to `capacity` calls at once, refilled at `rate` a second."""

    capacity: float
    rate: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> float:
        """0 when a call may go now (and it is counted), else the seconds until one may."""
        if self.tokens < 0:
            self.tokens, self.at = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class RateLimits:
    """The sandbox's limits. `enabled` switches them all; `limited` counts the 429s answered, per method."""

    enabled: bool = True
    clock: Callable[[], float] = time.monotonic
    post_rate: float = POSTS_PER_SECOND
    post_burst: int = POST_BURST
    limited: Counter = field(default_factory=Counter)
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, method: str, args: dict[str, Any]) -> int | None:
        """None when the call may go; else the Retry-After, in whole seconds (at least 1), Slack would send."""
        if not self.enabled:
            return None
        key, make = self._limit(method, args)
        if make is None:
            return None
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = make()
            wait = bucket.take(self.clock())
            if wait == 0:
                return None
            self.limited[method] += 1
        return max(1, math.ceil(wait))

    def reset(self) -> None:
        """Full buckets and no counts, as after a quiet minute."""
        with self._lock:
            self._buckets.clear()
            self.limited.clear()

    def _limit(self, method: str, args: dict[str, Any]) -> tuple[tuple[str, str], Callable[[], Bucket] | None]:
        if method == POST_MESSAGE:
            channel = str(args.get("channel") or "")
            return (method, channel), lambda: Bucket(self.post_burst, self.post_rate)
        tier = TIERS.get(method)
        if tier is None:
            return (method, ""), None
        per_minute = PER_MINUTE[tier]
        return (method, ""), lambda: Bucket(per_minute, per_minute / 60)
