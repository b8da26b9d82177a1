"""Slash-command ack latency: pmbot vs a bare Bolt app on the same server stack, same signed request.

Run: .venv/bin/python bench/ack_latency.py [--requests 600] [--concurrency 8]
Prints p50/p95/p99/max for both and the ratio. Bounded: a fixed number of requests to loopback only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cheroot.wsgi import Server
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.app import Service, build
from bot.sandbox import Driver, SlackSandbox
from bot.sandbox.server import BOT_TOKEN
from bot.settings import Settings
from storage.migrate import upgrade

SECRET = "bench-secret"


class _Isolated(Settings):
    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)


def start_bare_bolt(sandbox: SlackSandbox) -> tuple[Server, int]:
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    app = App(client=client, signing_secret=SECRET, token_verification_enabled=False)

    @app.command("/pmbot")
    def pmbot(ack):
        ack(text="pmbot commands")

    server = Server(("127.0.0.1", 0), SlackRequestHandler(app), numthreads=16)
    server.prepare()
    threading.Thread(target=server.serve, daemon=True).start()
    return server, server.bind_addr[1]


def measure(driver: Driver, requests: int, concurrency: int) -> list[float]:
    def one(_: int) -> float:
        started = time.perf_counter()
        response = driver.command("/pmbot", "help")
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"unexpected status {response.status}: {response.body[:200]}")
        return elapsed

    for i in range(20):  # warm-up: first-request auth.test, imports, connection setup
        one(i)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, range(requests)))


def summary(name: str, samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100)
    figures = {"p50": q[49], "p95": q[94], "p99": q[98], "max": max(samples)}
    print(f"{name:>10}: " + "  ".join(f"{k} {v * 1000:7.2f} ms" for k, v in figures.items()))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    sandbox = SlackSandbox()
    sandbox.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = _Isolated(slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, slack_api_url=sandbox.api_url,
                             database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", pmbot_scheduler_enabled=False)
        runtime = build(settings)
        upgrade(runtime.deps.engine)
        service = Service(runtime, host="127.0.0.1", port=0)
        service.start()
        bare, bare_port = start_bare_bolt(sandbox)
        print(f"{args.requests} signed `/pmbot help` requests, {args.concurrency} at a time, loopback, cheroot")
        base = summary("bare Bolt", measure(Driver(f"http://127.0.0.1:{bare_port}/slack/events", SECRET, sandbox),
                                             args.requests, args.concurrency))
        ours = summary("pmbot", measure(Driver(f"http://127.0.0.1:{service.http.port}/slack/events", SECRET,
                                               sandbox), args.requests, args.concurrency))
        print("ratio pmbot/bare: " + "  ".join(f"{k} {ours[k] / base[k]:.2f}x" for k in ("p50", "p95", "p99")))
        bare.stop()
        service.stop()
    sandbox.stop()


if __name__ == "__main__":
    main()
