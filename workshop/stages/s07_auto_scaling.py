"""Stage 7, Auto Scaling! (slides 18-19): the web tier resizes itself with demand.

On stage 6: a launch template (the web instance's AMI, type, security group, user data),
an Auto Scaling group over the public subnets of both AZs, attached to the load balancer's
target group, between `min_size` and `max_size` instances; a target-tracking policy on the
fleet's average CPU and a simple-scaling policy with its own CloudWatch alarm for bursts.
The six hand-launched instances of stage 5 retire (the group replaces them); stage 4's
pair stays as the always-on baseline.

The policies act on the fleet's real CPU: EC2's `AWS/EC2 CPUUtilization` for the group
(`ASGAverageCPUUtilization`), which the local AWS publishes from the work requests really do
(docs/local-web.md). A ramp of real users (`s07_ramp`, `workshop.traffic`) pushes it over the
target, the alarm fires, the group grows, its new instances join the target group, the CPU
comes back toward the target; when the load stops, the group shrinks. The day in the
notebook's last chart is the capacity model's (`plan_day`: no metric is published), for the
peak claim. Checks: the group spans both AZs within its bounds and is attached to the target
group, the policies track the real metric, the metric exists, alarms have acted.
"""

from __future__ import annotations

import base64
import time
from datetime import timedelta

from .. import bill, capacity, topology
from ..architecture import Architecture, Edge, Node
from ..errors import BadInput
from ..exercises import Exercise
from . import (
    Band,
    Check,
    CheckResult,
    Stage,
    infra,
    register,
    s01_day_one,
    s03_web_and_database,
    s05_users_100k,
    s06_shift_load,
    webtier,
)

MIN_SIZE, MAX_SIZE = 2, 10
MAX_ALLOWED = 20  # kit limit for a room of laptops on one local AWS
TARGET_CPU = 50.0  # per cent: the target AWS's own examples use for ASGAverageCPUUtilization
BURST_CPU, BURST_STEP = 75.0, 2  # the simple policy: +2 instances when CPU > 75% for 2 minutes
#: the evening peak of the model's day; with stage 3's m4.large web servers the capacity model
#: needs ~12 of them at 50% CPU for it, so the group meets its max (2 baseline + 10). It is past what
#: the whole design serves (the database primary's writes stop it near 760,000): `peak_line` says so
PEAK_USERS = 900_000
#: the metric EC2 publishes per Auto Scaling group (Amazon EC2 User Guide, "List the available
#: CloudWatch metrics for your instances"), and the predefined metric target tracking names for it
#: (Amazon EC2 Auto Scaling User Guide, "Target tracking scaling policies")
CPU_NAMESPACE, CPU_METRIC = "AWS/EC2", "CPUUtilization"
PREDEFINED_CPU = "ASGAverageCPUUtilization"
STEP_MINUTES = 30  # the model's day, one row per step

#: demand over a day, share of the peak by hour (kit default: a consumer site's day, quiet at
#: night, busy at lunch, the peak at 20:00), linear between hours
DAY_SHAPE = (0.12, 0.09, 0.07, 0.06, 0.06, 0.08, 0.15, 0.30, 0.45, 0.52, 0.56, 0.60,
             0.66, 0.64, 0.58, 0.55, 0.58, 0.66, 0.80, 0.92, 1.00, 0.88, 0.60, 0.30)
#: a flash crowd (kit default: a TV spot at 13:00): demand jumps to 95% of the peak for 40
#: minutes, faster than target tracking's proportional steps: the burst alarm's moment
FLASH_CROWD = (13 * 60, 13 * 60 + 40, 0.95)


def validate(min_size, max_size, target_cpu=TARGET_CPU, peak_users=PEAK_USERS) -> None:
    """The group's bounds and the simulation's inputs, before anything is created."""
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ALLOWED:
            raise BadInput(f"{name}={value!r}: give a whole number from 0 to {MAX_ALLOWED}. Nothing was created.")
    if min_size < 2:
        raise BadInput(f"min_size={min_size}: keep at least 2 (one per AZ) so one AZ's loss leaves a server. Nothing was created.")
    if max_size < min_size:
        raise BadInput(f"max_size={max_size} is below min_size={min_size}: AWS refuses such a group. Nothing was created.")
    if not isinstance(target_cpu, (int, float)) or not 10 <= target_cpu <= 90:
        raise BadInput(f"target_cpu={target_cpu!r}: give a percentage from 10 to 90 (AWS's example: 50). Nothing was created.")
    if not isinstance(peak_users, int) or isinstance(peak_users, bool) or not 1_000 <= peak_users <= 10_000_000:
        raise BadInput(f"peak_users={peak_users!r}: give a whole number from 1,000 to 10,000,000. Nothing was created.")


