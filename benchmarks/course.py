"""How much does the course cost over the bare cost of running notebooks?

In one run, on one machine: the whole course through `workshop run`'s runner, then the
same number of empty notebooks (a parameters cell only) through the same runner: the
floor, which is kernel starts and papermill. Prints both, their ratio (goal <= 1.5 with
--jobs 2), the slowest cell of the course (goal <= 5 s), and the local AWS's peak memory.

    .venv/bin/python benchmarks/course.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workshop import runner  # noqa: E402
from workshop.localaws import process  # noqa: E402


def empty_copies(selected, folder: Path) -> None:
    """Notebooks with the course's names and parameters cells, and nothing else."""
    for stage in selected:
        nb = nbformat.read(runner.SOLUTIONS / stage.notebook, as_version=4)
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        nb.cells = params
        nbformat.write(nb, folder / stage.notebook)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(label, **kwargs):
    start = time.perf_counter()
    results = runner.run_course(progress=False, report=False, **kwargs)
    elapsed = time.perf_counter() - start
    failed = [r.notebook for r in results if r.status != "passed"]
    if failed:
        sys.exit(f"{label}: failed notebooks {failed}:\n" + "\n".join(r.error or "" for r in results if r.error))
    return elapsed, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    selected = runner.select(None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        proc, state = process.spawn(0, tmp / "state.json", tmp / "local-aws.log")
        os.environ["WORKSHOP_ENDPOINT"] = state["endpoint"]
        try:
            (tmp / "empty").mkdir()
            empty_copies(selected, tmp / "empty")
            course_s, results = timed("course", jobs=args.jobs, build=tmp / "course")
            floor_s, _ = timed("floor", jobs=args.jobs, build=tmp / "floor", source=tmp / "empty")
            memory = peak_rss_mb(proc.pid)
        finally:
            process.stop(proc)
    slowest = max(results, key=lambda r: r.slowest_cell_s)
    print(f"notebooks:            {len(selected)} (--jobs {args.jobs}, {os.cpu_count()} cores)")
    print(f"course:               {course_s:6.1f} s")
    print(f"empty notebooks:      {floor_s:6.1f} s  (kernel starts + papermill: the floor)")
    print(f"ratio course/floor:   {course_s / floor_s:6.2f}  (goal <= 1.5)")
    print(f"slowest cell:         {slowest.slowest_cell_s:6.2f} s in {slowest.notebook}  (goal <= 5 s)")
    print(f"local AWS peak RSS:   {memory:6.0f} MB")
    for r in results:
        print(f"  {r.notebook:34} {r.duration_s:5.1f} s   slowest cell {r.slowest_cell_s:5.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
