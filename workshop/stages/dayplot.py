"""A day of demand and capacity as an inline SVG (no plotting library needed).

`svg(rows, ...)` draws users (area, left axis) and the web fleet's instances (steps, right
axis) against the time of day, with the Auto Scaling group's min and max as dashed lines.
`show(rows, ...)` displays it in a notebook. Rows are dicts with `minute`, `users`,
`instances` (and optionally `cpu`). With `x_unit="s"` the x axis is seconds (`minute` holds
them: stage 7's ramp of real users), and with `cpu_target` the rows' CPU is drawn too
(0-100% over the plot's height) with the target as a dashed line.
"""

from __future__ import annotations

from html import escape

W, H, LEFT, RIGHT, TOP, BOTTOM = 720, 300, 70, 60, 30, 40


def _nice(value: float) -> float:
    """A round number at or above `value` for an axis top."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def svg(rows: list[dict], min_size: int, max_size: int, title: str = "A simulated day", x_unit: str = "day",
        cpu_target: float | None = None) -> str:
    if not rows:
        return "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'></svg>"
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    span = max(r["minute"] for r in rows) or 1
    users_top = _nice(max(r["users"] for r in rows))
    inst_top = max(max_size, max(r["instances"] for r in rows)) + 1

    def x(minute):
        return LEFT + plot_w * minute / span

    def y_users(u):
        return TOP + plot_h * (1 - u / users_top)

    def y_inst(n):
        return TOP + plot_h * (1 - n / inst_top)

    area = [f"{x(rows[0]['minute']):.1f},{TOP + plot_h:.1f}"] + \
           [f"{x(r['minute']):.1f},{y_users(r['users']):.1f}" for r in rows] + \
           [f"{x(rows[-1]['minute']):.1f},{TOP + plot_h:.1f}"]
    steps = []
    for a, b in zip(rows, rows[1:] + [rows[-1]]):
        steps += [f"{x(a['minute']):.1f},{y_inst(a['instances']):.1f}", f"{x(b['minute']):.1f},{y_inst(a['instances']):.1f}"]
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' font-family='sans-serif' font-size='11'>",
           f"<text x='{W / 2}' y='16' text-anchor='middle' font-size='13' font-weight='bold'>{escape(title)}</text>",
           f"<polygon points='{' '.join(area)}' fill='#ff9900' fill-opacity='0.25' stroke='#ff9900'/>",
           f"<polyline points='{' '.join(steps)}' fill='none' stroke='#232f3e' stroke-width='2'/>"]
    for level, label in ((min_size, "min"), (max_size, "max")):
        out.append(f"<line x1='{LEFT}' x2='{W - RIGHT}' y1='{y_inst(level):.1f}' y2='{y_inst(level):.1f}' "
                   "stroke='#888' stroke-dasharray='4 3'/>")
        # inside the plot, above its line: the right axis's tick numbers stay readable beside it
        out.append(f"<text x='{W - RIGHT - 4}' y='{y_inst(level) - 3:.1f}' text-anchor='end' fill='#555'>"
                   f"{label} {level}</text>")
    out.append(f"<line x1='{LEFT}' x2='{LEFT}' y1='{TOP}' y2='{TOP + plot_h}' stroke='#333'/>")
    out.append(f"<line x1='{LEFT}' x2='{W - RIGHT}' y1='{TOP + plot_h}' y2='{TOP + plot_h}' stroke='#333'/>")
    for i in range(5):
        u = users_top * i / 4
        out.append(f"<text x='{LEFT - 6}' y='{y_users(u) + 4:.1f}' text-anchor='end'>{int(u):,}</text>")
    if x_unit == "s":
        step = max(1, int(_nice(span / 6)))
        for t in range(0, int(span) + 1, step):
            out.append(f"<text x='{x(t):.1f}' y='{TOP + plot_h + 16}' text-anchor='middle'>{t} s</text>")
    else:
        for hour in range(0, int(span // 60) + 1, 3):
            out.append(f"<text x='{x(hour * 60):.1f}' y='{TOP + plot_h + 16}' text-anchor='middle'>{hour:02d}:00</text>")
    legend = "orange: users online · line: web instances (right axis; dashed: the fleet's min and max)"
    if cpu_target is not None:
        points = [f"{x(r['minute']):.1f},{TOP + plot_h * (1 - min(r['cpu'], 100) / 100):.1f}"
                  for r in rows if r.get("cpu") is not None]
        if points:
            out.append(f"<polyline points='{' '.join(points)}' fill='none' stroke='#d13212' stroke-width='1.5'/>")
        y_target = TOP + plot_h * (1 - cpu_target / 100)
        out.append(f"<line x1='{LEFT}' x2='{W - RIGHT}' y1='{y_target:.1f}' y2='{y_target:.1f}' stroke='#d13212' "
                   "stroke-dasharray='2 4'/>")
        out.append(f"<text x='{LEFT + 4}' y='{y_target - 4:.1f}' fill='#d13212'>CPU target {cpu_target:g}%</text>")
        legend = ("orange: users (talk scale) · black: instances in service (right axis; dashed: min, max) "
                  "· red: group CPU (top = 100%)")
    for n in range(0, inst_top + 1, max(1, inst_top // 4)):
        out.append(f"<text x='{W - RIGHT + 4}' y='{y_inst(n) + 4:.1f}' fill='#232f3e' font-size='9'>{n}</text>")
    out.append(f"<text x='{LEFT - 6}' y='{TOP - 8}' text-anchor='end' fill='#b36b00'>users</text>")
    out.append(f"<text x='{W - RIGHT + 4}' y='{TOP - 8}' fill='#232f3e'>instances</text>")
    out.append(f"<text x='{LEFT + 8}' y='{H - 6}' fill='#232f3e'>{escape(legend)}</text>")
    out.append("</svg>")
    return "".join(out)


def show(rows: list[dict], min_size: int, max_size: int, title: str = "A simulated day") -> None:
    from IPython.display import SVG, display

    display(SVG(svg(rows, min_size, max_size, title)))
