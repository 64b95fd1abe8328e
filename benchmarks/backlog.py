"""How the emulated CPU (`workshop/localaws/slots.py`) tells an overload from chance at scale K.

Run: .venv/bin/python benchmarks/backlog.py   (a few seconds; no local AWS: a simulated clock)

Two servers the knee benchmark (benchmarks/knee.py) finds at its bottleneck, fed a ramp of 12-s steps at
fractions of their CPU (the steps follow each other: a backlog carries over), five seeds each:

- a database primary, 2 vCPUs, K = 40, single-row writes of 2 ms (each local write books 80 ms),
  Poisson arrivals (every web instance writes to it);
- a web instance, 2 vCPUs, K = 66, the mix that reaches stage 8's web tier (a page from the cache
  10 ms, a POST 2.5 ms, a page from the database 50 ms), every 12th arrival of a Poisson stream (the
  load balancer's round robin over 12 instances).

For each step: the p95 of the waits at the talk's scale, the median and the worst of the seeds, as
`slots.Slots` computes them (the chance part ÷ K, the backlog beyond BACKLOG_LUMPS average requests in
full), beside the same queue with every wait ÷ K (what the kit did before) and every wait in full.
A step "breaks" (the knee's rule, workshop/traffic/knee.py) when its p95 passes 500 ms.
"""

from __future__ import annotations

import math
import random
import statistics

from workshop.localaws import slots as slots_mod

LOADS = (0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
STEP_S, SEEDS = 12.0, 5
SERVERS = {
    "database primary (K 40, Poisson)": dict(vcpus=2, k=40, costs=(0.002,), weights=(1.0,), shape=1),
    "web instance (K 66, round robin of 12)": dict(vcpus=2, k=66, costs=(0.01, 0.0025, 0.05),
                                                   weights=(0.66, 0.335, 0.005), shape=12),
}


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def ramp(server: dict, lumps: float, seed: int) -> list[float]:
    """p95 (s) per step of LOADS for one seed, with BACKLOG_LUMPS = `lumps`."""
    rnd, clock = random.Random(seed), Clock()
    saved, slots_mod.BACKLOG_LUMPS = slots_mod.BACKLOG_LUMPS, lumps
    try:
        s = slots_mod.Slots(server["vcpus"], scale=lambda: server["k"], clock=clock)
        mean = sum(c * w for c, w in zip(server["costs"], server["weights"]))
        out = []
        for load in LOADS:
            rate = load * server["vcpus"] / (server["k"] * mean)
            end, waits = clock.now + STEP_S, []
            while True:
                clock.now += rnd.gammavariate(server["shape"], 1.0 / (rate * server["shape"]))
                if clock.now >= end:
                    clock.now = end
                    break
                cost = rnd.choices(server["costs"], server["weights"])[0]
                waits.append(s.book(cost) - cost)
            waits.sort()
            out.append(waits[int(0.95 * (len(waits) - 1))] if waits else 0.0)
        return out
    finally:
        slots_mod.BACKLOG_LUMPS = saved


def row(label: str, server: dict, lumps: float) -> str:
    runs = [ramp(server, lumps, seed) for seed in range(SEEDS)]
    cells = []
    for i in range(len(LOADS)):
        xs = [r[i] for r in runs]
        cells.append(f"{statistics.median(xs) * 1000:,.0f} / {max(xs) * 1000:,.0f}")
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    print(f"p95 of the waits per 12-s step, ms (median / worst of {SEEDS} seeds); BACKLOG_LUMPS = "
          f"{slots_mod.BACKLOG_LUMPS:g}\n")
    print("| server, waits | " + " | ".join(f"{x:.0%} CPU" for x in LOADS) + " |")
    print("|---|" + "---|" * len(LOADS))
    for name, server in SERVERS.items():
        print(row(f"{name}: slots.py", server, slots_mod.BACKLOG_LUMPS))
        print(row(f"{name}: all ÷ K (before)", server, math.inf))
        print(row(f"{name}: all in full", server, 0.0))


if __name__ == "__main__":
    main()