def group_name(ctx) -> str:
    return ctx.name("web-asg")


def dimensions(ctx) -> list[dict]:
    return [{"Name": "AutoScalingGroupName", "Value": group_name(ctx)}]


# --- the launch template and the group ---------------------------------------------------------------

def launch_template_data(ctx) -> dict:
    """Clone of the stage-4 web instance: AMI, type, security groups; user data as stage 6's
    (sessions in DynamoDB, reads through ElastiCache: any instance can serve any visitor)."""
    template = s05_users_100k.web_template(ctx)
    instance_tags = ctx.tag_list() + [{"Key": "Name", "Value": group_name(ctx)},
                                      {"Key": infra.ROLE_KEY, "Value": webtier.WEB_ROLE}]
    return {"ImageId": template["ImageId"], "InstanceType": template["InstanceType"],
            "SecurityGroupIds": template["SecurityGroupIds"],
            "UserData": base64.b64encode(s06_shift_load.user_data(ctx).encode()).decode(),
            "TagSpecifications": [{"ResourceType": "instance", "Tags": instance_tags}]}


def ensure_launch_template(ctx) -> str:
    """The launch template; a new default version when the latest one's app config is not stage 6's."""
    from ..webapp import userdata

    ec2 = infra.client(ctx, "ec2")
    found = ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [ctx.name("web-lt")]}])
    if found["LaunchTemplates"]:
        template_id = found["LaunchTemplates"][0]["LaunchTemplateId"]
        latest = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])
        data = latest["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        if userdata.parse(data.get("UserData")) != s06_shift_load.web_config(ctx):
            version = ec2.create_launch_template_version(LaunchTemplateId=template_id,
                                                         LaunchTemplateData=launch_template_data(ctx))
            ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(
                version["LaunchTemplateVersion"]["VersionNumber"]))
        return template_id
    return ec2.create_launch_template(
        LaunchTemplateName=ctx.name("web-lt"), LaunchTemplateData=launch_template_data(ctx),
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": ctx.tag_list()}],
    )["LaunchTemplate"]["LaunchTemplateId"]


def group_tags(ctx) -> list[dict]:
    items = ctx.tag_list() + [{"Key": "Name", "Value": group_name(ctx)}, {"Key": infra.ROLE_KEY, "Value": webtier.WEB_ROLE}]
    return [dict(t, PropagateAtLaunch=True, ResourceId=group_name(ctx), ResourceType="auto-scaling-group") for t in items]


def find_group(ctx) -> dict | None:
    groups = infra.client(ctx, "autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[group_name(ctx)])["AutoScalingGroups"]
    return groups[0] if groups else None


def ensure_group(ctx, min_size: int = MIN_SIZE, max_size: int = MAX_SIZE) -> dict:
    asg = infra.client(ctx, "autoscaling")
    found = find_group(ctx)
    if found is None:
        subnets = webtier.public_subnets(ctx)
        tg = webtier.require(ctx, "target group", webtier.find_target_group(ctx))
        asg.create_auto_scaling_group(
            AutoScalingGroupName=group_name(ctx), LaunchTemplate={"LaunchTemplateName": ctx.name("web-lt"), "Version": "$Latest"},
            MinSize=min_size, MaxSize=max_size, DesiredCapacity=min_size,
            VPCZoneIdentifier=",".join(s["SubnetId"] for s in subnets), TargetGroupARNs=[tg["TargetGroupArn"]],
            HealthCheckType="ELB", HealthCheckGracePeriod=120, Tags=group_tags(ctx))
    elif (found["MinSize"], found["MaxSize"]) != (min_size, max_size):
        asg.update_auto_scaling_group(AutoScalingGroupName=group_name(ctx), MinSize=min_size, MaxSize=max_size)
    return find_group(ctx)


def retire_fixed_extras(ctx) -> list[str]:
    """Deregister and terminate stage 5's hand-launched extras: the group now sizes the tier."""
    ids = s05_users_100k.extra_web_ids(ctx)
    if ids:
        tg = webtier.find_target_group(ctx)
        if tg is not None:
            infra.client(ctx, "elbv2").deregister_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i} for i in ids])
        infra.client(ctx, "ec2").terminate_instances(InstanceIds=ids)
    return ids


