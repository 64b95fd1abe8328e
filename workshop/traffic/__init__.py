"""`workshop traffic`: load on the course's own URLs from virtual users that behave like the
capacity model's users, with Locust running as a process of its own.

    import workshop.traffic
    result = workshop.traffic.run("http://127.0.0.1:PORT", users=50, duration=60, scale=10)
    result.summary["p95_ms"], result.spread["instances"], result.svg

Modules: `behaviour` (what a virtual user does, from the assumptions), `options` and `allow`
(what may be asked, and where load may go), `process` (the Locust process), `stats` (reading
its figures), `chart` (the SVG), `live` (presenting), `runner` (the run). `locustfile.py` is
loaded only by Locust's own process: importing this package never imports Locust or gevent.
"""

from __future__ import annotations

from pathlib import Path


def run(url: str, users: int = 50, duration: int = 60, scale: int = 1, spawn_rate: float | None = None,
        think: float = 1.0, live: bool | None = None, out: Path | str | None = None, target=None,
        interval: float = 2.0, assumptions: dict | None = None, stagger: bool = False):
    """Send model users' traffic to `url` (a course URL) for `duration` s; the `runner.Result`.

    `stagger`: each user waits before its first page view too (a steady stream from the first second,
    no burst at spawn; for short runs that measure a platform, e.g. a knee).
    `live`: True shows a live chart (ipywidgets), False prints a line per interval, None picks
    the chart inside a notebook's kernel. Interrupting the cell stops Locust at once.
    """
    from .live import for_live
    from .runner import Run

    r = Run(url, users, duration, spawn_rate, scale, think, out, target, for_live(live), interval, assumptions,
            stagger)
    return r.start().wait()


__all__ = ["run"]
