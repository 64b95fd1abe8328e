"""ElastiCache (Redis OSS) cache nodes answer Redis on their endpoints, with hit and miss metrics.

`ext/elasticache.py` gives every cache cluster its `CacheNodes` with endpoints; nothing
answers there in moto. Here every node of a Redis or Valkey cluster answers Redis on a
loopback port (`workshop/localaws/redis_server.py`), published in the data plane as
`Endpoint("cache-node", "<cluster>-<node>", port, names=(<node address>, ...), details={"role",
"az", "group", "node_type", ...})`. `workshop.reach.redis_client(group)` connects to it.

- The members of a cluster-mode-disabled replication group share their data: the primary
  also answers under the group's PrimaryEndpoint, the first replica under its
  ReaderEndpoint (the primary does when there is none); a replica refuses writes with
  `READONLY` (ElastiCache User Guide, "Understanding Redis OSS replication": replicas are
  read-only, "Finding connection endpoints"). Replication is immediate here.
- A standalone cluster's nodes each hold their own data. A deleted cluster or group closes
  its listeners and its data is gone; nothing answers for cluster-mode-enabled groups or
  Memcached clusters (nothing local speaks their protocols).
- Capacity: a node has one slot per vCPU of its node type (one local command puts `scale` commands' work on them); each command books
  1/cache_ops_per_vcpu s (`workshop/capacity/assumptions.py`), so a node driven past that
  queues (`slots.py`).
- Every METRICS_PERIOD_S seconds each node publishes `AWS/ElastiCache` CacheHits and
  CacheMisses (key lookups of read commands since the last datapoint, Redis's
  keyspace_hits/keyspace_misses), CurrConnections and CPUUtilization (%), dimensions
  CacheClusterId and CacheNodeId (ElastiCache User Guide, "Host-level metrics" and
  "Metrics for Redis OSS").
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from werkzeug.wrappers import Request

from .. import metrics
from ..dataplane import Endpoint
from ..redis_server import RedisEndpoint, new_data, serve
from ..slots import Slots, slot_count

log = logging.getLogger("workshop.localaws.elasticache")

#: seconds between checks of the API's state (and after every ElastiCache request)
RECONCILE_S = 0.2
#: seconds between two publications of the AWS/ElastiCache metrics
METRICS_PERIOD_S = 5.0
REDIS_ENGINES = ("redis", "valkey")


@dataclass(frozen=True)
class _Want:
    """One cache node as the API describes it."""

    account: str
    region: str
    cluster_id: str
    node_id: str
    names: tuple[str, ...]
    role: str
    group: str | None
    az: str
    node_type: str
    engine: str
    data_key: tuple

    @property
    def resource_id(self) -> str:
        return f"{self.cluster_id}-{self.node_id}"

    @property
    def key(self) -> tuple[str, str, str]:
        return self.account, self.region, self.resource_id


@dataclass
class _Node:
    want: _Want
    endpoint: RedisEndpoint
    slots: Slots
    hits: int = 0
    misses: int = 0
    metrics_at: float = field(default_factory=time.monotonic)


def _group_roles(group) -> tuple[dict[str, str], str | None, str | None]:
    """{member cluster id: role}, and the group's primary and reader endpoint addresses."""
    node_group = (group.node_groups or [{}])[0]
    roles = {m["cache_cluster_id"]: m.get("current_role", "replica") for m in node_group.get("node_group_members", [])}
    if group.primary_cluster_id:
        roles.setdefault(group.primary_cluster_id, "primary")
    return roles, node_group.get("primary_endpoint_address"), node_group.get("reader_endpoint_address")


def _read_api() -> dict[tuple[str, str, str], _Want]:
    """Every node of every Redis cache cluster moto holds."""
    from moto.elasticache.models import elasticache_backends

    wants: dict = {}
    for account, region, backend in list(elasticache_backends.iter_backends()):
        groups = {gid: g for gid, g in list(backend.replication_groups.items())
                  if getattr(g, "cluster_mode", None) != "enabled"}
        reader_taken: set[str] = set()
        for cluster_id, cluster in sorted(backend.cache_clusters.items()):
            engine = (cluster.engine or "redis").lower()
            if engine not in REDIS_ENGINES or getattr(cluster, "cache_cluster_status", "") == "deleting":
                continue
            group_id = cluster.replication_group_id
            group = groups.get(group_id) if group_id else None
            if group_id and group is None:
                continue  # a cluster-mode-enabled group's shard
            role, extra = "primary", ()
            if group is not None:
                roles, primary_address, reader_address = _group_roles(group)
                role = roles.get(cluster_id, "replica")
                if role == "primary" and primary_address:
                    extra = (primary_address,)
                    if len(roles) == 1 and reader_address:
                        extra += (reader_address,)
                elif reader_address and group_id not in reader_taken:
                    extra = (reader_address,)
                    reader_taken.add(group_id)
            for node in getattr(cluster, "cache_nodes", None) or []:
                address = (node.get("Endpoint") or {}).get("Address")
                if not address:
                    continue
                node_id = node.get("CacheNodeId", "0001")
                data_key = (account, region, "group", group_id) if group is not None \
                    else (account, region, "node", cluster_id, node_id)
                want = _Want(account, region, cluster_id, node_id, (address, *extra), role, group_id,
                             node.get("CustomerAvailabilityZone") or cluster.preferred_availability_zone or "",
                             cluster.cache_node_type or "", engine, data_key)
                wants[want.key] = want
    return wants


