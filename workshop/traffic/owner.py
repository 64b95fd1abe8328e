"""Which course run a traffic target belongs to, from its tags: the run whose machines `--scale` is for.

The local data plane keeps the scale per course run (`localaws/dataplane.py`). A notebook's traffic
cell knows its run; `workshop traffic URL` from a terminal does not (its target's run id is the
terminal's, often not the notebook's). So the run is read off the resource the URL leads to, by its
`workshop:run` tag, as the teardown reads it: an instance's (EC2), a load balancer's (ELBv2), a
distribution's (CloudFront), a record's hosted zone's (Route 53). None when it has no such tag.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from .. import aws, tags


def run_of(kind: str, resource_id: str, target) -> str | None:
    """The `workshop:run` tag of the resource `kind`/`resource_id` (an `allow.Allowed`'s), or None."""
    try:
        found = _tags(kind, resource_id, target)
    except (BotoCoreError, ClientError):
        return None
    return tags.as_dict(found).get(tags.RUN_KEY) or None


def _tags(kind: str, resource_id: str, target):
    def client(service):
        return aws.client(service, target=target)

    if kind == "instance":
        return client("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    if kind == "load-balancer":
        described = client("elbv2").describe_tags(ResourceArns=[resource_id])["TagDescriptions"]
        return described[0]["Tags"] if described else []
    if kind == "distribution":
        cloudfront = client("cloudfront")
        arn = cloudfront.get_distribution(Id=resource_id)["Distribution"]["ARN"]
        return cloudfront.list_tags_for_resource(Resource=arn)["Tags"].get("Items", [])
    if kind == "record":  # "<zone id>/<name>": the zone is the run's (infra.ensure_zone tags it)
        zone_id = resource_id.split("/", 1)[0]
        return client("route53").list_tags_for_resource(ResourceType="hostedzone",
                                                        ResourceId=zone_id)["ResourceTagSet"].get("Tags", [])
    return []
