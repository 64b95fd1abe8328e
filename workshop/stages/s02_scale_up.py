"""Stage 2, scale up (slide 4): the same box, bigger: t2.micro -> m4.2xlarge -> c4.8xlarge.

An instance's type changes only while it is stopped: stop, modify, start (the local AWS
refuses a change on a running instance with IncorrectInstanceState, as AWS does). The
Elastic IP stays attached and `www` keeps resolving to it, so users find the bigger box
at the same address. The families table reads each type's vCPUs and memory from
`describe_instance_types` (AWS's own data, the figures of the AWS "Amazon EC2 Instance
Types" page, https://aws.amazon.com/ec2/instance-types/). The wall: c4.8xlarge is the
largest size of its family; beyond it there is no bigger box, only more boxes.

The `resize-downtime` check measures what slide 4's "easy to change instance sizes" costs: a
type change on the running box is refused, and the stop and start it needs, under a trickle of
requests, is an outage (`downtime.Watch`). Locally that outage is only the emulator's (no OS
shutdown, no boot, no user data run: see `downtime`); on AWS the same check measures the real one.
"""

from __future__ import annotations

import dataclasses
import math

from botocore.exceptions import ClientError

from .. import bill, topology
from ..architecture import Architecture, Edge, Group, Node
from ..errors import BadInput
from ..exercises import Exercise
from . import Band, Check, CheckResult, Stage, downtime, infra, register, s01_day_one

#: the talk's steps (slide 4)
SIZES = ("t2.micro", "m4.2xlarge", "c4.8xlarge")

#: the families of slide 4, with one example type each; vCPUs and memory are read from
#: describe_instance_types (source: AWS, "Amazon EC2 Instance Types",
#: https://aws.amazon.com/ec2/instance-types/). PIOPS: AWS, "Amazon EBS volume types"
#: (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html): io1 and io2 up to
#: 64,000 IOPS per volume only when attached to an instance built on the Nitro System (32,000 on
#: others); the talk's 2015 PIOPS was io1 (up to 20,000 IOPS then); today gp3 gives 3,000 IOPS at any size
#: and io2 Block Express up to 256,000 on some Nitro instances.
FAMILIES = (
    ("general purpose (balanced)", "m4.2xlarge", "the talk's first step up"),
    ("compute optimised (high CPU)", "c4.8xlarge", "the talk's last step: the wall"),
    ("memory optimised (high memory)", "r4.8xlarge", "large in-memory working sets"),
    ("storage optimised (high I/O)", "i3.8xlarge", "local NVMe SSD, very high IOPS"),
    ("dense storage (high storage)", "d2.8xlarge", "24 x 2 TB local HDD"),
    ("EBS Provisioned IOPS volume (io1/io2)", None, "up to 64,000 IOPS per volume on Nitro instances, 32,000 on "
     "others (AWS, \"Amazon EBS volume types\")"),
)


def validate_sizes(ctx, sizes) -> list[dict]:
    """Each size a real instance type, each step bigger than the one before (in vCPUs)."""
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise BadInput(f"sizes={sizes!r}: give at least two instance types, smallest first, e.g. {list(SIZES)}. "
                       "Nothing was changed.")
    described = [infra.validate_instance_type(ctx, s, "sizes") for s in sizes]
    for small, big in zip(described, described[1:]):
        if big["VCpuInfo"]["DefaultVCpus"] < small["VCpuInfo"]["DefaultVCpus"]:
            raise BadInput(f"sizes: {big['InstanceType']} is smaller than {small['InstanceType']}; "
                           "scaling up goes to bigger boxes. Nothing was changed.")
    return described


def describe_type(ctx, instance_type: str) -> str:
    d = infra.validate_instance_type(ctx, instance_type)
    return f"{instance_type} ({d['VCpuInfo']['DefaultVCpus']} vCPUs, {d['MemoryInfo']['SizeInMiB'] / 1024:g} GiB)"


def families_table(ctx) -> str:
    """Slide 4's families as a Markdown table, vCPUs and memory read from the target."""
    rows = ["| family | example | vCPUs | memory (GiB) | note |", "|---|---|---|---|---|"]
    for family, example, note in FAMILIES:
        if example is None:
            rows.append(f"| {family} | - | - | - | {note} |")
            continue
        d = infra.validate_instance_type(ctx, example)
        rows.append(f"| {family} | {example} | {d['VCpuInfo']['DefaultVCpus']} | "
                    f"{d['MemoryInfo']['SizeInMiB'] / 1024:g} | {note} |")
    rows.append("\nSource: vCPUs and memory from `ec2.describe_instance_types` (AWS's data, as on the AWS "
                "\"Amazon EC2 Instance Types\" page); PIOPS: AWS \"Amazon EBS volume types\".")
    return "\n".join(rows)


