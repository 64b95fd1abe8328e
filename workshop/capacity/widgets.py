"""The capacity explorer: a users slider (log scale), the assumptions, an AZ-down toggle and a
stage picker, over a per-tier utilisation chart that names the bottleneck.

Presentation only: the numbers come from `model.plan`. The chart is HTML drawn here (no
plotting library). Each explorer also carries its current chart as `text/html`, so a
notebook run without a live widget frontend (papermill, nbconvert) shows a static chart.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import ipywidgets as w

from ..errors import BadInput
from ..topology import Topology
from . import assumptions as _assumptions
from .model import Plan, Result, about, describe, plan

USERS_MIN, USERS_MAX = 1, 100_000_000


def _colour(u: float) -> str:
    return "#2e7d32" if u < 0.7 else "#ef6c00" if u < 1.0 else "#c62828"


def chart_html(title: str, result: Result) -> str:
    """One stage's per-tier utilisation bars at `result.users`, the bottleneck named."""
    rows = []
    for t in result.tiers:
        u = t.utilisation
        width = 100.0 * min(u, 1.5) / 1.5
        mark = " ◀ bottleneck" if t.key == result.busiest_key else ""
        pct = "∞" if math.isinf(u) else f"{100 * u:,.0f}%"
        rows.append(
            f'<div class="cap-tier" data-key="{t.key}" style="margin:2px 0">'
            f'<div style="font-size:12px">{html.escape(t.label)}{mark}</div>'
            f'<div style="display:flex;align-items:center;gap:6px">'
            f'<div style="background:#eee;width:260px;height:14px;position:relative">'
            f'<div style="background:{_colour(u)};width:{width:.1f}%;height:14px"></div>'
            f'<div style="position:absolute;left:{100 / 1.5:.1f}%;top:0;width:1px;height:14px;background:#000"></div>'
            f'</div><span style="font-size:12px">{pct}</span></div></div>')
    hit = ("" if result.cache_hit_ratio is None else
           f' <span style="font-size:11px">(cache hit ratio {result.cache_hit_ratio:.0%})</span>')
    over = result.users > result.max_users
    status = "over capacity" if over else "within capacity"
    lost = f" · {html.escape(result.lost_az or '')} down" if result.az_down else ""
    return (
        f'<div class="cap-chart" style="font-family:sans-serif;padding:6px;min-width:320px">'
        f'<div style="font-weight:bold">{html.escape(title)}{lost}</div>'
        f'<div class="cap-summary" style="font-size:12px">at {result.users:,.0f} users: {status}; '
        f'serves up to ~{about(result.max_users)} (limit: {html.escape(result.bottleneck)})</div>'
        f'<div style="font-size:13px;margin:4px 0">Bottleneck at these users: '
        f'<b class="cap-bottleneck">{html.escape(result.busiest)}</b>{hit}</div>{"".join(rows)}'
        f'<div style="font-size:11px;color:#555">bar end = 150%; line = 100% of sustainable capacity</div></div>')


def assumptions_html(values: Mapping[str, float] | None = None) -> str:
    """The assumptions as a table: name, value, unit, valid range, source."""
    rows = "".join(
        f"<tr><td><code>{r['name']}</code></td><td style='text-align:right'>{r['value']:,.6g}</td>"
        f"<td>{html.escape(r['unit'])}</td>"
        f"<td>{r['range']}</td><td style='text-align:left'>{html.escape(r['source'])}</td></tr>"
        for r in _assumptions.table(values))
    return ("<table class='cap-assumptions'><thead><tr><th>assumption</th><th>value</th><th>unit</th><th>valid</th>"
            f"<th>source</th></tr></thead><tbody>{rows}</tbody></table>")


def result_html(result: Result) -> str:
    """A result as a table: each tier's sustainable users and its use at `result.users`."""
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(t.label)}</td>"
        f"<td style='text-align:right'>{about(t.max_users)}</td>"
        f"<td style='text-align:right'>{100 * t.utilisation:,.0f}%</td></tr>"
        for t in result.tiers)
    return (f"<p>{html.escape(describe(result))}</p><table><thead><tr><th>tier</th><th>max users</th>"
            f"<th>use at {result.users:,.0f} users</th></tr></thead><tbody>{rows}</tbody></table>")


