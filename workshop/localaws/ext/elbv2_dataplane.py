"""Application Load Balancers that route real HTTP requests on loopback.

Every `active` Application Load Balancer with an HTTP listener gets a loopback port, published
as `Endpoint("load-balancer", arn, port, names=(DNSName,), details={...})` (see `workshop status`
and `GET /_workshop/endpoints`). On AWS ("How Application Load Balancers work", ELB User Guide):

- the listener's rules are evaluated by priority (conditions `path-pattern`, `host-header` and
  `http-request-method`, with `*`/`?` wildcards; a rule with another condition type never
  applies here), else its default action: `forward` to a target group (a weighted
  `ForwardConfig` picks a group by weight) or `fixed-response` as configured;
- requests go round-robin over the group's **healthy** targets in every enabled AZ (cross-zone
  load balancing is always on for ALBs, "Cross-zone load balancing for target groups"); if a
  group has only unhealthy targets, the load balancer fails open and routes to all of them
  ("Health checks for Application Load Balancer target groups");
- a target is an instance whose web server is on the data plane (kind `instance`); a target
  with nothing listening for it is never routed to, except one that stopped answering while EC2
  says `running` (its AZ lost): it keeps its last port until the health checks take it out;
- no routable target -> 503; the target refuses or drops the connection -> 502; no answer within
  the idle timeout -> 504 ("Troubleshoot your Application Load Balancers": HTTP 502, 503, 504),
  each with the load balancer's own HTML page and `Server: awselb/2.0`;
- the target gets `X-Forwarded-For` (the client's address appended), `X-Forwarded-Proto`,
  `X-Forwarded-Port` and `X-Amzn-Trace-Id` ("HTTP headers and Application Load Balancers",
  "Request tracing for your Application Load Balancer"); its answer's headers come back as sent.

Health comes from real HTTP checks (`_elbv2_probes`), with AWS's timers divided by
`_elbv2_probes.TIME_SCALE` (30): the default check every 30 s with 2 failures to go unhealthy
becomes a check a second, out of service after 2 s; the idle timeout (60 s) becomes 2 s.

Every `METRICS_EVERY_S` seconds the request counts, response times and host counts go to
CloudWatch's `AWS/ApplicationELB` namespace (`_elbv2_metrics`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import threading
import time
import weakref

import aiohttp
from aiohttp import web

from . import _elbv2_metrics as metrics
from . import _elbv2_model as model
from . import _elbv2_probes as probes
from . import _proxy

log = logging.getLogger("workshop.localaws.elbv2")

#: seconds between two flushes of the request counts to CloudWatch
METRICS_EVERY_S = 5.0
#: seconds between two reads of moto's state (API calls that change it also trigger one)
RECONCILE_EVERY_S = 1.0
#: how long the load balancer waits for a target to accept a connection (AWS: 10 s, scaled)
CONNECT_TIMEOUT_S = probes.scaled(10, floor=0.5)
#: the load balancer's own answers: the status line's text, as an ALB words it
ALB_ERRORS = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable", 504: "504 Gateway Time-out"}

_planes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def plane_of(server) -> LoadBalancers | None:
    """The load balancers' data plane of a local AWS (None when the extension is not installed)."""
    return _planes.get(server)


def alb_error(status: int) -> web.Response:
    title = ALB_ERRORS[status]
    body = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    return web.Response(status=status, body=body.encode(), headers={"Server": "awselb/2.0", "Content-Type": "text/html"})


def trace_id(existing: str | None) -> str:
    """Keep the caller's `Root=` (as ALB does), else start a trace: `Root=1-<epoch hex>-<24 hex>`."""
    if existing and "Root=" in existing:
        return existing
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"


class _Listener:
    def __init__(self, spec: model.Balancer, http, server, port: int):
        self.spec, self.http, self.server, self.port = spec, http, server, port
        self.counts = metrics.Counts()