class CacheEndpoints:
    """What the local AWS's cache nodes answer: the reconciler between moto's records and listeners."""

    def __init__(self, server):
        self.server = server
        self._nodes: dict[tuple[str, str, str], _Node] = {}
        self._data: dict[tuple, object] = {}
        self._lock = threading.Lock()
        from ...capacity.assumptions import defaults

        self._op_cost = 1.0 / defaults()["cache_ops_per_vcpu"]

    def reconcile(self) -> None:
        if self.server.stopping.is_set():
            return
        with self._lock:
            wants = _read_api()
            if not wants and not self._nodes:
                return
            figures = self.server.dataplane.run(self._apply(wants), timeout=10)
        for (account, region), data in figures.items():
            metrics.publish(account, region, "AWS/ElastiCache", data)

    def after_request(self, request: Request, response) -> None:
        self.reconcile()

    # --- on the data plane's loop ---------------------------------------------------------
    async def _apply(self, wants: dict) -> dict:
        for key in [k for k in self._nodes if k not in wants]:
            await self._remove(key)
        used = {w.data_key for w in wants.values()}
        for data_key in [k for k in self._data if k not in used]:
            del self._data[data_key]
        for key, want in wants.items():
            node = self._nodes.get(key)
            if node is None:
                node = await self._add(want)
            node.want = want
            node.endpoint.writable = want.role == "primary"
            node.slots.resize(slot_count(want.node_type))
            self._publish(node)
        return self._metrics()

    async def _add(self, want: _Want) -> _Node:
        data = self._data.get(want.data_key)
        if data is None:
            data = self._data[want.data_key] = new_data()
        slots = Slots(slot_count(want.node_type),
                      scale=lambda name=want.cluster_id: self.server.dataplane.scale_for(name=name))
        cost = self._op_cost

        async def admit(commands: int) -> None:
            await slots.hold(commands * cost)

        endpoint = await serve(data, writable=want.role == "primary", admit=admit)
        node = self._nodes[want.key] = _Node(want, endpoint, slots)
        return node

    def _publish(self, node: _Node) -> None:
        want = node.want
        details = {"role": want.role, "az": want.az, "group": want.group, "cluster": want.cluster_id,
                   "node": want.node_id, "node_type": want.node_type, "engine": want.engine}
        endpoint = Endpoint("cache-node", want.resource_id, node.endpoint.port, account=want.account,
                            region=want.region, names=want.names, details=details)
        if self.server.dataplane.find("cache-node", want.resource_id) != endpoint:
            self.server.dataplane.publish(endpoint)

    async def _remove(self, key) -> None:
        node = self._nodes.pop(key)
        await node.endpoint.close()
        self.server.dataplane.withdraw("cache-node", node.want.resource_id)

    def _metrics(self) -> dict:
        """The AWS/ElastiCache datapoints that are due, by (account, region)."""
        out: dict = {}
        now = time.monotonic()
        for node in self._nodes.values():
            period = now - node.metrics_at
            if period < METRICS_PERIOD_S:
                continue
            node.metrics_at = now
            stats, want = node.endpoint.stats, node.want
            hits, misses = stats.hits - node.hits, stats.misses - node.misses
            node.hits, node.misses = stats.hits, stats.misses
            dims = {"CacheClusterId": want.cluster_id, "CacheNodeId": want.node_id}
            out.setdefault((want.account, want.region), []).extend([
                metrics.datum("CacheHits", hits, "Count", dims),
                metrics.datum("CacheMisses", misses, "Count", dims),
                metrics.datum("CurrConnections", node.endpoint.connections, "Count", dims),
                metrics.datum("CPUUtilization", node.slots.utilisation(node.slots.take_busy(), period), "Percent", dims),
            ])
        return out

    async def close(self) -> None:
        for key in list(self._nodes):
            await self._remove(key)
        self._data.clear()


def _is_elasticache(request: Request) -> bool:
    from ..server import signed_scope

    return signed_scope(request).service == "elasticache"


def install(server) -> None:
    plane = CacheEndpoints(server)
    server.elasticache_endpoints = plane  # reachable from tests and benchmarks (per-tier CPU)
    server.after(_is_elasticache, plane.after_request)
    server.background("elasticache-endpoints", plane.reconcile, RECONCILE_S)
    server.dataplane.on_stop(plane.close)
