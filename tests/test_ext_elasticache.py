"""The local AWS's ElastiCache has member clusters and nodes in different AZs (workshop/localaws/ext/elasticache.py)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def redis(local_aws):
    """An ElastiCache client and a cache subnet group over two AZs."""
    from workshop import aws

    ec2, ec = aws.client("ec2"), aws.client("elasticache")
    tag = uuid.uuid4().hex[:8]
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1c", "us-east-1d"))]
    ec.create_cache_subnet_group(CacheSubnetGroupName=f"csg-{tag}", CacheSubnetGroupDescription="test", SubnetIds=subnets)
    return ec, tag


def _group(ec, tag, **extra):
    params = dict(ReplicationGroupId=f"rg-{tag}", ReplicationGroupDescription="test", Engine="redis",
                  CacheNodeType="cache.t3.micro", NumCacheClusters=2, AutomaticFailoverEnabled=True,
                  MultiAZEnabled=True, CacheSubnetGroupName=f"csg-{tag}")
    params.update(extra)
    return ec.create_replication_group(**params)["ReplicationGroup"]


def test_two_cluster_group_has_a_primary_and_a_replica_in_different_azs(redis):
    """NumCacheClusters=2 gives two members (moto gives one), primary and replica in the subnet group's two AZs."""
    ec, tag = redis
    group = _group(ec, tag)
    members = group["NodeGroups"][0]["NodeGroupMembers"]
    assert group["MemberClusters"] == [f"rg-{tag}-001", f"rg-{tag}-002"]
    assert [(m["CurrentRole"], m["PreferredAvailabilityZone"]) for m in members] == [
        ("primary", "us-east-1c"), ("replica", "us-east-1d")]


def test_member_clusters_list_their_nodes(redis):
    """Each member is a cache cluster whose CacheNodes (with ShowCacheNodeInfo) have an endpoint and its AZ."""
    ec, tag = redis
    _group(ec, tag)
    for i, az in ((1, "us-east-1c"), (2, "us-east-1d")):
        cluster = ec.describe_cache_clusters(CacheClusterId=f"rg-{tag}-00{i}", ShowCacheNodeInfo=True)["CacheClusters"][0]
        assert cluster["ReplicationGroupId"] == f"rg-{tag}"
        [node] = cluster["CacheNodes"]
        assert node["CacheNodeStatus"] == "available" and node["CustomerAvailabilityZone"] == az
        assert node["Endpoint"]["Port"] == 6379
    plain = ec.describe_cache_clusters(CacheClusterId=f"rg-{tag}-001")["CacheClusters"][0]
    assert "CacheNodes" not in plain  # as on AWS, nodes only with ShowCacheNodeInfo=True


def test_preferred_azs_are_honoured(redis):
    """PreferredCacheClusterAZs place each member where asked."""
    ec, tag = redis
    group = _group(ec, tag, PreferredCacheClusterAZs=["us-east-1d", "us-east-1c", "us-east-1d"], NumCacheClusters=3)
    assert [m["PreferredAvailabilityZone"] for m in group["NodeGroups"][0]["NodeGroupMembers"]] == [
        "us-east-1d", "us-east-1c", "us-east-1d"]


def test_deleting_the_group_removes_its_clusters_and_frees_the_name(redis):
    """A deleted group's members disappear, and the group can be created again under the same id."""
    ec, tag = redis
    _group(ec, tag)
    ec.delete_replication_group(ReplicationGroupId=f"rg-{tag}")
    ids = {c["CacheClusterId"] for c in ec.describe_cache_clusters()["CacheClusters"]}
    assert not {f"rg-{tag}-001", f"rg-{tag}-002"} & ids
    assert _group(ec, tag)["MemberClusters"] == [f"rg-{tag}-001", f"rg-{tag}-002"]


def test_a_standalone_cluster_lists_its_nodes(redis):
    """A memcached cluster of three nodes lists three nodes (moto lists none)."""
    ec, tag = redis
    ec.create_cache_cluster(CacheClusterId=f"mc-{tag}", Engine="memcached", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=3, CacheSubnetGroupName=f"csg-{tag}")
    cluster = ec.describe_cache_clusters(CacheClusterId=f"mc-{tag}", ShowCacheNodeInfo=True)["CacheClusters"][0]
    assert [n["CacheNodeId"] for n in cluster["CacheNodes"]] == ["0001", "0002", "0003"]


def test_plain_moto_gives_a_two_cluster_group_one_member_and_no_nodes():
    """moto 5.2.5 without the kit's layer: NumCacheClusters=2 gives one member, no member clusters, no nodes."""
    from plain_moto import facts

    assert facts()["elasticache"] == {"members": 1, "clusters": 0, "nodes": 0}
