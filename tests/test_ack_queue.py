"""Acks first: Slack requests take turns in arrival order, a few at a time, and queued work waits for the
requests in flight (bot/workpool.py AckQueue); a work queue whose backlog filled up asks for the rest as soon as
it has room, not at its next poll (bot/work.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.bugs.service import CARD_EVENT
from bot.workpool import AckQueue
from tests.conftest import RunningBot


def test_no_more_than_at_once_requests_hold_a_turn() -> None:
    acks = AckQueue(at_once=2)
    holding, most, lock = 0, 0, threading.Lock()
    release = threading.Event()

    def request() -> None:
        nonlocal holding, most
        with acks.turn():
            with lock:
                holding += 1
                most = max(most, holding)
            release.wait(5)
            with lock:
                holding -= 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(request) for _ in range(6)]
        deadline = time.monotonic() + 5
        while acks.in_flight < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert acks.in_flight == 6  # waiting for a turn counts as in flight
        assert holding == 2
        release.set()
        for future in futures:
            future.result(timeout=5)
    assert most == 2 and acks.in_flight == 0


def test_turns_are_given_in_arrival_order() -> None:
    acks = AckQueue(at_once=1)
    order: list[int] = []
    first_in = threading.Event()
    let_go = threading.Event()

    def first() -> None:
        with acks.turn():
            first_in.set()
            let_go.wait(5)

    def later(n: int) -> None:
        with acks.turn():
            order.append(n)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert first_in.wait(5)
    for n in range(5):  # each queued behind the first before the next one starts
        threads.append(threading.Thread(target=later, args=(n,)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while acks.in_flight < n + 2 and time.monotonic() < deadline:
            time.sleep(0.005)
    let_go.set()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_work_waits_for_the_requests_in_flight_but_not_forever() -> None:
    acks = AckQueue()
    assert acks.wait_quiet(0.01)  # nothing in flight
    entered, leave = threading.Event(), threading.Event()

    def request() -> None:
        with acks.turn():
            entered.set()
            leave.wait(5)

    thread = threading.Thread(target=request)
    thread.start()
    assert entered.wait(5)
    assert not acks.wait_quiet(0.05)  # a request holds a turn: the work runs anyway after its timeout
    quiet = []
    waiter = threading.Thread(target=lambda: quiet.append(acks.wait_quiet(5)))
    waiter.start()
    leave.set()
    waiter.join(5)
    thread.join(5)
    assert quiet == [True]


def test_a_full_backlog_takes_the_rest_as_soon_as_it_has_room_not_at_the_next_poll(bot_factory) -> None:
    # One work thread, so a backlog of 8; the poller would look again only in ten minutes.
    bot: RunningBot = bot_factory(pmbot_worker_threads=1, pmbot_work_poll_seconds=600)
    bot.sandbox.delay("chat.postMessage", 0.2)  # each card takes a while: the reports pile up behind it
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda n: bot.driver.command("/bug", f"Summaries drop the last line, case {n}"),
                                  range(20)))
    assert [r.status for r in responses] == [200] * 20

    def cards() -> int:
        return sum((m.get("metadata") or {}).get("event_type") == CARD_EVENT for m in bot.sandbox.messages)

    assert bot.sandbox.wait_for(lambda: cards() == 20, timeout=90), f"{cards()} of 20 cards posted"
