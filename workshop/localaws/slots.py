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

**Sustained overload is not divided.** Dividing by K is right for the waits that chance makes
(bursts of arrivals in a server that keeps up on average), not for a backlog that builds because
more work arrives than the vCPUs do: that one grows by (load - 1) seconds a second however fine
the requests, so a real server's requests wait all of it. Each server therefore also keeps the
backlog its *smoothed* load builds (`sustained`: the work that arrived, spread over `SMOOTH_S`
seconds, minus what its vCPUs did, never below zero) and a request's wait counts that part in
full and only the rest ÷ K. Below saturation the smoothed load stays under the vCPUs and nothing
changes; past it, waits grow as on AWS and the server refuses past `max_wait` (measured with
benchmarks/knee.py: at K = 40, stage 6's database primary at 143% of its CPU still answered with
p95 150 ms in a 12-s step, the knee 1.5x the model's, before this).

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
import math
import time
from collections.abc import Callable

log = logging.getLogger("workshop.localaws.slots")

#: vCPUs assumed for a type the capacity model's table lacks
UNKNOWN_TYPE_VCPUS = 2
#: seconds over which arriving work is smoothed to tell a sustained backlog from a burst (see the module)
SMOOTH_S = 2.0


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

    def __init__(self, count: float, scale: Callable[[], int] = lambda: 1, min_sleep: float = 0.001,
                 clock: Callable[[], float] = time.monotonic):
        self._free_at: list[float] = []
        self.count = 0
        self.scale = scale
        self.min_sleep = min_sleep
        self.clock = clock
        self.busy = 0.0  # vCPU-seconds booked since the last take_busy()
        self.total = 0.0  # vCPU-seconds booked since start (only grows: for readers other than the metrics)
        self._rate = 0.0  # arriving work, smoothed over SMOOTH_S (vCPU-seconds a second)
        self.sustained = 0.0  # vCPU-seconds of backlog the smoothed load built (see the module)
        self._seen = clock()
        self.resize(count)

    def resize(self, count: float) -> None:
        """Change the number of vCPUs (a new instance type), keeping what is booked."""
        wanted = max(1, int(-(-count // 1)))
        now = self.clock()
        while len(self._free_at) < wanted:
            heapq.heappush(self._free_at, now)
        if len(self._free_at) > wanted:
            self._free_at = heapq.nsmallest(wanted, self._free_at)
            heapq.heapify(self._free_at)
        self.count = wanted

    def wait(self) -> float:
        """How long a request arriving now would wait for a vCPU."""
        return max(0.0, self._free_at[0] - self.clock())

    def _flow(self, now: float) -> None:
        """Bring the smoothed load and the sustained backlog up to `now`."""
        dt = now - self._seen
        if dt <= 0:
            return
        self._seen = now
        decay = math.exp(-dt / SMOOTH_S)
        arrived = self._rate * SMOOTH_S * (1.0 - decay)  # the smoothed work that came in over dt
        self.sustained = max(0.0, self.sustained + arrived - self.count * dt)
        self._rate *= decay

    def book(self, cost: float, max_wait: float | None = None, scaled: bool = True) -> float:
        """Book `cost x scale` (`cost` alone when not `scaled`: a request that stands only for itself)
        on the vCPU that frees first; seconds from now until this request is answered (its wait at the
        talk's scale plus `cost`: a real request's latency). Overloaded, with nothing booked, past `max_wait`."""
        now = self.clock()
        self._flow(now)
        start = max(now, self._free_at[0])
        k = max(1, int(self.scale())) if scaled else 1
        local = start - now
        held = min(self.sustained / self.count, local)  # a backlog a real server would have too
        wait = held + (local - held) / k  # at the talk's scale
        if max_wait is not None and wait > max_wait:
            raise Overloaded(f"{local:.1f} s of work already waits for {self.count} vCPU(s)")
        work = cost * k
        heapq.heapreplace(self._free_at, start + work)
        self._rate += work / SMOOTH_S
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
