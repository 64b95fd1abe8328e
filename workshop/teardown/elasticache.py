"""ElastiCache kinds: replication groups (with their clusters), lone clusters, subnet groups."""

from __future__ import annotations

from botocore.exceptions import ClientError

from ..errors import Unsupported
from .kind import FRONT_DOORS, LEFTOVERS, STANDING, Kind
from .shapes import gone_when_unlisted, is_gone, paginate


def _tags(scope, arn: str | None):
    if not arn:
        return None
    try:
        return scope.client("elasticache").list_tags_for_resource(ResourceName=arn).get("TagList", [])
    except (ClientError, Unsupported):
        return None


def _find(op: str, key: str, id_key: str, status_key: str = "", skip=lambda item: False):
    def find(scope):
        for item in paginate(scope.client("elasticache"), op, key):
            if skip(item):
                continue
            r = scope.owned(_tags(scope, item.get("ARN")), item[id_key], item[id_key],
                            state=item.get(status_key, "") if status_key else "", data=item)
            if r:
                yield r
    return find


def _delete(op: str, param: str):
    def delete(scope, r):
        if r.state == "deleting":
            return
        try:
            getattr(scope.client("elasticache"), op)(**{param: r.id})
        except ClientError as exc:
            if is_gone(exc) or "deleting" in str(exc).lower():
                return
            raise
    return delete


def _gone(op: str, param: str, key: str, status_key: str):
    return gone_when_unlisted("elasticache", op, param, key, state=lambda i: i.get(status_key, ""), done=("deleted",))


KINDS = [
    Kind("elasticache replication group", "elasticache", FRONT_DOORS,
         _find("describe_replication_groups", "ReplicationGroups", "ReplicationGroupId", "Status"),
         _delete("delete_replication_group", "ReplicationGroupId"),
         _gone("describe_replication_groups", "ReplicationGroupId", "ReplicationGroups", "Status"),
         typical_s=420, timeout_s=2700),
    Kind("elasticache cluster", "elasticache", STANDING,
         _find("describe_cache_clusters", "CacheClusters", "CacheClusterId", "CacheClusterStatus",
               skip=lambda c: bool(c.get("ReplicationGroupId"))),  # deleted with its replication group
         _delete("delete_cache_cluster", "CacheClusterId"),
         _gone("describe_cache_clusters", "CacheClusterId", "CacheClusters", "CacheClusterStatus"),
         typical_s=300, timeout_s=2700),
    Kind("elasticache subnet group", "elasticache", LEFTOVERS,
         _find("describe_cache_subnet_groups", "CacheSubnetGroups", "CacheSubnetGroupName",
               skip=lambda g: g["CacheSubnetGroupName"] == "default"),
         lambda s, r: s.client("elasticache").delete_cache_subnet_group(CacheSubnetGroupName=r.id),
         _gone("describe_cache_subnet_groups", "CacheSubnetGroupName", "CacheSubnetGroups", "Status")),
]
