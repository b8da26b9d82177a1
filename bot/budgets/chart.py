"""The weekly budget chart a PM can paste into a deck: cumulative spend per category (stacked steps) against the
budget line, the category caps, the 50/75/90 % thresholds, a labelled "as of" line and a dashed forecast.

Drawn through `bot.charts.render` (object API, one render at a time, no pyplot). `draw(figure, snap)` is public so
tests can draw into a real `Figure` and inspect the artists instead of comparing pixels.

The numbers are worked out first, in `plan` (plain Decimal arithmetic, no matplotlib), then drawn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from bot.charts import render
from bot.domain.budget import THRESHOLDS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Okabe & Ito, "Color Universal Design" (https://jfly.uni-koeln.de/color/): distinguishable with the common colour
# vision deficiencies. Black goes to the budget line; vermillion, the only red, is kept for the forecast so no
# category can be confused with it. Categories get the other six, in order of spend.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#56B4E9", "#CC79A7", "#F0E442")
FORECAST = "#D55E00"
BUDGET = "#000000"
OTHER = "#999999"
MUTED = "#8c8c8c"
TEXT = "#333333"
# Headroom above the highest value, so the as-of label at the top never sits on the budget line.
HEADROOM = 1.15
# A white box behind labels, so lines and filled layers running through them do not cut the text.
_CLEAR = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1}
CENT = Decimal("0.01")
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Layer:
    """One category's cumulative spend at each x of the plan (`other` groups the smallest)."""

    name: str
    colour: str
    total: Decimal
    cumulative: list[Decimal]


@dataclass(frozen=True)
class Cap:
    """A category cap drawn where that category's layer would top out: its base in the stack plus the cap."""

    name: str
    colour: str
    amount: Decimal
    level: Decimal


@dataclass(frozen=True)
class Plan:
    """Everything the chart shows, as numbers: x points (days), stacked layers, caps, and the axis range."""

    days: list[date]
    layers: list[Layer]
    caps: list[Cap]
    left: date
    right: date  # the end of the period's last day: `period.end` is inclusive
    as_of: date
    recorded: bool  # any entry in the period at all (credits and costs may still net to zero)

    @property
    def now(self) -> date:
        """Where the as-of line goes: the end of the as-of day, so that day's costs get a day's width like any
        other (at its start they would be a zero-width jump hidden under the line)."""
        return self.as_of + ONE_DAY

    @property
    def totals(self) -> list[Decimal]:
        """The top of the stack at each day: the cumulative spend over all categories."""
        return [sum((layer.cumulative[i] for layer in self.layers), Decimal(0)) for i in range(len(self.days))]


def budget_png(snap: Any) -> bytes:
    """The chart as PNG bytes, rendered under `bot.charts`' lock."""
    return render(lambda figure: draw(figure, snap), size=(10, 5.6))


# --- the numbers --------------------------------------------------------------------------------------------------


def plan(snap: Any) -> Plan:
    """The layers, caps and x range for `snap`. Entries outside the period are left out, and so are any dated after
    the as-of day: the chart shows spend as of that day, and the forecast line starts from it."""
    start, end = snap.period.start, snap.period.end
    as_of = min(max(snap.today, start), end)
    daily: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for entry in snap.entries:
        if start <= entry.day <= as_of:
            daily[entry.category][entry.day] += Decimal(entry.amount)
    cost_days = sorted({day for per_day in daily.values() for day in per_day})
    left = max(start, min(cost_days[0], as_of)) if cost_days else start
    days = sorted({left, *cost_days, as_of + ONE_DAY})
    caps = _parse_caps(snap.budget.caps)
    grouped = _group(daily, keep=set(caps))
    layers = [_layer(name, colour, per_day, days) for name, colour, per_day in grouped]
    return Plan(days, layers, _caps(caps, layers), left, end + ONE_DAY, as_of, recorded=bool(cost_days))


