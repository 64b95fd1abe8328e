"""The edge: one loopback port that routes by `Host` header, as DNS and the internet would.

On AWS a browser resolves `www.<zone>` through Route 53 and connects to what the answer names.
Here one port per local AWS (published as kind `edge`) stands for both: a request to
`http://127.0.0.1:<edge port>/` with `Host: <name>` reaches

- a load balancer by its DNS name (`...elb.amazonaws.com`, with or without `dualstack.`),
  a distribution by its domain (`dxxxx.cloudfront.net`) or one of its aliases, an instance by its
  public or private DNS name: the same thing its own data-plane port answers;
- a record of a hosted zone (`www.<zone>`): an alias or CNAME is followed (at most 8 hops) to one
  of the above; an A record's address reaches the instance that has it (public or private IP).
  Each record that leads to one of these is published as kind `record` (port = the edge's,
  details `target`); a record of a database or cache endpoint (a MySQL or Redis name) is not.

Routing policies (Route 53 Developer Guide, "Choosing a routing policy"): simple; weighted picks a
record with probability weight/sum (all weights 0: equally); failover answers the PRIMARY record
unless it is an alias with EvaluateTargetHealth to a load balancer that has no healthy target
(then the SECONDARY); Route 53 health checks (HealthCheckId) are not evaluated; latency,
geolocation and multivalue records answer the first record by set identifier. A request for a record whose
target answers nowhere here (or is not HTTP) is a 502 that shows the chain of names.

An unknown Host is a 404 whose one line says how to list the known names (`workshop status`).
The edge forwards to 127.0.0.1 only (`_proxy`), whatever a record says: an address or a name
outside the local AWS is never contacted. The local AWS's API port keeps its own guard: it
still refuses Host names that are not this machine's.
"""

from __future__ import annotations

import logging
import random
import threading
import weakref
from dataclasses import dataclass

from aiohttp import web

from . import _proxy

log = logging.getLogger("workshop.localaws.edge")

#: what a name can reach through the edge
ROUTABLE = ("load-balancer", "distribution", "instance")
#: seconds the edge waits for what it forwards to (the load balancer enforces its own idle timeout)
READ_TIMEOUT_S = 120.0
RECONCILE_EVERY_S = 1.0
MAX_HOPS = 8

_edges: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def edge_of(server) -> Edge | None:
    return _edges.get(server)


def normal(name: str) -> str:
    """A DNS name as compared here: lower case, no trailing dot, no port, no `dualstack.` prefix."""
    name = (name or "").strip().lower()
    if name.startswith("["):
        return name
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    name = name.rstrip(".")
    return name[len("dualstack."):] if name.startswith("dualstack.") else name


@dataclass(frozen=True)
class Choice:
    target: str  # a DNS name or an IP address
    weight: int | None = None
    set_id: str | None = None
    failover: str | None = None
    evaluate: bool = False  # an alias's EvaluateTargetHealth


@dataclass(frozen=True)
class Record:
    zone_id: str
    name: str
    type: str
    choices: tuple[Choice, ...]

    def pick(self, healthy=lambda choice: True) -> Choice:
        choices = self.choices
        primary = [c for c in choices if (c.failover or "").upper() == "PRIMARY"]
        secondary = [c for c in choices if (c.failover or "").upper() == "SECONDARY"]
        if primary or secondary:
            return primary[0] if primary and (not secondary or healthy(primary[0])) else secondary[0]
        if any(c.weight is not None for c in choices):
            weights = [int(c.weight or 0) for c in choices]
            return random.choices(choices, weights if sum(weights) else None)[0]
        return sorted(choices, key=lambda c: c.set_id or "")[0]

    def describe(self) -> str:
        if len(self.choices) == 1:
            return self.choices[0].target
        return ", ".join(f"{c.target} ({'weight ' + str(c.weight) if c.weight is not None else c.failover or c.set_id})"
                         for c in self.choices)


