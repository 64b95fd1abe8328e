"""The local AWS with stage 8 standing and serving: its peak memory, and how long each stage's traffic demo takes.

Run: .venv/bin/python benchmarks/stage8_footprint.py   (prints figures measured in this one run)

- Peak RSS: a local AWS started as its own process (as `workshop up` starts it, private WORKSHOP_HOME),
  stages 1, 3-8 built against it (`build_previous()` + stage 8's build), then stage 8's traffic demo
  (`s08_proof.whole_picture`: 500,000 users of the talk through www for 10 s); psutil samples the RSS
  of the local AWS process plus all its children (Lambda workers, anything it spawned) every 0.2 s from
  the start. The limit is 600 MB.
- Demo durations: each stage's traffic demo with its defaults, timed end to end (Locust start, the run,
  the read-back), for the demos that exist in this checkout (stage 6's `s06_proof.offload`, stage 8's
  `whole_picture`; others are named as missing).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import psutil

LIMIT_MB = 600


class Rss:
    """Peak RSS (MB) of a process and its children, sampled every 0.2 s in a thread."""

    def __init__(self, pid: int):
        self.proc, self.peak, self.now, self._done = psutil.Process(pid), 0.0, 0.0, threading.Event()
        self.children = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def sample(self) -> float:
        procs = [self.proc]
        try:
            procs += self.proc.children(recursive=True)
        except psutil.Error:
            pass
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        self.children = max(self.children, len(procs) - 1)
        return total / 2**20

    def _loop(self):
        while not self._done.wait(0.2):
            self.now = self.sample()
            self.peak = max(self.peak, self.now)

    def stop(self) -> float:
        self._done.set()
        return self.peak


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="s8-footprint-home-"))
    os.environ["WORKSHOP_HOME"] = str(home)
    for var in ("WORKSHOP_TARGET", "WORKSHOP_AWS_ACCOUNT", "WORKSHOP_RUN_ID", "WORKSHOP_ENDPOINT"):
        os.environ.pop(var, None)
    from workshop import notebook
    from workshop.localaws import process
    from workshop.stages import s06_proof, s08_proof

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load}", flush=True)
    proc, state = process.spawn(0, home / "localaws.json", home / "localaws.log")
    os.environ["WORKSHOP_ENDPOINT"] = state["endpoint"]
    rss = Rss(proc.pid)
    idle = rss.sample()
    try:
        t0 = time.monotonic()
        ctx = notebook.start(stage=8, run_id="foot8", target="local", quiet=True)
        ctx.build_previous()
        ctx.stage.build(ctx)
        built = rss.sample()
        print(f"stage 8 built in {time.monotonic() - t0:.0f} s; local AWS RSS idle {idle:.0f} MB, built {built:.0f} MB",
              flush=True)
        time.sleep(2)
        durations = {}
        t = time.monotonic()
        m = s08_proof.whole_picture(ctx)
        durations["08 whole_picture (500,000 users through www, 10 s)"] = time.monotonic() - t
        print(s08_proof.report(m), flush=True)
        ctx6 = notebook.start(stage=6, run_id="foot8", target="local", quiet=True)
        for via in ("alb", "cloudfront"):
            t = time.monotonic()
            s06_proof.offload(ctx6, via)
            durations[f"06 offload via {via} ({s06_proof.DEMO_SECONDS} s)"] = time.monotonic() - t
        peak = rss.stop()
        print(f"\nlocal AWS process + {rss.children} children: peak RSS {peak:.0f} MB while stage 8 stood and served "
              f"(limit {LIMIT_MB} MB: {'within' if peak <= LIMIT_MB else 'OVER'})")
        print("\n| demo (defaults) | took |\n|---|---|")
        for name, s in durations.items():
            print(f"| {name} | {s:.1f} s |")
        print("| 01-05, 07 traffic demos | timed in every course run: each cell's papermill duration in build/runs/<id>/*.ipynb |")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average now {load}")
    finally:
        process.stop(proc)


if __name__ == "__main__":
    main()
