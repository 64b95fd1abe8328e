"""Route 53 kinds: hosted zones (emptied of their records first) and health checks."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .kind import FRONT_DOORS, Kind
from .shapes import gone_when_absent, is_gone, name_tag, paginate


def _tags(r53, kind: str, ident: str) -> list:
    return r53.list_tags_for_resource(ResourceType=kind, ResourceId=ident).get("ResourceTagSet", {}).get("Tags", [])


def _find_zones(scope):
    r53 = scope.client("route53")
    for z in paginate(r53, "list_hosted_zones", "HostedZones"):
        zid = z["Id"].split("/")[-1]
        r = scope.owned(_tags(r53, "hostedzone", zid), z["Name"], zid, shown=z["Name"].rstrip("."), data=z)
        if r:
            yield r


def _delete_zone(scope, r):
    """Delete every record but the zone's own SOA and NS, then the zone."""
    r53 = scope.client("route53")
    apex = r.data["Name"]
    changes = [{"Action": "DELETE", "ResourceRecordSet": rr}
               for rr in paginate(r53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=r.id)
               if not (rr["Type"] in ("SOA", "NS") and rr["Name"] == apex)]
    for i in range(0, len(changes), 100):
        r53.change_resource_record_sets(HostedZoneId=r.id, ChangeBatch={"Changes": changes[i:i + 100]})
    try:
        r53.delete_hosted_zone(Id=r.id)
    except ClientError as exc:
        if not is_gone(exc):
            raise


def _find_health_checks(scope):
    r53 = scope.client("route53")
    for hc in list(paginate(r53, "list_health_checks", "HealthChecks")):
        t = _tags(r53, "healthcheck", hc["Id"])
        r = scope.owned(t, name_tag(t) or hc.get("CallerReference", ""), hc["Id"], shown=name_tag(t) or hc["Id"],
                        data=hc)
        if r:
            yield r


KINDS = [
    Kind("route53 hosted zone", "route53", FRONT_DOORS, _find_zones, _delete_zone,
         gone_when_absent("route53", "get_hosted_zone", "Id"), global_=True),
    Kind("route53 health check", "route53", FRONT_DOORS, _find_health_checks,
         lambda s, r: s.client("route53").delete_health_check(HealthCheckId=r.id),
         gone_when_absent("route53", "get_health_check", "HealthCheckId"), global_=True),
]
