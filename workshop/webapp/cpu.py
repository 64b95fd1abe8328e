"""CPU that behaves like an instance type's, for the local AWS's emulated instances (not shipped to AWS).

An instance has one slot per vCPU (`workshop/localaws/slots.py`, the same CPU the emulated DB
instances and cache nodes have). A dynamic request costs `1 / web_requests_per_vcpu` seconds
of one vCPU (the capacity model's 20 requests/s per vCPU: 50 ms), a static one
`static_request_cost` of that (0.25: 12.5 ms), a POST `event_request_cost` (0.05) and a page built
from the cache (`X-Data-Source: cache`) `cached_request_cost` (0.2), as the capacity model counts
them (a page's CPU is booked after its handler has read its data, so it knows which); `GET /health` costs nothing. With the data
plane's scale K, one local request stands for K and puts K times its cost on the vCPUs (see
`slots.py`); a load balancer's health check (User-Agent `ELB-HealthChecker/2.0`) stands only for itself. A request that would wait more than `MAX_WAIT_S` for a vCPU is answered 503, as
an overloaded server (or its load balancer) answers. The vCPU-seconds spent (`busy_seconds`)
become CloudWatch's CPUUtilization.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ..capacity import assumptions as _assumptions
from ..localaws.slots import Overloaded, Slots

__all__ = ["MAX_WAIT_S", "Cpu", "Overloaded", "request_costs"]

#: a request that would wait longer than this for a vCPU is refused (a browser would give up soon after)
MAX_WAIT_S = 1.0


def request_costs() -> tuple[float, float]:
    """(seconds of one vCPU per dynamic request, per static request), from the capacity model."""
    d = _assumptions.defaults()
    dynamic = 1.0 / d["web_requests_per_vcpu"]
    return dynamic, dynamic * d["static_request_cost"]


#: the User-Agent of an Application Load Balancer's health checks (ELB User Guide, "Health checks
#: for Application Load Balancer target groups")
HEALTH_CHECKER = "ELB-HealthChecker/"


def is_health_check(request) -> bool:
    """A load balancer's health check stands for itself, not for K users' requests: at the data plane's
    scale K it costs one request's work (else, at a check a second per target, checks alone would
    keep a scaled fleet busy), and it is answered at once: its timeout is time-scaled (5 s -> 0.25 s)
    while the queue of talk-scale work is not, so waiting behind it would fail a busy, healthy server
    (on a real one the scheduler time-slices a check in)."""
    return request.headers.get("User-Agent", "").startswith(HEALTH_CHECKER)


class Cpu:
    """The vCPUs of one emulated instance, as aiohttp middleware."""

    def __init__(self, vcpus: int, scale: Callable[[], int] = lambda: 1, costs: tuple[float, float] | None = None,
                 max_wait_s: float = MAX_WAIT_S):
        if vcpus < 1:
            raise ValueError(f"an instance has at least 1 vCPU, not {vcpus}")
        self.vcpus = vcpus
        self._slots = Slots(vcpus, scale=scale)
        self.dynamic_s, self.static_s = costs or request_costs()
        d = _assumptions.defaults()
        self.event_share, self.cached_share = d["event_request_cost"], d["cached_request_cost"]
        self.max_wait_s = max_wait_s
        self.busy_seconds = 0.0  # vCPU-seconds of work done since start (only grows)
        self.served = self.refused = 0

    @property
    def slots(self) -> int:
        return self._slots.count

    def cost(self, path: str, method: str = "GET", source: str | None = None) -> float:
        """Seconds of one vCPU for a request, as the capacity model counts them (`capacity/model.py`, `_load`):
        a static file `static_request_cost`, a POST (a small write: the model's event) `event_request_cost`,
        a page built from the cache (`X-Data-Source: cache`) `cached_request_cost` of a dynamic page."""
        if path == "/health":
            return 0.0
        if path.startswith("/static/"):
            return self.static_s
        if method == "POST":
            return self.dynamic_s * self.event_share
        return self.dynamic_s * (self.cached_share if source == "cache" else 1.0)

    async def work(self, seconds: float, scaled: bool = True) -> None:
        """Put `seconds` (x scale, unless not `scaled`) on the vCPUs and wait for this request's turn;
        Overloaded past the limit."""
        await self._slots.hold(seconds, self.max_wait_s, scaled)
        self.busy_seconds += self._slots.take_busy()

    def middleware(self):
        @web.middleware
        async def cpu(request, handler):
            if is_health_check(request):
                seconds = self.cost(request.path)
                if seconds:
                    self._slots.book(seconds, None, scaled=False)  # its work counts, but it waits in no queue
                    self.busy_seconds += self._slots.take_busy()
                self.served += 1
                return await handler(request)
            after = request.method == "GET" and self.cost(request.path) == self.dynamic_s
            response = None
            if after:  # a page: what it costs depends on where its data came from (the cache is cheaper)
                response = await handler(request)
            seconds = self.cost(request.path, request.method,
                                response.headers.get("X-Data-Source") if response is not None else None)
            if seconds:
                try:
                    await self.work(seconds)
                except Overloaded as exc:
                    self.refused += 1
                    return web.Response(status=503, headers={"Retry-After": "1"},
                                        text=f"503 Service Unavailable: this instance is overloaded ({exc})\n")
            self.served += 1
            return response if response is not None else await handler(request)

        return cpu
