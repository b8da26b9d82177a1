"""The stakeholder digest's figures with 10^5 bugs in one team, next to a baseline measured in the same run.

Run: .venv/bin/python bench/digest.py [--bugs 100000] [--runs 30] [--db sqlite,postgresql] [--explain]

The team is bench/home.py's (bugs over two years, a quarter open, risks, incidents, five budgets with costs, one
stand-up), in a temporary SQLite file and, when PMBOT_TEST_POSTGRES_URL (or PMBOT_BENCH_POSTGRES_URL) names a
PostgreSQL server, a scratch database on it; the schema comes from the migrations, then ANALYZE.

Timed, each `--runs` times (after a warm-up), in turns:
- `one COUNT`: the team's open bugs counted from an index: the floor of any figure;
- `bugs opened/closed in 7 days`: the two per-grade counts of the bugs section (ix_bug_team_created_grade,
  ix_bug_team_closed_grade), for the team with 10^3 bugs and the one with 10^5;
- `digest figures, all sections`: `bot.digest.figures.gather`, every section. Slack is answered in memory
  (`conversations.info` says every budget channel is public) and no LLM, one-pager or post is timed.
`--explain` prints the plan of every statement the figures run (PostgreSQL: as executed).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from _harness import print_machine, print_row
from home import NOW, SMALL_BUGS, SMALL_TEAM, TEAM, print_timings, seeded_databases
from queries import bench_deps, explain_run
from sqlalchemy import func, select

from bot.deps import Deps
from bot.digest import figures
from bot.digest.service import SECTIONS
from bot.gateways.slack_port import SlackPort
from storage import digests as repo
from storage.db import session_scope
from storage.models import Bug

WEEK = timedelta(days=7)


class PublicChannels(SlackPort):
    """The one Slack call the figures make, answered in memory; the names the digest shows, made up."""

    def __init__(self) -> None:  # no client: nothing here reaches Slack
        pass

    def channel_info(self, channel: str) -> dict[str, Any]:
        return {"id": channel, "name": channel.lower(), "is_private": False}


def cases(deps: Deps, bugs: int) -> dict[str, Callable[[], object]]:
    def one_count() -> int:
        with deps.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Bug).where(Bug.team_id == TEAM,
                                                                           Bug.status == "open")).scalar_one()

    def period_counts(team: str) -> Callable[[], object]:
        def run() -> object:
            with session_scope(deps.engine) as session:
                return (repo.bugs_opened_by_grade(session, team_id=team, start=NOW - WEEK, end=NOW),
                        repo.bugs_closed_by_grade(session, team_id=team, start=NOW - WEEK, end=NOW))
        return run

    def gather() -> object:
        return figures.gather(deps, team_id=TEAM, sections=SECTIONS, now=NOW, baseline=None, baseline_at=None)

    return {"one COUNT": one_count,
            f"bugs opened/closed in 7 days, {SMALL_BUGS:,}": period_counts(SMALL_TEAM),
            f"bugs opened/closed in 7 days, {bugs:,}": period_counts(TEAM),
            f"digest figures, all sections, {bugs:,}": gather}


def explain(deps: Deps) -> None:
    explain_run(deps.engine, lambda: figures.gather(deps, team_id=TEAM, sections=SECTIONS, now=NOW, baseline=None,
                                                    baseline_at=None))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bugs", type=int, default=100_000, help="bugs in the team (default 10^5)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each case")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--llm-calls", type=int, default=20_000, help="pmbot's LLM calls this month in the team")
    parser.add_argument("--explain", action="store_true", help="print the plan of each statement of the figures")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print_machine(f"Digest figures, {args.bugs:,} bugs and {args.llm_calls:,} LLM calls in one team, "
                  f"{args.runs} runs each")
    print_row("", "median ms", "p95 ms", "max ms", widths=(44, 11, 11, 11))
    for _db, url, engine in seeded_databases(args.db, args.bugs, args.llm_calls):
        deps = bench_deps(url, engine)
        deps.slack = PublicChannels()
        deps.clock = lambda: NOW
        print_timings(cases(deps, args.bugs), args.runs, 44)
        if args.explain:
            explain(deps)


if __name__ == "__main__":
    main()
