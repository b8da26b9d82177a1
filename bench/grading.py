"""Offline grader on the labelled set: accuracy per grade, grade-1 recall, confusion matrix, throughput.

Run: .venv/bin/python bench/grading.py [--file F ...] [--seconds 2]

By default every labelled set in tests/data is evaluated: bug_reports.tsv (the main set the rules were
written against); bug_reports_dev.tsv, bug_reports_blind.tsv and bug_reports_blind2.tsv (each held out
once, then tuned on); bug_reports_blind3.tsv (the same); and bug_reports_tracker.tsv: multi-line reports
in the shape of public LLM-app tracker issues and incident write-ups, written in rounds, each scored once
before it was used (first scores in the file's header are the honest estimates for unseen reports).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from bot.domain.grading import grade_report

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
DEFAULT_FILES = [DATA / "bug_reports.tsv", DATA / "bug_reports_dev.tsv", DATA / "bug_reports_blind.tsv",
                 DATA / "bug_reports_blind2.tsv", DATA / "bug_reports_blind3.tsv", DATA / "bug_reports_tracker.tsv"]


def load(path: Path) -> list[tuple[int, set[int], str]]:
    """(grade, acceptable grades, text) per line of the TSV."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        grade, acceptable, text = line.split("\t", 2)
        text = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], text)  # "\n" is a line break
        extra = {int(g) for g in acceptable.split(",") if g.strip() not in ("", "-")}
        rows.append((int(grade), {int(grade)} | extra, text))
    return rows


def evaluate(rows: list[tuple[int, set[int], str]]) -> dict:
    confusion = {g: dict.fromkeys(range(1, 6), 0) for g in range(1, 6)}
    misses = []
    for grade, acceptable, text in rows:
        predicted = grade_report(text).grade
        confusion[grade][predicted] += 1
        if predicted not in acceptable:
            misses.append((grade, predicted, text))
    exact = sum(confusion[g][g] for g in confusion)
    return {"confusion": confusion, "misses": misses, "exact": exact / len(rows),
            "acceptable": 1 - len(misses) / len(rows),
            "grade1_recall": confusion[1][1] / max(1, sum(confusion[1].values())),
            "false_grade1_on_4_5": confusion[4][1] + confusion[5][1]}


def throughput(rows: list[tuple[int, set[int], str]], seconds: float) -> float:
    texts = [text for _, _, text in rows]
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text in texts:
            grade_report(text)
        done += len(texts)
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", type=Path, action="append", help="a labelled TSV (repeatable)")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    for path in args.file or DEFAULT_FILES:
        report(path)
    rows = load((args.file or DEFAULT_FILES)[0])
    print(f"offline throughput: {throughput(rows, args.seconds):,.0f} reports/s on one core")


def report(path: Path) -> None:
    rows = load(path)
    result = evaluate(rows)
    print(f"\n{len(rows)} reports from {path.name}")
    print("accuracy per grade:")
    for g, row in result["confusion"].items():
        total = sum(row.values())
        print(f"  grade {g}: {row[g]}/{total} = {row[g] / max(1, total):.0%}")
    print(f"exact: {result['exact']:.1%}   within an acceptable grade: {result['acceptable']:.1%}")
    print(f"grade-1 recall: {result['grade1_recall']:.0%}   grade 4/5 called grade 1: {result['false_grade1_on_4_5']}")
    print("confusion (rows: labelled, columns: predicted)")
    print("        " + "".join(f"{p:>5}" for p in range(1, 6)))
    for g, row in result["confusion"].items():
        print(f"  {g}     " + "".join(f"{row[p]:>5}" for p in range(1, 6)))
    for grade, predicted, text in result["misses"]:
        print(f"  miss: labelled {grade}, graded {predicted}: {text.replace(chr(10), ' / ')[:90]}")


if __name__ == "__main__":
    main()
