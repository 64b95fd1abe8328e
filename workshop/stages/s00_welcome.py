"""Stage 0: the welcome notebook: the kit, its two targets, the first call and diagram."""

from ..architecture import Architecture, Edge, Group, Node
from ..exercises import Exercise
from . import Check, CheckResult, Stage, register


def _sts_answers(ctx) -> CheckResult:
    from .. import aws

    account = aws.client("sts").get_caller_identity()["Account"]
    expected = aws.account_id()
    ok = account == expected
    return CheckResult("sts", ok, f"STS answers for account {account}" if ok else
                       f"expected account {expected}, STS says {account}: check WORKSHOP_AWS_ACCOUNT")


def _zones_checker(value, namespace):
    from .. import aws

    expected = sorted(z["ZoneName"] for z in aws.client("ec2").describe_availability_zones()["AvailabilityZones"])
    if not isinstance(value, (list, tuple)):
        return f"expected a list of zone names like {expected[:2]}, found {type(value).__name__} {value!r:.60}"
    if sorted(value) != expected:
        return f"expected the {len(expected)} zone names {expected}, found {sorted(value)!r:.120}"
    return None


EXERCISES = (Exercise(
    name="s00-zones",
    stage=0,
    variable="zones",
    checker=_zones_checker,
    hint="ec2.describe_availability_zones() returns {'AvailabilityZones': [{'ZoneName': ...}, ...]}",
),)


STAGE = register(Stage(
    number=0,
    slug="welcome",
    title="Welcome",
    slides="1",
    users="-",
    goal="Meet the kit: the local AWS, the first boto3 call, the first architecture diagram.",
    architecture=Architecture(
        "Welcome: the shape of day 1",
        nodes=(
            Node("user", "user", "User"),
            Node("dns", "route53", "Amazon Route 53"),
            Node("web", "ec2", "EC2 instance", group="az"),
        ),
        groups=(Group("az", "Availability Zone"),),
        edges=(Edge("user", "dns", "DNS"), Edge("dns", "web", "HTTP")),
    ),
    checks=(Check("sts", _sts_answers, "the target answers STS for the expected account"),),
    exercises=EXERCISES,
))
