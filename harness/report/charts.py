"""Hand-written inline SVG charts: trend lines, speedup bars, progress bars, a day strip.

Every chart is a string of SVG markup sized by its ``viewBox`` so it scales to the
page (phone or print); colours come from CSS classes of the page (``c-*``), so one
stylesheet themes every chart. Text is escaped here, because chart labels carry task
and check names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, title: str, body: list[str], css: str = "",
         aspect: str = "xMinYMin meet") -> Markup:
    label = escape(title)
    return Markup(
        f'<svg class="chart {css}" viewBox="0 0 {_num(width)} {_num(height)}" role="img" '
        f'aria-label="{label}" preserveAspectRatio="{aspect}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>{"".join(body)}</svg>')


def progress_bar(done: float, total: float, title: str) -> Markup:
    """A horizontal bar filled to ``done / total`` (full when there is nothing to do)."""
    fraction = 1.0 if total <= 0 else max(0.0, min(1.0, done / total))
    width, height = 200.0, 12.0
    state = "c-done" if fraction >= 1.0 else "c-fill"
    body = [f'<rect class="c-track" x="0" y="0" width="{_num(width)}" height="{_num(height)}" '
            'rx="6"/>']
    if fraction > 0:
        body.append(f'<rect class="{state}" x="0" y="0" width="{_num(width * fraction)}" '
                    f'height="{_num(height)}" rx="6"/>')
    return _svg(width, height, title, body, "bar", aspect="none")  # stretches to its box


def trend(values: Sequence[float | None], labels: Sequence[str], title: str,
          top: float = 100.0) -> Markup:
    """Score per week as a line with dots (0 to ``top``); a week without a score is a gap.

    Parameters
    ----------
    values
        One value per week, oldest first; ``None`` where nothing was graded.
    labels
        The week of each value (the first and last are printed under the axis).
    """
    width, height, left, right, up, down = 240.0, 66.0, 26.0, 6.0, 6.0, 16.0
    plot_w, plot_h = width - left - right, height - up - down
    n = max(len(values), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return up + plot_h * (1 - max(0.0, min(top, v)) / top)

    body: list[str] = []
    for tick in (0.0, top / 2, top):
        body.append(f'<line class="c-grid" x1="{_num(left)}" x2="{_num(width - right)}" '
                    f'y1="{_num(y(tick))}" y2="{_num(y(tick))}"/>')
        body.append(f'<text class="c-axis" x="{_num(left - 4)}" y="{_num(y(tick) + 3)}" '
                    f'text-anchor="end">{_num(tick)}</text>')
    segment: list[str] = []
    runs: list[list[str]] = []
    for i, v in enumerate(values):
        if v is None:
            if segment:
                runs.append(segment)
            segment = []
            continue
        segment.append(f"{_num(x(i))},{_num(y(v))}")
    if segment:
        runs.append(segment)
    for run in runs:
        if len(run) > 1:
            body.append(f'<polyline class="c-line" points="{" ".join(run)}"/>')
    for i, v in enumerate(values):
        if v is not None:
            week = escape(labels[i]) if i < len(labels) else ""
            body.append(f'<circle class="c-dot" cx="{_num(x(i))}" cy="{_num(y(v))}" r="3">'
                        f"<title>{week}: {_num(v)}</title></circle>")
    if labels:
        body.append(f'<text class="c-axis" x="{_num(x(0))}" y="{_num(height - 4)}">'
                    f"{escape(labels[0])}</text>")
        if len(labels) > 1:
            body.append(f'<text class="c-axis" x="{_num(x(len(labels) - 1))}" '
                        f'y="{_num(height - 4)}" text-anchor="end">{escape(labels[-1])}</text>')
    return _svg(width, height, title, body, "trend")


def speedup_bars(rows: Sequence[tuple[str, float, float | None, float | None, float | None]],
                 title: str) -> Markup:
    """Horizontal bars of speedups on a log scale, with interval whiskers and thresholds.

    Parameters
    ----------
    rows
        ``(label, ratio, low, high, required)`` per bar; ``low``/``high`` bound the
        interval and ``required`` draws the pass threshold, each when known. Labels sit
        above their bars, so the chart stays legible when a phone shrinks it.
    """
    left, bar_w, row_h, pad = 8.0, 270.0, 40.0, 16.0
    width = left + bar_w + 52.0
    height = pad + row_h * max(len(rows), 1)
    values = [v for r in rows for v in (r[1], r[2], r[3], r[4]) if v is not None and v > 0]
    top = 10.0 ** math.ceil(math.log10(max(values + [10.0]) * 1.05))
    bottom = 10.0 ** math.floor(math.log10(min(values + [1.0])))  # below 1×: slower

    def x(v: float) -> float:
        return left + bar_w * math.log10(max(v, bottom) / bottom) / math.log10(top / bottom)

    body: list[str] = []
    decade = bottom
    while decade <= top * 1.001:
        anchor = "start" if decade == bottom else "middle"
        body.append(f'<line class="c-grid" x1="{_num(x(decade))}" x2="{_num(x(decade))}" '
                    f'y1="{_num(pad - 4)}" y2="{_num(height)}"/>')
        body.append(f'<text class="c-axis" x="{_num(x(decade))}" y="{_num(pad - 6)}" '
                    f'text-anchor="{anchor}">{_num(decade)}×</text>')
        decade *= 10
    for i, (label, ratio, low, high, required) in enumerate(rows):
        text_y = pad + i * row_h + 13
        bar_y, bar_h = text_y + 5, 14.0
        mid = bar_y + bar_h / 2
        ok = required is None or ratio >= required
        body.append(f'<text class="c-label" x="{_num(left)}" y="{_num(text_y)}">'
                    f"{escape(_short(label, 56))}<title>{escape(label)}</title></text>")
        body.append(f'<rect class="{"c-fill" if ok else "c-bad"}" x="{_num(left)}" '
                    f'y="{_num(bar_y)}" width="{_num(max(x(ratio) - left, 2.0))}" '
                    f'height="{_num(bar_h)}" rx="3"/>')
        if low is not None and high is not None:
            x1, x2 = x(low), x(high)
            body.append(f'<path class="c-whisker" d="M{_num(x1)} {_num(mid)}H{_num(x2)}'
                        f"M{_num(x1)} {_num(mid - 5)}V{_num(mid + 5)}"
                        f'M{_num(x2)} {_num(mid - 5)}V{_num(mid + 5)}"/>')
        if required is not None:
            body.append(f'<line class="c-need" x1="{_num(x(required))}" '
                        f'x2="{_num(x(required))}" y1="{_num(bar_y - 3)}" '
                        f'y2="{_num(bar_y + bar_h + 3)}"><title>needed ≥ {_num(required)}×'
                        "</title></line>")
        text_x = max(x(ratio), x(high) if high is not None else 0.0,
                     x(required) if required is not None else 0.0) + 5
        body.append(f'<text class="c-value" x="{_num(text_x)}" y="{_num(mid + 4)}">'
                    f"{_ratio(ratio)}</text>")
    return _svg(width, height, title, body, "speedups")


def day_strip(days: Sequence[tuple[str, bool]], title: str) -> Markup:
    """One square per day (Monday first), filled where something was graded."""
    size, gap = 22.0, 6.0
    width = len(days) * (size + gap) - gap if days else size
    body = []
    for i, (name, active) in enumerate(days):
        x = i * (size + gap)
        body.append(f'<rect class="{"c-done" if active else "c-track"}" x="{_num(x)}" y="0" '
                    f'width="{_num(size)}" height="{_num(size)}" rx="4">'
                    f"<title>{escape(name)}{': active' if active else ''}</title></rect>")
        body.append(f'<text class="c-axis" x="{_num(x + size / 2)}" y="{_num(size + 13)}" '
                    f'text-anchor="middle">{escape(name[:2])}</text>')
    return _svg(width, size + 16, title, body, "days")


def _ratio(value: float) -> str:
    return f"{value:.0f}×" if value >= 10 else f"{value:.2g}×"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
