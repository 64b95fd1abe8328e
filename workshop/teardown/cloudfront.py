"""CloudFront kinds: a distribution is disabled (and deployed) in the first wave, deleted in the
second; origin access controls after it."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .. import waits
from .kind import FRONT_DOORS, LEFTOVERS, STANDING, Kind
from .shapes import gone_when_absent, is_gone


def _find_distributions(scope):
    cf = scope.client("cloudfront")
    for page in cf.get_paginator("list_distributions").paginate():
        for d in (page.get("DistributionList") or {}).get("Items", []) or []:
            t = cf.list_tags_for_resource(Resource=d["ARN"]).get("Tags", {}).get("Items", [])
            r = scope.owned(t, d.get("Comment", ""), d["Id"], shown=d.get("Comment") or d["DomainName"],
                            state=f"{d.get('Status')}, {'enabled' if d.get('Enabled') else 'disabled'}", data=d)
            if r:
                yield r


def _disable(scope, r):
    cf = scope.client("cloudfront")
    got = cf.get_distribution_config(Id=r.id)
    cfg = got["DistributionConfig"]
    if cfg.get("Enabled"):
        cfg["Enabled"] = False
        cf.update_distribution(Id=r.id, IfMatch=got["ETag"], DistributionConfig=cfg)


def _disabled(scope, r):
    try:
        d = scope.client("cloudfront").get_distribution(Id=r.id)["Distribution"]
    except ClientError as exc:
        if is_gone(exc):
            return True
        raise
    if d["Status"] == "Deployed" and not d["DistributionConfig"]["Enabled"]:
        return True
    return waits.Pending(f"{d['Status']}, {'enabled' if d['DistributionConfig']['Enabled'] else 'disabled'}")


def _delete_distribution(scope, r):
    cf = scope.client("cloudfront")
    try:
        cf.delete_distribution(Id=r.id, IfMatch=cf.get_distribution(Id=r.id)["ETag"])
    except ClientError as exc:
        if not is_gone(exc):
            raise


def _find_oacs(scope):
    cf = scope.client("cloudfront")
    for o in (cf.list_origin_access_controls().get("OriginAccessControlList") or {}).get("Items", []) or []:
        r = scope.owned(None, o.get("Name", ""), o["Id"], data=o)  # untaggable: by name
        if r:
            yield r


def _delete_oac(scope, r):
    cf = scope.client("cloudfront")
    cf.delete_origin_access_control(Id=r.id, IfMatch=cf.get_origin_access_control(Id=r.id)["ETag"])


KINDS = [
    Kind("cloudfront distribution (disable)", "cloudfront", FRONT_DOORS, _find_distributions, _disable, _disabled,
         typical_s=300, timeout_s=2700, global_=True, scanned=False),
    Kind("cloudfront distribution", "cloudfront", STANDING, _find_distributions, _delete_distribution,
         gone_when_absent("cloudfront", "get_distribution", "Id"), typical_s=60, timeout_s=1800, global_=True),
    Kind("cloudfront origin access control", "cloudfront", LEFTOVERS, _find_oacs, _delete_oac,
         gone_when_absent("cloudfront", "get_origin_access_control", "Id"), global_=True),
]
