"""CPU slots of an emulated server: work queues when every slot is busy, and busy time becomes CPUUtilization.

An emulated DB instance or cache node has `vCPUs x scale` slots (see `dataplane.DataPlane.scale`).
A piece of work costs `seconds` of one slot (a read on a DB instance 1/db_reads_per_vcpu s, a
cache operation 1/cache_ops_per_vcpu s: `workshop/capacity/assumptions.py`). `hold(seconds)`
books the slot that frees first and sleeps (asyncio, never a busy loop) until the work would
be done there: when slots are free that is the work's own cost, when they are not it is the
wait in the queue as well. Costs shorter than `min_sleep` on a free slot are not slept at all
(a 40 us cache operation cannot be timed by the event loop's ~1 ms clock), but they are booked,
so a node driven past its capacity still queues and still shows 100% CPU.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time

log = logging.getLogger("workshop.localaws.slots")

#: the most slots one emulated server gets, whatever its type and the scale
MAX_SLOTS = 100_000
#: vCPUs assumed for a type the capacity model's table lacks
UNKNOWN_TYPE_VCPUS = 2


def slot_count(instance_type: str, scale: int) -> int:
    """vCPUs of `instance_type` (an EC2 type, DB instance class or cache node type, from
    `workshop/capacity/instance_types.py`) x `scale`, at most MAX_SLOTS."""
    from ..capacity.instance_types import ALL

    found = ALL.get(instance_type)
    if found is None:
        log.info("%s is not in the capacity model's table: counted as %d vCPUs", instance_type, UNKNOWN_TYPE_VCPUS)
    return min(MAX_SLOTS, (found.vcpu if found else UNKNOWN_TYPE_VCPUS) * max(1, int(scale)))


class Slots:
    """`count` slots of CPU (a float count is rounded up); `busy` accumulates booked seconds."""

    def __init__(self, count: float, min_sleep: float = 0.001):
        self._free_at: list[float] = []
        self.count = 0
        self.min_sleep = min_sleep
        self.busy = 0.0
        self.resize(count)

    def resize(self, count: float) -> None:
        """Change the number of slots (the data plane's scale changed), keeping what is booked."""
        wanted = max(1, int(-(-count // 1)))
        now = time.monotonic()
        while len(self._free_at) < wanted:
            heapq.heappush(self._free_at, now)
        if len(self._free_at) > wanted:
            self._free_at = heapq.nsmallest(wanted, self._free_at)
            heapq.heapify(self._free_at)
        self.count = wanted

    def book(self, seconds: float) -> float:
        """Book `seconds` on the slot that frees first; how long from now until that work is done."""
        now = time.monotonic()
        start = max(now, self._free_at[0])
        heapq.heapreplace(self._free_at, start + seconds)
        self.busy += seconds
        return start + seconds - now

    async def hold(self, seconds: float) -> None:
        """Book the work and wait until it would be done."""
        delay = self.book(seconds)
        if delay >= self.min_sleep:
            await asyncio.sleep(delay)

    def take_busy(self) -> float:
        """Booked seconds since the last call (for a utilisation figure), and start counting again."""
        busy, self.busy = self.busy, 0.0
        return busy

    def utilisation(self, busy: float, period: float) -> float:
        """Percent of the slots' time `busy` seconds fill in `period` seconds (at most 100)."""
        if period <= 0:
            return 0.0
        return min(100.0, 100.0 * busy / (self.count * period))
