"""How a run shows itself while it runs: a line every few seconds, or a live chart in a notebook.

- `Console(say)`: one progress line per interval, then the summary (the CLI; a script).
- `Notebook()`: an ipywidgets label (the latest progress line) over the chart, redrawn each
  interval. When the run ends, the display is *replaced* by the static summary and SVG chart,
  so a notebook saved afterwards (or executed by papermill, where no widget frontend listens
  and the widgets' messages go nowhere) keeps a chart that needs no kernel. Nothing has to
  detect the frontend for the saved output to be right.
- `Silent()`: nothing (`--json`, tests).

`for_live(live)`: True -> Notebook, False -> Console, None -> Notebook inside an IPython kernel,
else Console.
"""

from __future__ import annotations

from collections.abc import Callable

from . import chart


class Silent:
    def started(self, run) -> None:
        pass

    def interval(self, run, row: dict, line: str) -> None:
        pass

    def finished(self, run, result) -> None:
        pass


class Console(Silent):
    def __init__(self, say: Callable[[str], None] = print):
        self.say = say

    def started(self, run) -> None:
        o = run.options
        self.say(f"Locust (pid {run.locust.pid}) → {run.allowed.url} ({run.allowed.kind} {run.allowed.resource_id}): "
                 f"{o.users} users at {o.spawn_rate:g}/s for {o.duration_s} s {run.scale_line}"
                 + (f" (the machines of run {run.scaled_run} work at scale {o.scale:,})" if run.scaled_run else "")
                 + f"; output in {run.folder}")

    def interval(self, run, row: dict, line: str) -> None:
        self.say(line)

    def finished(self, run, result) -> None:
        from .runner import summary_text

        self.say(summary_text(result.summary))
        self.say(f"saved: {result.files['csv']}, {result.files['svg']}")


class Notebook(Silent):
    def __init__(self):
        self.handle = None

    def started(self, run) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.label = w.HTML(f"<code>starting Locust (pid {run.locust.pid}) → {run.allowed.url} …</code>")
        self.chart = w.HTML(chart.svg([], "waiting for the first figures"))
        self.box = w.VBox([self.label, self.chart])
        self.handle = display(self.box, display_id=True)

    def interval(self, run, row: dict, line: str) -> None:
        if self.handle is None:
            return
        from html import escape

        self.label.value = f"<code>{escape(line)}</code>"
        o = run.options
        self.chart.value = chart.svg(run.rows, f"live: {o.users} users → {run.allowed.url} × {o.scale:,} = "
                                               f"{o.talk_active_users:,.0f} active users at the talk's scale")

    def finished(self, run, result) -> None:
        if self.handle is None:
            return
        from IPython.display import HTML

        self.handle.update(HTML(result._repr_html_()))
        self.box.close()


def in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def for_live(live: bool | None, say: Callable[[str], None] = print) -> Silent:
    if live is None:
        live = in_kernel()
    return Notebook() if live else Console(say)
