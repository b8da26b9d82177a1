"""`/bug` ack latency under load: pmbot against a bare Bolt app that only acks, on the same server stack.

Run: .venv/bin/python bench/ack_latency.py [--clients 16 64] [--requests 1500 3000] [--channels 200] [--quick]

`/bug <text>` is the command measured because it does real work around its ack: the report is redacted and
stored (with its queued work) before the ack, then graded and posted as a card after it. Each level is a closed
loop: N clients each send their next signed command as soon as the previous one was answered, until a fixed
number were sent; the clients run in a process of their own, the bots in this one with the sandbox Slack.
Per level and server: p50, p99 and max ack latency, throughput over the measured window, failed requests
(not HTTP 200, or answered after 3 s) and pmbot/bare ratios. Then pmbot's work queue is waited out: every
report must have its card (nothing dropped), and how long that took after the last ack is printed.

Targets (issue #18): at 16 clients pmbot's p99 at most 1.25x the bare app's and its throughput at least
1.0x; at 64 clients no failed request, every ack under 3 s. Loopback only; bounded by the request counts.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

from _harness import (
    ACK_DEADLINE_SECONDS,
    Command,
    LoadClient,
    Sample,
    TimedSandbox,
    bench_channels,
    percentiles,
    print_machine,
    print_row,
    settle_pmbot,
    slash_command,
    stack_description,
    start_bare_bolt,
    start_pmbot,
    start_sandbox,
    stop_all,
    throughput,
)
from sqlmodel import func, select

from bot.app import Service
from bot.sandbox import Driver
from storage.db import session_scope
from storage.models import Bug

DEFAULT_REQUESTS = {16: 1500, 64: 3000}
QUICK_DIVISOR = 5
P99_TARGET = 1.25  # pmbot's p99 at most this many times the bare app's, at 16 clients
THROUGHPUT_TARGET = 1.0  # pmbot's throughput at least this many times the bare app's, at 16 clients

# Invented reports in the shapes people write them: short and long, calm and angry, some with personal data
# for the redaction to find (example.com addresses, a test card number, a phone number from the 555 range).
REPORTS = (
    "The summariser invents quotes that are not in the source document",
    "Chat answers take 40 seconds since this morning's deploy, the spinner never stops on long prompts",
    "The assistant showed me another customer's order history when I asked about my last delivery. "
    "Their address and e-mail (pat.lee@example.com) were on screen.",
    "Typo in the onboarding banner: 'recieve' should be 'receive'",
    "Translation to German drops every second sentence of the answer",
    "The bot keeps repeating the same paragraph in a loop until the output limit is reached",
    "I pasted my card 4111 1111 1111 1111 to test the refund flow and the bot echoed it back in the transcript",
    "Dark mode makes the code blocks unreadable (grey on grey)",
    "Would be nice to export a conversation as PDF",
    "The support bot told a user to stop taking prescribed medication. Screenshot attached in the ticket.",
    "Answers about our refund policy quote the 2023 policy, not the current one",
    "Call me back at +1 555 0100 4477 about the wrong invoice totals the assistant produced",
    "Prompt injection: a web page with hidden text made the agent e-mail the API key to an outside address",
    "The model refuses to answer simple questions about opening hours and says it cannot help",
    "Tone is far too casual for legal customers; it used slang in a contract summary",
    "Image captions are in English even when the user's language is set to Spanish",
)


@dataclass(frozen=True)
class Run:
    """One server's measured closed loop at one level."""

    samples: list[Sample]

    @property
    def latencies(self) -> list[float]:
        return [s.seconds for s in self.samples if s.status == 200]

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.samples)

    @property
    def answered(self) -> int:
        return sum(s.status == 200 for s in self.samples)

    @property
    def figures(self) -> dict[str, float]:
        return percentiles(self.latencies)

    @property
    def rate(self) -> float:
        return throughput(self.samples)


class Reports:
    """Signed-to-be `/bug <text>` commands: varied texts, spread round-robin over the bench channels and the
    invented reporters, each with a trigger id of its own."""

    def __init__(self, sandbox: TimedSandbox, channels: int):
        self.sandbox = sandbox
        self.channels = bench_channels(channels)
        self.reporters = [u for u in sandbox.users if u.startswith("U0BENCH")]
        self.sent = 0

    def next(self, count: int) -> list[Command]:
        commands = [self._one(self.sent + n) for n in range(count)]
        self.sent += count
        return commands

    def _one(self, n: int) -> Command:
        text = f"{REPORTS[n % len(REPORTS)]} (seen in build 4.{n // len(REPORTS)}.{n % 7})"
        return slash_command(self.sandbox, "/bug", text, channel=self.channels[n % len(self.channels)],
                             user=self.reporters[n % len(self.reporters)])


def measure(client: LoadClient, driver: Driver, reports: Reports, requests: int, clients: int, *,
            keep_alive: bool) -> Run:
    return Run(client.closed_loop(driver, reports.next(requests), clients, keep_alive=keep_alive))


def ms(seconds: float) -> float:
    return seconds * 1000


def print_runs(runs: dict[str, Run]) -> None:
    print_row("server", "p50 ms", "p99 ms", "max ms", "req/s", "failed", widths=[12, 9, 9, 9, 9, 8])
    for name, run in runs.items():
        f = run.figures
        print_row(name, ms(f["p50"]), ms(f["p99"]), ms(f["max"]), run.rate, run.failed, widths=[12, 9, 9, 9, 9, 8])


