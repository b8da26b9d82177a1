"""Rendering charts in a server: matplotlib's object API only (never pyplot), one render at a time.

matplotlib is not thread-safe, and pmbot renders from request workers and scheduled jobs at once: every
render goes through `render`, which holds a process-wide lock and releases the figure afterwards.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_LOCK = threading.Lock()


def render(draw: Callable[[Figure], None], *, size: tuple[float, float], dpi: int = 120) -> bytes:
    """A PNG of what `draw` puts on a fresh Figure."""
    import matplotlib  # imported on first use: start-up stays fast
    from matplotlib.figure import Figure

    # Labels carry people's text (categories, money like "$1,200 … $300"): `$…$` must stay text, not math.
    with _LOCK, matplotlib.rc_context({"text.parse_math": False}):
        figure = Figure(figsize=size, dpi=dpi, layout="constrained")
        try:
            draw(figure)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            return buffer.getvalue()
        finally:
            figure.clear()
