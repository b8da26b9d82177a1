"""A thread pool that knows when it is idle (the shell and tests wait for work done after an ack), and the queue
that puts acks first: Slack requests a few at a time, slow work after them."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager


class WorkPool(ThreadPoolExecutor):
    """ThreadPoolExecutor that counts submitted work until it finishes."""

    def __init__(self, max_workers: int, thread_name_prefix: str):
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._idle:
            self._pending += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future | None) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or running; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True


# The pool a listener thread belongs to, so that `acked()` (called from deep inside a handler) can find it.
_listener = threading.local()


class ListenerPool(WorkPool):
    """Bolt's listener executor, split in two so that acks never wait behind slow work.

    Every listener starts at once on a thread of its own (idle threads are reused, more are started when
    none is idle), so whatever is running, a new request reaches its `ack()` within milliseconds. After the
    ack the listener goes on only once it holds one of `work_slots`: slow work (grading, Slack posts, Jira)
    is bounded by the slots, and listeners that wait for one have already answered Slack.
    """

    def __init__(self, work_slots: int, *, max_threads: int = 512, on_wait=None):
        super().__init__(max_workers=max_threads, thread_name_prefix="pmbot-listener")
        self.work_slots = work_slots
        self._slots = threading.BoundedSemaphore(work_slots)
        self._waiting = 0
        self._count = threading.Lock()
        self._on_wait = on_wait  # called with the seconds a listener waited for its slot (metrics)

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return super().submit(self._run, fn, args, kwargs)

    def _run(self, fn, args, kwargs):
        _listener.pool, _listener.holding, _listener.ack_early = self, False, None
        try:
            return fn(*args, **kwargs)
        finally:
            if _listener.holding:
                self._slots.release()
            _listener.pool, _listener.holding, _listener.ack_early = None, False, None

    def _take_slot(self) -> None:
        if _listener.holding:
            return
        with self._count:
            self._waiting += 1
        started = time.monotonic()
        try:
            self._slots.acquire()
        finally:
            with self._count:
                self._waiting -= 1
        _listener.holding = True
        if self._on_wait is not None:
            self._on_wait(time.monotonic() - started)

    @property
    def waiting(self) -> int:
        """Listeners that have acked and wait for a work slot."""
        with self._count:
            return self._waiting


def ack_before_remote_calls(ack: Callable[[], None]) -> None:
    """Register how the current listener acks (empty), for `before_remote_call`."""
    if getattr(_listener, "pool", None) is not None:
        _listener.ack_early = ack


def before_remote_call() -> None:
    """Called by the gateways before any call to Slack, Jira or the LLM: a listener that has not acked yet acks
    now (its answer then goes through response_url), so a slow service can never make Slack give up on it."""
    ack = getattr(_listener, "ack_early", None)
    if ack is not None:
        _listener.ack_early = None
        ack()


def acked() -> None:
    """Called once a listener has acked: from here on it is slow work and needs a work slot (blocks until one
    is free). Outside a `ListenerPool` thread (the scheduler, the CLI, tests calling handlers) it does nothing."""
    _listener.ack_early = None
    pool = getattr(_listener, "pool", None)
    if pool is not None:
        pool._take_slot()


# --- acks first -------------------------------------------------------------------------------------------

# Slack requests dispatched at once, from arrival to ack. On one interpreter more at once add no throughput (the
# ack path is Python and SQLite work under one lock), they only take turns unfairly: SQLite makes a writer that
# finds the database locked sleep and retry (1, 2, 5 … 100 ms), so with 16 at once a few requests lost every
# round and waited seconds. Four at once, the rest queued in arrival order: at 64 clients the slowest ack fell
# from 4.2 s to about 1-2 s, at 16 the p99 from 1.3 s to about 0.45 s (bench/ack_latency.py, issue #18).
ACKS_AT_ONCE = 4
# How long queued work (a card to grade and post) waits for the Slack requests in flight to be acked before it
# runs anyway: a burst is acked first and its cards follow, and a steady overload cannot starve the queue.
WORK_YIELDS_SECONDS = 1.0


class AckQueue:
    """Slack requests between their arrival and their ack, `at_once` at a time in arrival order; work that can
    wait asks `wait_quiet` first, so it does not take the interpreter from an ack that is due."""

    def __init__(self, at_once: int = ACKS_AT_ONCE):
        self._free = at_once  # turns nobody holds
        self._queue: deque[threading.Lock] = deque()  # one held lock per waiting request, oldest first
        self._in_flight = 0
        self._quiet = threading.Condition()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold a turn while a request is dispatched; waiting for one counts as in flight."""
        self._enter()
        try:
            yield
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._quiet:
            self._in_flight += 1
            if self._free and not self._queue:
                self._free -= 1
                return
            waiter = threading.Lock()
            waiter.acquire()
            self._queue.append(waiter)
        waiter.acquire()  # released by the request that hands its turn on: strictly first come, first served

    def _leave(self) -> None:
        with self._quiet:
            self._in_flight -= 1
            if self._queue:
                self._queue.popleft().release()
            else:
                self._free += 1
            if not self._in_flight:
                self._quiet.notify_all()

    @property
    def in_flight(self) -> int:
        """Requests received and not answered yet."""
        with self._quiet:
            return self._in_flight

    def wait_quiet(self, timeout: float = WORK_YIELDS_SECONDS) -> bool:
        """Block until no request is waiting for its ack; False when `timeout` passed first."""
        with self._quiet:
            return self._quiet.wait_for(lambda: not self._in_flight, timeout)

