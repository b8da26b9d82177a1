"""Start-up time of the `pmbot` command, against a bare Python interpreter started the same way.

Run: .venv/bin/python bench/startup.py [--runs 15]
Each figure is the median wall time of fresh processes (no warm interpreter), from a clean environment and an empty
directory, so no `.env` configures an LLM or Jira. Target (issue #18): `pmbot --help` at most 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

PMBOT = shutil.which("pmbot", path=os.path.dirname(sys.executable)) or "pmbot"
CASES = [
    ("baseline: python -c pass", [sys.executable, "-c", "pass"]),
    ("pmbot --help", [PMBOT, "--help"]),
    ("pmbot --version", [PMBOT, "--version"]),
    ("pmbot classify TEXT", [PMBOT, "classify", "The assistant repeats the same sentence until it times out"]),
    ("import bot.app (what serve loads)", [sys.executable, "-c", "import bot.app"]),
]


def timed(command: list[str], env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA_", "SLACK_", "PMBOT_"))}
    print(f"start-up, median of {args.runs} fresh processes · {os.cpu_count()} cores · Python "
          f"{platform.python_version()} · {date.today().isoformat()}")
    with tempfile.TemporaryDirectory() as empty:
        for name, command in CASES:
            timed(command, env, empty)  # warm the OS file cache
            samples = [timed(command, env, empty) for _ in range(args.runs)]
            print(f"  {name:<36} {statistics.median(samples) * 1000:7.0f} ms   (max {max(samples) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
