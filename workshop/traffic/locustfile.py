"""The Locust file of `workshop traffic`: one virtual user = one active user of the capacity model.

Loaded only by the Locust process that `workshop.traffic.process` starts (Locust imports gevent
and monkey-patches the whole process: never import this module in the kit's or a kernel's
process). It imports nothing from the kit: the user's pace comes on the command line
(`--wl-*`, from `behaviour.Behaviour.argv()`).

A page view is `GET /` (the dynamic page, with the session cookie Locust's cookie jar keeps),
then the page's static requests, then, on average `--wl-write-per-page` times, `POST /messages`
(303 expected; the redirect is not followed). A user's page views *start* on a schedule whose gaps are
exponentially distributed with mean 60 / pages-per-min / think seconds, whether or not the last one
has been answered (open arrivals: one virtual user stands for think x scale real users, and a slow
answer to one of them does not hold the others back). A page view due while earlier ones still
wait runs beside them, up to `IN_FLIGHT` per user; one due beyond that is not sent and counts as a
failed `GET /` ("the site is this far behind": the users it stands for gave up). Waiting the gap
*after* each page view made the users' rate fall as the answers slowed, and dropping page views
that fell behind (without counting them) did the same: at an overloaded server the ramp asked for
less and p95 stayed low, so a ramp's knee came at 1.3-2x the users the capacity model counts.

With `--wl-stagger` a user waits before its first page view too, so the users' page views arrive at
the steady rate from the start (without it, every user's first page view comes at spawn: a burst of
pages-per-min x think times the steady rate, which an emulated server answers 503 when it is small).

Each response's `X-Instance-Id`, `X-Availability-Zone`, `X-Cache` (CloudFront's) and `X-Data-Source` (the app's)
are counted; every half second the counts
go to `--wl-spread FILE` as JSON (written whole, then renamed into place), for the runner; when
Locust quits, `final.json` beside it holds the whole run's figures (its CSV files lag up to 1 s).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from urllib.parse import urlencode

import gevent
import gevent.pool
from locust import FastHttpUser, events, stats, task

STATIC_PATHS = ("/static/app.css", "/static/app.js", "/static/logo.svg")  # behaviour.STATIC_PATHS
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NONE = "-"  # a response without the header (a refused connection, a server that does not send it)
#: page views of one user waiting for answers at once; one due beyond this is counted failed, not sent
IN_FLIGHT = 8

# Locust flushes its CSV files every 5 s; the runner reads the history live, so every second
stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1

_spread: dict[str, dict[str, int]] = {"instances": {}, "azs": {}, "cache": {}, "sources": {}}
#: what the spread counts, by response header: who answered, CloudFront's cache verdict
#: (X-Cache: "Hit from cloudfront", "Miss from cloudfront", ...) and where the app read its data
SPREAD_HEADERS = (("instances", "X-Instance-Id"), ("azs", "X-Availability-Zone"), ("cache", "X-Cache"),
                  ("sources", "X-Data-Source"))
_pace = {"pages_per_min": 2.0, "static_per_page": 4.0, "write_per_page": 0.25, "think": 1.0, "stagger": False}


@events.init_command_line_parser.add_listener
def _arguments(parser):
    parser.add_argument("--wl-pages-per-min", type=float, default=2.0, include_in_web_ui=False)
    parser.add_argument("--wl-static-per-page", type=float, default=4.0, include_in_web_ui=False)
    parser.add_argument("--wl-write-per-page", type=float, default=0.25, include_in_web_ui=False)
    parser.add_argument("--wl-think", type=float, default=1.0, include_in_web_ui=False)
    parser.add_argument("--wl-spread", default="", include_in_web_ui=False)
    parser.add_argument("--wl-owner-pid", type=int, default=0, include_in_web_ui=False)
    parser.add_argument("--wl-stagger", action="store_true", default=False, include_in_web_ui=False)
    parser.add_argument("--wl-host-header", default="", include_in_web_ui=False)


def _count(n: float) -> int:
    """A whole count whose mean is `n` (2.25 -> 2, or 3 one time in four)."""
    whole = int(n)
    return whole + (1 if random.random() < n - whole else 0)


def _write_spread(path: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({"t": time.time(), **_spread}, f)
    os.replace(tmp, path)


def _write_final(environment, spread_path: str) -> None:
    """The whole run's figures, once every user has stopped: final.json beside the spread file."""
    _write_spread(spread_path)
    total = environment.stats.total
    doc = {"requests": total.num_requests, "failures": total.num_failures, "rps": total.total_rps,
           "avg_ms": total.avg_response_time, "max_ms": total.max_response_time,
           **{f"p{int(q * 100)}_ms": total.get_response_time_percentile(q) if total.num_requests else 0
              for q in (0.5, 0.95, 0.99)},
           "by_name": {f"{e.method} {e.name}": e.num_requests for e in environment.stats.entries.values()},
           "failures_top": [{"method": e.method, "name": e.name, "error": str(e.error), "occurrences": e.occurrences}
                            for e in environment.stats.errors.values()],
           **_spread}
    path = os.path.join(os.path.dirname(spread_path), "final.json")
    with open(f"{path}.tmp", "w") as f:
        json.dump(doc, f)
    os.replace(f"{path}.tmp", path)


