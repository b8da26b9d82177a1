"""From `/bug` to its card: how long a person waits to see the graded card, at a steady 10 reports a second.

Run: .venv/bin/python bench/bug_to_card.py [--rate 10] [--seconds 60] [--channels 200] [--quick]

An open loop (reports go out on schedule whether or not earlier ones were answered, as people send them), each
report in one of many channels, from a client process of its own. For each report: from the moment its command
was sent to the moment the sandbox Slack stored its card (the sandbox notes it as it stores it; nothing polls).
Printed: p50, p95 and max, and how many cards arrived. Baselines from the same run: the ack of the same
requests, and a bare `chat.postMessage` round trip (slack_sdk to the sandbox, a card's blocks, the same rate).

Target (issue #18): p95 at most 250 ms with offline grading. Loopback only; bounded by --seconds.
"""

from __future__ import annotations

import argparse
import time

from _harness import (
    LoadClient,
    Sample,
    TimedSandbox,
    percentiles,
    print_machine,
    print_row,
    settle_pmbot,
    stack_description,
    start_pmbot,
    start_sandbox,
    stop_all,
)
from ack_latency import Reports
from slack_sdk import WebClient
from sqlmodel import select

from bot.app import Service
from bot.bugs.service import CARD_EVENT
from bot.sandbox.server import BOT_TOKEN
from storage.db import session_scope
from storage.models import Bug

P95_TARGET_SECONDS = 0.250
WARMUP_SECONDS = 3
BASELINE_POSTS = 100


def card_seconds(service: Service, sandbox: TimedSandbox, commands, samples: list[Sample]) -> list[float | None]:
    """For each request, seconds from sending it to its card being stored (None: no card)."""
    with session_scope(service.runtime.deps.engine) as session:
        bug_of = {key: bug_id for bug_id, key in session.execute(select(Bug.id, Bug.delivery_key))}
    seconds: list[float | None] = []
    for command, sample in zip(commands, samples, strict=True):
        bug_id = bug_of.get(command.trigger_id)
        posted = sandbox.posted.get(f"bug-{bug_id}") if bug_id is not None else None
        seconds.append(posted - sample.sent if posted is not None else None)
    return seconds


def post_round_trips(sandbox: TimedSandbox, channels: list[str], rate: float, count: int) -> list[float]:
    """`count` plain chat.postMessage calls with a posted card's blocks, paced at `rate`, round-robin over
    `channels`: what posting a card costs on its own, seen from the bot's side."""
    card = next(m for m in reversed(sandbox.messages) if (m.get("metadata") or {}).get("event_type") == CARD_EVENT)
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    seconds = []
    start = time.monotonic()
    for n in range(count):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        client.chat_postMessage(channel=channels[n % len(channels)], text=card["text"], blocks=card["blocks"])
        seconds.append(time.perf_counter() - began)
    return seconds


def ms(seconds: float) -> float:
    return seconds * 1000


def print_results(cards: list[float | None], acks: list[Sample], posts: list[float]) -> None:
    arrived = [s for s in cards if s is not None]
    widths = [34, 9, 9, 9, 8]
    print_row("", "p50 ms", "p95 ms", "max ms", "count", widths=widths)
    for label, values in (("/bug sent -> card stored", arrived),
                          ("baseline: ack of the same requests", [s.seconds for s in acks if s.status == 200]),
                          ("baseline: bare chat.postMessage", posts)):
        f = percentiles(values)
        print_row(label, ms(f["p50"]), ms(f["p95"]), ms(f["max"]), len(values), widths=widths)
    failed = sum(s.failed for s in acks)
    print(f"cards: {len(arrived)} of {len(cards)} reports; acks failed (not 200, or over 3 s): {failed}")
    p95 = percentiles(arrived)["p95"]
    met = len(arrived) == len(cards) and p95 <= P95_TARGET_SECONDS
    print(f"\ntarget: {'met   ' if met else 'MISSED'} card p95 {ms(p95):.0f} ms (target <= "
          f"{ms(P95_TARGET_SECONDS):.0f} ms), every report carded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=10.0, help="reports a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the steady load lasts")
    parser.add_argument("--channels", type=int, default=200, help="channels the reports are spread over")
    parser.add_argument("--quick", action="store_true", help="10 s of load: a ~20 s smoke run")
    args = parser.parse_args()
    seconds = 10.0 if args.quick else args.seconds

    print_machine("From `/bug` to its card: a steady open loop of reports, offline grading")
    sandbox = start_sandbox(channels=args.channels)
    service, pmbot = start_pmbot(sandbox)
    client = LoadClient()
    reports = Reports(sandbox, args.channels)
    print(f"stack: {stack_description(service.runtime.deps.settings)}")
    print(f"load: {args.rate:g} reports/s for {seconds:g} s (after {WARMUP_SECONDS} s warm-up), open loop from a "
          f"separate process, over {args.channels} channels, loopback only")

    warmup = client.open_loop(pmbot, reports.next(int(args.rate * WARMUP_SECONDS)), args.rate)
    settle_pmbot(service, cards=sum(s.status == 200 for s in warmup), sandbox=sandbox, timeout=60)
    commands = reports.next(int(args.rate * seconds))
    samples = client.open_loop(pmbot, commands, args.rate)
    filed = sum(s.status == 200 for s in warmup) + sum(s.status == 200 for s in samples)
    settle_pmbot(service, cards=filed, sandbox=sandbox, timeout=60)
    cards = card_seconds(service, sandbox, commands, samples)
    posts = post_round_trips(sandbox, reports.channels, args.rate, min(BASELINE_POSTS, len(commands)))
    print()
    print_results(cards, samples, posts)


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
