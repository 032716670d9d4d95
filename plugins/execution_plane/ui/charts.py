"""The page's charts, drawn on the server as SVG (no script, no library, nothing fetched by the browser).

Each function takes the figures ``queries`` read and returns one ``<svg>`` element: every mark carries a
``<title>`` (the browser shows it on hover) and the page prints the same figures in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from execution_plane.ui.queries import AGE_BUCKETS, ApproverAges, StageTimes, WeekCounts

FONT = 'font-family="system-ui, sans-serif" font-size="12"'
SERIES = {"started": "#4e79a7", "completed": "#59a14f", "compensated": "#e15759"}
AGE_COLOURS = ("#9ecae1", "#4292c6", "#f28e2b", "#d62728")
KIND_COLOURS = {"approval": "#f28e2b", "step": "#4e79a7"}
_UNITS = ((7 * 86400, "w"), (86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def duration(seconds: float) -> str:
    """``seconds`` in the largest unit it fills: 42 s, 3.5 min, 2.1 h, 1.5 d, 2 w."""
    for size, unit in _UNITS:
        if seconds >= size or size == 1:
            value = seconds / size
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(text)}</text>'


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" role="img" aria-label="{escape(label)}" {FONT} class="chart">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


# ------------------------------------------------------------------------------------- time per stage
_DURATION_TICKS = (1, 60, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400)


def stage_times(title: str, stages: Sequence[StageTimes], width: int = 760) -> str:
    """One row per stage: whiskers p10-p90, box p25-p75, a line at the median, on a log time axis."""
    left, right, top, row_h = 230, 20, 30, 24
    height = top + row_h * max(1, len(stages)) + 40
    body = [_text(left, 16, title, extra='font-weight="600"')]
    if not stages:
        body.append(_text(left, top + 16, "no finished stage in this period"))
        return _svg(width, height, title, body)
    low = max(1.0, min(s.seconds[1] for s in stages))
    high = max(max(s.seconds[5] for s in stages), low * 10)
    lo_tick = max(t for t in _DURATION_TICKS if t <= low)
    hi_tick = min((t for t in _DURATION_TICKS if t >= high), default=high)
    span = math.log10(hi_tick) - math.log10(lo_tick)
    plot_w = width - left - right

    def x(seconds: float) -> float:
        clamped = min(max(seconds, lo_tick), hi_tick)
        return left + plot_w * (math.log10(clamped) - math.log10(lo_tick)) / span

    axis_y = top + row_h * len(stages) + 4
    for tick in _DURATION_TICKS:
        if lo_tick <= tick <= hi_tick:
            body.append(
                f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 4}" y2="{axis_y}" class="grid"/>'
            )
            body.append(_text(x(tick), axis_y + 14, duration(tick), "middle"))
    for i, s in enumerate(stages):
        y = top + i * row_h + row_h / 2
        _, p10, p25, median, p75, p90, _ = s.seconds
        colour = KIND_COLOURS.get(s.kind, "#888")
        tip = (
            f"{s.stage} ({s.kind}, {s.n} finished): median {duration(median)}, middle half "
            f"{duration(p25)}-{duration(p75)}, 80 % within {duration(p10)}-{duration(p90)}"
        )
        body.append(_text(left - 8, y + 4, f"{s.stage} ({s.n})", "end"))
        body.append(
            f'<g class="stage"><title>{escape(tip)}</title>'
            f'<line x1="{x(p10):.1f}" x2="{x(p90):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}"/>'
            f'<rect x="{x(p25):.1f}" y="{y - 7:.1f}" width="{max(1.5, x(p75) - x(p25)):.1f}" height="14"'
            f' fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>'
            f'<line x1="{x(median):.1f}" x2="{x(median):.1f}" y1="{y - 8:.1f}" y2="{y + 8:.1f}"'
            f' stroke="{colour}" stroke-width="3"/></g>'
        )
    return _svg(width, height, title, body)


# ------------------------------------------------------------------------------------------ per week
def weekly(weeks: Sequence[WeekCounts], width: int = 760, height: int = 260) -> str:
    """Started, completed and compensated workflows per week, side by side."""
    title = "Workflows started, completed and compensated per week"
    left, right, top, bottom = 40, 10, 40, 40
    body = [_text(left, 16, title, extra='font-weight="600"')]
    for i, (name, colour) in enumerate(SERIES.items()):
        lx = left + 330 + i * 120
        body.append(f'<rect x="{lx}" y="6" width="12" height="12" fill="{colour}"/>')
        body.append(_text(lx + 16, 16, name))
    if not weeks:
        body.append(_text(left, top + 20, "no week in this period"))
        return _svg(width, height, title, body)
    top_value = _nice_max(max(max(w.started, w.completed, w.compensated) for w in weeks))
    plot_w, plot_h = width - left - right, height - top - bottom
    base = top + plot_h
    for k in range(5):
        value = top_value * k / 4
        y = base - plot_h * k / 4
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        body.append(_text(left - 4, y + 4, f"{value:g}", "end"))
    slot = plot_w / len(weeks)
    bar = max(1.0, slot * 0.8 / 3)
    label_every = max(1, math.ceil(len(weeks) / 12))
    for i, w in enumerate(weeks):
        x0 = left + i * slot + slot * 0.1
        for j, (name, value) in enumerate(
            (("started", w.started), ("completed", w.completed), ("compensated", w.compensated))
        ):
            h = plot_h * value / top_value
            body.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="{SERIES[name]}" class="bar {name}"><title>week of {w.week:%Y-%m-%d}: {value} {name}'
                "</title></rect>"
            )
        if i % label_every == 0:
            body.append(_text(left + i * slot + slot / 2, base + 16, f"{w.week:%d %b}", "middle"))
    return _svg(width, height, title, body)


# -------------------------------------------------------------------------------- approvals by approver
def approvals_waiting(rows: Sequence[ApproverAges], width: int = 760) -> str:
    """One bar per approver, split by how long each approval has been waiting."""
    title = "Approvals waiting now, by approver and age"
    left, right, top, row_h = 140, 20, 44, 24
    height = top + row_h * max(1, len(rows)) + 10
    body = [_text(left, 16, title, extra='font-weight="600"')]
    for i, ((name, _), colour) in enumerate(zip(AGE_BUCKETS, AGE_COLOURS, strict=True)):
        lx = left + i * 130
        body.append(f'<rect x="{lx}" y="24" width="12" height="12" fill="{colour}"/>')
        body.append(_text(lx + 16, 34, name))
    if not rows:
        body.append(_text(left, top + 16, "no approval is waiting"))
        return _svg(width, height, title, body)
    most = max(sum(r.counts) for r in rows)
    plot_w = width - left - right - 40
    for i, r in enumerate(rows):
        y = top + i * row_h
        body.append(_text(left - 8, y + 16, r.approver, "end"))
        x0 = float(left)
        for (bucket, _), colour, n in zip(AGE_BUCKETS, AGE_COLOURS, r.counts, strict=True):
            w = plot_w * n / most
            if n:
                body.append(
                    f'<rect x="{x0:.1f}" y="{y + 4}" width="{w:.1f}" height="16" fill="{colour}"'
                    f' class="bar"><title>{escape(r.approver)}: {n} waiting {bucket}</title></rect>'
                )
            x0 += w
        body.append(_text(x0 + 6, y + 16, str(sum(r.counts))))
    return _svg(width, height, title, body)
