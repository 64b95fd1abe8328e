"""Lambda kinds: event source mappings (first: they hold streams and tables), then functions
(and their /aws/lambda/<name> log groups)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from . import logs
from .kind import FRONT_DOORS, STANDING, Kind, Resource
from .shapes import calling, gone_when_absent, paginate


def _find_functions(scope):
    lam = scope.client("lambda")
    for f in paginate(lam, "list_functions", "Functions"):
        try:
            t = lam.list_tags(Resource=f["FunctionArn"]).get("Tags", {})
        except ClientError:
            t = {}
        r = scope.owned(t, f["FunctionName"], f["FunctionName"], data=f)
        if r:
            yield r


def _find_mappings(scope):
    lam = scope.client("lambda")
    for f in _find_functions(scope):
        for m in paginate(lam, "list_event_source_mappings", "EventSourceMappings", FunctionName=f.id):
            yield Resource("", m["UUID"], f"{f.name} <- {m.get('EventSourceArn', '').split(':')[-1]}", scope.region,
                           f.stage, f.run, m.get("State", ""), m)


_delete = calling("lambda", "delete_function", "FunctionName")


def _delete_function(scope, r):
    logs.remember(r, [f"/aws/lambda/{r.id}"])
    _delete(scope, r)


KINDS = [
    Kind("lambda event source mapping", "lambda", FRONT_DOORS, _find_mappings,
         calling("lambda", "delete_event_source_mapping", "UUID", tolerate=("ResourceInUse",)),
         gone_when_absent("lambda", "get_event_source_mapping", "UUID", state=lambda m: m.get("State", "Deleting")),
         typical_s=30),
    Kind("lambda function", "lambda", STANDING, _find_functions, _delete_function,
         gone_when_absent("lambda", "get_function", "FunctionName")),
]