def judge(clients: int, bare: Run, ours: Run) -> list[str]:
    """The issue's targets for this level, each said as met or missed."""
    p99_ratio = ours.figures["p99"] / bare.figures["p99"]
    rate_ratio = ours.rate / bare.rate
    print(f"pmbot/bare: p99 {p99_ratio:.2f}x, throughput {rate_ratio:.2f}x, p50 "
          f"{ours.figures['p50'] / bare.figures['p50']:.2f}x")
    verdicts = []
    if clients == 16:
        verdicts.append(_verdict(f"16 clients: p99 {p99_ratio:.2f}x bare (target <= {P99_TARGET}x)",
                                 p99_ratio <= P99_TARGET))
        verdicts.append(_verdict(f"16 clients: throughput {rate_ratio:.2f}x bare (target >= {THROUGHPUT_TARGET}x)",
                                 rate_ratio >= THROUGHPUT_TARGET))
    if clients == 64:
        slowest = ours.figures["max"]
        verdicts.append(_verdict(f"64 clients: {ours.failed} failed, slowest ack {ms(slowest):.0f} ms "
                                 f"(target: none failed, all < {ACK_DEADLINE_SECONDS:.0f} s)",
                                 ours.failed == 0 and slowest < ACK_DEADLINE_SECONDS))
    return verdicts


def _verdict(text: str, met: bool) -> str:
    return f"{'met   ' if met else 'MISSED'} {text}"


def filed_reports(service: Service) -> int:
    """Reports stored so far: each must get its card (a request answered too late may still have filed one)."""
    with session_scope(service.runtime.deps.engine) as session:
        return int(session.execute(select(func.count()).select_from(Bug)).scalar_one())


def drain(service: Service, sandbox: TimedSandbox, *, acked: int, timeout: float) -> None:
    """Wait for pmbot's queue to post a card for every stored report; say how many and how long it took."""
    started = time.monotonic()
    expected = filed_reports(service)
    done = settle_pmbot(service, cards=expected, sandbox=sandbox, timeout=timeout)
    took = time.monotonic() - started
    cards = sandbox.cards()
    dropped = "none dropped" if cards == expected else f"{expected - cards} MISSING"
    extra = f", {sandbox.card_posts - cards} posted twice" if sandbox.card_posts > cards else ""
    refused = f", Slack answered 429 to {sandbox.refused_posts} posts (retried)" if sandbox.refused_posts else ""
    print(f"cards: {cards} posted for {expected} reports stored ({acked} acked with 200; warm-ups included), "
          f"{dropped}{extra}{refused}; queue drained {took:.1f} s after the last ack{'' if done else ' (TIMED OUT)'}")


def run_level(client: LoadClient, service: Service, pmbot: Driver, bare: Driver, reports: Reports, *, clients: int,
              requests: int, keep_alive: bool, acked: list[int]) -> list[str]:
    """Warm each server up at this level, measure bare then pmbot, then drain pmbot's queue."""
    warmup = max(clients, min(200, requests // 5))
    print(f"\n{clients} clients, {requests} requests per server (after {warmup} warm-up requests each)")
    measure(client, bare, reports, warmup, clients, keep_alive=keep_alive)
    base = measure(client, bare, reports, requests, clients, keep_alive=keep_alive)
    acked[0] += measure(client, pmbot, reports, warmup, clients, keep_alive=keep_alive).answered
    settle_pmbot(service, cards=filed_reports(service), sandbox=reports.sandbox, timeout=120)  # warm-up's cards
    ours = measure(client, pmbot, reports, requests, clients, keep_alive=keep_alive)
    acked[0] += ours.answered
    print_runs({"bare Bolt": base, "pmbot": ours})
    verdicts = judge(clients, base, ours)
    drain(service, reports.sandbox, acked=acked[0], timeout=max(60.0, requests / 10))
    return verdicts


def requests_per_level(levels: Sequence[int], given: Sequence[int] | None, quick: bool) -> list[int]:
    if given:
        return [given[min(n, len(given) - 1)] for n in range(len(levels))]
    counts = [DEFAULT_REQUESTS.get(c, 50 * c) for c in levels]
    return [max(c, n // QUICK_DIVISOR) for c, n in zip(levels, counts, strict=True)] if quick else counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64], help="concurrency levels")
    parser.add_argument("--requests", type=int, nargs="+", help="requests per level (default 1500 at 16, 3000 at 64)")
    parser.add_argument("--channels", type=int, default=200, help="channels the reports are spread over")
    parser.add_argument("--keep-alive", action="store_true", help="reuse connections (default: one per request)")
    parser.add_argument("--quick", action="store_true", help="a fifth of the requests: a ~20 s smoke run")
    args = parser.parse_args()
    counts = requests_per_level(args.clients, args.requests, args.quick)

    print_machine("`/bug` ack latency: pmbot vs a bare Bolt app acking the same signed request")
    sandbox = start_sandbox(channels=args.channels)
    service, pmbot = start_pmbot(sandbox)
    bare = start_bare_bolt(sandbox, settings=service.runtime.deps.settings)
    client = LoadClient()
    print(f"stack (both): {stack_description(service.runtime.deps.settings)}")
    connections = "kept-alive connections" if args.keep_alive else "a new connection per request"
    print(f"clients: a separate process, closed loop, {connections}; reports spread over {args.channels} "
          "channels, loopback only")
    reports = Reports(sandbox, args.channels)
    verdicts: list[str] = []
    acked = [0]
    for clients, requests in zip(args.clients, counts, strict=True):
        verdicts += run_level(client, service, pmbot, bare, reports, clients=clients,
                              requests=requests, keep_alive=args.keep_alive, acked=acked)
    print("\ntargets:")
    for line in verdicts:
        print(f"  {line}")


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()  # cheroot's worker threads are not daemons: the interpreter would wait for them forever
