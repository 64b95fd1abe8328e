"""DynamoDB kind: tables (deletion protection is lifted first)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .kind import STANDING, Kind
from .shapes import code, gone_when_absent, is_gone, paginate


def _find_tables(scope):
    ddb = scope.client("dynamodb")
    for n in paginate(ddb, "list_tables", "TableNames"):
        try:
            desc = ddb.describe_table(TableName=n)["Table"]
            t = ddb.list_tags_of_resource(ResourceArn=desc["TableArn"]).get("Tags", [])
        except ClientError as exc:
            if is_gone(exc):
                continue
            raise
        r = scope.owned(t, n, n, state=desc.get("TableStatus", ""), data=desc)
        if r:
            yield r


def _delete_table(scope, r):
    if r.state == "DELETING":
        return
    ddb = scope.client("dynamodb")
    if r.data.get("DeletionProtectionEnabled"):
        ddb.update_table(TableName=r.id, DeletionProtectionEnabled=False)
    try:
        ddb.delete_table(TableName=r.id)
    except ClientError as exc:
        if not is_gone(exc) and "ResourceInUse" not in code(exc):
            raise


KINDS = [
    Kind("dynamodb table", "dynamodb", STANDING, _find_tables, _delete_table,
         gone_when_absent("dynamodb", "describe_table", "TableName",
                          state=lambda t: t["Table"].get("TableStatus", "DELETING")),
         typical_s=20),
]
