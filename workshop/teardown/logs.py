"""CloudWatch Logs kind: log groups, tagged for the course or left by a function or API it deleted."""

from __future__ import annotations

from botocore.exceptions import ClientError

from ..errors import Unsupported
from .kind import LEFTOVERS, Kind, Resource
from .shapes import calling, gone_when_unlisted, paginate

#: log groups that belong to resources deleted in this process (e.g. a stage teardown
#: deleting a function deletes its /aws/lambda/<name> group too, even untagged)
_OWNED: dict[str, set[str]] = {}


def remember(r: Resource, prefixes: list[str]) -> None:
    """Log groups starting with `prefixes` belong to `r`, which is being deleted: delete them too."""
    _OWNED.setdefault(r.region, set()).update(prefixes)


def _find_log_groups(scope):
    logs = scope.client("logs")
    owned = _OWNED.get(scope.region, set())
    for g in paginate(logs, "describe_log_groups", "logGroups"):
        name = g["logGroupName"]
        short = name.split("/")[-1] if name.startswith(("/aws/lambda/", "/aws/kinesisfirehose/")) else name
        try:
            t = logs.list_tags_log_group(logGroupName=name).get("tags", {})
        except (ClientError, Unsupported):
            t = {}
        ok, stage, run = scope.wants(t, short)
        if ok or any(name.startswith(p) for p in owned):
            yield Resource("", name, name, scope.region, stage, run, data=g)


KINDS = [
    Kind("cloudwatch log group", "logs", LEFTOVERS, _find_log_groups,
         calling("logs", "delete_log_group", "logGroupName"),
         gone_when_unlisted("logs", "describe_log_groups", "logGroupNamePrefix", "logGroups", id_key="logGroupName")),
]
