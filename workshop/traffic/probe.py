"""A steady trickle of requests, to watch an outage begin and end: behaviour checks and notebook demos.

Not a load test (that is `workshop traffic`: Locust, in its own process). A probe sends a few
requests a second from a small thread pool in the caller's process and records, for each,
when it was sent, whether it was answered 2xx/3xx, and who answered (the web app's
`X-Instance-Id` and `X-Availability-Zone` headers). From those: the errors in a window, when
the first error came, when answers came back (`recovered_at`), and how answers spread over
instances and AZs. Every request has a short timeout, so a dead server shows as an error
within a second, never as a hang.

`where(name)` turns a course name (a `www` record, a load balancer's or distribution's DNS
name, an instance's) into the URL and `Host` header to send: on the local target the data
plane's loopback port (records through the edge, which routes by `Host`); on AWS the name.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .. import config
from ..errors import BadInput, WorkshopError


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the probe started, when the request was sent
    ok: bool
    status: int | None
    latency: float
    instance: str | None = None
    az: str | None = None
    error: str | None = None
    source: str | None = None  # the app's X-Data-Source (cache, reader, writer), if any


@dataclass
class Result:
    samples: list[Sample] = field(default_factory=list)
    duration: float = 0.0

    def between(self, t0: float = 0.0, t1: float = float("inf")) -> list[Sample]:
        return [s for s in self.samples if t0 <= s.t < t1]

    def errors(self, t0: float = 0.0, t1: float = float("inf")) -> int:
        return sum(not s.ok for s in self.between(t0, t1))

    def ok_count(self, t0: float = 0.0, t1: float = float("inf")) -> int:
        return sum(s.ok for s in self.between(t0, t1))

    @property
    def first_error_at(self) -> float | None:
        return next((s.t for s in sorted(self.samples, key=lambda s: s.t) if not s.ok), None)

    @property
    def recovered_at(self) -> float | None:
        """When answers came back for good: the first ok after the last error (None: never failed, or never back)."""
        ordered = sorted(self.samples, key=lambda s: s.t)
        last_error = max((i for i, s in enumerate(ordered) if not s.ok), default=None)
        if last_error is None:
            return None
        return next((s.t for s in ordered[last_error + 1:] if s.ok), None)

    def by_az(self, t0: float = 0.0, t1: float = float("inf")) -> Counter:
        return Counter(s.az for s in self.between(t0, t1) if s.ok and s.az)

    def by_instance(self, t0: float = 0.0, t1: float = float("inf")) -> Counter:
        return Counter(s.instance for s in self.between(t0, t1) if s.ok and s.instance)

    def seconds(self) -> list[dict]:
        """One row per second: ok, errors, and the AZs that answered."""
        rows = []
        for second in range(int(self.duration) + 1):
            window = self.between(second, second + 1)
            if window:
                rows.append({"second": second, "ok": sum(s.ok for s in window), "errors": sum(not s.ok for s in window),
                             "azs": dict(Counter(s.az for s in window if s.ok and s.az))})
        return rows

    def timeline(self) -> str:
        """A one-line picture, a character a second: '.' all answered, 'x' all failed, '~' some failed."""
        marks = []
        for row in self.seconds():
            marks.append("." if not row["errors"] else ("x" if not row["ok"] else "~"))
        return "".join(marks)


@dataclass(frozen=True)
class Where:
    url: str  # http://host:port (no path)
    host_header: str | None = None


def where(name: str, target: config.Target | None = None) -> Where:
    """Where to send requests for a course name (or a loopback URL) on `target` (default: the current one)."""
    from ..localaws import discover

    t = target or config.current()
    raw = (name or "").strip()
    if "://" in raw:
        parts = urlsplit(raw)
        if t.is_local and not config.is_loopback_url(raw):
            raise BadInput(f"refused {raw!r}: on the local target requests go to this machine only")
        return Where(f"{parts.scheme}://{parts.netloc}")
    host = raw.lower().rstrip(".")
    if not t.is_local:
        return Where(f"http://{host}")
    from .. import aws

    listing = discover.endpoints(aws.endpoint(t))["endpoints"]
    for e in listing:
        if e.get("protocol") == "http" and host in (n.lower().rstrip(".") for n in e.get("names") or ()):
            return Where(e["url"], host if e["kind"] == "record" else None)
    known = sorted(n for e in listing if e.get("protocol") == "http" for n in e.get("names") or ())
    raise WorkshopError(f"nothing on the local AWS answers as {name!r}; it serves: {', '.join(known) or 'nothing yet'} "
                        "(see 'workshop status')")


class Probe:
    """Send `rate` requests a second to `url` (+ `path`) until stopped; `with Probe(...) as p:` runs it."""

    def __init__(self, url: str, rate: float = 20.0, path: str = "/", host_header: str | None = None,
                 timeout: float = 1.0, workers: int = 8):
        if not 0 < rate <= 200:
            raise BadInput(f"rate={rate!r}: a probe sends 1 to 200 requests a second (a load test is 'workshop traffic')")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise BadInput(f"{url!r} is not an http:// URL")
        self.host, self.port = parts.hostname, parts.port or 80
        self.path, self.host_header, self.timeout, self.rate = path, host_header, timeout, rate
        self.result = Result()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
        self._thread: threading.Thread | None = None
        self._started = 0.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _one(self) -> None:
        began = time.monotonic()
        sent = began - self._started  # when it really went out (a busy pool may start it late)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Host": self.host_header} if self.host_header else {}
        try:
            conn.request("GET", self.path, headers=headers)
            r = conn.getresponse()
            r.read()
            sample = Sample(sent, 200 <= r.status < 400, r.status, time.monotonic() - began,
                            r.getheader("X-Instance-Id"), r.getheader("X-Availability-Zone"),
                            None if r.status < 400 else f"HTTP {r.status}", r.getheader("X-Data-Source"))
        except (OSError, http.client.HTTPException) as exc:
            sample = Sample(sent, False, None, time.monotonic() - began, error=type(exc).__name__)
        finally:
            conn.close()
        with self._lock:
            self.result.samples.append(sample)

    def _loop(self) -> None:
        gap, n = 1.0 / self.rate, 0
        while not self._stop.is_set():
            due = self._started + n * gap
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            self._pool.submit(self._one)
            n += 1

    def start(self) -> Probe:
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Result:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.result.duration = self.elapsed
        with self._lock:
            self.result.samples.sort(key=lambda s: s.t)
        return self.result

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def probe(url: str, seconds: float, rate: float = 20.0, **kwargs) -> Result:
    """Probe `url` for `seconds` and return what happened."""
    p = Probe(url, rate, **kwargs).start()
    try:
        time.sleep(seconds)
    finally:
        result = p.stop()
    return result