def _parse_caps(raw: dict[str, Any] | None) -> dict[str, Decimal]:
    """Caps are stored as strings; one that does not parse is skipped rather than failing the weekly post."""
    caps = {}
    for name, value in (raw or {}).items():
        try:
            caps[name] = Decimal(str(value))
        except InvalidOperation:
            continue
    return caps


def _group(daily: dict[str, dict[date, Decimal]], *, keep: set[str]) -> list[tuple[str, str, dict[date, Decimal]]]:
    """Categories largest first (the biggest sits at the bottom, where it is easiest to read), each with a colour.
    With more categories than colours, the smallest uncapped ones are summed into `other`; capped categories are
    never folded away, since their cap needs a layer to sit on (colours cycle if the caps alone outnumber them)."""
    totals = {name: sum(per_day.values(), Decimal(0)) for name, per_day in daily.items()}
    for name in keep:
        daily.setdefault(name, defaultdict(Decimal))
        totals.setdefault(name, Decimal(0))
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    uncapped = [name for name in ranked if name not in keep]
    room = max(len(PALETTE) - 1 - len(keep), 0)
    rest = uncapped[room:] if len(ranked) > len(PALETTE) else []
    if len(rest) == 1:  # an "other" of one is just that category under a vaguer name
        rest = []
    shown = [name for name in ranked if name not in rest]
    grouped = [(name, PALETTE[i % len(PALETTE)], daily[name]) for i, name in enumerate(shown)]
    if rest:
        merged: dict[date, Decimal] = defaultdict(Decimal)
        for name in rest:
            for day, amount in daily[name].items():
                merged[day] += amount
        grouped.append((f"other ({len(rest)})", OTHER, merged))
    return grouped


def _layer(name: str, colour: str, per_day: dict[date, Decimal], days: list[date]) -> Layer:
    """Cumulative spend at each of `days`: everything booked on or before that day."""
    running, values = Decimal(0), []
    booked = sorted(per_day.items())
    i = 0
    for day in days:
        while i < len(booked) and booked[i][0] <= day:
            running += booked[i][1]
            i += 1
        values.append(running)
    return Layer(name, colour, running, values)


def _caps(caps: dict[str, Decimal], layers: list[Layer]) -> list[Cap]:
    """Each cap at (base of its layer at the as-of) + cap: the level its layer's top reaches when the cap is used."""
    found, base = [], Decimal(0)
    for layer in layers:
        if layer.name in caps:
            found.append(Cap(layer.name, layer.colour, caps[layer.name], base + caps[layer.name]))
        base += layer.cumulative[-1]
    return found


# --- the drawing --------------------------------------------------------------------------------------------------


def draw(figure: Figure, snap: Any) -> None:
    """Draw the budget chart for `snap` into `figure` (one Axes)."""
    axes = figure.add_subplot()
    chart = plan(snap)
    currency = snap.budget.currency
    limit = Decimal(snap.budget.amount)
    _draw_layers(axes, chart, currency)
    top = _y_top(chart, snap)
    axes.set_ylim(min(0.0, *(float(t) for t in chart.totals), *_layer_bottoms(chart)), top)
    axes.set_xlim(_x(chart.left), _x(chart.right))
    _draw_budget(axes, limit, currency)
    right_labels = _draw_forecast(axes, chart, snap, currency) + _draw_caps(axes, chart)
    _place_right_labels(axes, right_labels, top)
    _draw_as_of(axes, chart)
    if not chart.recorded:
        axes.text(0.5, 0.45, "no spend recorded yet", transform=axes.transAxes, ha="center", va="center",
                  fontsize=13, color=MUTED)
    _format_axes(axes, snap, currency)
    if any(_visible(layer) for layer in chart.layers):
        figure.legend(loc="outside lower center", ncols=min(len(chart.layers), 4), fontsize=9, frameon=False)


