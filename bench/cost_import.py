"""Importing a big cloud bill: lines per second and peak memory, against a bare csv.reader pass (same run).

Run: .venv/bin/python bench/cost_import.py [--lines 1000000] [--keep FILE]

Writes an AWS Cost and Usage Report (legacy layout, the 38 columns of tests/data/bills/aws_cur_legacy.csv,
a month of daily lines over 12 services) with invented values, then measures, each in a fresh child process so
peak memory (ru_maxrss) is that step's own:
- baseline: csv.reader over the file, touching one field per row: the floor any CSV import stands on;
- read: bot.domain.bills.read_bill, the whole reader (layout, days, exact Decimal sums, mapping);
- import: bot.budgets.service.import_costs into a migrated SQLite database, as `pmbot cost import` runs it.
Goal (#16): at least 50,000 lines/s and at most 200 MB for a 1,000,000-line file.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEMPLATE = ROOT / "tests" / "data" / "bills" / "aws_cur_legacy.csv"
PRODUCTS = [("AmazonEC2", "Amazon Elastic Compute Cloud"), ("AmazonSageMaker", "Amazon SageMaker"),
            ("AmazonBedrock", "Amazon Bedrock"), ("AmazonS3", "Amazon Simple Storage Service"),
            ("AmazonCloudWatch", "AmazonCloudWatch"), ("AWSDataTransfer", "AWS Data Transfer"),
            ("AmazonEKS", "Amazon Elastic Kubernetes Service"), ("AmazonRDS", "Amazon Relational Database Service"),
            ("AWSLambda", "AWS Lambda"), ("AmazonVPC", "Amazon Virtual Private Cloud"),
            ("AmazonECR", "Amazon EC2 Container Registry (ECR)"), ("AWSSupportBusiness", "AWS Support (Business)")]


def write_cur(path: Path, lines: int) -> None:
    """A CUR with the template's header; each row a copy of a template row with its day, product and cost set."""
    with open(TEMPLATE, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sample = next(reader)
    col = {name: i for i, name in enumerate(header)}
    rng = random.Random(16)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        row = list(sample)
        for n in range(lines):
            code, name = PRODUCTS[n % len(PRODUCTS)]
            day = 1 + (n * 30 // lines)
            row[col["lineItem/UsageStartDate"]] = f"2026-11-{day:02d}T00:00:00Z"
            row[col["lineItem/ProductCode"]] = code
            row[col["product/ProductName"]] = name
            row[col["lineItem/UnblendedCost"]] = f"{rng.random() * 3:.10f}".rstrip("0")
            row[col["identity/LineItemId"]] = f"{n:052d}"
            writer.writerow(row)


def step(kind: str, path: str, work: str) -> dict:
    """One measurement, in this (child) process."""
    started = time.perf_counter()
    if kind == "baseline":
        with open(path, encoding="utf-8", newline="") as handle:
            count = sum(1 for row in csv.reader(handle) if row[0])
        extra = {}
    elif kind == "read":
        from datetime import date
        from zoneinfo import ZoneInfo

        from bot.domain import bills

        context = bills.Context(ZoneInfo("Europe/Berlin"), date(2026, 11, 30), "USD")
        with open(path, encoding="utf-8-sig", newline="") as handle:
            summary = bills.read_bill(handle, context=context, categorise=lambda line, layout: (
                bills.default_category(line.alias) or bills.default_category(line.service) or bills.UNMAPPED))
        count, extra = summary.lines, {"groups": len(summary.groups), "total": str(summary.totals["USD"])}
    else:
        count, extra = _import(path, work)
    seconds = extra.pop("seconds", time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "lines": count, "seconds": seconds, "peak_mb": peak_mb, **extra}


def _import(path: str, work: str) -> tuple[int, dict]:
    from datetime import UTC, datetime
    from decimal import Decimal

    from bot.app import build_deps
    from bot.budgets import service
    from bot.settings import Settings
    from storage.db import session_scope
    from storage.migrate import upgrade
    from storage.models import Budget

    class Isolated(Settings):  # no .env file or PMBOT_* variables of this machine
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
            return (init_settings,)

    deps = build_deps(Isolated(slack_bot_token="xoxb-bench", slack_signing_secret="bench",
                               database_url=f"sqlite:///{work}/bench.db", pmbot_scheduler_enabled=False))
    upgrade(deps.engine)
    with session_scope(deps.engine) as session:
        budget = Budget(team_id="T0BENCH", channel_id="C0BENCH", post_channel_id="C0BENCH", amount=Decimal(10**7),
                        currency="USD", period="month", set_by="U0BENCH", updated_at=datetime.now(UTC))
        session.add(budget)
        session.flush()
        session.expunge(budget)
    started = time.perf_counter()  # the bot's own start-up (imports, migrations) is not the import's
    with open(path, encoding="utf-8-sig", newline="") as handle:
        done = service.import_costs(deps, budget, user_id="U0BENCH", lines=handle)
    return done.lines, {"entries": done.entries, "total": str(done.total), "seconds": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", default=None, help="write the generated CUR here and keep it")
    parser.add_argument("--step", choices=("baseline", "read", "import"), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.file, args.work)))
        return 0
    with tempfile.TemporaryDirectory() as work:
        path = Path(args.keep or Path(work) / "cur.csv")
        started = time.perf_counter()
        write_cur(path, args.lines)
        size = path.stat().st_size / 1024**2
        print(f"wrote {args.lines:,} CUR lines ({size:,.0f} MB) in {time.perf_counter() - started:.1f} s")
        print(f"{'step':<10}{'lines':>12}{'seconds':>10}{'lines/s':>12}{'peak MB':>10}  notes")
        for kind in ("baseline", "read", "import"):
            out = subprocess.run([sys.executable, __file__, "--step", kind, "--file", str(path), "--work", work],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            notes = ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("kind", "lines", "seconds", "peak_mb"))
            print(f"{kind:<10}{r['lines']:>12,}{r['seconds']:>10.2f}{r['lines'] / r['seconds']:>12,.0f}"
                  f"{r['peak_mb']:>10.0f}  {notes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