def the_wall(ctx, instance_type: str = SIZES[-1]) -> str:
    """The largest size of the type's family (by vCPUs), read from describe_instance_types."""
    family = instance_type.split(".")[0]
    ec2 = infra.client(ctx, "ec2")
    found = []
    for page in ec2.get_paginator("describe_instance_types").paginate(
            Filters=[{"Name": "instance-type", "Values": [f"{family}.*"]}]):
        found += page["InstanceTypes"]
    largest = max(found, key=lambda d: (d["VCpuInfo"]["DefaultVCpus"], d["MemoryInfo"]["SizeInMiB"]))
    return largest["InstanceType"]


def build(ctx, sizes=SIZES) -> dict:
    """Leave the day-1 instance at the last size (stop, modify, start; same Elastic IP)."""
    validate_sizes(ctx, sizes)
    infra.ensure_previous(ctx, infra.find_instance(ctx, "web-a") is None)
    instance = infra.find_instance(ctx, "web-a")
    infra.resize(ctx, instance["InstanceId"], sizes[-1])
    return {"instance": instance["InstanceId"], "type": sizes[-1]}


# --- checks ---------------------------------------------------------------------------------

def _size(ctx) -> CheckResult:
    instance = infra.find_instance(ctx, "web-a")
    if instance is None:
        return CheckResult("size", False, f"no instance {ctx.name('web-a')}: run stage 1")
    found, want = instance["InstanceType"], SIZES[-1]
    if found != want:
        return CheckResult("size", False, f"expected {want}, found {found}: stop, modify the type, start")
    if instance["State"]["Name"] != "running":
        return CheckResult("size", False, f"{found} is {instance['State']['Name']}: start it")
    return CheckResult("size", True, f"{describe_type(ctx, found)}, running")


def _same_address(ctx) -> CheckResult:
    instance = infra.find_instance(ctx, "web-a")
    address = infra.find_address(ctx)
    if instance is None or address is None:
        return CheckResult("same-address", False, "the day-1 instance or its Elastic IP is missing: run stage 1")
    if address.get("InstanceId") != instance["InstanceId"]:
        return CheckResult("same-address", False, f"the Elastic IP {address['PublicIp']} is no longer on "
                                                  f"{instance['InstanceId']}: associate it again")
    site = s01_day_one.site_status(ctx)
    message = f"same address after resizing: {site.message}" if site.ok else site.message
    return CheckResult("same-address", site.ok, message)


def refused_while_running(ctx, instance: dict) -> str | None:
    """Ask for a type change on the running box (its own type: nothing changes if a target accepted it);
    the error code it is refused with, or None if it was accepted."""
    try:
        infra.client(ctx, "ec2").modify_instance_attribute(InstanceId=instance["InstanceId"],
                                                           InstanceType={"Value": instance["InstanceType"]})
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def _resize_downtime(ctx) -> CheckResult:
    """A resize needs a stop: refused while running; the stop and start it needs, under traffic, is an outage."""
    name = "resize-downtime"
    first = s01_day_one.answers(ctx, name)
    if not first.ok:
        return CheckResult(name, False, f"cannot measure it: {first.message}")
    instance = infra.find_instance(ctx, "web-a")
    instance_id, ec2 = instance["InstanceId"], infra.client(ctx, "ec2")
    refused = refused_while_running(ctx, instance)
    if refused != "IncorrectInstanceState":
        return CheckResult(name, False, f"expected a type change on the running {instance_id} to be refused with "
                                        f"IncorrectInstanceState (stop it first), found {refused or 'it accepted'}")
    with downtime.watch(ctx, instance, lead_s=0.5, tail_s=0.3) as w:
        w.mark("stop_instances")
        ec2.stop_instances(InstanceIds=[instance_id])
        infra.wait_stopped(ctx, instance_id, ctx.name("web-a"))
        w.stopped()
        w.mark("start_instances")
        ec2.start_instances(InstanceIds=[instance_id])
        infra.wait_running(ctx, instance_id, ctx.name("web-a"))
        w.mark("running")
    if w.down_at is None:
        return CheckResult(name, False, f"no request failed across the stop and start of {instance_id} "
                                        f"[{w.result.timeline()}]: expected an outage, one box cannot be resized live")
    if w.back_at is None:
        return CheckResult(name, False, f"{instance_id} was started again but does not answer yet ({w.summary()}); "
                                        "run the check again in a minute")
    emulated = (" (local AWS: moto stops and starts at once, no OS shutdown, boot or user data run; "
                "on AWS they add to it)") if ctx.is_local else ""
    return CheckResult(name, True, f"a type change on the running box is refused (IncorrectInstanceState); the stop "
                                   f"and start it needs: {w.summary()}{emulated}")


# --- the exercise: predict what the bigger box serves, before the model says ----------------------

