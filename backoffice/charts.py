"""Server-rendered SVG charts: no JavaScript, no CDN, readable with the page's own fonts and colours."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 600, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 26, 36


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(value)


def _frame(title: str, y_max: float, body: str, labels: Sequence[str], xs: Sequence[float]) -> SafeString:
    plot_h = HEIGHT - TOP - BOTTOM
    grid = []
    for i in range(5):
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        text = f"{value:,.0f}" if y_max >= 4 else f"{value:.1f}"
        grid.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{text}</text>'
        )
    step = max(1, len(labels) // 12)  # at most ~12 axis labels
    ticks = "".join(
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{escape(label)}</text>'
        for index, (label, x) in enumerate(zip(labels, xs, strict=True))
        if index % step == 0
    )
    empty = "" if labels else f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No data</text>'
    return mark_safe(  # every interpolated text is escaped above
        f'<svg class="sufrah-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<text x="{LEFT}" y="16" class="title">{escape(title)}</text>{"".join(grid)}{body}{ticks}{empty}</svg>'
    )


def _count_max(value: float) -> float:
    """A top for counts: a multiple of 4 so the five grid lines land on whole numbers."""
    top = _nice_max(value)
    return float(max(4, -(-int(top) // 4) * 4))


def bar_chart(points: Sequence[tuple[str, float]], *, title: str) -> SafeString:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = _count_max(max((value for _, value in points), default=0))
    slot = plot_w / max(len(points), 1)
    bars, xs = [], []
    for index, (label, value) in enumerate(points):
        h = plot_h * value / y_max
        width = min(slot * 0.7, 48)
        x = LEFT + index * slot + (slot - width) / 2
        xs.append(LEFT + index * slot + slot / 2)
        bars.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{width:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {value:,.0f}</title></rect>"
        )
    return _frame(title, y_max, "".join(bars), [label for label, _ in points], xs)


def line_chart(points: Sequence[tuple[str, float]], *, title: str, y_max: float | None = None) -> SafeString:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = y_max or _nice_max(max((value for _, value in points), default=0))
    n = len(points)
    xs = [LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    coords = [(x, TOP + plot_h - plot_h * value / top) for x, (_, value) in zip(xs, points, strict=True)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="dot"><title>{escape(label)}: {value:,.2f}</title></circle>'
        for (x, y), (label, value) in zip(coords, points, strict=True)
    )
    body = (f'<polyline points="{path}" class="line"/>' if n > 1 else "") + dots
    return _frame(title, top, body, [label for label, _ in points], xs)
