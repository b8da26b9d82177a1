"""The bug grader on labelled reports: quality, speed, load time and memory.

Run: .venv/bin/python bench/grading.py [--seconds 2] [--folds 5] [--no-cv]

Prints, for the grader as shipped (safety floors + the learned model) and for the hand-written rules alone
(the baseline, same run):
- grouped cross-validation on the real-world dev set (folds keep each source repository whole; each fold's
  model is trained on everything else in tests/data/grading, less any report from the fold's repositories);
- the dev set's held-out fifth, which the shipped model never saw;
- every labelled file, marked "trained on" where the shipped model learned from it (not an estimate);
- throughput on one core, model load time and resident memory.
Needs scikit-learn for the cross-validation (the dev extra); the rest runs on the bot's own dependencies.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import grader_train  # noqa: E402
from bot.domain import textmodel  # noqa: E402
from bot.domain.grading import Verdict, grade_redacted  # noqa: E402
from bot.domain.pii import redact  # noqa: E402
from bot.grader_train import DEV_FILE, Report  # noqa: E402

Grader = Callable[[Report], Verdict]


def evaluate(reports: Sequence[Report], verdicts: Sequence[Verdict]) -> dict:
    confusion = {g: dict.fromkeys(range(1, 6), 0) for g in range(1, 6)}
    for report, verdict in zip(reports, verdicts, strict=True):
        confusion[report.grade][verdict.grade] += 1
    hits = sum(v.grade in r.acceptable for r, v in zip(reports, verdicts, strict=True))
    ones = sum(confusion[1].values())
    categories = [(r.category, v.category) for r, v in zip(reports, verdicts, strict=True) if r.category]
    unsure = [v.grade in r.acceptable for r, v in zip(reports, verdicts, strict=True) if v.unsure]
    return {"n": len(reports), "acceptable": hits / len(reports),
            "exact": sum(confusion[g][g] for g in confusion) / len(reports),
            "grade1_recall": confusion[1][1] / ones if ones else None,
            "false1_on_4_5": confusion[4][1] + confusion[5][1], "confusion": confusion,
            "category": sum(a == b for a, b in categories) / len(categories) if categories else None,
            "unsure": len(unsure), "unsure_wrong": unsure.count(False),
            "wrong": len(reports) - hits}


def show(title: str, result: dict, *, matrix: bool = True) -> None:
    recall1 = "—" if result["grade1_recall"] is None else f"{result['grade1_recall']:.1%}"
    print(f"\n{title} ({result['n']} reports)")
    print(f"  within acceptable {result['acceptable']:.1%} · exact {result['exact']:.1%} · grade-1 recall {recall1}"
          f" · false grade 1 on grades 4–5: {result['false1_on_4_5']}")
    if result["category"] is not None:
        print(f"  category right {result['category']:.1%}")
    if result["unsure"]:
        print(f"  'not sure' shown on {result['unsure']} cards; {result['unsure_wrong']} of the "
              f"{result['wrong']} wrong grades were among them")
    if not matrix:
        return
    print("  per-grade recall: " + " · ".join(
        f"{g}: {row[g] / max(1, sum(row.values())):.0%}" for g, row in result["confusion"].items()))
    print("  confusion (rows: label, columns: grade given)\n        " + "".join(f"{g:>5}" for g in range(1, 6)))
    for g, row in result["confusion"].items():
        print(f"     {g}  " + "".join(f"{row[p]:>5}" for p in range(1, 6)))


def grade_with(model: textmodel.TextModel | None) -> Grader:
    return lambda r: grade_redacted(redact(r.text), shouting_source=r.text, model=model)


def cross_validate(reports: Sequence[Report], folds: int) -> tuple[list[Report], list[Verdict], list[Verdict]]:
    """Grouped k-fold on the dev set: (dev reports, learned verdicts, rules verdicts) in the same order."""
    from sklearn.model_selection import GroupKFold

    dev = [r for r in reports if r.file == DEV_FILE]
    others = [r for r in reports if r.file != DEV_FILE]
    learned: dict[int, Verdict] = {}
    for train_rows, test_rows in GroupKFold(n_splits=folds).split(dev, groups=[r.group for r in dev]):
        kept_out = {dev[i].group for i in test_rows}
        model = grader_train.fit([r for r in others if r.group not in kept_out] + [dev[i] for i in train_rows])
        for i in test_rows:
            learned[i] = grade_with(model)(dev[i])
    rules = [grade_with(None)(r) for r in dev]
    return dev, [learned[i] for i in range(len(dev))], rules


def throughput(texts: Sequence[str], seconds: float) -> float:
    from bot.domain.grading import grade_report

    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text in texts:
            grade_report(text)
        done += len(texts)
    return done / (time.perf_counter() - started)


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to measure throughput")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation (no scikit-learn needed)")
    args = parser.parse_args()

    gc.collect()
    before = resident_mb()
    started = time.perf_counter()
    model = textmodel.load()
    load_seconds = time.perf_counter() - started
    loaded = resident_mb()
    print(f"model: {textmodel.MODEL_PATH.name}, {textmodel.MODEL_PATH.stat().st_size / 1e6:.1f} MB on disk, "
          f"trained on {model.meta['reports']} reports; load {load_seconds * 1000:.0f} ms, "
          f"+{loaded - before:.0f} MB resident")

    reports = grader_train.read_reports()
    if not args.no_cv:
        dev, learned, rules = cross_validate(reports, args.folds)
        show(f"grouped {args.folds}-fold cross-validation on {DEV_FILE}: learned grader", evaluate(dev, learned))
        show("  baseline, same reports: rules only", evaluate(dev, rules), matrix=False)

    held = set(model.meta.get("held_out", []))
    holdout = [r for r in reports if r.id in held]
    if holdout:
        show(f"{DEV_FILE}, the held-out fifth (never trained on): shipped grader",
             evaluate(holdout, [grade_with(model)(r) for r in holdout]))
        show("  baseline, same reports: rules only", evaluate(holdout, [grade_with(None)(r) for r in holdout]),
             matrix=False)
    for name in sorted({r.file for r in reports}):
        rows = [r for r in reports if r.file == name and r.id not in held]
        show(f"{name} (trained on: not an estimate)", evaluate(rows, [grade_with(model)(r) for r in rows]),
             matrix=False)
        show("  rules only", evaluate(rows, [grade_with(None)(r) for r in rows]), matrix=False)

    texts = [r.text for r in reports if r.file == DEV_FILE]
    rate = throughput(texts, args.seconds)
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"\nthroughput: {rate:,.0f} reports/s on one core (dev set reports, {mean_chars:.0f} characters on average, "
          f"redaction + floors + model)")
    print(f"resident memory after grading: {resident_mb():.0f} MB in all")


if __name__ == "__main__":
    main()