# --- the policies ---------------------------------------------------------------------------------------

def target_tracking_configuration(ctx, target_cpu: float = TARGET_CPU) -> dict:
    """Keep the group's average CPU (EC2's CPUUtilization for the group) at `target_cpu`."""
    return {"TargetValue": float(target_cpu), "PredefinedMetricSpecification": {"PredefinedMetricType": PREDEFINED_CPU}}


def ensure_policies(ctx, target_cpu: float = TARGET_CPU) -> dict:
    """The target-tracking policy, the simple-scaling policy and its alarm (re-put: updated in place)."""
    asg = infra.client(ctx, "autoscaling")
    tracking = asg.put_scaling_policy(
        AutoScalingGroupName=group_name(ctx), PolicyName=ctx.name("cpu-target"), PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration=target_tracking_configuration(ctx, target_cpu), EstimatedInstanceWarmup=120)
    burst = asg.put_scaling_policy(
        AutoScalingGroupName=group_name(ctx), PolicyName=ctx.name("cpu-burst"), PolicyType="SimpleScaling",
        AdjustmentType="ChangeInCapacity", ScalingAdjustment=BURST_STEP, Cooldown=300)
    infra.client(ctx, "cloudwatch").put_metric_alarm(
        AlarmName=ctx.name("cpu-burst"), AlarmDescription=f"CPU above {BURST_CPU:g}% for 2 minutes: add {BURST_STEP} instances",
        Namespace=CPU_NAMESPACE, MetricName=CPU_METRIC, Dimensions=dimensions(ctx), Statistic="Average",
        Period=60, EvaluationPeriods=2, DatapointsToAlarm=2, Threshold=BURST_CPU,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[burst["PolicyARN"]], Tags=ctx.tag_list())
    return {"tracking": tracking, "burst": burst}


def build(ctx, min_size: int = MIN_SIZE, max_size: int = MAX_SIZE, target_cpu: float = TARGET_CPU) -> None:
    """Build stage 7 idempotently on stages 1, 3-6 (built by `ws.build_previous()`); the ramp is the notebook's."""
    validate(min_size, max_size, target_cpu)
    ensure_launch_template(ctx)
    ensure_group(ctx, min_size, max_size)
    retire_fixed_extras(ctx)
    ensure_policies(ctx, target_cpu)


# --- the model's day (no metric published: the live proof is s07_ramp) --------------------------------------

def users_at(minute: float, peak_users: int = PEAK_USERS) -> int:
    """Users online `minute` minutes after midnight (DAY_SHAPE, linear between hours)."""
    hour = (minute / 60.0) % 24
    low = int(hour)
    share = DAY_SHAPE[low] + (DAY_SHAPE[(low + 1) % 24] - DAY_SHAPE[low]) * (hour - low)
    start, end, flash = FLASH_CROWD
    if start <= minute % (24 * 60) < end:
        share = max(share, flash)
    return int(peak_users * share)


def baseline_instances(ctx) -> list[dict]:
    """Web instances in the target group that are not the group's (stage 4's pair)."""
    tg = webtier.find_target_group(ctx)
    group = find_group(ctx)
    own = {i["InstanceId"] for i in (group or {}).get("Instances", [])}
    ids = [i for i in webtier.target_ids(ctx, tg["TargetGroupArn"]) if i not in own] if tg else []
    return [i for i in webtier.instances(ctx, ids) if i["State"]["Name"] == "running"]


def in_service(group: dict) -> int:
    return sum(1 for i in group["Instances"] if i.get("LifecycleState") == "InService")


def fleet_for(users: int, baseline: int, instance_type: str, min_size: int = MIN_SIZE, max_size: int = MAX_SIZE,
              target_cpu: float = TARGET_CPU) -> tuple[int, float]:
    """(web instances, their CPU %) target tracking settles on for `users`, by the capacity model: the
    fewest group instances within min..max that keep the CPU at or under the target."""
    for size in range(min_size, max_size + 1):
        cpu = capacity.web_cpu_percent(users, baseline + size, instance_type)
        if cpu <= target_cpu:
            return baseline + size, cpu
    return baseline + max_size, capacity.web_cpu_percent(users, baseline + max_size, instance_type)