class LoadBalancers:
    """The load balancers of one local AWS: their ports, health checks and metrics."""

    def __init__(self, server):
        self.server = server
        self.dataplane = server.dataplane
        self.listeners: dict[str, _Listener] = {}
        self.groups: dict[str, model.Group] = {}
        self._lock = threading.Lock()
        self._rr: dict[str, itertools.count] = {}
        self._probers: dict[str, asyncio.Task] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._client = None
        self._probe_client = None
        self._stopped = False
        #: target id -> the port its web server last answered on (see `_port`)
        self._ports: dict[str, int] = {}

    # --- moto's state -> the data plane ---------------------------------------------------
    def reconcile(self) -> None:
        """Open, update or close listeners and health checks to match moto's load balancers."""
        if self._stopped:
            return
        with self._lock:
            try:
                balancers, groups = model.read()
            except RuntimeError:  # moto's dicts changed while read from this thread: next time
                return
            if not balancers and not self.listeners:
                return
            changed = {arn for arn, g in groups.items() if self.groups.get(arn) != g}
            self.groups = groups
            for arn in list(self.listeners):
                if arn not in balancers:
                    self.dataplane.run(self._close(arn))
            for arn, spec in balancers.items():
                current = self.listeners.get(arn)
                if current is None:
                    self.dataplane.run(self._open(spec))
                elif current.spec != spec:
                    current.spec = spec
                    self._publish(current)
            self.dataplane.run(self._sync_probers(changed))

    def _publish(self, listener: _Listener) -> None:
        from ..dataplane import Endpoint

        spec = listener.spec
        self.dataplane.publish(Endpoint(
            "load-balancer", spec.arn, listener.port, account=spec.account, region=spec.region,
            names=(spec.dns_name,),
            details={"name": spec.name, "azs": list(spec.azs), "listener_port": spec.listener_port,
                     "time_scale": probes.TIME_SCALE,
                     "idle_timeout_s": round(probes.scaled(spec.idle_timeout_s, floor=1.0), 3),
                     "note": f"health-check and idle timers run {probes.TIME_SCALE}x faster than on AWS"}))

    async def _open(self, spec: model.Balancer) -> None:
        if self._client is None:
            self._client = _proxy.session()
            # a health check opens and closes its own connection, as the load balancer's does
            self._probe_client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=0))
        listener = _Listener(spec, None, None, 0)

        async def handle(request):
            return await self._handle(listener, request)

        listener.http, listener.server, listener.port = await _proxy.serve(handle)
        self.listeners[spec.arn] = listener
        self._publish(listener)
        log.info("load balancer %s answers on 127.0.0.1:%d", spec.dns_name, listener.port)

    async def _close(self, arn: str) -> None:
        listener = self.listeners.pop(arn, None)
        self.dataplane.withdraw("load-balancer", arn)
        if listener is not None:
            await _proxy.close(listener.http, listener.server)

    # --- health checks ------------------------------------------------------------------------
    async def _sync_probers(self, changed: set[str]) -> None:
        for arn in list(self._probers):
            if arn not in self.groups:
                self._probers.pop(arn).cancel()
        for arn in self.groups:
            if arn not in self._probers or self._probers[arn].done():
                self._wake[arn] = asyncio.Event()
                self._probers[arn] = asyncio.create_task(self._probe_group(arn), name=f"health-check {arn}")
            elif arn in changed:
                self._wake[arn].set()

    async def _probe_group(self, arn: str) -> None:
        trackers: dict[str, probes.Tracker] = {}
        try:
            while True:
                group = self.groups.get(arn)
                if group is None:
                    return
                checks = []
                for target in group.targets:
                    port = self._port(target)
                    if port is None:
                        if trackers.pop(target.id, None) is not None:
                            probes.forget(arn, target.id)
                        continue
                    if target.id not in trackers:
                        trackers[target.id] = probes.Tracker()
                        probes.record(arn, target.id, probes.INITIAL)
                    checks.append(self._check(group, target, port, trackers[target.id]))
                for gone in set(trackers) - {t.id for t in group.targets}:
                    trackers.pop(gone)
                    probes.forget(arn, gone)
                if checks:
                    await asyncio.gather(*checks)
                wake = self._wake.setdefault(arn, asyncio.Event())
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), probes.scaled(group.interval_s))
                except asyncio.TimeoutError:
                    pass
        finally:
            for target_id in trackers:
                probes.forget(arn, target_id)

    async def _check(self, group: model.Group, target: model.Target, port: int, tracker: probes.Tracker) -> None:
        timeout = min(probes.scaled(group.timeout_s, floor=probes.MIN_TIMEOUT_S), probes.scaled(group.interval_s))
        ok, reason, description = await probes.check(self._probe_client, port, group.path,
                                                     target.private_ip or "127.0.0.1", timeout, group.matcher)
        verdict = tracker.passed(group.healthy_threshold) if ok else \
            tracker.failed(group.unhealthy_threshold, reason, description)
        probes.record(group.arn, target.id, verdict)

    def _port(self, target: model.Target) -> int | None:
        """Where a running target's web server is, or was: an instance that stopped answering while EC2 says
        `running` (its AZ lost) keeps its last port, so health checks and requests meet a refused connection
        until the checks take it out, as on AWS; a stopped one is taken out at once (`Target.InvalidState`)."""
        if target.state != "running":
            self._ports.pop(target.id, None)
            return None
        endpoint = self.dataplane.find("instance", target.id)
        if endpoint is not None:
            self._ports[target.id] = endpoint.port
            return endpoint.port
        fleet = getattr(self.server, "ec2_web", None)  # a restart between two reads of moto's state is not an outage
        return self._ports.get(target.id) if fleet is not None and fleet.is_dark(target.id, target.az or "") else None

    # --- routing ---------------------------------------------------------------------------
    def routable(self, spec: model.Balancer, group: model.Group) -> list[tuple[model.Target, int]]:
        """(target, port) of the healthy targets in the load balancer's AZs; all unhealthy ones if none (fail open)."""
        healthy, unhealthy = [], []
        for target in group.targets:
            if target.state != "running" or (spec.azs and target.az and target.az not in spec.azs):
                continue
            port = self._port(target)
            found = probes.verdict(group.arn, target.id)
            if port is None or found is None:
                continue
            if found.state == "healthy":
                healthy.append((target, port))
            elif found.state == "unhealthy":
                unhealthy.append((target, port))
        return healthy or unhealthy

    def _pick(self, spec: model.Balancer, action: model.Action) -> tuple[model.Group | None,
                                                                         tuple[model.Target, int] | None]:
        choices = [(arn, w) for arn, w in action.groups if w > 0 and arn in self.groups]
        if not choices:
            return None, None
        arn = choices[0][0] if len(choices) == 1 else random.choices([a for a, _ in choices], [w for _, w in choices])[0]
        group = self.groups[arn]
        ready = self.routable(spec, group)
        if not ready:
            return group, None
        turn = next(self._rr.setdefault(arn, itertools.count()))
        return group, ready[turn % len(ready)]

    async def _handle(self, listener: _Listener, request: web.BaseRequest) -> web.StreamResponse:
        spec, counts = listener.spec, listener.counts
        counts.add("RequestCount")
        action = spec.action_for(request.method, request.headers.get("Host", ""), request.path) if spec.rules \
            else spec.action
        if action.type == "fixed-response":
            return web.Response(status=action.status, text=action.body, content_type=action.content_type.split(";")[0],
                                headers={"Server": "awselb/2.0"})
        group, chosen = self._pick(spec, action) if action.type == "forward" else (None, None)
        if chosen is None:
            counts.add("HTTPCode_ELB_5XX_Count")
            counts.add("HTTPCode_ELB_503_Count")
            return alb_error(503)
        target, port = chosen
        counts.sent(group.arn)
        headers = _proxy.end_to_end(request.headers)
        client = _proxy.client_ip(request)
        previous = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{previous}, {client}" if previous else client
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Forwarded-Port"] = str(spec.listener_port)
        headers["X-Amzn-Trace-Id"] = trace_id(request.headers.get("X-Amzn-Trace-Id"))
        body = await request.read()
        started = time.perf_counter()
        try:
            answer = await _proxy.forward(self._client, port, request.method, request.raw_path, headers, body,
                                          read_timeout_s=probes.scaled(spec.idle_timeout_s, floor=1.0),
                                          connect_timeout_s=CONNECT_TIMEOUT_S)
        except _proxy.Refused:
            counts.add("HTTPCode_ELB_5XX_Count")
            counts.add("HTTPCode_ELB_502_Count")
            return alb_error(502)
        except _proxy.TimedOut:
            counts.add("HTTPCode_ELB_5XX_Count")
            counts.add("HTTPCode_ELB_504_Count")
            return alb_error(504)
        counts.took(time.perf_counter() - started)
        counts.add(f"HTTPCode_Target_{answer.status // 100}XX_Count")
        return answer.response(request.method)

    # --- metrics -----------------------------------------------------------------------------
    def host_counts(self, spec: model.Balancer, group: model.Group) -> tuple[int, int]:
        """(healthy, unhealthy) targets of `group` as DescribeTargetHealth reports them."""
        healthy = unhealthy = 0
        for target in group.targets:
            if target.state != "running":
                continue
            found = probes.verdict(group.arn, target.id)
            state = found.state if found is not None else "healthy"
            healthy += state == "healthy"
            unhealthy += state == "unhealthy"
        return healthy, unhealthy

    def healthy_hosts(self, lb_arn: str) -> int:
        """How many healthy targets the load balancer's target groups have (0 for an unknown one)."""
        listener = self.listeners.get(lb_arn)
        if listener is None:
            return 0
        return sum(self.host_counts(listener.spec, self.groups[arn])[0]
                   for arn in listener.spec.group_arns if arn in self.groups)

    def flush_metrics(self) -> int:
        """Put the counts since the last flush into moto's CloudWatch; the number of data points put."""
        return metrics.flush(list(self.listeners.values()), self.groups, self.host_counts,
                             lambda name: self.dataplane.scale_for(name=name))

    # --- stop ------------------------------------------------------------------------------
    async def shutdown(self) -> None:
        self._stopped = True
        for task in self._probers.values():
            task.cancel()
        await asyncio.gather(*self._probers.values(), return_exceptions=True)
        self._probers.clear()
        for arn in list(self.listeners):
            await self._close(arn)
        for client in (self._client, self._probe_client):
            if client is not None:
                await client.close()


def _is_elb_or_ec2(request) -> bool:
    from ..server import signed_scope

    return request.method == "POST" and signed_scope(request).service in ("elasticloadbalancing", "ec2")


def install(server) -> None:
    plane = LoadBalancers(server)
    _planes[server] = plane
    server.after(_is_elb_or_ec2, lambda request, response: plane.reconcile())
    server.background("elbv2-dataplane", plane.reconcile, RECONCILE_EVERY_S)
    server.background("elbv2-metrics", plane.flush_metrics, METRICS_EVERY_S)
    server.dataplane.on_stop(plane.shutdown)
