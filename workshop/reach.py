"""Reach a DB instance or cache node by the name AWS gave it, on either target.

On AWS, `db["Endpoint"]["Address"]` is a DNS name a notebook connects to on port 3306 (a cache
node's on 6379). The local AWS gives each one a loopback port instead and lists it, under that
same AWS name, in `GET /_workshop/endpoints` (`workshop/localaws/dataplane.py`). `address`
hides the difference, so a notebook cell can keep the call that teaches visible:

    host, port = reach.address(db["Endpoint"]["Address"], db["Endpoint"]["Port"])
    conn = pymysql.connect(host=host, port=port, user="admin", password=password)

`mysql_connect(db, password)` and `redis_client(group_or_cluster)` do just that for the usual
case (the password of a `ManageMasterUserPassword` instance is read from its Secrets Manager
secret when not given, as RDS User Guide, "Password management with Amazon RDS and AWS
Secrets Manager" describes).
"""

from __future__ import annotations

import json

from . import config
from .errors import WorkshopError

#: how many names an "unknown name" error lists before "..."
_LISTED = 6


class Unreachable(WorkshopError):
    """No local endpoint answers for the AWS name asked for."""


def address(aws_name: str, port: int, *, target: config.Target | None = None) -> tuple[str, int]:
    """(host, port) to connect to for `aws_name:port`: on the local target the loopback address the
    local AWS serves that name on; on AWS the name and port unchanged."""
    t = target or config.current()
    if not t.is_local:
        return aws_name, int(port)
    from . import aws
    from .localaws import discover

    endpoint_url = aws.endpoint(t)
    listing = discover.endpoints(endpoint_url).get("endpoints", [])
    if not listing and discover.health(endpoint_url) is None:
        from .errors import LocalAWSDown

        raise LocalAWSDown(endpoint_url)
    wanted = (aws_name or "").strip().lower().rstrip(".")
    for endpoint in listing:
        names = [n.lower().rstrip(".") for n in endpoint.get("names", [])]
        if wanted in names or wanted == str(endpoint.get("resource_id", "")).lower():
            return endpoint.get("host", "127.0.0.1"), int(endpoint["port"])
    known = [n for e in listing if e.get("kind") in ("db-instance", "cache-node") for n in e.get("names", [])]
    place = ".".join(wanted.split(".")[-4:-2])  # region and service (us-east-1.rds): those names first
    known.sort(key=lambda n: not n.lower().rstrip(".").endswith(f"{place}.amazonaws.com"))
    shown = ", ".join(known[:_LISTED]) + (", ..." if len(known) > _LISTED else "")
    raise Unreachable(f"nothing on the local AWS answers as {aws_name}:{port}; "
                      f"databases and caches it serves: {shown or 'none yet'} (create it, or wait until it is available)")


def _managed_password(db: dict, target: config.Target | None) -> str:
    from . import aws

    arn = (db.get("MasterUserSecret") or {}).get("SecretArn")
    if not arn:
        raise WorkshopError(f"DB instance {db.get('DBInstanceIdentifier')} has no managed secret: "
                            "pass the master password you created it with")
    secret = aws.client("secretsmanager", target=target).get_secret_value(SecretId=arn)["SecretString"]
    return json.loads(secret)["password"]


def mysql_connect(db: dict, password: str | None = None, database: str | None = None, *,
                  target: config.Target | None = None, **kwargs):
    """A PyMySQL connection to the DB instance `db` (an item of `describe_db_instances()["DBInstances"]`)
    as its master user; `password` None reads its managed secret. Autocommit unless told otherwise."""
    import pymysql

    endpoint = db.get("Endpoint") or {}
    if not endpoint.get("Address"):
        raise WorkshopError(f"DB instance {db.get('DBInstanceIdentifier')} has no endpoint yet "
                            f"(status {db.get('DBInstanceStatus')}): wait until it is available")
    host, port = address(endpoint["Address"], endpoint.get("Port", 3306), target=target)
    if password is None:
        password = _managed_password(db, target)
    kwargs.setdefault("connect_timeout", 5)
    kwargs.setdefault("autocommit", True)
    return pymysql.connect(host=host, port=port, user=db["MasterUsername"], password=password,
                           database=database or db.get("DBName"), **kwargs)


def _cache_endpoint(description: dict) -> dict:
    """The endpoint to use for a replication group (its primary), a cache cluster (its first node) or a node."""
    if description.get("NodeGroups"):
        group = description["NodeGroups"][0]
        return group.get("PrimaryEndpoint") or group["NodeGroupMembers"][0]["ReadEndpoint"]
    if description.get("ConfigurationEndpoint"):
        return description["ConfigurationEndpoint"]
    if description.get("CacheNodes"):
        return description["CacheNodes"][0]["Endpoint"]
    if description.get("Endpoint"):
        return description["Endpoint"]
    if description.get("Address"):
        return description
    raise WorkshopError("no cache endpoint in that description: pass a replication group, or a cache cluster "
                        "described with ShowCacheNodeInfo=True")


def redis_client(description: dict, *, target: config.Target | None = None, **kwargs):
    """A redis-py client for a replication group (its primary endpoint), a cache cluster (its first
    node: describe it with ShowCacheNodeInfo=True) or one cache node. Answers are str unless
    decode_responses=False."""
    import redis

    endpoint = _cache_endpoint(description)
    host, port = address(endpoint["Address"], endpoint.get("Port", 6379), target=target)
    kwargs.setdefault("decode_responses", True)
    kwargs.setdefault("socket_timeout", 5)
    return redis.Redis(host=host, port=port, **kwargs)
