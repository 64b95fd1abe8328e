"""A traffic run as an inline SVG (no plotting library): users, requests/s, p95 and errors over time.

Four panels share the time axis (seconds since the run started); each has its own scale, its
peak written at the right. `svg(rows, title)` takes `stats.Interval.as_dict()` rows.
"""

from __future__ import annotations

import math
from html import escape

W, PANEL_H, GAP, LEFT, RIGHT, TOP, BOTTOM = 720, 70, 14, 70, 90, 28, 34

PANELS = (  # key, label, colour, unit
    ("users", "users", "#232f3e", ""),
    ("rps", "requests/s", "#ff9900", ""),
    ("p95_ms", "p95", "#1565c0", " ms"),
    ("error_pct", "errors", "#c62828", " %"),
)


def _nice(value: float) -> float:
    """A round number (1, 2, 2.5 or 5 times a power of ten) at or above `value`, for an axis top or step."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value * (1 - 1e-12))


def svg(rows: list[dict], title: str = "workshop traffic") -> str:
    height = TOP + len(PANELS) * (PANEL_H + GAP) + BOTTOM
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{height}' font-family='sans-serif' "
           "font-size='11'>",
           f"<text x='{W / 2}' y='16' text-anchor='middle' font-size='13' font-weight='bold'>{escape(title)}</text>"]
    if not rows:
        out.append(f"<text x='{W / 2}' y='{TOP + 30}' text-anchor='middle' fill='#555'>no figures yet</text></svg>")
        return "".join(out)
    span = max(r["elapsed_s"] for r in rows) or 1.0
    plot_w = W - LEFT - RIGHT

    def x(t: float) -> float:
        return LEFT + plot_w * t / span

    for i, (key, label, colour, unit) in enumerate(PANELS):
        top = TOP + i * (PANEL_H + GAP)
        bottom = top + PANEL_H
        values = [float(r.get(key) or 0.0) for r in rows]
        peak = max(values)
        y_top = _nice(peak) if peak > 0 else 1.0

        def y(v: float, top=top, y_top=y_top) -> float:
            return top + PANEL_H * (1 - v / y_top)

        points = " ".join(f"{x(r['elapsed_s']):.1f},{y(v):.1f}" for r, v in zip(rows, values))
        out.append(f"<rect x='{LEFT}' y='{top}' width='{plot_w}' height='{PANEL_H}' fill='#fafafa' stroke='#ddd'/>")
        out.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='2'/>")
        out.append(f"<text x='{LEFT - 6}' y='{top + 10}' text-anchor='end' fill='#555'>{y_top:,.4g}{unit}</text>")
        out.append(f"<text x='{LEFT - 6}' y='{bottom}' text-anchor='end' fill='#555'>0</text>")
        out.append(f"<text x='{W - RIGHT + 6}' y='{top + PANEL_H / 2 - 2}' fill='{colour}' font-weight='bold'>"
                   f"{escape(label)}</text>")
        out.append(f"<text x='{W - RIGHT + 6}' y='{top + PANEL_H / 2 + 12}' fill='#555'>peak {peak:,.4g}{unit}</text>")
    axis_y = TOP + len(PANELS) * (PANEL_H + GAP) - GAP
    step = _nice(span / 6)
    t = 0.0
    while t <= span + 1e-9:
        out.append(f"<text x='{x(t):.1f}' y='{axis_y + 14}' text-anchor='middle' fill='#555'>{t:g}</text>")
        t += step
    out.append(f"<text x='{LEFT + plot_w / 2}' y='{axis_y + 28}' text-anchor='middle' fill='#333'>"
               "seconds since the run started</text>")
    out.append("</svg>")
    return "".join(out)