def capacity_on(ctx_or_topology, instance_type: str):
    """The capacity model's verdict (a `capacity.Result`) on this run's topology with its serving
    instances resized to `instance_type`: what the box would serve, without resizing anything."""
    from .. import capacity
    from ..capacity.model import SERVING_ROLES

    live = capacity.live(ctx_or_topology)
    resized = dataclasses.replace(live, instances=[
        dataclasses.replace(i, type=instance_type, state="running") if i.role in SERVING_ROLES else i
        for i in live.instances])
    return capacity.evaluate(resized, 0)


def _check_prediction(value, namespace) -> str | None:
    from .. import capacity
    from ..capacity import instance_types

    ws, sizes = namespace.get("ws"), namespace.get("sizes")
    if ws is None or not sizes:
        return "run the setup cell first (it defines ws and sizes)"
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return f"expected a number of users, found {value!r}"
    small, big = capacity_on(ws, sizes[0]), capacity_on(ws, sizes[-1])
    expected = big.max_users
    if abs(value - expected) <= TOLERANCE * expected:
        return None
    ratio = value / small.max_users if small.max_users else math.inf
    v_small, v_big = instance_types.vcpus(sizes[0]), instance_types.vcpus(sizes[-1])
    return (f"expected about {capacity.about(expected)} users on {sizes[-1]} (±{TOLERANCE:.0%}), found {value:,.0f} "
            f"({ratio:.3g}× {sizes[0]}'s): the bottleneck is still the {big.bottleneck}, bound by its CPU, "
            f"and {sizes[-1]} has {v_big} vCPUs to {sizes[0]}'s {v_small}")


#: how far a prediction may be from the model's figure: rounding the small box's figure to two
#: significant figures, as `capacity.about` prints it, moves the product by at most 2.5%
TOLERANCE = 0.10

EXERCISES = (Exercise(
    "s02-predict-users", 2, "predicted_users", _check_prediction,
    "on one box, web and database share the same CPU: which figure of the two sizes grows with the work it "
    "can do, memory or vCPUs?",
    more="the model keeps the same share of headroom on any size: what it serves grows in proportion to the "
         "vCPUs; scale the small box's figure by the ratio of the two sizes' vCPUs",
),)


ARCHITECTURE = Architecture(
    "Stage 2: scale up, a bigger box",
    nodes=(
        Node("user", "user", "Users"),
        Node("dns", "route53", "Route 53\nwww A record"),
        Node("eip", "eip", "Elastic IP\n(unchanged)"),
        Node("web", "ec2", "EC2 c4.8xlarge\nweb + app + database", group=topology.az_group("A", topology.WEB_TIER)),
    ),
    groups=(Group(topology.az_group("A"), "Availability Zone A"),
            Group(topology.az_group("A", topology.WEB_TIER), topology.WEB_TIER, parent=topology.az_group("A"))),
    edges=(Edge("user", "dns", "DNS"), Edge("dns", "eip", "www"), Edge("eip", "web", "HTTP")),
)

#: the same box, resized through the talk's sizes; the hourly figure is its largest size
BILL = (bill.box(SIZES[0], 1, "before resizing", session_hours=1.0, in_hourly=False)
        + (bill.Part(f"EC2 {SIZES[1]} x 1 (resized)", bill.ec2(SIZES[1]), 1, session_hours=0.5, in_hourly=False),
           bill.Part(f"EC2 {SIZES[-1]} x 1 (largest size)", bill.ec2(SIZES[-1]), 1, session_hours=0.5),
           bill.Part("EBS gp3 8 GB x 1 (root volume)", "ebs:gp3", 8),
           bill.Part("public IPv4 x 1 (Elastic IP)", "vpc:public-ipv4", 1))
        + bill.zone())

STAGE = register(Stage(
    number=2,
    slug="scale_up",
    title="Scale up: a bigger box",
    slides="4",
    users="(same box, bigger)",
    goal="Change the instance type t2.micro -> m4.2xlarge -> c4.8xlarge (stop, modify, start) at the same address, "
         "and meet the wall.",
    architecture=ARCHITECTURE,
    builds_on=(1,),
    checks=(
        Check("size", _size, "the day-1 instance runs as c4.8xlarge"),
        Check("same-address", _same_address, "the Elastic IP and www still lead to the resized instance"),
        Check("resize-downtime", _resize_downtime, "a type change is refused while running; the stop and start it "
                                                   "needs, under a trickle of requests, is an outage (slide 4)"),
    ),
    build=build,
    band=Band(1_000, slide="3-4", note="slide 4 gives no count ('(same box, bigger)'): the bigger box serves at "
              "least the 'few thousand' slide 3 gives the day-1 box; 'will hit a wall eventually' (slide 4) gives no "
              "figure, the largest box's own is the ceiling, so no high bound"),
    exercises=EXERCISES,
    bill=BILL,
))
