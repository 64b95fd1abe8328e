"""Requests to the site by its public name, as a browser or `curl` sends them (stages 4 and 5).

`www.<zone>` is a Route 53 alias of the load balancer. On AWS `curl http://www.<zone>/` resolves
the name and connects; on the local AWS one *edge* port stands for DNS and the internet and
routes by the `Host` header (docs/local-routing.md), so the same request is
`curl -H 'Host: www.<zone>' http://127.0.0.1:<edge port>/`. `traffic.probe.where` finds which.

Each answer of the course's web app says who served it (`X-Instance-Id`, `X-Availability-Zone`)
and where the page's data came from (`X-Data-Source`: writer, reader, cache, or `none` when the
database did not answer: the page is still a 200, with a line saying the database is down).
"""

from __future__ import annotations

import http.client
import time
from collections import Counter
from urllib.parse import urlsplit

from ..traffic import probe
from . import infra

#: seconds a fresh target may stay in its first health check before the site answers (30 s / 30 on the local AWS)
FIRST_CHECK_S = 3.0


def where(ctx, name: str | None = None) -> probe.Where:
    """The URL and Host header for `name` (default: the run's `www` name) on the context's target."""
    return probe.where(name or infra.www(ctx), ctx.target)


def curl(w: probe.Where, path: str = "/") -> str:
    """The `curl` command that sends the same request (what a learner can paste into a terminal)."""
    header = f"-H 'Host: {w.host_header}' " if w.host_header else ""
    return f"curl -si {header}{w.url}{path}"


def get(w: probe.Where, path: str = "/", timeout: float = 2.0) -> probe.Sample:
    """One GET, answered or not (never raises for a refused or dropped connection)."""
    parts = urlsplit(w.url)
    began = time.monotonic()
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": w.host_header} if w.host_header else {})
        r = conn.getresponse()
        r.read()
        return probe.Sample(0.0, 200 <= r.status < 400, r.status, time.monotonic() - began,
                            r.getheader("X-Instance-Id"), r.getheader("X-Availability-Zone"),
                            None if r.status < 400 else f"HTTP {r.status}", r.getheader("X-Data-Source"))
    except (OSError, http.client.HTTPException) as exc:
        return probe.Sample(0.0, False, None, time.monotonic() - began, error=type(exc).__name__)
    finally:
        conn.close()


def get_many(w: probe.Where, n: int = 8, path: str = "/", settle_s: float = FIRST_CHECK_S) -> list[probe.Sample]:
    """`n` GETs one after the other; a first answer of 503 (targets still in their first health check)
    is waited out for up to `settle_s` seconds."""
    deadline = time.monotonic() + settle_s
    first = get(w, path)
    while first.status == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
        first = get(w, path)
    return [first] + [get(w, path) for _ in range(n - 1)]


def good(sample: probe.Sample) -> bool:
    """Answered, and with its data: a page whose database did not answer counts as failed."""
    return sample.ok and sample.source != "none"


def table(samples: list[probe.Sample]) -> str:
    """One line per answer: status, instance, AZ and data source, as `curl -si` would show the headers."""
    lines = []
    for n, s in enumerate(samples, 1):
        who = f"{s.instance or '-':22} {s.az or '-':12} X-Data-Source: {s.source or '-'}" if s.status else s.error
        lines.append(f"{n:2}  {s.status or '---'}  {who}")
    return "\n".join(lines)


def spread(samples: list[probe.Sample]) -> tuple[Counter, Counter]:
    """(answers by AZ, answers by instance) of the samples that were answered."""
    answered = [s for s in samples if s.ok]
    return Counter(s.az for s in answered if s.az), Counter(s.instance for s in answered if s.instance)


def alternates(samples: list[probe.Sample]) -> bool:
    """Did consecutive answers come from different AZs each time (the load balancer's round robin over two)?"""
    azs = [s.az for s in samples if s.ok]
    return len(azs) >= 2 and all(a != b for a, b in zip(azs, azs[1:]))
