"""What the course has created on the current target: tagged resources, plus the kinds
the tagging API does not find (IAM roles and policies, API Gateway APIs, Route 53 zones),
found by the course's name prefix."""

from __future__ import annotations

from dataclasses import dataclass

from . import aws, tags


@dataclass(frozen=True)
class Resource:
    kind: str  # e.g. "ec2:instance", "iam:role"
    name: str  # an id, name or ARN
    stage: str | None = None
    run: str | None = None


def course_resources(run_id: str | None = None) -> list[Resource]:
    """Every resource of the course (of one run, if given) on the current target.

    Terminated EC2 instances are left out: the tagging API lists them for about an hour
    after termination (on AWS as in moto), but they no longer exist in any useful sense.
    """
    found = _without_terminated(list(_tagged(run_id))) + list(_untaggable(run_id))
    return sorted(set(found), key=lambda r: (r.stage or "", r.kind, r.name))


def _without_terminated(found: list[Resource]) -> list[Resource]:
    ids = [r.name.split("/", 1)[1] for r in found if r.kind == "ec2:instance"]
    if not ids:
        return found
    gone = set()
    for page in aws.client("ec2").get_paginator("describe_instances").paginate(InstanceIds=ids):
        for reservation in page["Reservations"]:
            gone |= {i["InstanceId"] for i in reservation["Instances"] if i["State"]["Name"] == "terminated"}
    return [r for r in found if not (r.kind == "ec2:instance" and r.name.split("/", 1)[1] in gone)]


def _tagged(run_id):
    filters = [{"Key": tags.COURSE_KEY, "Values": [tags.config.COURSE]}]
    if run_id:
        filters.append({"Key": tags.RUN_KEY, "Values": [run_id]})
    paginator = aws.client("resourcegroupstaggingapi").get_paginator("get_resources")
    for page in paginator.paginate(TagFilters=filters):
        for item in page["ResourceTagMappingList"]:
            t = {x["Key"]: x["Value"] for x in item.get("Tags", [])}
            arn = item["ResourceARN"]
            yield Resource(_kind(arn), arn.split(":", 5)[-1], t.get(tags.STAGE_KEY), t.get(tags.RUN_KEY))


def _kind(arn: str) -> str:
    parts = arn.split(":")
    service, rest = parts[2], parts[5] if len(parts) > 5 else ""
    sub = rest.split("/")[0].split(":")[0] if ("/" in rest or ":" in rest) else ""
    return f"{service}:{sub}" if sub else service


def _prefix(run_id):
    return f"{tags.PREFIX}-{run_id}-" if run_id else f"{tags.PREFIX}-"


def _untaggable(run_id):
    prefix = _prefix(run_id)
    iam = aws.client("iam")
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if role["RoleName"].startswith(prefix):
                yield Resource("iam:role", role["RoleName"], _stage_of_role(iam, role["RoleName"]), run_id)
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page["Policies"]:
            if policy["PolicyName"].startswith(prefix):
                yield Resource("iam:policy", policy["PolicyName"], None, run_id)
    for api in aws.client("apigateway").get_rest_apis().get("items", []):
        api_tags = api.get("tags") or {}
        tagged = tags.is_course(api_tags) and (not run_id or api_tags.get(tags.RUN_KEY) == run_id)
        if api["name"].startswith(prefix) or tagged:
            yield Resource("apigateway:restapi", f"{api['name']} ({api['id']})", api_tags.get(tags.STAGE_KEY),
                           api_tags.get(tags.RUN_KEY, run_id))
    r53 = aws.client("route53")
    for zone in r53.list_hosted_zones().get("HostedZones", []):
        zone_id = zone["Id"].split("/")[-1]
        t = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id).get("ResourceTagSet", {}).get("Tags", [])
        if tags.is_course(t) and (not run_id or {x["Key"]: x["Value"] for x in t}.get(tags.RUN_KEY) == run_id):
            yield Resource("route53:hostedzone", zone["Name"], {x["Key"]: x["Value"] for x in t}.get(tags.STAGE_KEY), run_id)


def _stage_of_role(iam, name):
    t = iam.list_role_tags(RoleName=name).get("Tags", [])
    return {x["Key"]: x["Value"] for x in t}.get(tags.STAGE_KEY)
