"""CPU that behaves like an instance type's, for the local AWS's emulated instances (not shipped to AWS).

An instance has `vCPUs x scale` slots (`scale`: the data plane's, one local request standing
for many). A dynamic request holds a slot for `1 / web_requests_per_vcpu` seconds (the capacity
model's 20 requests/s per vCPU: 50 ms), a static one `static_request_cost` of that (0.25: 12.5 ms);
`GET /health` holds none. Holding is an `asyncio.sleep`, never a busy loop, so two real cores
can play twenty instances. When every slot is busy, requests wait in line, as they do in a web
server's accept queue; a request that finds `QUEUE_PER_SLOT x slots` already waiting, or has
waited `MAX_WAIT_S`, is answered 503, as an overloaded server (or its load balancer) answers.
The time slots were held is counted (`busy_seconds`): CloudWatch's CPUUtilization comes from it.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

from aiohttp import web

from ..capacity import assumptions as _assumptions

#: a request that finds this many waiting per slot is refused at once (1 s of work queued)
QUEUE_PER_SLOT = 20
#: a request that waited this long for a slot is refused (a browser would have given up soon after)
MAX_WAIT_S = 1.0


class Overloaded(Exception):
    pass


def request_costs() -> tuple[float, float]:
    """(seconds of one vCPU per dynamic request, per static request), from the capacity model."""
    d = _assumptions.defaults()
    dynamic = 1.0 / d["web_requests_per_vcpu"]
    return dynamic, dynamic * d["static_request_cost"]


class Cpu:
    """The CPU slots of one emulated instance."""

    def __init__(self, vcpus: int, scale: Callable[[], int] = lambda: 1, costs: tuple[float, float] | None = None,
                 queue_per_slot: int = QUEUE_PER_SLOT, max_wait_s: float = MAX_WAIT_S):
        if vcpus < 1:
            raise ValueError(f"an instance has at least 1 vCPU, not {vcpus}")
        self.vcpus, self.scale = vcpus, scale
        self.dynamic_s, self.static_s = costs or request_costs()
        self.queue_per_slot, self.max_wait_s = queue_per_slot, max_wait_s
        self.busy = 0                 # slots held now
        self.busy_seconds = 0.0       # slot-seconds held since start (only grows)
        self.served = self.refused = 0
        self._waiting: collections.deque[asyncio.Future] = collections.deque()

    @property
    def slots(self) -> int:
        return self.vcpus * max(1, int(self.scale()))

    def cost(self, path: str) -> float:
        if path == "/health":
            return 0.0
        return self.static_s if path.startswith("/static/") else self.dynamic_s

    async def _acquire(self) -> None:
        if self.busy < self.slots and not self._waiting:
            self.busy += 1
            return
        if len(self._waiting) >= self.queue_per_slot * self.slots:
            raise Overloaded(f"{len(self._waiting)} requests already wait for {self.slots} CPU slots")
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await asyncio.wait_for(turn, self.max_wait_s)  # _release hands its slot over: busy stays
        except asyncio.TimeoutError:
            raise Overloaded(f"waited {self.max_wait_s:g} s for one of {self.slots} CPU slots") from None
        finally:
            if turn in self._waiting:
                self._waiting.remove(turn)

    def _release(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.busy -= 1

    async def work(self, seconds: float) -> None:
        """Hold a slot for `seconds` (after waiting for one); Overloaded when the line is too long."""
        await self._acquire()
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.busy_seconds += loop.time() - began
            self._release()

    def middleware(self):
        @web.middleware
        async def cpu(request, handler):
            seconds = self.cost(request.path)
            if seconds:
                try:
                    await self.work(seconds)
                except Overloaded as exc:
                    self.refused += 1
                    return web.Response(status=503, headers={"Retry-After": "1"},
                                        text=f"503 Service Unavailable: this instance is overloaded ({exc})\n")
            self.served += 1
            return await handler(request)

        return cpu