def steps(days: list[date], values: list[Decimal]) -> tuple[list[date], list[float]]:
    """A staircase through (day, value): flat until the next day, then straight up or down (costs are booked on a
    day, nothing accrues between days). Drawn explicitly so the path has no diagonal whatever the backend does."""
    xs, ys = [days[0]], [float(values[0])]
    for day, value in zip(days[1:], values[1:], strict=True):
        xs += [day, day]
        ys += [ys[-1], float(value)]
    return xs, ys


def _visible(layer: Layer) -> bool:
    return any(value != 0 for value in layer.cumulative)


def _layer_bottoms(chart: Plan) -> list[float]:
    """Net credits can take a layer below its base; the y-axis has to show that too."""
    bottoms, base = [], [Decimal(0)] * len(chart.days)
    for layer in chart.layers:
        base = [b + v for b, v in zip(base, layer.cumulative, strict=True)]
        bottoms.append(float(min(base)))
    return bottoms


def _draw_layers(axes: Axes, chart: Plan, currency: str) -> None:
    """One filled step band per category, stacked, and the total as a dark step line on top."""
    base = [Decimal(0)] * len(chart.days)
    for layer in chart.layers:
        top = [b + v for b, v in zip(base, layer.cumulative, strict=True)]
        if _visible(layer):
            xs, lower = steps(chart.days, base)
            _, upper = steps(chart.days, top)
            axes.fill_between([_x(day) for day in xs], lower, upper, color=layer.colour, alpha=0.85, linewidth=0,
                              label=f"{layer.name} {_amount(layer.total)}", gid=f"layer:{layer.name}")
        base = top
    if chart.layers:
        xs, totals = steps(chart.days, chart.totals)
        axes.plot([_x(day) for day in xs], totals, color=TEXT, linewidth=1.2, gid="total",
                  label=f"spent {_money(chart.totals[-1], currency)}")


def _y_top(chart: Plan, snap: Any) -> float:
    values = [Decimal(snap.budget.amount), Decimal(snap.spent), *chart.totals, *(cap.level for cap in chart.caps)]
    if snap.forecast.amount is not None:
        values.append(Decimal(snap.forecast.amount))
    return max(float(max(values)), 1.0) * HEADROOM


def _draw_budget(axes: Axes, limit: Decimal, currency: str) -> None:
    """The budget as a solid labelled line; 50/75/90 % as faint dotted lines, labelled at the left edge."""
    axes.axhline(float(limit), color=BUDGET, linewidth=1.6, gid="budget")
    axes.annotate(f"budget {_money(limit, currency)}", (0, float(limit)), xycoords=axes.get_yaxis_transform(),
                  xytext=(4, 5), textcoords="offset points", fontsize=9, color=BUDGET, fontweight="bold",
                  bbox=_CLEAR, gid="budget-label")
    for threshold in THRESHOLDS:
        if threshold >= 100:
            continue
        level = float(limit * threshold / 100)
        axes.axhline(level, color="#cccccc", linewidth=0.7, linestyle=":", gid=f"threshold:{threshold}")
        axes.annotate(f"{threshold}%", (0, level), xycoords=axes.get_yaxis_transform(), xytext=(4, 2),
                      textcoords="offset points", fontsize=7, color=MUTED)


def _draw_caps(axes: Axes, chart: Plan) -> list[tuple[float, str, str, str]]:
    """A short dash at the right edge in the category's colour per cap; the labels are placed afterwards."""
    labels = []
    for cap in chart.caps:
        level = float(cap.level)
        axes.plot([0.955, 1.0], [level, level], transform=axes.get_yaxis_transform(), color=cap.colour,
                  linewidth=3, solid_capstyle="butt", gid=f"cap:{cap.name}", clip_on=False)
        labels.append((level, f"{cap.name} cap {_amount(cap.amount)}", TEXT, f"cap-label:{cap.name}"))
    return labels


