"""ElastiCache replication groups with their member clusters and nodes, spread over AZs.

moto 5.2.5 (pinned in constraints.txt) gives a replication group created with
`NumCacheClusters=2` a single member, never creates the member clusters (so
`DescribeCacheClusters` does not list them), puts a replica in `us-east-1b` whatever the
subnet group says, lists no `CacheNodes` for any cluster, and keeps deleted groups and
clusters forever in "deleting". Here, as on AWS (ElastiCache for Redis User Guide,
"Creating a Redis (cluster mode disabled) replication group", "Choosing Regions and
Availability Zones", "Viewing a cluster's details"):

- a cluster-mode-disabled group has NumCacheClusters members (or ReplicasPerNodeGroup + 1),
  `<group>-001` the primary and the rest replicas; each member is a cache cluster of one
  node, in PreferredCacheClusterAZs if given, otherwise spread round-robin over the AZs of
  the group's cache subnet group (so primary and replica land in different AZs);
- every cluster lists its `CacheNodes` (id, status, endpoint, AZ) when asked with
  `ShowCacheNodeInfo=True`, as `DescribeCacheClusters` does on AWS;
- a deleted group takes its member clusters with it, and deleted groups and clusters are
  gone at once (AWS takes minutes), so the same names can be created again.
"""

from __future__ import annotations

import inspect
import threading

from moto.elasticache import models as ecm
from moto.elasticache import responses as ecr

_LOCK = threading.RLock()
_ORIGINAL: dict = {}


def _subnet_azs(backend, subnet_group_name: str | None) -> list[str]:
    group = backend.cache_subnet_groups.get(subnet_group_name) if subnet_group_name else None
    azs = []
    for subnet in (group.subnets if group else []):
        az = subnet.get("subnet_availability_zone")
        if isinstance(az, str) and az not in azs:
            azs.append(az)
    return sorted(azs) or [f"{backend.region_name}{c}" for c in "ab"]


def _nodes(cluster, az: str, address: str, count: int = 1) -> list[dict]:
    return [{
        "CacheNodeId": f"{i + 1:04d}",
        "CacheNodeStatus": "available",
        "CacheNodeCreateTime": cluster.cache_cluster_create_time,
        "Endpoint": {"Address": address if count == 1 else f"{cluster.cache_cluster_id}.{i + 1:04d}.{address}",
                     "Port": cluster.port},
        "ParameterGroupStatus": "in-sync",
        "CustomerAvailabilityZone": az,
    } for i in range(count)]


def _new_cluster(backend, **given) -> ecm.CacheCluster:
    params = {name: None for name in inspect.signature(ecm.CacheCluster.__init__).parameters if name != "self"}
    params.update(account_id=backend.account_id, region_name=backend.region_name,
                  log_delivery_configurations=[], **given)
    return ecm.CacheCluster(**params)


def _create_replication_group(self, *args, **kwargs):
    with _LOCK:
        group = _ORIGINAL["create_replication_group"](self, *args, **kwargs)
        if group.cluster_mode == "enabled":
            return group
        replicas = kwargs.get("replicas_per_node_group")
        wanted = kwargs.get("num_cache_clusters") or ((replicas or 0) + 1)
        preferred = list(kwargs.get("preferred_cache_cluster_azs") or [])
        azs = preferred or _subnet_azs(self, kwargs.get("cache_subnet_group_name"))
        node_group = group.node_groups[0]
        domain = node_group["primary_endpoint_address"].split(".", 1)[1]
        members = []
        for i in range(wanted):
            cluster_id = f"{group.replication_group_id}-{i + 1:03d}"
            az = preferred[i] if i < len(preferred) else azs[i % len(azs)]
            members.append({
                "cache_cluster_id": cluster_id, "cache_node_id": "0001",
                "read_endpoint": {"address": f"{cluster_id}.{domain}", "port": group.port},
                "preferred_availability_zone": az, "current_role": "primary" if i == 0 else "replica",
            })
            cluster = _new_cluster(
                self, cache_cluster_id=cluster_id, replication_group_id=group.replication_group_id,
                preferred_availability_zone=az, num_cache_nodes=1, cache_node_type=group.cache_node_type,
                engine=group.engine, engine_version=kwargs.get("engine_version"),
                cache_parameter_group_name=kwargs.get("cache_parameter_group_name"),
                cache_subnet_group_name=kwargs.get("cache_subnet_group_name"),
                security_group_ids=kwargs.get("security_group_ids"), port=group.port,
                tags=kwargs.get("tags"), transit_encryption_enabled=group.transit_encryption_enabled,
            )
            cluster.cache_nodes = _nodes(cluster, az, f"{cluster_id}.{domain}")
            self.cache_clusters[cluster_id] = cluster
            if kwargs.get("tags"):
                self.tagging_service.tag_resource(cluster.arn, kwargs["tags"])
        node_group["node_group_members"] = members
        group.member_clusters[:] = [m["cache_cluster_id"] for m in members]
        group.primary_cluster_id = group.primary_cluster_id or members[0]["cache_cluster_id"]
        return group


