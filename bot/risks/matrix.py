"""The 5×5 heat map (impact × probability) as a PNG (drawn through `bot.charts`), and the register as CSV."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date

from bot.charts import render
from bot.domain.risk import band, score
from bot.domain.text import NameLookup, readable
from storage.models import Risk

BAND_COLOURS = {"low": "#8fd19e", "medium": "#ffe08a", "high": "#ffb26b", "critical": "#f28b82"}
IDS_PER_CELL = 4


def cells(risks: list[Risk]) -> dict[tuple[int, int], list[str]]:
    """(probability, impact) → the ids of the scored risks in that cell."""
    found: dict[tuple[int, int], list[str]] = defaultdict(list)
    for risk in risks:
        if risk.probability and risk.impact:
            found[(risk.probability, risk.impact)].append(risk.readable_id)
    return dict(found)


def heat_map_png(risks: list[Risk], *, title: str, as_of: date) -> bytes:
    """The heat map: band colours, and in each cell the count and the first ids."""
    return render(lambda figure: _draw(figure, risks, title=title, as_of=as_of), size=(7.5, 6.5))


def _draw(figure, risks: list[Risk], *, title: str, as_of: date) -> None:
    from matplotlib.patches import Rectangle

    grid = cells(risks)
    axes = figure.add_subplot()
    for p in range(1, 6):
        for i in range(1, 6):
            axes.add_patch(Rectangle((p - 0.5, i - 0.5), 1, 1, facecolor=BAND_COLOURS[band(p * i)],
                                     edgecolor="white", linewidth=2))
            ids = grid.get((p, i), [])
            if ids:
                shown = ids[:IDS_PER_CELL] + ([f"+{len(ids) - IDS_PER_CELL} more"] if len(ids) > IDS_PER_CELL else [])
                axes.text(p, i + 0.18, str(len(ids)), ha="center", va="center", fontsize=15, fontweight="bold")
                axes.text(p, i - 0.2, "\n".join(shown), ha="center", va="center", fontsize=7, linespacing=1.1)
    axes.set_xlim(0.5, 5.5)
    axes.set_ylim(0.5, 5.5)
    axes.set_xticks(range(1, 6), ["1 rare", "2 unlikely", "3 possible", "4 likely", "5 almost\ncertain"])
    axes.set_yticks(range(1, 6), ["1 negligible", "2 minor", "3 moderate", "4 major", "5 severe"])
    axes.set_xlabel("Probability")
    axes.set_ylabel("Impact")
    axes.set_aspect("equal")
    unscored = sum(1 for r in risks if score(r.probability, r.impact) is None)
    note = f" · {unscored} not scored yet" if unscored else ""
    count = sum(len(v) for v in grid.values())
    axes.set_title(f"{title}\n{count} risk{'' if count == 1 else 's'} as of {as_of.isoformat()}{note}",
                   fontsize=11)


CSV_COLUMNS = ("id", "title", "description", "category", "probability", "impact", "score", "band", "response",
               "owner", "mitigation", "trigger", "review_on", "status", "accepted_until", "close_reason", "links",
               "created_by", "created_at")


def register_csv(risks: list[Risk], categories: dict[str, str], names: NameLookup | None = None) -> bytes:
    """Every risk as one CSV row (UTF-8 with a BOM, so spreadsheets read accents right); people by name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)

    def cell(text: str | None) -> str:
        return _cell(readable(text or "", names))

    def person(user_id: str | None) -> str:  # the name alone: a leading @ would read as a formula
        return _cell((names(user_id) if names else None) or user_id) if user_id else ""

    for risk in risks:
        value = score(risk.probability, risk.impact)
        writer.writerow([
            risk.readable_id, cell(risk.title), cell(risk.description), categories.get(risk.category or "", ""),
            risk.probability or "", risk.impact or "", value or "", band(value) if value else "", risk.response or "",
            person(risk.owner_id), cell(risk.mitigation), cell(risk.trigger),
            risk.review_on.isoformat() if risk.review_on else "", risk.status,
            risk.accepted_until.isoformat() if risk.accepted_until else "", cell(risk.close_reason),
            " ".join(risk.links or []), person(risk.created_by), risk.created_at.isoformat(),
        ])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(text: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula: quote it so it stays text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
