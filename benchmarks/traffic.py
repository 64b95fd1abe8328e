"""Measure `workshop traffic` itself: the floor a learner's laptop can generate, and what Locust costs.

Run: .venv/bin/python benchmarks/traffic.py [SECONDS]   (prints figures measured in this one run)
     .venv/bin/python benchmarks/traffic.py knee [STAGE ...] | path [SECONDS] [CONCURRENCY]   (see below)

Rows (each a function below; later stages add theirs to ROWS):
- floor N users: Locust (as `workshop traffic` runs it, at the fastest pace, think 100) against a
  bare aiohttp handler on loopback, published in a local AWS's data plane: requests/s (and the
  share of what the users' pace asks for: below 100%, the generator or the machine is the limit),
  p50/p95/p99. Anything the course's architecture serves is measured under this ceiling.
- Locust's cost: its start-up (spawn -> first request at the server) and peak RSS, headless (the
  tool's choice: live figures from its stats-history CSV) vs with its web UI (figures polled from
  /stats/requests), the comparison behind stats.py's choice.

The two other traffic figures have scripts of their own, and this one runs them by name:

- `benchmarks/traffic.py knee [STAGE ...]` = `benchmarks/knee.py`: model and measurement side by side
  per stage (a ramp's knee against `workshop capacity --stage N`'s max_users, at the same scale);
- `benchmarks/traffic.py path [SECONDS] [CONCURRENCY]` = `benchmarks/stage6_path.py`: requests/s through
  stage 6's whole path against this floor.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from aiohttp import web

from workshop import config
from workshop.localaws.dataplane import Endpoint
from workshop.localaws.server import LocalAWS
from workshop.traffic import behaviour, process
from workshop.traffic.runner import Run

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10
FIRST_REQUEST: list[float] = []


def bare_server(server: LocalAWS) -> str:
    """A trivial handler on the data plane's loop, published as instance i-floor; its URL."""

    async def handler(request):
        if not FIRST_REQUEST:
            FIRST_REQUEST.append(time.monotonic())
        return web.Response(text="ok", headers={"X-Instance-Id": "i-floor", "X-Availability-Zone": "us-east-1a"})

    async def serve():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server.dataplane.on_stop(runner.cleanup)
        return site._server.sockets[0].getsockname()[1]

    port = server.dataplane.run(serve())
    server.dataplane.publish(Endpoint("instance", "i-floor", port))
    return f"http://127.0.0.1:{port}"


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid: int) -> float | None:
    """utime + stime of `pid` in seconds (None once it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Peak:
    """Samples a process's RSS and CPU time every 0.2 s in a thread: peak RSS, CPU seconds used."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.cpu, self._done = pid, 0.0, 0.0, threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self._done.wait(0.2):
            self.peak = max(self.peak, rss_mb(self.pid))
            self.cpu = cpu_s(self.pid) or self.cpu

    def stop(self) -> float:
        self._done.set()
        return self.peak


def floor(users: int, url: str, target, folder: Path) -> str:
    FIRST_REQUEST.clear()
    run = Run(url, users, SECONDS, spawn_rate=users, think=behaviour.MAX_THINK, out=folder, target=target,
              interval=1.0).start()
    peak, before, wall = Peak(run.locust.pid), os.times(), time.monotonic()
    result = run.wait()
    after, wall = os.times(), time.monotonic() - wall
    rss = peak.stop()
    s = result.summary
    startup = FIRST_REQUEST[0] - run.locust.started if FIRST_REQUEST else float("nan")
    demand = users * run.behaviour.requests_per_min / 60
    here = (after.user + after.system - before.user - before.system) / wall
    return (f"floor {users:>4} users, {SECONDS} s: {s['rps']:,.0f} requests/s of {demand:,.0f} the pace asks "
            f"({s['rps'] / demand:.0%}), p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms, "
            f"failures {s['failures']}; Locust: start-up {startup:.2f} s (spawn -> first request), peak RSS {rss:.0f} MB, "
            f"CPU {peak.cpu / wall:.0%} of a core; server (this process) {here:.0%}")


def web_ui_cost(url: str, folder: Path) -> str:
    """Locust with its web UI instead (as if the runner polled /stats/requests): start-up, RSS, poll time."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        web_port = s.getsockname()[1]
    cmd = process.command(url, 50, 50, SECONDS, folder, behaviour.from_assumptions(think=100).argv(), 0, False)
    cmd = [c for c in cmd if c not in ("--headless", "--only-summary")]
    cmd[cmd.index("--owner-pid") + 1] = str(__import__("os").getpid())
    cmd += ["--autostart", "--autoquit", "0", "--web-host", "127.0.0.1", "--web-port", str(web_port)]
    import subprocess

    FIRST_REQUEST.clear()
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**__import__("os").environ, "HOME": str(folder),
                                                         "PYTHONPATH": str(config.ROOT)})
    peak, polls = Peak(proc.pid), []
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        while proc.poll() is None and time.monotonic() - t0 < SECONDS + 20:
            time.sleep(2)
            t = time.perf_counter()
            try:
                with opener.open(f"http://127.0.0.1:{web_port}/stats/requests", timeout=2) as r:
                    json.loads(r.read())
                polls.append(time.perf_counter() - t)
            except Exception:
                pass
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(10)
    startup = FIRST_REQUEST[0] - t0 if FIRST_REQUEST else float("nan")
    poll = f"{1000 * sum(polls) / len(polls):.1f} ms per /stats/requests poll" if polls else "no poll answered"
    return (f"web UI instead, 50 users: start-up {startup:.2f} s, peak RSS {peak.stop():.0f} MB, {poll} "
            "(and a listening port for the run's length)")


ROWS = [*(lambda url, t, d, n=n: floor(n, url, t, d / f"f{n}") for n in (50, 200, 1000)),
        lambda url, t, d: web_ui_cost(url, d / "webui")]


def main() -> None:
    server = LocalAWS(extensions=False).start()
    try:
        url = bare_server(server)
        target = config.target(endpoint=server.endpoint, home=tempfile.mkdtemp(prefix="traffic-bench-home-"))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} cores, load average {load} (figures are shared with whatever else runs)")
        with tempfile.TemporaryDirectory(prefix="traffic-bench-") as tmp:
            for row in ROWS:
                print(row(url, target, Path(tmp)), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    if sys.argv[1:2] in (["knee"], ["path"]):
        which = sys.argv.pop(1)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        if which == "knee":
            import knee

            knee.main(sys.argv[1:])
        else:
            import stage6_path

            stage6_path.main()
    else:
        main()
