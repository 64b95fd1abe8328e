"""Time the capacity model: 1,000 user counts (the slider's budget is 50 ms), and the plan alone.

Run: .venv/bin/python benchmarks/capacity_model.py   (prints times measured in this one run)
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from workshop import capacity

import capacity_slides as slides

users = [10 ** (i / 125) for i in range(1000)]  # 1 .. 100 million, log-spaced
for name, topo in (("stage 1", slides.stage1()), ("stage 5", slides.stage5()), ("stage 10", slides.stage10())):
    t0 = time.perf_counter()
    capacity.sweep(topo, users)
    sweep = time.perf_counter() - t0
    t0 = time.perf_counter()
    for u in users:
        capacity.evaluate(topo, u)
    each = time.perf_counter() - t0
    print(f"{name}: 1,000 user counts, one plan: {1000 * sweep:.1f} ms; evaluate() each time: {1000 * each:.1f} ms "
          f"(budget 50 ms: {'met' if sweep <= 0.05 else 'MISSED'})")