def compare_html(results: Mapping[str, Result]) -> str:
    """Stages side by side."""
    cells = "".join(f'<div style="flex:1 1 340px">{chart_html(name, r)}</div>' for name, r in results.items())
    return f'<div class="cap-compare" style="display:flex;flex-wrap:wrap;gap:12px">{cells}</div>'


class Explorer(w.VBox):
    """The interactive explorer over one or more named topologies (e.g. {"stage 5": topo, ...})."""

    def __init__(self, topologies: Mapping[str, Topology] | Topology, users: float = 100_000,
                 assumptions: Mapping[str, float] | None = None, shown: int = 1):
        if isinstance(topologies, Topology):
            topologies = {"this architecture": topologies}
        if not topologies:
            raise BadInput("the capacity explorer needs at least one architecture to measure")
        self.topologies = dict(topologies)
        self.values = _assumptions.make(assumptions)  # the last valid assumptions
        names = list(self.topologies)
        self.users = w.FloatLogSlider(value=min(max(users, USERS_MIN), USERS_MAX), base=10, min=0, max=8, step=0.01,
                                      description="users", readout_format=",.0f", continuous_update=True,
                                      layout=w.Layout(width="520px"))
        self.az_down = w.Checkbox(value=False, description="AZ down (worst one)")
        self.picker = w.SelectMultiple(options=names, value=tuple(names[-shown:]), description="stages",
                                       rows=min(len(names), 6))
        self.message = w.HTML()
        self.fields: dict[str, w.FloatText] = {}
        for a in _assumptions.all_assumptions():
            f = w.FloatText(value=self.values[a.name], description=a.name, tooltip=f"{a.label} ({a.unit}): {a.source}",
                            style={"description_width": "210px"}, layout=w.Layout(width="340px"))
            f.observe(self._assumption_changed, names="value")
            self.fields[a.name] = f
        self.chart = w.HTML()
        self._plans: dict[tuple[str, bool], Plan] = {}
        for control in (self.users, self.az_down, self.picker):
            control.observe(self._redraw, names="value")
        boxes = [w.VBox(list(self.fields.values())[i::2]) for i in (0, 1)]
        settings = w.Accordion(children=[w.HBox(boxes)], titles=("assumptions",))
        super().__init__([w.HBox([self.users, self.az_down]), self.picker, settings, self.message, self.chart])
        self._redraw()

    # --- state ---------------------------------------------------------------------------------
    def _assumption_changed(self, change) -> None:
        name = change["owner"].description
        reason = _assumptions.problem(name, change["new"])
        if reason:
            self.message.value = f'<span class="cap-error" style="color:#c62828">✗ {html.escape(reason)}; ' \
                                 f'keeping {name} = {self.values[name]:g}</span>'
            return
        self.values[name] = float(change["new"])
        self.message.value = ""
        self._plans.clear()
        self._redraw()

    def _plan(self, name: str) -> Plan:
        key = (name, self.az_down.value)
        if key not in self._plans:
            self._plans[key] = plan(self.topologies[name], self.values, self.az_down.value)
        return self._plans[key]

    def results(self) -> dict[str, Result]:
        chosen = self.picker.value or tuple(self.topologies)[-1:]
        return {name: self._plan(name).at(self.users.value) for name in chosen}

    def html(self) -> str:
        return compare_html(self.results())

    def _redraw(self, *_):
        self.chart.value = self.html()

    # Without a live widget frontend (papermill, nbconvert, GitHub), the chart still shows.
    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.html()
        return bundle


def explorer(topologies: Mapping[str, Topology] | Topology, users: float = 100_000,
             assumptions: Mapping[str, float] | None = None, shown: int = 1) -> Explorer:
    return Explorer(topologies, users, assumptions, shown)
