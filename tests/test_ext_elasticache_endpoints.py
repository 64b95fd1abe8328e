"""ElastiCache cache nodes answer Redis on their endpoints (localaws/ext/elasticache_endpoints.py)."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis as redis_py

from workshop import aws, config, reach
from workshop.localaws.ext import elasticache_endpoints


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """A local AWS of this module's own, a target pointing at it, and a cache subnet group over two AZs."""
    from workshop.localaws.server import LocalAWS

    server = LocalAWS(port=0).start()
    target = config.target(kind="local", endpoint=server.endpoint, home=tmp_path_factory.mktemp("cache-home"))
    ec2, ec = aws.client("ec2", target=target), aws.client("elasticache", target=target)
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1a", "us-east-1b"))]
    ec.create_cache_subnet_group(CacheSubnetGroupName="cache-ep", CacheSubnetGroupDescription="two AZs",
                                 SubnetIds=subnets)
    yield server, target, ec
    server.stop()


def _group(local, **extra) -> dict:
    _, _, ec = local
    params = dict(ReplicationGroupId=f"rg-{uuid.uuid4().hex[:8]}", ReplicationGroupDescription="test",
                  Engine="redis", CacheNodeType="cache.t3.micro", NumCacheClusters=2, AutomaticFailoverEnabled=True,
                  CacheSubnetGroupName="cache-ep")
    params.update(extra)
    return ec.create_replication_group(**params)["ReplicationGroup"]


def _node(local, cluster_id: str) -> dict:
    _, _, ec = local
    return ec.describe_cache_clusters(CacheClusterId=cluster_id, ShowCacheNodeInfo=True)["CacheClusters"][0]


def _until(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def test_a_group_answers_redis_at_its_primary_endpoint_and_the_replica_reads_it(local):
    """SET/GET through the group's PrimaryEndpoint; the replica node reads the same keys and refuses writes."""
    server, target, _ = local
    group = _group(local)
    primary = reach.redis_client(group, target=target)
    assert primary.set("greeting", "hello") and primary.get("greeting") == "hello"
    replica_cluster = _node(local, group["MemberClusters"][1])
    replica = reach.redis_client(replica_cluster, target=target)
    assert replica.get("greeting") == "hello"
    with pytest.raises(redis_py.exceptions.ReadOnlyError):
        replica.set("greeting", "changed")
    listed = server.dataplane.find("cache-node", f"{group['MemberClusters'][0]}-0001")
    assert listed.details["role"] == "primary" and listed.details["az"] == "us-east-1a"
    assert group["NodeGroups"][0]["PrimaryEndpoint"]["Address"] in listed.names
    assert server.dataplane.find("cache-node", f"{group['MemberClusters'][1]}-0001").details["az"] == "us-east-1b"


def test_standalone_clusters_keep_their_own_data(local):
    """Two create_cache_cluster clusters are two caches: a key set in one is missing in the other."""
    _, target, ec = local
    names = [f"cc-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for name in names:
        ec.create_cache_cluster(CacheClusterId=name, Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    first, second = (reach.redis_client(_node(local, n), target=target) for n in names)
    first.set("only-here", 1)
    assert first.get("only-here") == "1" and second.get("only-here") is None


def test_deleting_a_group_closes_its_nodes(local):
    """delete_replication_group: connecting to its nodes is refused at once, and they are unlisted."""
    server, target, ec = local
    group = _group(local)
    host, port = reach.address(group["NodeGroups"][0]["PrimaryEndpoint"]["Address"], 6379, target=target)
    socket.create_connection((host, port), timeout=1).close()
    ec.delete_replication_group(ReplicationGroupId=group["ReplicationGroupId"])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=1)
    assert server.dataplane.find("cache-node", f"{group['MemberClusters'][0]}-0001") is None


def _sum(target, metric: str, cluster_id: str) -> float:
    now = datetime.now(timezone.utc)
    points = aws.client("cloudwatch", target=target).get_metric_statistics(
        Namespace="AWS/ElastiCache", MetricName=metric,
        Dimensions=[{"Name": "CacheClusterId", "Value": cluster_id}, {"Name": "CacheNodeId", "Value": "0001"}],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1), Period=60,
        Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in points)


@pytest.mark.slow
def test_cache_hits_and_misses_reach_cloudwatch_per_node(local, monkeypatch):
    """Three GETs of a key that exists and two of keys that do not: CacheHits 3 and CacheMisses 2 for that node."""
    _, target, _ = local
    monkeypatch.setattr(elasticache_endpoints, "METRICS_PERIOD_S", 0.3)
    group = _group(local, NumCacheClusters=1)
    client = reach.redis_client(group, target=target)
    client.set("k", "v")
    for _ in range(3):
        client.get("k")
    client.get("nope")
    client.mget("nope-either")
    cluster_id = group["MemberClusters"][0]
    assert _until(lambda: _sum(target, "CacheHits", cluster_id) == 3, 5), _sum(target, "CacheHits", cluster_id)
    assert _until(lambda: _sum(target, "CacheMisses", cluster_id) == 2, 5)
    assert client.info("stats")["keyspace_hits"] == 3
