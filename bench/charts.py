"""Chart rendering: time per chart, and the process's memory after many renders (it must not grow).

Run: .venv/bin/python bench/charts.py [--renders 1000]

Renders the budget chart and the risk heat map through `bot.charts` (matplotlib's Figure API, one render at a
time) and prints the median and p95 render time, then the resident memory after a warm-up, after half the
renders and after all of them. A leak (a figure kept per render, as pyplot does) shows as steady growth; the
baseline is the same process before the loop.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from bot.budgets.chart import budget_png
from bot.budgets.service import Snapshot, Week
from bot.domain.budget import Entry, by_category, forecast, period_for, spent
from bot.risks.matrix import heat_map_png


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def budget_snapshot() -> Snapshot:
    today = date(2026, 11, 20)
    period = period_for("month", today)
    entries = [Entry(period.start + timedelta(days=d), c, Decimal(v)) for d in range(20)
               for c, v in (("compute", "310.50"), ("api", "95.20"), ("annotation", "40"))]
    budget = SimpleNamespace(amount=Decimal("15000"), currency="USD", caps={})
    total = spent(entries)
    week = Week(end=today, spent=Decimal("3100"), before=Decimal("2900"), movers=[("compute", Decimal("150"))])
    return Snapshot(budget, today, period, entries, total, by_category(entries),
                    forecast(entries, period, today, "USD"), None, week, "")


def risks() -> list:
    return [SimpleNamespace(readable_id=f"R-{n}", probability=1 + n % 5, impact=1 + (n * 3) % 5)
            for n in range(40)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=1000)
    args = parser.parse_args()
    snap, register = budget_snapshot(), risks()
    charts = {"budget": lambda: budget_png(snap),
              "heat map": lambda: heat_map_png(register, title="Risk heat map", as_of=date(2026, 11, 20))}
    for chart in charts.values():  # warm-up: fonts, caches
        chart()
    baseline = rss_mib()
    print(f"memory after warm-up: {baseline:.1f} MiB (baseline)")
    times: dict[str, list[float]] = {name: [] for name in charts}
    halfway = 0.0
    started = datetime.now(UTC)
    for n in range(args.renders):
        name = "budget" if n % 2 == 0 else "heat map"
        t0 = time.perf_counter()
        charts[name]()
        times[name].append((time.perf_counter() - t0) * 1000)
        if n == args.renders // 2:
            halfway = rss_mib()
    end = rss_mib()
    for name, values in times.items():
        values.sort()
        print(f"{name}: median {statistics.median(values):.1f} ms, p95 {values[int(len(values) * 0.95) - 1]:.1f} ms "
              f"over {len(values)} renders")
    print(f"memory after {args.renders // 2} renders: {halfway:.1f} MiB; after {args.renders}: {end:.1f} MiB "
          f"(growth in the second half: {end - halfway:+.1f} MiB; total vs baseline {end - baseline:+.1f} MiB)")
    print(f"wall time: {(datetime.now(UTC) - started).total_seconds():.1f} s")


if __name__ == "__main__":
    main()
