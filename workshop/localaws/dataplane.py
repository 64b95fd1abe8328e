"""The local AWS's data plane: what answers traffic, as opposed to the API that manages it.

On AWS, an instance's web server, a DB instance's MySQL port, a cache node's Redis port, a
load balancer's listener and a CloudFront distribution each answer on their own address.
Here each gets a loopback port, opened by the extension that emulates it, all served by
one asyncio event loop in one thread of the local AWS's process (so two cores can play
the twenty-odd machines of stage 8).

The contract for extensions (`server.dataplane`):

- `run(coro, timeout)`: run a coroutine on the loop from any other thread, return its result;
  `submit(coro)`: start it and return a `concurrent.futures.Future`;
- `publish(endpoint)` / `withdraw(kind, resource_id)`: what listens where; `find(kind, id)`,
  `by_host(name)` (an AWS DNS name such as the load balancer's, or a record's), `listing()`;
- `on_stop(hook)`: called (on the loop's thread) before the loop ends, to close listeners;
- `scale` (`set_scale(k, run=None)`, `scale_for(run=..., name=...)`): one request here stands
  for `k` at the talk's scale. Emulated machines read it: a request puts `k` requests' work on
  their vCPUs (`slots.py`), so a server saturates at 1/k of a real one's request rate, with a
  real request's latency and the CPUUtilization the talk-scale traffic would cause. A scale is
  kept per course run (notebooks running side by side on one local AWS each drive their own
  run's machines: a machine belongs to a run by its `workshop:run` tag or its `sbs-<run>-`
  name); without a run it is the default for every machine of no run with a scale of its own.
  `workshop traffic --scale K` sets it (`POST /_workshop/dataplane/scale` with
  `{"scale": K, "run": "<run id>"}`).

`GET /_workshop/endpoints` on the local AWS answers `listing()` as JSON: `workshop status
--json` and `workshop traffic` (which accepts only the course's own URLs) read it there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
import threading
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("workshop.localaws.dataplane")

#: a course run id, as `workshop/config.py` accepts it
_RUN = re.compile(r"[A-Za-z0-9-]{1,20}")
#: the largest `scale` the data plane accepts (one local request standing for this many)
MAX_SCALE = 100_000

#: the kinds of things that answer traffic, and the protocol each speaks
KINDS = {"instance": "http", "load-balancer": "http", "distribution": "http", "record": "http",
         "db-instance": "mysql", "cache-node": "redis", "edge": "http"}


@dataclass(frozen=True)
class Endpoint:
    """One thing that answers on a loopback port: `kind` (see KINDS) and its AWS id."""

    kind: str
    resource_id: str
    port: int
    host: str = "127.0.0.1"
    account: str = ""
    region: str = ""
    #: the names AWS would give it (a load balancer's or distribution's DNS name, a record's name):
    #: a request to the edge with one of these as its Host header reaches this endpoint
    names: tuple[str, ...] = ()
    #: anything else a reader needs (an instance's AZ and type, a DB's role, ...)
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown data-plane kind {self.kind!r}; one of {sorted(KINDS)}")

    @property
    def protocol(self) -> str:
        return KINDS[self.kind]

    @property
    def url(self) -> str:
        scheme = "http" if self.protocol == "http" else self.protocol
        return f"{scheme}://{self.host}:{self.port}"

    def as_dict(self) -> dict:
        out = asdict(self)
        out["names"] = list(self.names)
        out["protocol"], out["url"] = self.protocol, self.url
        return out


class DataPlane:
    """One asyncio loop in a daemon thread, and the registry of what listens where."""

    def __init__(self, name: str = "local-aws:dataplane"):
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        #: name (lower case, no trailing dot) -> the keys of the endpoints answering to it, first published first:
        #: `by_host` runs per proxied request and per record on every Route 53 reconcile
        self._by_name: dict[str, list[tuple[str, str]]] = {}
        self._on_stop: list[Callable[[], Any]] = []
        self._started = threading.Event()
        self.scale = 1  # the default: machines of no run with a scale of its own
        self._scales: dict[str, int] = {}  # run id -> scale

    def set_scale(self, k, run: str | None = None) -> int:
        """Set how many requests at the talk's scale one local request stands for (1..MAX_SCALE),
        for one course run's machines, or (no run) the default."""
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_SCALE:
            raise ValueError(f"scale must be a whole number from 1 to {MAX_SCALE:,}, not {k!r}")
        if run is not None and not (isinstance(run, str) and _RUN.fullmatch(run)):
            raise ValueError(f"run must be a course run id (letters, digits and '-', at most 20), not {run!r}")
        if run is None:
            self.scale = k
        else:
            with self._lock:
                self._scales[run] = k
        return k

    def scale_for(self, run: str | None = None, name: str | None = None) -> int:
        """The scale of a machine of course run `run` (its `workshop:run` tag), or named `name`
        (`sbs-<run>-...`: the longest run id that fits); else the default."""
        with self._lock:
            if run and run in self._scales:
                return self._scales[run]
            if name:
                fitting = [r for r in self._scales if name.startswith(f"sbs-{r}-")]
                if fitting:
                    return self._scales[max(fitting, key=len)]
        return self.scale

    def scales(self) -> dict[str, int]:
        with self._lock:
            return dict(self._scales)

    # --- the loop ---------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (started on first use)."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
        self._started.wait()
        return self._loop

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._started.set)
        self._loop.run_forever()

    @property
    def running(self) -> bool:
        return self._loop is not None and self._loop.is_running()

    def submit(self, coro: Coroutine) -> concurrent.futures.Future:
        """Start `coro` on the loop; its Future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine, timeout: float | None = 30.0):
        """Run `coro` on the loop and wait for its result (never call this from the loop itself)."""
        if self._thread is not None and threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("DataPlane.run() called on the data plane's own loop: await the coroutine instead")
        return self.submit(coro).result(timeout)

    def on_stop(self, hook: Callable[[], Any]) -> None:
        """`hook()` (a function or a coroutine function) runs on the loop before it ends."""
        self._on_stop.append(hook)

    def stop(self, timeout: float = 5.0) -> None:
        """Run the stop hooks, cancel what is left on the loop, end its thread. Idempotent."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return

        async def _shutdown():
            for hook in reversed(self._on_stop):
                try:
                    result = hook()
                    if asyncio.iscoroutine(result):
                        await asyncio.wait_for(result, timeout)
                except Exception:
                    log.exception("data-plane stop hook failed")
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(_shutdown(), loop).result(timeout + 2)
        except Exception:
            log.exception("data-plane shutdown did not finish")
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
        if not loop.is_running():
            loop.close()
        with self._lock:
            self._endpoints.clear()
            self._by_name.clear()

    # --- the registry -----------------------------------------------------------------
    @staticmethod
    def _names(endpoint: Endpoint) -> set[str]:
        return {n.lower().rstrip(".") for n in endpoint.names}

    def _unindex(self, key: tuple[str, str], endpoint: Endpoint | None) -> None:
        for name in self._names(endpoint) if endpoint is not None else ():
            keys = self._by_name.get(name, [])
            if key in keys:
                keys.remove(key)
            if not keys:
                self._by_name.pop(name, None)

    def publish(self, endpoint: Endpoint) -> Endpoint:
        key = (endpoint.kind, endpoint.resource_id)
        with self._lock:
            before = self._endpoints.get(key)
            self._endpoints[key] = endpoint
            if before is not None and self._names(before) == self._names(endpoint):
                return endpoint  # the same names: it keeps its place among the endpoints answering to them
            self._unindex(key, before)
            for name in self._names(endpoint):
                self._by_name.setdefault(name, []).append(key)
        return endpoint

    def withdraw(self, kind: str, resource_id: str) -> Endpoint | None:
        with self._lock:
            gone = self._endpoints.pop((kind, resource_id), None)
            self._unindex((kind, resource_id), gone)
            return gone

    def find(self, kind: str, resource_id: str) -> Endpoint | None:
        with self._lock:
            return self._endpoints.get((kind, resource_id))

    def of_kind(self, kind: str) -> list[Endpoint]:
        with self._lock:
            return [e for (k, _), e in self._endpoints.items() if k == kind]

    def by_host(self, host: str) -> Endpoint | None:
        """The endpoint one of whose AWS names is `host` (any port and trailing dot dropped, any case)."""
        name = (host or "").strip().lower()
        if name.startswith("["):
            return None
        name = name.rsplit(":", 1)[0].rstrip(".")
        if not name:
            return None
        with self._lock:
            keys = self._by_name.get(name)
            return self._endpoints[keys[0]] if keys else None

    def listing(self) -> list[dict]:
        """Every endpoint as a dict (kind, resource_id, url, names, details, ...), by kind then id."""
        with self._lock:
            found = list(self._endpoints.values())
        return [e.as_dict() for e in sorted(found, key=lambda e: (e.kind, e.resource_id))]

    def to_json(self) -> str:
        return json.dumps({"endpoints": self.listing(), "scale": self.scale, "scales": self.scales()})


async def free_port_server(factory, host: str = "127.0.0.1", port: int = 0, **kwargs) -> asyncio.base_events.Server:
    """`loop.create_server(factory, host, port)` on loopback; port 0 picks a free one (read it from
    `server.sockets[0].getsockname()[1]`)."""
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError(f"the data plane listens on loopback only, not on {host!r}")
    return await asyncio.get_running_loop().create_server(factory, host, port, **kwargs)