def _create_cache_cluster(self, *args, **kwargs):
    with _LOCK:
        cluster = _ORIGINAL["create_cache_cluster"](self, *args, **kwargs)
        az = cluster.preferred_availability_zone or (cluster.preferred_availability_zones or [None])[0] \
            or _subnet_azs(self, cluster.cache_subnet_group_name)[0]
        cluster.preferred_availability_zone = az
        address = f"{cluster.cache_cluster_id}.abc123.{self.region_name}.cache.amazonaws.com"
        cluster.cache_nodes = _nodes(cluster, az, address, cluster.num_cache_nodes or 1)
        return cluster


def _delete_replication_group(self, replication_group_id, retain_primary_cluster):
    with _LOCK:
        group = self.replication_groups.get(replication_group_id)
        members = list(group.member_clusters) if group is not None else []
        primary = group.primary_cluster_id if group is not None else None
        result = _ORIGINAL["delete_replication_group"](self, replication_group_id, retain_primary_cluster)
        for cluster_id in members:
            if retain_primary_cluster and cluster_id == primary:
                self.cache_clusters[cluster_id].replication_group_id = None
                continue
            self.cache_clusters.pop(cluster_id, None)
        self.replication_groups.pop(replication_group_id, None)  # AWS: gone once "deleting" ends
        return result


def _delete_cache_cluster(self, cache_cluster_id):
    with _LOCK:
        cluster = _ORIGINAL["delete_cache_cluster"](self, cache_cluster_id)
        self.cache_clusters.pop(cache_cluster_id, None)
        return cluster


class _WithoutNodes:
    """A cluster as DescribeCacheClusters shows it without ShowCacheNodeInfo: no CacheNodes."""

    def __init__(self, cluster):
        self._cluster = cluster

    def __getattr__(self, name):
        if name == "cache_nodes":
            raise AttributeError(name)
        return getattr(self._cluster, name)


def _respond_describe_cache_clusters(self):
    result = _ORIGINAL["respond_describe_cache_clusters"](self)
    if not self._get_bool_param("ShowCacheNodeInfo", False):
        body = result.result  # the dict the serializer reads (moto's ActionResult)
        body["CacheClusters"] = [_WithoutNodes(c) for c in body["CacheClusters"]]
    return result


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    backend = ecm.ElastiCacheBackend
    _ORIGINAL.update(
        create_replication_group=backend.create_replication_group,
        create_cache_cluster=backend.create_cache_cluster,
        delete_replication_group=backend.delete_replication_group,
        delete_cache_cluster=backend.delete_cache_cluster,
        respond_describe_cache_clusters=ecr.ElastiCacheResponse.describe_cache_clusters,
    )
    backend.create_replication_group = _create_replication_group
    backend.create_cache_cluster = _create_cache_cluster
    backend.delete_replication_group = _delete_replication_group
    backend.delete_cache_cluster = _delete_cache_cluster
    ecr.ElastiCacheResponse.describe_cache_clusters = _respond_describe_cache_clusters

