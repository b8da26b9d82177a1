"""A thread pool that knows when it is idle (the shell and tests wait for work done after an ack)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


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
