"""The weekly budget chart, checked on the artists it draws into a real Figure (no pixel comparisons)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from bot.budgets import chart
from bot.domain.budget import Entry, Forecast, Period

D = Decimal
PNG = b"\x89PNG\r\n\x1a\n"


# Plain data in the shape the chart reads (the budget service's Snapshot has these attributes).
@dataclass(frozen=True)
class Budget:
    amount: Decimal
    currency: str
    caps: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Snap:
    budget: Budget
    period: Period
    today: date
    entries: list[Entry]
    forecast: Forecast

    @property
    def by_category(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for e in self.entries:
            if self.period.start <= e.day <= min(self.today, self.period.end):  # as the service counts
                totals[e.category] = totals.get(e.category, D(0)) + e.amount
        return totals

    @property
    def spent(self) -> Decimal:
        return sum(self.by_category.values(), D(0))


NOV = Period(date(2026, 11, 1), date(2026, 11, 30))
ENTRIES = [
    Entry(date(2026, 10, 28), "compute", D("90000")),  # before the period: must not show
    Entry(date(2026, 11, 10), "compute", D("3000.125")),
    Entry(date(2026, 11, 12), "api", D("1200")),
    Entry(date(2026, 11, 15), "compute", D("2500")),
    Entry(date(2026, 11, 18), "api", D("-300.5")),  # a credit
    Entry(date(2026, 11, 20), "annotation", D("4000")),
    Entry(date(2026, 11, 25), "compute", D("1800.3333")),
    Entry(date(2026, 12, 2), "api", D("70000")),  # after the period: must not show
]


def snap(entries: list[Entry] | None = None, *, caps: dict[str, str] | None = None, today: date = date(2026, 11, 29),
         forecast: str | None = "24500", amount: str = "50000") -> Snap:
    return Snap(Budget(D(amount), "USD", {"compute": "8000", "api": "3000"} if caps is None else caps), NOV, today,
                ENTRIES if entries is None else entries, Forecast(D(forecast) if forecast else None, "", True))


def drawn(s: Snap) -> tuple[Figure, object]:
    figure = Figure(figsize=(10, 5.6), layout="constrained")
    FigureCanvasAgg(figure)
    chart.draw(figure, s)
    figure.canvas.draw()
    [axes] = figure.axes
    return figure, axes


def by_gid(axes, gid: str) -> list:
    return [a for a in axes.get_children() if a.get_gid() == gid]


def texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]


def segments(points) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    return [(tuple(a), tuple(b)) for a, b in zip(points[:-1], points[1:], strict=True)]


def layer_vertices(axes, name: str):
    [layer] = by_gid(axes, f"layer:{name}")
    [path] = layer.get_paths()
    return path.vertices


# --- axes ------------------------------------------------------------------------------------------------------------


def test_y_ticks_have_thousands_separators_and_the_axis_names_the_currency() -> None:
    figure, axes = drawn(snap())
    labels = [t.get_text() for t in axes.get_yticklabels()]
    assert "50,000" in labels
    assert all("," in label for label in labels if label.replace(",", "").lstrip("-").isdigit()
               and abs(int(label.replace(",", ""))) >= 1000)
    assert "USD" in axes.get_ylabel()


def test_x_axis_starts_at_the_first_cost_and_ends_at_the_period_end_with_readable_dates() -> None:
    figure, axes = drawn(snap())
    left, right = axes.get_xlim()
    assert left == pytest.approx(date2num(date(2026, 11, 10)))
    assert right == pytest.approx(date2num(date(2026, 12, 1)))  # the end of 30 Nov: the period's end is inclusive
    labels = [t.get_text() for t in axes.get_xticklabels() if t.get_text()]
    assert labels and all(len(label) == 6 and label[2] == " " and label[3:] == "Nov" for label in labels), labels


def test_x_axis_starts_at_the_period_start_when_spend_began_on_day_one() -> None:
    figure, axes = drawn(snap([Entry(date(2026, 11, 1), "compute", D("10")), *ENTRIES]))
    assert axes.get_xlim()[0] == pytest.approx(date2num(NOV.start))


# --- the stacked steps -----------------------------------------------------------------------------------------------


def test_layers_are_steps_flat_between_days_and_vertical_at_entry_days() -> None:
    figure, axes = drawn(snap())
    for name in ("compute", "api", "annotation"):
        vertices = layer_vertices(axes, name)
        diagonal = [s for s in segments(vertices) if s[0][0] != pytest.approx(s[1][0])
                    and s[0][1] != pytest.approx(s[1][1])]
        assert not diagonal, (name, diagonal)
    vertical_at = {round(a[0], 6) for a, b in segments(layer_vertices(axes, "compute"))
                   if a[0] == pytest.approx(b[0]) and a[1] != pytest.approx(b[1])}
    for day in (date(2026, 11, 15), date(2026, 11, 25)):
        assert round(float(date2num(day)), 6) in vertical_at


def test_the_total_line_is_a_staircase_of_the_running_sum_within_the_period() -> None:
    figure, axes = drawn(snap())
    [total] = by_gid(axes, "total")
    xy = total.get_xydata()
    assert all(a[0] == pytest.approx(b[0]) or a[1] == pytest.approx(b[1]) for a, b in segments(xy))
    # Out-of-period entries (90,000 and 70,000) are not in it; many decimals are summed exactly, then drawn.
    expected = D("3000.125") + 1200 + 2500 - D("300.5") + 4000 + D("1800.3333")
    assert xy[-1][1] == pytest.approx(float(expected))
    assert xy[-1][0] == pytest.approx(date2num(date(2026, 11, 30)))  # flat to the end of the as-of day


def test_entries_after_the_as_of_day_are_not_drawn() -> None:
    figure, axes = drawn(snap(today=date(2026, 11, 20)))
    [total] = by_gid(axes, "total")
    assert total.get_xydata()[:, 0].max() == pytest.approx(date2num(date(2026, 11, 21)))
    assert total.get_xydata()[-1][1] == pytest.approx(float(D("3000.125") + 1200 + 2500 - D("300.5") + 4000))


def test_a_cost_on_the_as_of_day_gets_a_days_width() -> None:
    figure, axes = drawn(snap(today=date(2026, 11, 20)))  # annotation's 4,000 is booked on 20 Nov
    vertices = layer_vertices(axes, "annotation")
    # The band's area (shoelace formula, in day × USD) is the cost times one day: visible, not a zero-width jump.
    x, y = [*vertices[:, 0], vertices[0, 0]], [*vertices[:, 1], vertices[0, 1]]
    area = abs(sum(x[i] * y[i + 1] - x[i + 1] * y[i] for i in range(len(x) - 1))) / 2
    assert area == pytest.approx(4000)


def test_a_credit_lowers_the_cumulative_line_on_its_day() -> None:
    figure, axes = drawn(snap())
    [total] = by_gid(axes, "total")
    credit_day = date2num(date(2026, 11, 18))
    at_credit = [y for x, y in total.get_xydata() if x == pytest.approx(credit_day)]
    assert len(at_credit) == 2
    assert at_credit[1] == pytest.approx(at_credit[0] - 300.5)
    api = layer_vertices(axes, "api")
    # The api band's top edge steps by the credit on that day (the band below, compute, is flat there).
    steps_at_credit = [abs(b[1] - a[1]) for a, b in segments(api)
                       if a[0] == pytest.approx(credit_day) and b[0] == pytest.approx(credit_day)]
    assert [step for step in steps_at_credit if step] == [pytest.approx(300.5)]


# --- budget, caps, as of, forecast ----------------------------------------------------------------------------------


def test_budget_line_and_subtle_thresholds_are_labelled() -> None:
    figure, axes = drawn(snap())
    [budget] = by_gid(axes, "budget")
    assert budget.get_ydata()[0] == pytest.approx(50000)
    assert "budget 50,000 USD" in texts(figure)
    for threshold, level in ((50, 25000), (75, 37500), (90, 45000)):
        [line] = by_gid(axes, f"threshold:{threshold}")
        assert line.get_ydata()[0] == pytest.approx(level)
        assert line.get_linewidth() < budget.get_linewidth()
        assert f"{threshold}%" in texts(figure)


def test_each_cap_has_a_mark_in_its_category_colour_and_a_label() -> None:
    figure, axes = drawn(snap())
    colours = {c.get_gid(): c.get_facecolor()[0][:3] for c in axes.collections}
    for name, label in (("compute", "compute cap 8,000"), ("api", "api cap 3,000")):
        [mark] = by_gid(axes, f"cap:{name}")
        [text] = by_gid(axes, f"cap-label:{name}")
        assert text.get_text() == label
        from matplotlib.colors import to_rgb
        assert to_rgb(mark.get_color()) == pytest.approx(tuple(colours[f"layer:{name}"]))
    # compute is the biggest layer, at the bottom: its cap sits at 8,000 itself.
    [compute] = by_gid(axes, "cap:compute")
    assert compute.get_ydata()[0] == pytest.approx(8000)


def test_a_cap_on_an_upper_layer_sits_on_top_of_the_layers_below() -> None:
    figure, axes = drawn(snap())
    [api] = by_gid(axes, "cap:api")
    compute = D("3000.125") + 2500 + D("1800.3333")
    annotation = D(4000)
    assert api.get_ydata()[0] == pytest.approx(float(compute + annotation + 3000))


def test_as_of_line_is_labelled() -> None:
    figure, axes = drawn(snap())
    [line] = by_gid(axes, "as-of")
    assert line.get_xdata()[0] == pytest.approx(date2num(date(2026, 11, 30)))  # the end of 29 Nov
    [label] = by_gid(axes, "as-of-label")
    assert label.get_text() == "as of 29 Nov"


def test_forecast_is_dashed_from_spent_to_the_period_end_in_a_colour_no_category_uses() -> None:
    s = snap(today=date(2026, 11, 20))
    figure, axes = drawn(s)
    [line] = by_gid(axes, "forecast")
    assert line.get_linestyle() == "--"
    (x0, y0), (x1, y1) = line.get_xydata()
    assert (x0, x1) == pytest.approx((date2num(date(2026, 11, 21)), date2num(date(2026, 12, 1))))
    assert (y0, y1) == pytest.approx((float(s.spent), 24500))
    [label] = by_gid(axes, "forecast-label")
    assert label.get_text() == "forecast 24,500 USD"
    from matplotlib.colors import to_rgb
    layer_colours = [tuple(c.get_facecolor()[0][:3]) for c in axes.collections]
    assert all(to_rgb(line.get_color()) != pytest.approx(c) for c in layer_colours)


def test_no_forecast_line_without_a_forecast() -> None:
    figure, axes = drawn(snap(forecast=None))
    assert by_gid(axes, "forecast") == []


# --- many categories, and none ----------------------------------------------------------------------------------


def test_more_categories_than_colours_are_grouped_and_colours_stay_distinct() -> None:
    names = ["compute", "data", "annotation", "api", "evaluation", "infra", "people", "licences", "travel"]
    entries = [Entry(date(2026, 11, 3 + i), name, D(1000 - 50 * i)) for i, name in enumerate(names)]
    figure, axes = drawn(snap(entries, caps={"travel": "500"}))
    layers = [c for c in axes.collections if (c.get_gid() or "").startswith("layer:")]
    gids = [c.get_gid() for c in layers]
    assert len(layers) <= len(chart.PALETTE)
    assert "layer:travel" in gids  # capped: never folded into "other"
    assert any(g.startswith("layer:other") for g in gids)
    colours = [tuple(c.get_facecolor()[0][:3]) for c in layers]
    assert len(set(colours)) == len(colours)
    # Every euro is still drawn: the stack's top is the sum of all nine categories.
    [total] = by_gid(axes, "total")
    assert total.get_xydata()[-1][1] == pytest.approx(sum(1000 - 50 * i for i in range(len(names))))


def test_an_empty_snapshot_still_draws_the_budget_and_says_so() -> None:
    empty = snap([], caps={}, today=date(2026, 11, 3), forecast=None, amount="20000")
    figure, axes = drawn(empty)
    assert by_gid(axes, "budget")
    assert "no spend recorded yet" in texts(figure)
    assert axes.get_xlim() == pytest.approx((date2num(NOV.start), date2num(date(2026, 12, 1))))
    assert chart.budget_png(empty).startswith(PNG)


def test_spend_recorded_is_not_called_empty() -> None:
    figure, axes = drawn(snap())
    assert "no spend recorded yet" not in texts(figure)


def test_the_full_chart_renders_to_png() -> None:
    png = chart.budget_png(snap())
    assert png.startswith(PNG)
    assert len(png) > 10_000  # a real picture, not an empty canvas
