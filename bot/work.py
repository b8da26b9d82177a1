"""The work queue: what a request leaves for after its ack, run by a bounded pool in every process.

A handler stores what the person sent and a work item in one transaction, acks, then `kick`s the item: it
runs at once on this process's pool when there is room, else the poller of some process takes it within
seconds. A lease keeps two processes off one item; the item of a process that died is taken over when its
lease ends, so work survives a crash or a restart without a separate recovery pass. Failures that pass
(Slack or the LLM down, a 429) put the item off with backoff; nothing acked is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bot import blocks
from bot.deps import Deps
from bot.errors import IntegrationUnavailable
from bot.gateways.slack import respond_later
from bot.workpool import WORK_YIELDS_SECONDS, AckQueue, WorkPool
from storage.db import session_scope
from storage.models import WorkItem
from storage.work import due_work, finish_work, lease_work, put_off, waiting_work

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Longer than the slowest honest attempt (an LLM call with its retries, Slack's): a process that still holds
# an item after this is taken to be dead, and another one runs the item again (idempotent work only).
LEASE_SECONDS = 120
# How long to wait before each retry (then every 30 min); given up, as an error in the log, after MAX_ATTEMPTS
# (about half a day).
BACKOFF_SECONDS = (2, 5, 15, 30, 60, 120, 300, 600, 1800)
MAX_ATTEMPTS = 30
POLL_SECONDS = 2.0


class Retry(Exception):
    """The work failed for a reason that passes (Slack answering 5xx or 429, a service unreachable)."""

    def __init__(self, why: str, *, after: float | None = None):
        super().__init__(why)
        self.after = after  # seconds the other side asked us to wait (Retry-After), when it said


@dataclass(frozen=True)
class Kind:
    """One kind of work: how to run an item, and whom to tell, once, when it is put off."""

    name: str
    run: Callable[[Deps, WorkItem], None]
    delayed: Callable[[Deps, WorkItem, str], None] | None = None


class WorkQueue:
    """Runs work items on `threads` threads; keeps at most `backlog` of them queued in memory."""

    def __init__(self, deps: Deps, kinds: list[Kind], *, threads: int, backlog: int | None = None,
                 poll_seconds: float = POLL_SECONDS, acks: AckQueue | None = None):
        self._deps = deps
        self._acks = acks or AckQueue()
        self._kinds = {kind.name: kind for kind in kinds}
        self._pool = WorkPool(max_workers=threads, thread_name_prefix="pmbot-work")
        self._backlog = backlog or threads * 8
        self._poll_seconds = poll_seconds
        self._queued: set[int] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        # Set when items wait in the database for room here (a kick refused, a poll that filled the backlog):
        # the pool then asks the poller for more as soon as it is half empty, rather than idling until the next
        # poll (a burst of 3,000 reports drained at 32 a second, the backlog every 2 s, before this).
        self._more_stored = False
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None
        deps.metrics.work_depth.labels("queued_here").set_function(lambda: len(self._queued))

    # --- feeding the pool ---------------------------------------------------------------------

    def kick(self, item_id: int) -> bool:
        """Run an item now if this process has room; False leaves it to a poller (it is stored: not lost)."""
        with self._lock:
            if item_id in self._queued or self._stopped.is_set():
                return False
            if len(self._queued) >= self._backlog:
                self._more_stored = True
                return False
            self._queued.add(item_id)
        self._pool.submit(self._run, item_id)
        return True

    def poll(self) -> int:
        """Queue what is due (new, put off and now due, or left by a dead process); how many were queued."""
        with self._lock:
            queued = set(self._queued)
        room = self._backlog - len(queued)
        if room <= 0:
            return 0
        try:
            with session_scope(self._deps.engine) as session:
                # Items queued here and not started yet are due too: ask for enough to find `room` others.
                due = due_work(session, now=self._deps.clock(), limit=room + len(queued))
                self._deps.metrics.work_depth.labels("items").set(waiting_work(session))
        except SQLAlchemyError as exc:
            logger.warning("work queue: the database is unreachable (%s); trying again", type(exc).__name__)
            return 0
        with self._lock:
            self._more_stored = len(due) >= room + len(queued)
        return sum(self.kick(item_id) for item_id in due if item_id not in queued)

    def start(self) -> None:
        """Poll in the background until `stop()`: the first poll picks up what a previous process left."""
        self._poller = threading.Thread(target=self._poll_forever, name="pmbot-work-poller", daemon=True)
        self._poller.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop polling and taking new items; with `wait`, finish the items already running."""
        self._stopped.set()
        self._wake.set()
        if self._poller is not None:
            self._poller.join(timeout=self._poll_seconds + 5)
        self._pool.shutdown(wait=wait)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return self._pool.wait_idle(timeout)

    def _poll_forever(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()  # before polling: a wake-up asked for while it polls is kept for the next round
            try:
                self.poll()
            except Exception:  # the poller must outlive any one failure
                logger.exception("work queue: poll failed")
            self._wake.wait(self._poll_seconds)

    # --- running one item ---------------------------------------------------------------------

    def _run(self, item_id: int) -> None:
        # Acks first: the requests in flight are answered before this item takes the interpreter from them (for
        # a second at most, so a steady stream of requests cannot starve the queue).
        self._acks.wait_quiet(WORK_YIELDS_SECONDS)
        try:
            self._attempt(item_id)
        except SQLAlchemyError as exc:  # leased or not, the item stays stored and is tried again later
            logger.warning("work item %s: the database failed (%s); it will be tried again", item_id,
                           type(exc).__name__)
        finally:
            with self._lock:
                self._queued.discard(item_id)
                hungry = self._more_stored and len(self._queued) <= self._backlog // 2
            if hungry:
                self._wake.set()

    def _attempt(self, item_id: int) -> None:
        deps = self._deps
        now = deps.clock()
        with session_scope(deps.engine) as session:
            item = lease_work(session, item_id, now=now, seconds=LEASE_SECONDS)
        if item is None:
            return  # done, put off, or running in another process
        kind = self._kinds.get(item.kind)
        if kind is None:
            self._give_up(item, f"no code here runs work of kind {item.kind!r}")
            return
        deps.metrics.work_wait_seconds.labels(item.kind).observe(max(0.0, (now - item.not_before).total_seconds()))
        started = time.monotonic()
        outcome = "done"
        try:
            kind.run(deps, item)
        except Retry as exc:
            outcome = "retry"
            self._put_off(kind, item, str(exc), after=exc.after)
        except Exception as exc:
            outcome = "error"
            error_id = uuid.uuid4().hex[:10]
            logger.exception("work item %s (%s %s) failed (error id %s)", item.id, item.kind, item.ref_id, error_id)
            self._put_off(kind, item, f"{type(exc).__name__} (error id {error_id})", after=None)
        else:
            with session_scope(deps.engine) as session:
                finish_work(session, item.id, now=deps.clock())
        finally:
            deps.metrics.work_seconds.labels(item.kind, outcome).observe(time.monotonic() - started)

    def _put_off(self, kind: Kind, item: WorkItem, why: str, *, after: float | None) -> None:
        if item.attempts >= MAX_ATTEMPTS:
            self._give_up(item, f"gave up after {item.attempts} attempts: {why}")
            return
        wait = after if after is not None else BACKOFF_SECONDS[min(item.attempts, len(BACKOFF_SECONDS)) - 1]
        told = item.told
        if not told and kind.delayed is not None:
            try:
                kind.delayed(self._deps, item, why)
            except Exception:
                logger.exception("work item %s: telling the person about the delay failed", item.id)
            told = True
        logger.info("work item %s (%s %s) put off %.0f s: %s", item.id, item.kind, item.ref_id, wait, why)
        with session_scope(self._deps.engine) as session:
            put_off(session, item.id, until=self._deps.clock() + timedelta(seconds=wait), error=why[:2000], told=told)

    def _give_up(self, item: WorkItem, why: str) -> None:
        logger.error("work item %s (%s %s): %s", item.id, item.kind, item.ref_id, why)
        with session_scope(self._deps.engine) as session:
            finish_work(session, item.id, now=self._deps.clock(), error=why[:2000])


def run_after_ack(deps: Deps, item_id: int) -> None:
    """Start a queued item now when this process has room; otherwise a poller takes it (it is stored)."""
    if deps.work is None or not deps.work.kick(item_id):
        logger.info("work item %s waits for a poller", item_id)


def tell_later(deps: Deps, reply_to: dict, *, channel: str, text: str, blocks_: list[dict] | None = None) -> None:
    """A private note to the person a queued item is for: through their request's response_url while Slack
    still takes it, else as an ephemeral message in `channel` (or a DM)."""
    message = blocks.message(text, blocks_)
    url = reply_to.get("response_url")
    if url and respond_later(url, **message):
        return
    user = reply_to.get("user")
    if not user:
        logger.info("nobody to tell: %s", text[:200])
        return
    try:
        deps.slack.tell_privately(user, channel, **message)
    except IntegrationUnavailable as exc:
        logger.warning("could not tell %s: %s", user, exc)


def run_inline(deps: Deps, item_id: int, work: Callable[[], T]) -> T | None:
    """Run a queued item on this thread now, for a caller that needs its result (a drill started by a job).
    Leased like any other, so no poller runs it meanwhile; None when another process holds it. A failure puts
    it off for the queue to retry, and is raised."""
    with session_scope(deps.engine) as session:
        item = lease_work(session, item_id, now=deps.clock(), seconds=LEASE_SECONDS)
    if item is None:
        return None
    try:
        result = work()
    except Exception as exc:
        with session_scope(deps.engine) as session:
            put_off(session, item_id, until=deps.clock() + timedelta(seconds=BACKOFF_SECONDS[0]),
                    error=f"{type(exc).__name__}: {exc}"[:2000], told=item.told)
        raise
    with session_scope(deps.engine) as session:
        finish_work(session, item_id, now=deps.clock())
    return result
