"""CloudWatch kind: metric alarms (first wave: an alarm can act on a group being deleted)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from ..errors import Unsupported
from .kind import FRONT_DOORS, Kind
from .shapes import gone_when_unlisted, paginate


def _find_alarms(scope):
    cw = scope.client("cloudwatch")
    for a in paginate(cw, "describe_alarms", "MetricAlarms"):
        try:
            t = cw.list_tags_for_resource(ResourceARN=a["AlarmArn"]).get("Tags", [])
        except (ClientError, Unsupported):
            t = []
        r = scope.owned(t, a["AlarmName"], a["AlarmName"], data=a)
        if r:
            yield r


KINDS = [
    Kind("cloudwatch alarm", "cloudwatch", FRONT_DOORS, _find_alarms,
         lambda s, r: s.client("cloudwatch").delete_alarms(AlarmNames=[r.id]),
         gone_when_unlisted("cloudwatch", "describe_alarms", "AlarmNames", "MetricAlarms", as_list=True)),
]
