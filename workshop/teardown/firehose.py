"""Firehose kind: delivery streams (first wave: a stream's Lambda source goes after it)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .kind import FRONT_DOORS, Kind
from .shapes import calling, gone_when_absent


def _names(fh) -> list[str]:
    names, start = [], None
    while True:
        kw = {"ExclusiveStartDeliveryStreamName": start} if start else {}
        page = fh.list_delivery_streams(Limit=100, **kw)
        names += page.get("DeliveryStreamNames", [])
        if not page.get("HasMoreDeliveryStreams") or not names:
            return names
        start = names[-1]


def _find_streams(scope):
    fh = scope.client("firehose")
    for n in _names(fh):
        try:
            t = fh.list_tags_for_delivery_stream(DeliveryStreamName=n).get("Tags", [])
        except ClientError:
            t = []
        r = scope.owned(t, n, n)
        if r:
            yield r


KINDS = [
    Kind("firehose delivery stream", "firehose", FRONT_DOORS, _find_streams,
         calling("firehose", "delete_delivery_stream", "DeliveryStreamName", tolerate=("ResourceInUse",),
                 AllowForceDelete=True),
         gone_when_absent("firehose", "describe_delivery_stream", "DeliveryStreamName",
                          state=lambda d: d["DeliveryStreamDescription"].get("DeliveryStreamStatus", "DELETING")),
         typical_s=60),
]