def read_records() -> tuple[dict[str, Record], dict[str, str]]:
    """Route 53's A/AAAA/CNAME records by name, and instance IP -> instance id."""
    from moto.ec2.models import ec2_backends
    from moto.route53.models import route53_backends

    grouped: dict[tuple[str, str, str], list[Choice]] = {}
    for _account, _region, backend in list(route53_backends.iter_backends()):
        for zone in list(backend.zones.values()):
            for rr in list(zone.rrsets):
                if rr.type not in ("A", "AAAA", "CNAME"):
                    continue
                if rr.alias_target:
                    targets = [rr.alias_target.get("DNSName", "")]
                elif rr.type == "CNAME":
                    targets = list(rr.records[:1])
                else:
                    targets = list(rr.records)
                for target in targets:
                    if target:
                        weight = int(rr.weight) if rr.weight not in (None, "") else None
                        evaluate = str((rr.alias_target or {}).get("EvaluateTargetHealth", "")).lower() == "true"
                        grouped.setdefault((zone.id, normal(rr.name), rr.type), []).append(
                            Choice(normal(target), weight, rr.set_identifier, rr.failover, evaluate))
    records: dict[str, Record] = {}
    for (zone_id, name, rtype), choices in sorted(grouped.items()):
        if name not in records or rtype == "A":  # an A record wins over AAAA for the same name
            records[name] = Record(zone_id, name, rtype, tuple(choices))
    addresses: dict[str, str] = {}
    for _account, _region, ec2 in list(ec2_backends.iter_backends()):
        for reservation in list(getattr(ec2, "reservations", {}).values()):
            for instance in list(reservation.instances):
                for ip in (instance.public_ip, instance.private_ip):
                    if ip:
                        addresses[ip] = instance.id
    return records, addresses


