"""`/quality chart <metric>`: one metric's value per run, oldest first, against the plan's target line, with the
runs that breached it marked (a filled red cross, labelled) and each run named by its version.

Drawn through `bot.charts.render` (object API, one render at a time). `plan` works the points out without
matplotlib; `draw(figure, chart)` is public so tests can inspect the artists instead of comparing pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.charts import render
from bot.domain.quality import Metric, show

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from storage.models import QualityRun

# Okabe & Ito's colour-blind-safe palette (as the budget chart): blue for the values, vermillion for breaches.
VALUE = "#0072B2"
BREACH = "#D55E00"
TARGET = "#000000"
MAX_RUNS = 30  # the last 30 runs; older ones are left out and said so


@dataclass(frozen=True)
class Point:
    label: str  # the run's version (or `run 12`)
    value: float
    breach: bool


@dataclass(frozen=True)
class Chart:
    metric: Metric
    points: list[Point]
    left_out: int  # older runs not drawn

    @property
    def title(self) -> str:
        return f"{self.metric.name} per run — target {self.metric.target_text()}"


def plan(metric: Metric, runs: list[QualityRun]) -> Chart:
    """The runs (any order) that measured `metric`, oldest first, the last MAX_RUNS of them."""
    measured = sorted((r for r in runs if metric.name in (r.metrics or {})), key=lambda r: r.id or 0)
    kept = measured[-MAX_RUNS:]
    points = [Point(r.version or f"run {r.id}", float(r.metrics[metric.name]),
                    not metric.passes(float(r.metrics[metric.name]))) for r in kept]
    return Chart(metric, points, len(measured) - len(kept))


def quality_png(chart: Chart) -> bytes:
    return render(lambda figure: draw(figure, chart), size=(8, 4.5))


def draw(figure: Figure, chart: Chart) -> None:
    axes = figure.add_subplot()
    xs = list(range(len(chart.points)))
    values = [p.value for p in chart.points]
    axes.plot(xs, values, color=VALUE, marker="o", linewidth=1.8, label=chart.metric.name, zorder=2)
    breaches = [(x, p.value) for x, p in zip(xs, chart.points, strict=True) if p.breach]
    if breaches:
        axes.scatter([x for x, _ in breaches], [v for _, v in breaches], color=BREACH, marker="X", s=110,
                     label="breach", zorder=3)
    axes.axhline(chart.metric.target, color=TARGET, linestyle="--", linewidth=1.2,
                 label=f"target {chart.metric.target_text()}", zorder=1)
    axes.set_xticks(xs, [p.label for p in chart.points], rotation=45 if len(xs) > 8 else 0, ha="right"
                    if len(xs) > 8 else "center")
    unit = "" if chart.metric.unit in ("score", "count") else f" ({chart.metric.unit})"
    axes.set_ylabel(f"{chart.metric.name}{unit}")
    axes.set_ylim(bottom=0, top=max([*values, chart.metric.target]) * 1.15 or 1)
    if chart.points:
        last = chart.points[-1]
        axes.annotate(show(last.value, chart.metric.unit), (xs[-1], last.value), textcoords="offset points",
                      xytext=(0, 8), ha="center", color=BREACH if last.breach else VALUE)
    better = "lower" if chart.metric.direction == "lower" else "higher"
    older = f"; {chart.left_out} older runs not shown" if chart.left_out else ""
    axes.set_title(f"{chart.title} ({better} is better{older})", fontsize=10)
    axes.legend(loc="best", fontsize=8, frameon=False)
    axes.grid(axis="y", alpha=0.3)
