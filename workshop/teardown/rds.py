"""RDS kinds: read replicas (before their primaries), instances, subnet and parameter groups, snapshots.

On the aws target, instances are deleted without a final snapshot: the course's databases
hold only demo data, and the `--yes` that starts the teardown is the consent.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from ..errors import Unsupported
from .kind import FRONT_DOORS, LEFTOVERS, STANDING, Kind
from .shapes import code, gone_when_unlisted, is_gone, paginate


def _find_instances(replicas: bool):
    def find(scope):
        rds = scope.client("rds")
        for db in paginate(rds, "describe_db_instances", "DBInstances"):
            if bool(db.get("ReadReplicaSourceDBInstanceIdentifier")) != replicas:
                continue
            tag_list = db.get("TagList")
            if tag_list is None:
                tag_list = rds.list_tags_for_resource(ResourceName=db["DBInstanceArn"]).get("TagList", [])
            r = scope.owned(tag_list, db["DBInstanceIdentifier"], db["DBInstanceIdentifier"],
                            state=db.get("DBInstanceStatus", ""), data=db)
            if r:
                yield r
    return find


def _delete_instance(scope, r):
    if r.state == "deleting":
        return
    rds = scope.client("rds")
    if r.data.get("DeletionProtection"):
        rds.modify_db_instance(DBInstanceIdentifier=r.id, DeletionProtection=False, ApplyImmediately=True)
    try:
        rds.delete_db_instance(DBInstanceIdentifier=r.id, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
    except ClientError as exc:
        if code(exc) == "InvalidDBInstanceState" and "deleting" in str(exc).lower() or is_gone(exc):
            return
        raise


def _find_named(op: str, key: str, id_key: str, skip_default: bool = True):
    def find(scope):
        rds = scope.client("rds")
        for g in paginate(rds, op, key):
            name = g[id_key]
            if skip_default and name.startswith("default"):
                continue
            tag_list = None
            arn = next((v for k, v in g.items() if k.endswith("Arn")), None)
            if arn:
                try:
                    tag_list = rds.list_tags_for_resource(ResourceName=arn).get("TagList", [])
                except (ClientError, Unsupported):
                    tag_list = None
            r = scope.owned(tag_list, name, name, data=g)
            if r:
                yield r
    return find


def _named(kind: str, wave: int, noun: str, skip_default: bool = True) -> Kind:
    """A kind RDS lists with describe_db_<noun>s and deletes with delete_db_<noun>, by name."""
    plural, id_key = f"DB{noun}s", f"DB{noun}{'Identifier' if noun == 'Snapshot' else 'Name'}"
    snake = "".join("_" + ch.lower() if ch.isupper() else ch for ch in noun)
    return Kind(kind, "rds", wave, _find_named(f"describe_db{snake}s", plural, id_key, skip_default),
                lambda s, r: getattr(s.client("rds"), f"delete_db{snake}")(**{id_key: r.id}),
                gone_when_unlisted("rds", f"describe_db{snake}s", id_key, plural))


_instance_gone = gone_when_unlisted("rds", "describe_db_instances", "DBInstanceIdentifier", "DBInstances",
                                    state=lambda db: db.get("DBInstanceStatus", ""))

KINDS = [
    Kind("rds instance (read replica)", "rds", FRONT_DOORS, _find_instances(replicas=True), _delete_instance,
         _instance_gone, typical_s=420, timeout_s=3600),
    Kind("rds instance", "rds", STANDING, _find_instances(replicas=False), _delete_instance, _instance_gone,
         typical_s=600, timeout_s=3600),
    _named("rds db subnet group", LEFTOVERS, "SubnetGroup"),
    _named("rds db parameter group", LEFTOVERS, "ParameterGroup"),
    _named("rds db snapshot", LEFTOVERS, "Snapshot", skip_default=False),
]
