"""The CPU of an emulated server: its vCPUs, the work the traffic puts on them, and CPUUtilization.

One module for every emulated machine (web instances, DB instances, cache nodes). A server
has one slot per vCPU of its type (`workshop/capacity/instance_types.py`). A request costs
`cost` seconds of one vCPU (`workshop/capacity/assumptions.py`: a dynamic page 1/20 s, a DB
read 1/1,000 s, a cache operation 1/25,000 s).

**Scale.** With the data plane's scale K (`dataplane.DataPlane.scale`), one local request
stands for K at the talk's scale, so it puts `K x cost` of work on the slot that frees first:
the server's throughput, in local requests, is 1/K of a real one's, and its CPUUtilization is
what the talk-scale traffic would cause. The request itself is answered after its wait
**divided by K** plus its own `cost`: the latency one real request would see. The queue holds
K-times-coarser requests than a real server's at the same utilisation, so its waits are K times
a real one's (a multi-server queue's waits scale with its service time); dividing by K gives the
real wait, so p95 turns up where it would on AWS, not K times sooner (measured with
benchmarks/knee.py: at K = 21-41, stages 6 and 8 passed p95 500 ms at half the model's peak with
the web tier at 40-60% CPU). The throughput at which a server saturates is unchanged: each
request still books `K x cost`. At K = 1 this is a plain multi-server queue.

**Overload.** A request that would wait more than `max_wait` seconds (at the talk's scale: its
local wait ÷ K) for a slot is refused at once (`Overloaded`), as an overloaded server's full accept
queue refuses it. So a saturated server holds up to K x `max_wait` s of booked work, which it works
off (at 100% CPU) once the load falls.

Waiting is an `asyncio.sleep` (never a busy loop), so two real cores play twenty machines;
waits shorter than `min_sleep` (the event loop's ~1 ms clock) are booked but not slept.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable

log = logging.getLogger("workshop.localaws.slots")

#: vCPUs assumed for a type the capacity model's table lacks
UNKNOWN_TYPE_VCPUS = 2


class Overloaded(Exception):
    """The work would wait longer than the server's limit: refused."""


def slot_count(instance_type: str) -> int:
    """vCPUs of `instance_type` (an EC2 type, DB instance class or cache node type)."""
    from ..capacity.instance_types import ALL

    found = ALL.get(instance_type)
    if found is None:
        log.info("%s is not in the capacity model's table: counted as %d vCPUs", instance_type, UNKNOWN_TYPE_VCPUS)
    return found.vcpu if found else UNKNOWN_TYPE_VCPUS


class Slots:
    """`count` vCPUs; `scale()` is how many talk-scale requests one local request stands for."""

    def __init__(self, count: float, scale: Callable[[], int] = lambda: 1, min_sleep: float = 0.001):
        self._free_at: list[float] = []
        self.count = 0
        self.scale = scale
        self.min_sleep = min_sleep
        self.busy = 0.0  # vCPU-seconds booked since the last take_busy()
        self.total = 0.0  # vCPU-seconds booked since start (only grows: for readers other than the metrics)
        self.resize(count)

    def resize(self, count: float) -> None:
        """Change the number of vCPUs (a new instance type), keeping what is booked."""
        wanted = max(1, int(-(-count // 1)))
        now = time.monotonic()
        while len(self._free_at) < wanted:
            heapq.heappush(self._free_at, now)
        if len(self._free_at) > wanted:
            self._free_at = heapq.nsmallest(wanted, self._free_at)
            heapq.heapify(self._free_at)
        self.count = wanted

    def wait(self) -> float:
        """How long a request arriving now would wait for a vCPU."""
        return max(0.0, self._free_at[0] - time.monotonic())

    def book(self, cost: float, max_wait: float | None = None, scaled: bool = True) -> float:
        """Book `cost x scale` (`cost` alone when not `scaled`: a request that stands only for itself)
        on the vCPU that frees first; seconds from now until this request is answered (its wait ÷ scale
        plus `cost`: a real request's latency). Overloaded, with nothing booked, past `max_wait`."""
        now = time.monotonic()
        start = max(now, self._free_at[0])
        k = max(1, int(self.scale())) if scaled else 1
        wait = (start - now) / k  # at the talk's scale
        if max_wait is not None and wait > max_wait:
            raise Overloaded(f"{start - now:.1f} s of work already waits for {self.count} vCPU(s)")
        work = cost * k
        heapq.heapreplace(self._free_at, start + work)
        self.busy += work
        self.total += work
        return wait + cost

    async def hold(self, cost: float, max_wait: float | None = None, scaled: bool = True) -> None:
        """Book the work and wait until this request would be answered."""
        delay = self.book(cost, max_wait, scaled)
        if delay >= self.min_sleep:
            await asyncio.sleep(delay)

    def take_busy(self) -> float:
        """vCPU-seconds booked since the last call (for a utilisation figure), and start counting again."""
        busy, self.busy = self.busy, 0.0
        return busy

    def utilisation(self, busy: float, period: float) -> float:
        """Percent of the vCPUs' time that `busy` vCPU-seconds fill in `period` seconds (at most 100)."""
        if period <= 0:
            return 0.0
        return min(100.0, 100.0 * busy / (self.count * period))
