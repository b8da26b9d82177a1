"""The weekly budget chart: cumulative spend per category (stacked) against the budget line, a dashed
forecast to the period's end, the alert thresholds, and an "as of" date. Drawn through `bot.charts`."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.charts import render
from bot.domain.budget import THRESHOLDS, money

if TYPE_CHECKING:
    from bot.budgets.service import Snapshot

COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac")


def budget_png(snap: Snapshot) -> bytes:
    return render(lambda figure: _draw(figure, snap), size=(9, 5))


def _cumulative(snap: Snapshot) -> tuple[list[date], dict[str, list[float]]]:
    days = [snap.period.start + timedelta(days=n) for n in range((min(snap.today, snap.period.end)
                                                                  - snap.period.start).days + 1)]
    daily: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for entry in snap.entries:
        daily[entry.category][entry.day] += entry.amount
    series = {}
    for category in sorted(daily, key=lambda c: snap.by_category.get(c, Decimal(0)), reverse=True):
        running, values = Decimal(0), []
        for day in days:
            running += daily[category].get(day, Decimal(0))
            values.append(float(running))
        series[category] = values
    return days, series


def _draw(figure, snap: Snapshot) -> None:
    budget = snap.budget
    axes = figure.add_subplot()
    days, series = _cumulative(snap)
    if series:
        axes.stackplot(days, *series.values(), labels=list(series), colors=COLOURS[:len(series)], alpha=0.85)
    limit = float(budget.amount)
    axes.axhline(limit, color="#222222", linewidth=1.6, label=f"budget {money(budget.amount, budget.currency)}")
    for threshold in THRESHOLDS[:-1]:
        axes.axhline(limit * threshold / 100, color="#999999", linewidth=0.8, linestyle=":")
        axes.annotate(f"{threshold}%", (snap.period.end, limit * threshold / 100), fontsize=7, color="#666666",
                      xytext=(-22, 2), textcoords="offset points")
    axes.axvline(snap.today, color="#bbbbbb", linewidth=0.8)
    if snap.forecast.amount is not None and snap.today < snap.period.end:
        axes.plot([snap.today, snap.period.end], [float(snap.spent), float(snap.forecast.amount)], linestyle="--",
                  color="#e45756", linewidth=1.5, label=f"forecast {money(snap.forecast.amount, budget.currency)}")
    axes.set_xlim(snap.period.start, snap.period.end)
    axes.set_ylim(0, max(limit, float(snap.forecast.amount or 0), float(snap.spent)) * 1.1)
    axes.set_ylabel(budget.currency)
    axes.set_title(f"Spend vs budget, {snap.period.start:%d %b} – {snap.period.end:%d %b %Y} · as of "
                   f"{snap.today:%d %b %Y}", fontsize=11)
    axes.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