class Edge:
    def __init__(self, server):
        self.server = server
        self.dataplane = server.dataplane
        self.records: dict[str, Record] = {}
        self.addresses: dict[str, str] = {}
        self.port = 0
        self._http = self._listener = self._client = None
        self._lock = threading.Lock()
        self._stopped = False
        self._published: dict = {}  # record name -> its Endpoint, as listed

    # --- moto's records -> routes ----------------------------------------------------------
    def reconcile(self) -> None:
        if self._stopped:
            return
        with self._lock:
            if not self.port:
                self.dataplane.run(self._open())
            try:
                records, addresses = read_records()
            except RuntimeError:  # moto's lists changed while read: next time
                return
            self.records, self.addresses = records, addresses
            self._publish_records()

    def _publish_records(self) -> None:
        """List (kind `record`) the records that lead to something HTTP here; withdraw the others.
        A record of a database or cache endpoint (stage 5's `reader` CNAMEs) is not the edge's."""
        from ..dataplane import Endpoint

        wanted = {}
        for name, record in self.records.items():
            if self.reaches(name):
                wanted[name] = Endpoint("record", f"{record.zone_id}/{name}", self.port, names=(name,),
                                        details={"target": record.describe(), "type": record.type,
                                                 "zone": record.zone_id})
        for name, endpoint in list(self._published.items()):
            if wanted.get(name) != endpoint:
                self.dataplane.withdraw("record", endpoint.resource_id)
                del self._published[name]
        for name, endpoint in wanted.items():
            if name not in self._published:
                self._published[name] = self.dataplane.publish(endpoint)

    def reaches(self, name: str, hops: int = MAX_HOPS) -> bool:
        """Can a request for `name` reach a load balancer, distribution or instance (by any weighted choice)?"""
        if hops <= 0:
            return False
        record = self.records.get(name)
        if record is None:
            endpoint = self.dataplane.by_host(name)
            return endpoint is not None and endpoint.kind in ROUTABLE
        for choice in record.choices:
            if choice.target in self.addresses:
                if self.dataplane.find("instance", self.addresses[choice.target]) is not None:
                    return True
            elif self.reaches(choice.target, hops - 1):
                return True
        return False

    def healthy(self, choice: Choice) -> bool:
        """Route 53's view of an alias with EvaluateTargetHealth: a load balancer with no healthy target is not
        ("Evaluate target health", Route 53 Developer Guide); anything else counts as healthy."""
        if not choice.evaluate:
            return True
        endpoint = self.dataplane.by_host(choice.target)
        if endpoint is None or endpoint.kind != "load-balancer":
            return True
        from . import elbv2_dataplane

        plane = elbv2_dataplane.plane_of(self.server)
        return plane is None or plane.healthy_hosts(endpoint.resource_id) > 0

    async def _open(self) -> None:
        from ..dataplane import Endpoint

        self._client = _proxy.session()
        self._http, self._listener, self.port = await _proxy.serve(self._handle)
        log.info("the edge routes by Host header on 127.0.0.1:%d", self.port)
        self.dataplane.publish(Endpoint("edge", "edge", self.port, details={
            "routes_by": "Host header: a load balancer's, distribution's or instance's DNS name, or a Route 53 record"}))

    async def shutdown(self) -> None:
        self._stopped = True
        if self._listener is not None:
            await _proxy.close(self._http, self._listener)
        if self._client is not None:
            await self._client.close()

    # --- routing ----------------------------------------------------------------------------
    def resolve(self, host: str):
        """The endpoint a request with this Host reaches, and the names followed; (None, chain) when nothing."""
        name, chain = normal(host), []
        for _ in range(MAX_HOPS):
            chain.append(name)
            record = self.records.get(name)
            if record is not None:
                name = record.pick(self.healthy).target
                instance_id = self.addresses.get(name)
                if instance_id is not None:
                    chain.append(name)
                    return self.dataplane.find("instance", instance_id), chain
                continue
            endpoint = self.dataplane.by_host(name)
            if endpoint is not None and endpoint.kind in ROUTABLE:
                return endpoint, chain
            return None, chain
        return None, chain

    def lookup(self, host: str):
        """What a client resolving `host` reaches, of any kind (a database's or cache's too: stage 5's app
        connects to `db-reader.<zone>`, weighted CNAMEs over the replicas): records followed, one weighted
        pick per call as one DNS answer; None when the chain ends nowhere here."""
        name = normal(host)
        for _ in range(MAX_HOPS):
            record = self.records.get(name)
            if record is None:
                return self.dataplane.by_host(name)
            name = record.pick(self.healthy).target
            if name in self.addresses:
                return self.dataplane.find("instance", self.addresses[name])
        return None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        endpoint, chain = self.resolve(host)
        if endpoint is None:
            if len(chain) > 1:
                return web.Response(status=502, text=f"{' -> '.join(chain)}: nothing answers for {chain[-1]} in this "
                                                     "local AWS (is it running? `workshop status` lists what answers)\n")
            return web.Response(status=404, text=f"No load balancer, distribution, instance or Route 53 record is "
                                                 f"named {normal(host)!r} in this local AWS: `workshop status` lists "
                                                 "the names it answers to\n")
        if endpoint.host != _proxy.LOOPBACK:
            return web.Response(status=502, text=f"{endpoint.kind} {endpoint.resource_id} is not on loopback: "
                                                 "the edge forwards to 127.0.0.1 only\n")
        body = await request.read()
        try:
            answer = await _proxy.forward(self._client, endpoint.port, request.method, request.raw_path,
                                          _proxy.end_to_end(request.headers), body, read_timeout_s=READ_TIMEOUT_S)
        except _proxy.Refused:
            return web.Response(status=502, text=f"{' -> '.join(chain)}: {endpoint.kind} {endpoint.resource_id} "
                                                 f"does not answer on port {endpoint.port}\n")
        except _proxy.TimedOut:
            return web.Response(status=504, text=f"{' -> '.join(chain)}: no answer within {READ_TIMEOUT_S:g} s\n")
        return answer.response(request.method)


def _is_route53_or_ec2(request) -> bool:
    from ..server import signed_scope

    return request.method in ("POST", "DELETE") and signed_scope(request).service in ("route53", "ec2")


def install(server) -> None:
    edge = Edge(server)
    _edges[server] = edge
    server.after(_is_route53_or_ec2, lambda request, response: edge.reconcile())
    server.background("route53-edge", edge.reconcile, RECONCILE_EVERY_S)
    server.dataplane.on_stop(edge.shutdown)
