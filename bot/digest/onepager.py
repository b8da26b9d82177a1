"""The digest's one-pager: one PNG with its key charts side by side (bugs by grade, budget burn, the top risks,
the incidents' timeline), drawn through `bot.charts.render` (Agg, no pyplot, one render at a time)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.charts import render
from bot.domain.text import truncate

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MUTED = "#888888"
OPENED, CLOSED = "#d35400", "#27ae60"
GRADE_COLOURS = {1: "#c0392b", 2: "#e67e22", 3: "#f1c40f"}


def png(figures: dict[str, Any]) -> bytes:
    """The one-pager of a digest's figures (a panel says "nothing to show" where a section is empty or left out)."""
    return render(lambda figure: draw(figure, figures), size=(11, 7.5), dpi=100)


def draw(figure: Figure, figures: dict[str, Any]) -> None:
    """Four panels on one figure, and the period as its title."""
    start, end = date.fromisoformat(figures["period_start_day"]), date.fromisoformat(figures["today"])
    figure.suptitle(f"Project digest — {start:%d %b} to {end:%d %b %Y}", fontsize=13)
    grid = figure.subplots(2, 2)
    _bugs(grid[0][0], figures.get("bugs"))
    _budget(grid[0][1], figures.get("budget"))
    _risks(grid[1][0], figures.get("risks"))
    _incidents(grid[1][1], figures.get("incidents"), datetime.fromisoformat(figures["since"]),
               datetime.fromisoformat(figures["as_of"]), ZoneInfo(figures.get("zone") or "UTC"))


def _empty(axes: Axes, title: str, why: str) -> None:
    axes.set_title(title, fontsize=10)
    axes.text(0.5, 0.5, why, transform=axes.transAxes, ha="center", va="center", color=MUTED, fontsize=11)
    axes.set_xticks([])
    axes.set_yticks([])


def _bugs(axes: Axes, bugs: dict[str, Any] | None) -> None:
    title = "Bugs opened and closed, by grade (1 = critical)"
    if bugs is None:
        return _empty(axes, title, "not in this digest")
    # Every grade, and the bugs not graded yet when there are some (so the totals match the message).
    grades = sorted(bugs["opened"].keys() | bugs["closed"].keys(), key=lambda k: (not k.isdigit(), k))
    positions = list(range(len(grades)))
    axes.bar([p - 0.2 for p in positions], [bugs["opened"].get(g, 0) for g in grades], width=0.4, color=OPENED,
             label="opened")
    axes.bar([p + 0.2 for p in positions], [bugs["closed"].get(g, 0) for g in grades], width=0.4, color=CLOSED,
             label="closed")
    axes.set_xticks(positions, [f"grade {g}" if g.isdigit() else "not graded" for g in grades], fontsize=8)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    return None


def _budget(axes: Axes, budgets: list[dict[str, Any]] | None) -> None:
    title = "Budget: spent and forecast, % of budget"
    if not budgets:
        return _empty(axes, title, "no budget set" if budgets is not None else "not in this digest")
    names = [truncate("#" + b["name"], 24) for b in budgets]
    spent = [_share(b["spent"], b["amount"]) for b in budgets]
    forecast = [_share(b["forecast"], b["amount"]) if b["forecast"] is not None else 0.0 for b in budgets]
    positions = list(range(len(budgets)))
    axes.barh(positions, forecast, height=0.6, color="#f5cba7", label="forecast at period end")
    axes.barh(positions, spent, height=0.3, color="#2e86c1", label="spent so far")
    axes.axvline(100, color="#c0392b", linestyle="--", linewidth=1, label="budget")
    axes.set_yticks(positions, names, fontsize=8)
    axes.set_ylim(len(budgets) - 0.3, -0.7)  # the first budget at the top
    axes.set_xlim(0, max(110.0, *forecast, *spent) * 1.05)
    axes.set_xlabel("% of budget", fontsize=8)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="lower right")
    return None


def _share(amount: str, whole: str) -> float:
    total = Decimal(whole)
    return float(Decimal(amount) * 100 / total) if total > 0 else 0.0


def _risks(axes: Axes, risks: dict[str, Any] | None) -> None:
    title = "Top risks by score (likelihood × impact, max 25)"
    if risks is None:
        return _empty(axes, title, "not in this digest")
    if not risks["top"]:
        return _empty(axes, title, "no open risks with a score")
    top = list(reversed(risks["top"]))  # the highest at the top
    positions = list(range(len(top)))
    colours = ["#c0392b" if r["score"] >= 15 else "#e67e22" if r["score"] >= 8 else "#f1c40f" for r in top]
    axes.barh(positions, [r["score"] for r in top], color=colours)
    axes.set_yticks(positions, [truncate(f"{r['id']} {r['title']}", 34) for r in top], fontsize=8)
    axes.set_xlim(0, 25)
    axes.set_title(title, fontsize=10)
    return None


def _incidents(axes: Axes, incidents: list[dict[str, Any]] | None, since: datetime, now: datetime,
               zone: ZoneInfo) -> None:
    title = "Incidents: declared to resolved (or now)"
    if incidents is None:
        return _empty(axes, title, "not in this digest")
    if not incidents:
        return _empty(axes, title, "no incidents in the period")
    positions = list(range(len(incidents)))
    for position, incident in zip(positions, incidents, strict=True):
        start = datetime.fromisoformat(incident["declared_at"])
        end = datetime.fromisoformat(incident["resolved_at"]) if incident["resolved_at"] else now
        colour = GRADE_COLOURS.get(incident["grade"], MUTED)
        axes.plot([start, end], [position, position], color=colour, linewidth=6, solid_capstyle="butt")
        if incident["ongoing"]:
            axes.plot([end], [position], marker=">", color=colour, clip_on=False)
    axes.set_yticks(positions, [truncate(f"{i['id']} (grade {i['grade']})", 24) for i in incidents], fontsize=8)
    axes.set_ylim(-0.7, len(incidents) - 0.3)
    axes.invert_yaxis()
    from matplotlib.dates import DateFormatter

    axes.set_xlim(since, now)  # the period: an incident declared before it starts at the left edge
    axes.xaxis.set_major_formatter(DateFormatter("%d %b", tz=zone))  # the team's days
    axes.tick_params(axis="x", labelsize=7, labelrotation=30)
    axes.set_title(title, fontsize=10)
    return None