def _draw_forecast(axes: Axes, chart: Plan, snap: Any, currency: str) -> list[tuple[float, str, str, str]]:
    """Dashed from (as of, spent) to (period end, forecast), when there is a forecast and time left."""
    amount = snap.forecast.amount
    if amount is None or chart.now >= chart.right:
        return []
    axes.plot([_x(chart.now), _x(chart.right)], [float(snap.spent), float(amount)], linestyle="--", color=FORECAST,
              linewidth=1.8, gid="forecast")
    return [(float(amount), f"forecast {_money(Decimal(amount), currency)}", FORECAST, "forecast-label")]


def _place_right_labels(axes: Axes, labels: list[tuple[float, str, str, str]], top: float) -> None:
    """Labels at the right edge, just left of the cap dashes, nudged apart so close values do not overprint."""
    gap = top * 0.045
    placed: list[float] = []
    for level, text, colour, gid in sorted(labels):
        y = max(level, placed[-1] + gap) if placed else level
        placed.append(y)
        axes.text(0.95, y, text, transform=axes.get_yaxis_transform(), ha="right", va="bottom", fontsize=8,
                  color=colour, gid=gid, bbox=_CLEAR)


def _draw_as_of(axes: Axes, chart: Plan) -> None:
    """A vertical line at the as-of day, labelled at the top, on whichever side has room."""
    axes.axvline(_x(chart.now), color=MUTED, linewidth=1, linestyle="-", gid="as-of")
    span = max((chart.right - chart.left).days, 1)
    on_right = (chart.now - chart.left).days / span < 0.6
    axes.annotate(f"as of {chart.as_of:%d %b}", (_x(chart.now), 1), xycoords=axes.get_xaxis_transform(),
                  xytext=(4 if on_right else -4, -4), textcoords="offset points", ha="left" if on_right else "right",
                  va="top", fontsize=9, color=TEXT, gid="as-of-label", bbox=_CLEAR)


def _format_axes(axes: Axes, snap: Any, currency: str) -> None:
    """Thousands separators and the currency on y; `03 Nov` dates on x; a title with the period."""
    from matplotlib.dates import AutoDateLocator, DayLocator
    from matplotlib.ticker import FuncFormatter

    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: tick_label(value)))
    axes.set_ylabel(f"cumulative spend ({currency})")
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=4, maxticks=9))
    axes.xaxis.set_major_formatter(FuncFormatter(_day_label(_x(snap.period.end + ONE_DAY))))
    if (snap.period.end - snap.period.start).days <= 62:  # a small tick per day: costs land on days
        axes.xaxis.set_minor_locator(DayLocator())
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#eeeeee", linewidth=0.6)
    axes.set_axisbelow(True)
    axes.set_title(f"Spend vs budget · {snap.period.start:%d %b} – {snap.period.end:%d %b %Y}", fontsize=12,
                   loc="left")


def _day_label(end: float) -> Callable[[float, int | None], str]:
    """`03 Nov`, except at the axis' end (midnight after the period's last day): a `01 Dec` there would read as
    if December were part of a November chart."""
    from matplotlib.dates import num2date

    def label(value: float, _pos: int | None = None) -> str:
        return f"{num2date(value):%d %b}" if value < end - 0.5 else ""

    return label


def _x(day: date) -> float:
    """Days as matplotlib date numbers: annotations and blended transforms do not convert `date` units."""
    from matplotlib.dates import date2num

    return float(date2num(day))


def tick_label(value: float) -> str:
    """`50,000`; decimals only for small budgets whose ticks fall between whole units."""
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


def _amount(amount: Decimal) -> str:
    """`8,000` for whole amounts, `8,000.50` otherwise (labels are short; the currency is on the axis). Rounded
    half-up to cents first, like the bot's messages, so `7,300.125` reads `7,300.13` in both."""
    cents = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{cents:,.0f}" if cents == cents.to_integral_value() else f"{cents:,.2f}"


def _money(amount: Decimal, currency: str) -> str:
    """`50,000 USD`: the budget's own currency next to every total drawn on the chart."""
    return f"{_amount(amount)} {currency}"
