"""The CPU of an emulated server: its vCPUs, the work the traffic puts on them, and CPUUtilization.

One module for every emulated machine (web instances, DB instances, cache nodes). A server
has one slot per vCPU of its type (`workshop/capacity/instance_types.py`). A request costs
`cost` seconds of one vCPU (`workshop/capacity/assumptions.py`: a dynamic page 1/20 s, a DB
read 1/1,000 s, a cache operation 1/25,000 s).

**Scale.** With the data plane's scale K (`dataplane.DataPlane.scale`), one local request
stands for K at the talk's scale, so it puts `K x cost` of work on the slot that frees first:
the server's throughput, in local requests, is 1/K of a real one's, and its CPUUtilization is
what the talk-scale traffic would cause. The queue in front of the slots is the talk-scale
server's, seen through coarser requests, and its wait has two parts:

- **chance**: below 100% CPU a queue forms only when requests happen to bunch. The local queue
  bunches K-times-coarser requests, so its chance waits are K times a real one's (a multi-server
  queue's waits scale with its service time); they count **divided by K**: p95 turns up where it
  would on AWS, not K times sooner (at K = 21-41 it turned up at half the model's peak with the
  web tier at 40-60% CPU before this division: benchmarks/knee.py).
- **backlog**: above 100% the queue grows by (load - 1) seconds every second, at the talk's scale
  as here (each request books its K requests' work), and a real request waits all of it. The
  part of the local wait beyond `BACKLOG_LUMPS` average requests' work (per vCPU) counts **in
  full**. Chance alone rarely queues that much below ~90% CPU: `benchmarks/backlog.py` feeds
  this class the knee benchmark's two bottlenecks (a database at K = 40, Poisson arrivals; a web
  instance at K = 66 behind a round robin) in 12-s steps: p95 5-6 ms at 90% of their CPU (as ÷ K
  alone gives; all waits in full: 260-300 ms), past 500 ms at 110-120% (÷ K alone: 44-60 ms). The
  measured knees are in docs/performance.md. Without this part a server at 143% CPU answered with
  p95 150 ms.

At K = 1 both parts are the plain multi-server queue's wait.

**Overload.** A request that would wait more than `max_wait` seconds (at the talk's scale, as
above) for a slot is refused at once (`Overloaded`), as an overloaded server's full accept queue
refuses it; it books nothing.

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
#: a local wait beyond this many average requests' work per vCPU is a backlog, waited in full (see above)
BACKLOG_LUMPS = 8.0
#: weight of the newest request in the running average of a request's work
_LUMP_WEIGHT = 0.02


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
        self._clock = clock
        self._lump = 0.0  # running average of a scaled request's work (vCPU-seconds)
        self.count = 0
        self.scale = scale
        self.min_sleep = min_sleep
        self.busy = 0.0  # vCPU-seconds booked since the last take_busy()
        self.total = 0.0  # vCPU-seconds booked since start (only grows: for readers other than the metrics)
        self.resize(count)

    def resize(self, count: float) -> None:
        """Change the number of vCPUs (a new instance type), keeping what is booked."""
        wanted = max(1, int(-(-count // 1)))
        now = self._clock()
        while len(self._free_at) < wanted:
            heapq.heappush(self._free_at, now)
        if len(self._free_at) > wanted:
            self._free_at = heapq.nsmallest(wanted, self._free_at)
            heapq.heapify(self._free_at)
        self.count = wanted

    def wait(self) -> float:
        """How long a request arriving now would wait for a vCPU."""
        return max(0.0, self._free_at[0] - self._clock())

    def book(self, cost: float, max_wait: float | None = None, scaled: bool = True) -> float:
        """Book `cost x scale` (`cost` alone when not `scaled`: a request that stands only for itself)
        on the vCPU that frees first; seconds from now until this request is answered (its wait at the
        talk's scale, see the module's doc, plus `cost`: a real request's latency). Overloaded, with
        nothing booked, past `max_wait`."""
        now = self._clock()
        start = max(now, self._free_at[0])
        k = max(1, int(self.scale())) if scaled else 1
        work = cost * k
        wait = self.talk_wait(start - now, k)
        if max_wait is not None and wait > max_wait:
            raise Overloaded(f"{start - now:.1f} s of work already waits for {self.count} vCPU(s)")
        if scaled and work > 0:
            self._lump = work if self._lump == 0 else self._lump + _LUMP_WEIGHT * (work - self._lump)
        heapq.heapreplace(self._free_at, start + work)
        self.busy += work
        self.total += work
        return wait + cost

    def talk_wait(self, local: float, k: int) -> float:
        """The wait at the talk's scale of a request that waits `local` seconds here: the chance part ÷ k,
        the backlog beyond BACKLOG_LUMPS average requests' work per vCPU in full."""
        if k <= 1:
            return local
        backlog = max(0.0, local - BACKLOG_LUMPS * self._lump / self.count)
        return local / k + backlog * (1.0 - 1.0 / k)

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