def plan_day(ctx, peak_users: int = PEAK_USERS, min_size: int = MIN_SIZE, max_size: int = MAX_SIZE,
             target_cpu: float = TARGET_CPU, step_minutes: int = STEP_MINUTES) -> list[dict]:
    """The capacity model's day: users each step, the instances target tracking would keep, their CPU."""
    validate(min_size, max_size, target_cpu, peak_users)
    baseline = len(baseline_instances(ctx))
    instance_type = s05_users_100k.web_template(ctx)["InstanceType"]
    rows = []
    for minute in range(0, 24 * 60, step_minutes):
        users = users_at(minute, peak_users)
        fleet, cpu = fleet_for(users, baseline, instance_type, min_size, max_size, target_cpu)
        rows.append({"minute": minute, "users": users, "instances": fleet, "cpu": round(min(cpu, 100.0), 1)})
    return rows


def peak_line(ctx, rows: list[dict]) -> str:
    """The day's peak in one line, from the capacity model: web instances and their CPU, and whether
    the whole design (not only its web tier) serves that many users."""
    busiest = max(rows, key=lambda r: r["users"])
    users = busiest["users"]
    line = (f"peak: {users:,} users on {busiest['instances']} web instances at {busiest['cpu']}% CPU; "
            f"fleet between {min(r['instances'] for r in rows)} and {max(r['instances'] for r in rows)}")
    result = capacity.evaluate(capacity.live(ctx), users)
    limit = result.tier(result.bottleneck_key)
    if users > result.max_users:
        return (f"{line}. But the capacity model puts this design at ~{capacity.about(result.max_users)} users: "
                f"at the peak its {limit.label} runs at {limit.utilisation:.0%} of what it sustains, and more web "
                "instances do not help")
    return f"{line}; within the ~{capacity.about(result.max_users)} users the capacity model gives this design"


# --- checks -------------------------------------------------------------------------------------------

def _group(ctx) -> CheckResult:
    group = find_group(ctx)
    if group is None:
        return CheckResult("group", False, f"no Auto Scaling group {group_name(ctx)}: run the group cell")
    azs = webtier.by_az([{"Placement": {"AvailabilityZone": i["AvailabilityZone"]}} for i in group["Instances"]])
    subnet_azs = sorted(group.get("AvailabilityZones", []))
    shown = ", ".join(f"{az}: {n}" for az, n in sorted(azs.items())) or "no instances"
    if len(subnet_azs) < 2:
        return CheckResult("group", False, f"{group_name(ctx)} spans {subnet_azs}: give it the public subnets of both AZs")
    tg = webtier.find_target_group(ctx)
    if tg is None or tg["TargetGroupArn"] not in group.get("TargetGroupARNs", []):
        return CheckResult("group", False, f"{group_name(ctx)} is not attached to the load balancer's target group: "
                                           "its instances would get no traffic")
    if not group["MinSize"] <= group["DesiredCapacity"] <= group["MaxSize"] or len(group["Instances"]) != group["DesiredCapacity"]:
        return CheckResult("group", False, f"desired {group['DesiredCapacity']} with {len(group['Instances'])} instances, "
                                           f"bounds {group['MinSize']}..{group['MaxSize']}")
    if azs and max(azs.values()) - min(azs.get(az, 0) for az in subnet_azs) > 1:
        return CheckResult("group", False, f"instances unbalanced across AZs ({shown}): Auto Scaling should spread them")
    registered = webtier.target_ids(ctx, tg["TargetGroupArn"])
    missing = [i["InstanceId"] for i in group["Instances"] if i["InstanceId"] not in registered]
    if missing:
        return CheckResult("group", False, f"{len(missing)} of the group's instances are not in the target group")
    return CheckResult("group", True, f"{group_name(ctx)}: {group['MinSize']} <= {group['DesiredCapacity']} <= "
                                      f"{group['MaxSize']}, {shown}, attached to the target group")