def _start_time(pid: int) -> str | None:
    try:
        raw = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    return None if fields[0] == "Z" else fields[19]


def _watch_owner(owner: int) -> None:
    """SIGTERM ourselves (Locust stops cleanly) once the owner process is gone: when it is our parent,
    by being re-parented (any POSIX system); otherwise by its /proc start time changing (Linux)."""
    if os.getppid() == owner:
        while os.getppid() == owner:
            gevent.sleep(0.5)
    elif os.path.isdir("/proc"):
        started = _start_time(owner)
        while started is not None and _start_time(owner) == started:
            gevent.sleep(0.5)
    else:
        return  # the run still ends at its duration (Locust's -t)
    os.kill(os.getpid(), signal.SIGTERM)


@events.init.add_listener
def _init(environment, **_):
    options = environment.parsed_options
    if options is None:
        return
    _pace.update(pages_per_min=options.wl_pages_per_min, static_per_page=options.wl_static_per_page,
                 write_per_page=options.wl_write_per_page, think=options.wl_think, stagger=options.wl_stagger)
    if options.wl_spread:
        def writer():
            while True:
                _write_spread(options.wl_spread)
                gevent.sleep(0.5)

        gevent.spawn(writer)
        # after the users stopped (Locust's CSV files lag up to a second and miss the last requests)
        events.quit.add_listener(lambda **_: _write_final(environment, options.wl_spread))
    if options.wl_owner_pid:
        gevent.spawn(_watch_owner, options.wl_owner_pid)
    if options.wl_host_header:  # a Route 53 record through the local edge, which routes by Host
        WebUser.default_headers = {"Host": options.wl_host_header}


class BehindSchedule(Exception):
    """A page view came due while `IN_FLIGHT` of the same user's were still waiting for answers."""


class WebUser(FastHttpUser):
    """An active user of the capacity model: page views with their static files, sometimes a write."""

    connection_timeout = 5.0
    network_timeout = 30.0
    concurrency = IN_FLIGHT  # FastHttpUser's connection pool: one connection per page view in flight

    @staticmethod
    def _mean_gap() -> float:
        return 60.0 / max(_pace["pages_per_min"], 1e-9) / _pace["think"]

    def _gap(self) -> float:
        return random.expovariate(1.0 / self._mean_gap())

    def wait_time(self):
        """Until this user's next page view is due on its schedule (the schedule never waits for answers)."""
        now = time.monotonic()
        self._due = max(self._due, now - self._mean_gap()) + self._gap()  # a stalled scheduler does not burst
        return max(0.0, self._due - now)

    def on_start(self):
        """With --wl-stagger, a user's first page view comes after a gap like any other (exponential:
        the users' page views arrive as a steady stream from the first second), not all at spawn."""
        self._views = gevent.pool.Group()
        self._started: dict[object, float] = {}
        self._due = time.monotonic()
        if _pace["stagger"]:
            self._due += self._gap()
            gevent.sleep(max(0.0, self._due - time.monotonic()))

    def on_stop(self):
        """The page views in flight get a moment to finish (Locust's --stop-timeout is 2 s), then end."""
        self._views.join(timeout=1.5)
        self._views.kill(block=False)

    def _get(self, path: str, name: str | None = None):
        self._note(self.client.get(path, name=name or path))

    def _note(self, response) -> None:
        headers = response.headers or {}
        for key, header in SPREAD_HEADERS:
            value = headers.get(header) or NONE
            _spread[key][value] = _spread[key].get(value, 0) + 1

    @task
    def page_view(self):
        """Start the page view that is due beside any still waiting (or count it failed past `IN_FLIGHT`)."""
        if len(self._views) >= IN_FLIGHT:
            waited = time.monotonic() - min(self._started.values())
            events.request.fire(request_type="GET", name="/", response_time=waited * 1000.0, response_length=0,
                                exception=BehindSchedule(f"{IN_FLIGHT} page views of this user still wait for "
                                                         "answers: the site is behind"), context={})
            return
        view = gevent.spawn(self._page_view)
        self._started[view] = time.monotonic()
        view.link(lambda g: self._started.pop(g, None))
        self._views.add(view)

    def _page_view(self):
        self._get("/")
        for i in range(_count(_pace["static_per_page"])):
            self._get(STATIC_PATHS[i % len(STATIC_PATHS)])
        for _ in range(_count(_pace["write_per_page"])):
            text = f"hello from a virtual user {random.randrange(10**6)}"
            self._note(self.client.post("/messages", data=urlencode({"text": text}), headers=FORM,
                                        allow_redirects=False))