def _policies(ctx) -> CheckResult:
    asg = infra.client(ctx, "autoscaling")
    policies = {p["PolicyName"]: p for p in asg.describe_policies(AutoScalingGroupName=group_name(ctx))["ScalingPolicies"]}
    tracking, burst = policies.get(ctx.name("cpu-target")), policies.get(ctx.name("cpu-burst"))
    if tracking is None or tracking.get("PolicyType") != "TargetTrackingScaling":
        return CheckResult("policies", False, f"no target-tracking policy {ctx.name('cpu-target')}: run the policies cell")
    metric = (tracking["TargetTrackingConfiguration"].get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
    if metric != PREDEFINED_CPU:
        return CheckResult("policies", False, f"{ctx.name('cpu-target')} tracks {metric or 'a custom metric'}, not "
                                              f"{PREDEFINED_CPU}: the group's real CPU (put the policy again)")
    if burst is None or burst.get("PolicyType", "SimpleScaling") != "SimpleScaling":
        return CheckResult("policies", False, f"no simple-scaling policy {ctx.name('cpu-burst')}: run the policies cell")
    cw = infra.client(ctx, "cloudwatch")
    names = [a["AlarmName"] for a in tracking.get("Alarms", [])] + [ctx.name("cpu-burst")]
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    if len(alarms) != len(names):
        return CheckResult("policies", False, f"expected alarms {names}, found {sorted(alarms)}")
    if burst["PolicyARN"] not in alarms[ctx.name("cpu-burst")].get("AlarmActions", []):
        return CheckResult("policies", False, f"the alarm {ctx.name('cpu-burst')} does not run the policy {ctx.name('cpu-burst')}")
    states = ", ".join(f"{n.split('-Alarm')[-1][:4] if 'Alarm' in n else 'burst'}: {a['StateValue']}" for n, a in alarms.items())
    return CheckResult("policies", True, f"target tracking at {tracking['TargetTrackingConfiguration']['TargetValue']:g}% "
                                         f"CPU with {len(tracking.get('Alarms', []))} alarms, burst +{BURST_STEP}; alarms {states}")


#: how long the local check waits for a just-launched group's first CPU datapoint (its instances start
#: serving in about a second on an idle laptop; a busy one, or a CI machine, takes longer)
METRIC_WAIT_S = 15.0


def _cpu_metric(ctx) -> CheckResult:
    """EC2's CPUUtilization for the group has datapoints in the last minutes: what the alarms evaluate."""
    from . import fleet_metrics

    if find_group(ctx) is None:
        return CheckResult("cpu-metric", False, f"no Auto Scaling group {group_name(ctx)}: run the group cell")
    points, deadline = [], time.monotonic() + (METRIC_WAIT_S if ctx.target.is_local else 0.0)
    while True:  # a group launched a moment ago: its instances start serving within seconds here
        fleet_metrics.publish_now(ctx)
        end = fleet_metrics.now()
        points = fleet_metrics.series(ctx, ("AutoScalingGroupName", group_name(ctx)), end - timedelta(minutes=10), end)
        if points or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if not points:
        return CheckResult("cpu-metric", False, f"CloudWatch has no {CPU_NAMESPACE} {CPU_METRIC} for {group_name(ctx)} "
                                                "in the last 10 minutes: are the group's instances running the web app?")
    return CheckResult("cpu-metric", True, f"{len(points)} datapoints of {CPU_NAMESPACE} {CPU_METRIC} for the group in "
                                           f"10 minutes, the latest {points[-1][1]:.1f}%")


def _scaled(ctx) -> CheckResult:
    """The alarms ran the policies: the group scaled out and back in (after the ramp and its cool-down)."""
    activities = infra.client(ctx, "autoscaling").describe_scaling_activities(
        AutoScalingGroupName=group_name(ctx), MaxRecords=100)["Activities"]
    by_alarm = [a for a in activities if "a monitor alarm" in a.get("Cause", "")]
    out = [a for a in by_alarm if a["Description"].startswith("Launching")]
    back = [a for a in by_alarm if a["Description"].startswith("Terminating")]
    if not out or not back:
        return CheckResult("scaled", False, f"{len(activities)} activities, {len(out)} launches and {len(back)} "
                                            "terminations caused by alarms: run the ramp and cool-down cells")
    return CheckResult("scaled", True, f"{len(out)} launches and {len(back)} terminations caused by alarms "
                                       f"({len(activities)} activities recorded)")


# --- the exercise ----------------------------------------------------------------------------------------

def _check_tracking(value, namespace) -> str | None:
    if not isinstance(value, dict):
        return f"expected a TargetTrackingConfiguration dict, found {type(value).__name__}"
    target = value.get("TargetValue")
    if not isinstance(target, (int, float)) or not 10 <= target <= 90:
        return f"expected TargetValue a CPU percentage such as 50.0, found {target!r}"
    if value.get("CustomizedMetricSpecification"):
        return ("expected the group's real CPU as a predefined metric (PredefinedMetricSpecification), not a "
                "custom one: EC2 publishes it for the group")
    spec = value.get("PredefinedMetricSpecification") or {}
    if spec.get("PredefinedMetricType") != PREDEFINED_CPU:
        return f"expected PredefinedMetricType {PREDEFINED_CPU!r} (the group's average CPU), found {spec.get('PredefinedMetricType')!r}"
    return None


EXERCISES = (Exercise(
    "s07-target-tracking", 7, "tracking", _check_tracking,
    "{'TargetValue': 50.0, 'PredefinedMetricSpecification': {'PredefinedMetricType': <the group's average CPU>}}",
),)


# --- the target architecture -------------------------------------------------------------------------------

def _architecture(min_size: int = MIN_SIZE) -> Architecture:
    base = s06_shift_load.ARCHITECTURE
    web = topology.WEB_TIER
    kept = [n for n in base.nodes if n.kind != "ec2"]
    nodes = kept + [Node("asg", "autoscaling", f"Auto Scaling group\nmin {min_size} · max {MAX_SIZE}\n"
                                               "target tracking + burst alarm")]
    per_az = 1 + min_size // 2  # stage 4's baseline instance + the group's share
    for letter in "AB":
        for k in range(per_az):
            nodes.append(Node(f"web-{letter.lower()}{k + 1}", "ec2", f"web {letter}{k + 1}", topology.az_group(letter, web)))
    ids = {n.id for n in nodes}
    edges = [e for e in base.edges if e.src in ids and e.dst in ids]
    edges += [Edge("alb", f"web-{z}{k + 1}") for z in "ab" for k in range(per_az)
              if not any((e.src, e.dst) == ("alb", f"web-{z}{k + 1}") for e in edges)]
    edges += [Edge("asg", f"web-{z}{k + 1}", "scales") for z in "ab" for k in range(1, per_az)]
    return Architecture("Stage 7: Auto Scaling", tuple(nodes), base.groups, tuple(edges))


ARCHITECTURE = _architecture()

#: the Auto Scaling group is costed at its max: what it may cost at the peak
BILL = (s01_day_one.ADMIN_BOX
        + bill.box(s03_web_and_database.WEB_TYPE, MAX_SIZE, f"Auto Scaling group at its max; min {MIN_SIZE}")
        + bill.alb() + bill.db(s03_web_and_database.DB_CLASS, True, s05_users_100k.READ_REPLICAS)
        + bill.edge(s06_shift_load.CACHE_NODE_TYPE, 2) + bill.zone() + bill.alarms(2))

STAGE = register(Stage(
    number=7,
    slug="auto_scaling",
    title="Auto Scaling!",
    slides="18-19",
    users="-",
    goal="Let the lightweight web tier size itself: an Auto Scaling group over both AZs, target tracking on CPU "
         "and a burst alarm, driven by the fleet's real CPU under a ramp of real users.",
    architecture=ARCHITECTURE,
    builds_on=(1, 3, 4, 5, 6),
    checks=(
        Check("group", _group, "the group spans both AZs within min..max, balanced, attached to the target group"),
        Check("policies", _policies, "target tracking with its alarms, and a simple policy run by its alarm"),
        Check("cpu-metric", _cpu_metric, "EC2's CPUUtilization for the group is in CloudWatch (what the alarms read)"),
        Check("scaled", _scaled, "alarms ran the policies: launches and terminations recorded"),
    ),
    build=build,
    band=Band(10_000, slide="11-19", note="slides 18-19 give no count: Auto Scaling resizes slide 11's web tier "
               "with stage 6's offload, so at least slide 11's '10,000s'; no high bound"),
    exercises=EXERCISES,
    bill=BILL,
))
