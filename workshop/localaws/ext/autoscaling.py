"""Auto Scaling that behaves like AWS's: balanced AZs, min/max enforced, activities, alarms' policies.

moto 5.2.5 (pinned in constraints.txt) launches every instance of a group in its first
subnet, accepts a desired capacity outside min..max, never records a scaling activity,
leaves scaled-in instances registered in the attached target groups, answers a
SimpleScaling `PutScalingPolicy` with `PolicyArn` (botocore expects `PolicyARN`, so boto3
raises KeyError) and creates no alarms for a target-tracking policy. This module patches
moto's Auto Scaling models in `install()` so that, as on AWS:

- launches go to the group's AZ with the fewest instances, scale-in takes from the AZ with
  the most (Auto Scaling's default termination policy; ties: the oldest instance);
- `SetDesiredCapacity`, `CreateAutoScalingGroup` and `UpdateAutoScalingGroup` refuse a
  desired capacity outside min..max (ValidationError, AWS's messages); scaling policies
  (`ExecutePolicy`, alarm actions) clamp their result to min..max;
- every launch and termination is a scaling activity (`DescribeScalingActivities`);
- a terminated instance is replaced, and instances leaving the group leave its target groups;
- `PutScalingPolicy` answers `PolicyARN` (and `Alarms`); a target-tracking policy creates
  its CloudWatch alarms AlarmHigh and AlarmLow, deleted with the policy or the group.

`execute_policy_arn(...)` is what `cloudwatch_alarms` calls when an alarm's action names
a scaling policy. Sources for AWS's behaviour: Amazon EC2 Auto Scaling User Guide,
"Rebalancing activities", "Control which instances terminate during scale in",
"Target tracking scaling policies", "Verify a scaling activity".
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import Counter
from datetime import timedelta, timezone

from moto.autoscaling import models as asm
from moto.autoscaling import responses as asr
from moto.autoscaling.exceptions import ValidationError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

#: all Auto Scaling state changes made here hold this lock (the server is threaded)
LOCK = threading.RLock()
_state = threading.local()  # .cause: why the capacity is changing (set by policies and alarms)

# Target tracking alarms, as AWS creates them for a policy on a 1-minute metric (source:
# EC2 Auto Scaling User Guide, "Target tracking scaling policies": AlarmHigh "3 datapoints
# within 3 minutes", AlarmLow "15 datapoints within 15 minutes" at 90% of the target).
HIGH_PERIODS, LOW_PERIODS, LOW_FRACTION, ALARM_PERIOD_S = 3, 15, 0.9, 60
PREDEFINED_METRICS = {  # PredefinedMetricType -> (namespace, metric name, statistic)
    "ASGAverageCPUUtilization": ("AWS/EC2", "CPUUtilization", "Average"),
    "ASGAverageNetworkIn": ("AWS/EC2", "NetworkIn", "Average"),
    "ASGAverageNetworkOut": ("AWS/EC2", "NetworkOut", "Average"),
}


# --- activities ----------------------------------------------------------------------------

def _aware(when):
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _now():
    """The clock of the change: the metric's time when an alarm acts (see cloudwatch_alarms), else now."""
    return _aware(getattr(_state, "clock", None) or utcnow())


def _record(group, description: str, cause: str) -> None:
    # StartTime is the server's clock, so activities list in the order they happened; the
    # cause quotes the metric's clock when an alarm acted on simulated (past) data
    when = _aware(utcnow())
    activity = asm.Activity(description, cause, group, start_time=when, end_time=when, status_code="Successful")
    activity.progress = 100
    group.__dict__.setdefault("_workshop_activities", []).append(activity)


def _cause_prefix() -> str:
    cause = getattr(_state, "cause", None)
    return f"{cause} " if cause else ""


def activities(group) -> list:
    """A group's recorded scaling activities, newest first."""
    return list(reversed(group.__dict__.get("_workshop_activities", [])))


# --- launching and terminating, balanced across AZs ---------------------------------------------

def _az_counts(group) -> Counter:
    counts = Counter({az: 0 for az in group.availability_zones})
    for state in group.active_instances():
        counts[state.instance.placement.zone] += 1
    return counts


def _subnets_by_az(group) -> dict[str, str]:
    out: dict[str, str] = {}
    if group.vpc_zone_identifier:
        for subnet_id in group.vpc_zone_identifier.split(","):
            subnet = group.autoscaling_backend.ec2_backend.get_subnet(subnet_id.strip())
            out.setdefault(subnet.availability_zone, subnet.id)
    return out


def _launch(self, count_needed: int, propagated_tags: dict[str, str]) -> None:
    """Launch `count_needed` instances, each in the AZ that has the fewest."""
    propagated_tags = dict(propagated_tags)
    propagated_tags[asm.ASG_NAME_TAG] = self.name
    propagated_tags.update(self.instance_tags)
    subnets = _subnets_by_az(self)
    associate_public_ip = self.launch_config.associate_public_ip_address if self.launch_config else None
    launch_template = None
    if self.ec2_launch_template:
        launch_template = ({"LaunchTemplateId": self.ec2_launch_template.id} if self.ec2_launch_template.id
                           else {"LaunchTemplateName": self.ec2_launch_template.name})
    order = list(dict.fromkeys(self.availability_zones))
    for _ in range(count_needed):
        counts = _az_counts(self)
        before = len(self.active_instances())
        az = min(order, key=lambda z: (counts[z], order.index(z)))
        reservation = self.autoscaling_backend.ec2_backend.run_instances(
            self.image_id, 1, self.user_data, self.security_groups,
            instance_type=self.instance_type, tags={"instance": dict(propagated_tags)},
            placement=az, launch_config=self.launch_config, launch_template=launch_template,
            is_instance_type_default=False, associate_public_ip=associate_public_ip,
            subnet_id=subnets.get(az),
        )
        for instance in reservation.instances:
            instance.autoscaling_group = self
            self.instance_states.append(asm.InstanceState(
                instance, protected_from_scale_in=self.new_instances_protected_from_scale_in))
            _record(self, f"Launching a new EC2 instance: {instance.id}",
                    f"{_cause_prefix()}At {_now():%Y-%m-%dT%H:%M:%SZ} an instance was started in response to a "
                    f"difference between desired and actual capacity, increasing the capacity from {before} to {before + 1}.")
    if count_needed and self.name in self.autoscaling_backend.autoscaling_groups:
        self.autoscaling_backend.update_attached_target_groups(self.name)  # new instances join the target groups


def _pick_for_scale_in(group):
    """AWS's default termination policy: the AZ with the most instances, then (here) the oldest."""
    candidates = [s for s in group.active_instances() if not s.protected_from_scale_in]
    if not candidates:
        return None
    counts = _az_counts(group)
    busiest = max(counts[s.instance.placement.zone] for s in candidates)
    in_busiest = [s for s in candidates if counts[s.instance.placement.zone] == busiest]
    return min(in_busiest, key=lambda s: (s.instance.launch_time, s.instance.id))


def _deregister(group, instance_ids: list[str]) -> None:
    """Instances leaving a group leave its target groups (AWS deregisters them first)."""
    if not instance_ids or not group.target_group_arns:
        return
    elbv2 = group.autoscaling_backend.elbv2_backend
    for arn in group.target_group_arns:
        target_group = elbv2.target_groups.get(arn)
        if target_group is not None:
            target_group.deregister([{"Id": i} for i in instance_ids if i in target_group.targets])


def _set_desired_capacity(self, new_capacity):
    """moto's, balanced: launch into the emptiest AZ, terminate from the fullest."""
    if self.mixed_instances_policy:
        return _ORIGINAL["set_desired_capacity"](self, new_capacity)
    with LOCK:
        self.desired_capacity = self.min_size if new_capacity is None else new_capacity
        delta = (self.desired_capacity or 0) - len(self.active_instances())
        if delta > 0:
            self.replace_autoscaling_group_instances(delta, self.get_propagated_tags())
        removed = []
        for _ in range(-delta if delta < 0 else 0):
            state = _pick_for_scale_in(self)
            if state is None:
                break
            before = len(self.active_instances())
            self.instance_states.remove(state)
            removed.append(state.instance.id)
            _record(self, f"Terminating EC2 instance: {state.instance.id}",
                    f"{_cause_prefix()}At {_now():%Y-%m-%dT%H:%M:%SZ} an instance was taken out of service in response "
                    f"to a difference between desired and actual capacity, shrinking the capacity from {before} to {before - 1}.")
        if removed:
            _deregister(self, removed)
            self.autoscaling_backend.ec2_backend.terminate_instances(removed)
        if self.name in self.autoscaling_backend.autoscaling_groups:
            self.autoscaling_backend.update_attached_elbs(self.name)
            self.autoscaling_backend.update_attached_target_groups(self.name)


# --- min/max on every path -------------------------------------------------------------------

def _check_bounds(min_size, max_size, desired) -> None:
    if min_size is not None and max_size is not None and min_size > max_size:
        raise ValidationError(f"Max bound, {max_size}, must be greater than or equal to min bound, {min_size}")
    if desired is not None and min_size is not None and max_size is not None and not min_size <= desired <= max_size:
        raise ValidationError(
            f"Desired capacity:{desired} must be between the specified min size:{min_size} and max size:{max_size}")


def _create_group(self, *args, **kwargs):
    _check_bounds(asm.make_int(kwargs.get("min_size")), asm.make_int(kwargs.get("max_size")),
                  asm.make_int(kwargs.get("desired_capacity")))
    with LOCK:
        return _ORIGINAL["create_auto_scaling_group"](self, *args, **kwargs)


def _update_group(self, name, *args, **kwargs):
    group = self.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
    min_size = kwargs.get("min_size") if kwargs.get("min_size") is not None else group.min_size
    max_size = kwargs.get("max_size") if kwargs.get("max_size") is not None else group.max_size
    desired = kwargs.get("desired_capacity")
    _check_bounds(min_size, max_size, desired)
    with LOCK:
        _ORIGINAL["update_auto_scaling_group"](self, name, *args, **kwargs)
        if desired is None and group.desired_capacity is not None:  # AWS moves desired into the new bounds
            clamped = max(min_size, min(max_size, group.desired_capacity))
            if clamped != group.desired_capacity:
                group.set_desired_capacity(clamped)


def _respond_set_desired_capacity(self):
    name = self._get_param("AutoScalingGroupName")
    desired = self._get_int_param("DesiredCapacity")
    group = self.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
    if desired is not None and group.max_size is not None and desired > group.max_size:
        raise ValidationError(f"New SetDesiredCapacity value {desired} is above max value {group.max_size} for the AutoScalingGroup.")
    if desired is not None and group.min_size is not None and desired < group.min_size:
        raise ValidationError(f"New SetDesiredCapacity value {desired} is below min value {group.min_size} for the AutoScalingGroup.")
    with LOCK:
        return _ORIGINAL["respond_set_desired_capacity"](self)


# --- policies --------------------------------------------------------------------------------

def _clamp(group, desired: int) -> int:
    return max(group.min_size or 0, min(group.max_size if group.max_size is not None else desired, desired))


def policy_target(policy, group, metric_value: float | None = None) -> int:
    """The desired capacity a policy asks for (before min/max)."""
    current = group.desired_capacity or 0
    if policy.policy_type == "TargetTrackingScaling":
        config = policy.target_tracking_configuration
        target = float(getattr(config, "TargetValue", 0) or 0)
        if metric_value is None or target <= 0:
            return current
        # proportional, as target tracking does: capacity x (metric / target), rounded up
        return max(1, math.ceil(max(current, 1) * metric_value / target))
    adjustment = policy.scaling_adjustment or 0
    if policy.adjustment_type == "ExactCapacity":
        return adjustment
    if policy.adjustment_type == "PercentChangeInCapacity":
        change = current * adjustment / 100.0
        step = math.copysign(max(1, math.floor(abs(change))), change) if change else 0
        if policy.min_adjustment_magnitude and abs(step) < int(policy.min_adjustment_magnitude):
            step = math.copysign(int(policy.min_adjustment_magnitude), change)
        return current + int(step)
    return current + adjustment  # ChangeInCapacity (the default)


def _run_policy(backend, policy, cause: str, metric_value: float | None = None) -> tuple[int, int]:
    group = backend.autoscaling_groups.get(policy.auto_scaling_group_name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{policy.auto_scaling_group_name}' not found")
    with LOCK:
        before = group.desired_capacity or 0
        after = _clamp(group, policy_target(policy, group, metric_value))
        if after != before:
            _state.cause = f"{cause} changing the desired capacity from {before} to {after}."
            try:
                group.set_desired_capacity(after)
            finally:
                _state.cause = None
        return before, after


def _execute_policy(self, name: str) -> None:
    policy = self.policies.get(name)
    if policy is None:
        raise ValidationError(f"No such policy: {name}")
    _run_policy(self, policy, f"At {utcnow():%Y-%m-%dT%H:%M:%SZ} a user request executed policy {name}")


def execute_policy_arn(account_id: str, region: str, arn: str, alarm_name: str, state: str,
                       metric_value: float | None, now=None) -> tuple[int, int] | None:
    """Run the scaling policy an alarm action names; (desired before, after) or None if unknown.

    Simple scaling honours the policy's cooldown, measured on the metric's clock `now`
    (so a simulated day with timestamps in the past behaves as it would live).
    """
    backend = asm.autoscaling_backends[account_id][region]
    policy = next((p for p in backend.policies.values() if p.arn == arn), None)
    if policy is None:
        return None
    group = backend.autoscaling_groups.get(policy.auto_scaling_group_name)
    if group is None:
        return None
    now = _aware(now or utcnow())
    if policy.policy_type == "SimpleScaling":
        last = policy.__dict__.get("_workshop_last_run")
        cooldown = policy.cooldown if policy.cooldown is not None else group.default_cooldown
        if last is not None and timedelta(0) <= now - last < timedelta(seconds=cooldown or 0):  # a replayed day restarts
            return (group.desired_capacity, group.desired_capacity)
    _state.clock = now
    try:
        result = _run_policy(backend, policy, f"At {now:%Y-%m-%dT%H:%M:%SZ} a monitor alarm {alarm_name} in state {state} "
                                          f"triggered policy {policy.name}", metric_value)
    finally:
        _state.clock = None
    policy._workshop_last_run = now
    return result


def _target_tracking_alarms(backend, policy) -> list[dict[str, str]]:
    """Create (or update) a target-tracking policy's AlarmHigh and AlarmLow, as AWS does."""
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch = cloudwatch_backends[backend.account_id][backend.region_name]
    config = policy.target_tracking_configuration
    target = float(getattr(config, "TargetValue", 0) or 0)
    predefined = getattr(config, "PredefinedMetricSpecification", None) or {}
    custom = getattr(config, "CustomizedMetricSpecification", None) or {}
    if predefined:
        metric_type = predefined.get("PredefinedMetricType")
        if metric_type not in PREDEFINED_METRICS:
            return []
        namespace, metric, statistic = PREDEFINED_METRICS[metric_type]
        dimensions = [{"Name": "AutoScalingGroupName", "Value": policy.auto_scaling_group_name}]
    elif custom.get("MetricName"):
        namespace, metric = custom.get("Namespace"), custom["MetricName"]
        statistic = custom.get("Statistic", "Average")
        dimensions = [{"Name": d["Name"], "Value": d["Value"]} for d in custom.get("Dimensions", [])]
    else:
        return []
    existing = policy.__dict__.get("alarms") or []
    names = {("High" if "AlarmHigh" in a["AlarmName"] else "Low"): a["AlarmName"] for a in existing}
    suffix = str(uuid.uuid4())
    out = []
    kinds = [("High", target, "GreaterThanThreshold", HIGH_PERIODS),
             ("Low", round(target * LOW_FRACTION, 6), "LessThanThreshold", LOW_PERIODS)]
    if getattr(config, "DisableScaleIn", False):  # AWS creates no AlarmLow then
        kinds = kinds[:1]
        if "Low" in names:
            cloudwatch.delete_alarms([names["Low"]])
    for kind, threshold, operator, periods in kinds:
        name = names.get(kind) or f"TargetTracking-{policy.auto_scaling_group_name}-Alarm{kind}-{suffix}"
        alarm = cloudwatch.put_metric_alarm(
            name=name, namespace=namespace, metric_name=metric, comparison_operator=operator,
            evaluation_periods=periods, period=ALARM_PERIOD_S, threshold=threshold, statistic=statistic,
            description=f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy.arn}.",
            dimensions=dimensions, alarm_actions=[policy.arn], datapoints_to_alarm=periods,
        )
        out.append({"AlarmName": alarm.name, "AlarmARN": alarm.alarm_arn})
    return out


def _delete_alarms(backend, policy) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    names = [a["AlarmName"] for a in policy.__dict__.get("alarms") or []]
    if names:
        cloudwatch_backends[backend.account_id][backend.region_name].delete_alarms(names)


def _respond_put_scaling_policy(self):
    params = self._get_params()
    name = params.get("PolicyName")
    group_name = params.get("AutoScalingGroupName")
    backend = self.autoscaling_backend
    if group_name not in backend.autoscaling_groups:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{group_name}' not found")
    with LOCK:
        previous = backend.policies.get(name)
        policy = backend.put_scaling_policy(
            name=name, policy_type=params.get("PolicyType", "SimpleScaling"),
            metric_aggregation_type=params.get("MetricAggregationType"),
            adjustment_type=params.get("AdjustmentType"), as_name=group_name,
            min_adjustment_magnitude=params.get("MinAdjustmentMagnitude"),
            scaling_adjustment=self._get_int_param("ScalingAdjustment"),
            cooldown=self._get_int_param("Cooldown"),
            target_tracking_config=params.get("TargetTrackingConfiguration", {}),
            step_adjustments=params.get("StepAdjustments", []),
            estimated_instance_warmup=params.get("EstimatedInstanceWarmup"),
            predictive_scaling_configuration=params.get("PredictiveScalingConfiguration", {}),
        )
        if previous is not None:
            policy.alarms = previous.__dict__.get("alarms") or []  # updated in place, as AWS does
            policy._workshop_last_run = previous.__dict__.get("_workshop_last_run")
        if policy.policy_type == "TargetTrackingScaling":
            policy.alarms = _target_tracking_alarms(backend, policy)
        elif previous is not None and previous.policy_type == "TargetTrackingScaling":
            _delete_alarms(backend, previous)
            policy.alarms = []
        else:
            policy.alarms = policy.__dict__.get("alarms") or []
    return ActionResult({"PolicyARN": policy.arn, "Alarms": policy.alarms})


def _delete_policy(self, name: str) -> None:
    policy = self.policies.get(name)
    if policy is not None:
        _delete_alarms(self, policy)
    _ORIGINAL["delete_policy"](self, name)


def _delete_group(self, group_name: str) -> None:
    with LOCK:
        _ORIGINAL["delete_auto_scaling_group"](self, group_name)
        for name, policy in list(self.policies.items()):  # AWS deletes a group's policies and their alarms
            if policy.auto_scaling_group_name == group_name:
                _delete_alarms(self, policy)
                self.policies.pop(name, None)


# --- terminations from outside, detaching ---------------------------------------------------------

def _notify_terminate(self, instance_ids: list[str]) -> None:
    with LOCK:
        for group in self.autoscaling_groups.values():
            gone = [s.instance.id for s in group.active_instances() if s.instance.id in instance_ids]
            for instance_id in gone:
                _record(group, f"Terminating EC2 instance: {instance_id}",
                        f"At {utcnow():%Y-%m-%dT%H:%M:%SZ} an instance was taken out of service in response to an EC2 "
                        "health check indicating it has been terminated or stopped.")
            _deregister(group, gone)
        _ORIGINAL["notify_terminate_instances"](self, instance_ids)


def _detach(self, group_name: str, instance_ids: list[str], should_decrement: bool):
    group = self.autoscaling_groups.get(group_name)
    with LOCK:
        if group is not None:
            _deregister(group, instance_ids)
        return _ORIGINAL["detach_instances"](self, group_name, instance_ids, should_decrement)


def _terminate_in_group(self, instance_id: str, should_decrement: bool):
    with LOCK:
        activity = _ORIGINAL["terminate_instance"](self, instance_id, should_decrement)
        activity.status_code, activity.progress = "Successful", 100
        group = activity.auto_scaling_group
        group.__dict__.setdefault("_workshop_activities", []).append(activity)
        return activity


def _respond_describe_activities(self):
    names = [self._get_param("AutoScalingGroupName")] if self._get_param("AutoScalingGroupName") else None
    ids = set(self._get_param("ActivityIds", []) or [])
    groups = self.autoscaling_backend.autoscaling_groups
    found = []
    for name, group in groups.items():
        if names is None or name in names:
            found.extend(a for a in activities(group) if not ids or a.activity_id in ids)
    found.sort(key=lambda a: _aware(a.start_time), reverse=True)
    limit = self._get_int_param("MaxRecords") or 100
    return ActionResult({"Activities": found[:limit]})


_ORIGINAL: dict = {}


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    group_cls, backend_cls, response_cls = asm.FakeAutoScalingGroup, asm.AutoScalingBackend, asr.AutoScalingResponse
    _ORIGINAL.update(
        set_desired_capacity=group_cls.set_desired_capacity,
        create_auto_scaling_group=backend_cls.create_auto_scaling_group,
        update_auto_scaling_group=backend_cls.update_auto_scaling_group,
        delete_auto_scaling_group=backend_cls.delete_auto_scaling_group,
        delete_policy=backend_cls.delete_policy,
        notify_terminate_instances=backend_cls.notify_terminate_instances,
        detach_instances=backend_cls.detach_instances,
        terminate_instance=backend_cls.terminate_instance,
        respond_set_desired_capacity=response_cls.set_desired_capacity,
    )
    group_cls.replace_autoscaling_group_instances = _launch
    group_cls.set_desired_capacity = _set_desired_capacity
    backend_cls.create_auto_scaling_group = _create_group
    backend_cls.update_auto_scaling_group = _update_group
    backend_cls.delete_auto_scaling_group = _delete_group
    backend_cls.execute_policy = _execute_policy
    backend_cls.delete_policy = _delete_policy
    backend_cls.notify_terminate_instances = _notify_terminate
    backend_cls.detach_instances = _detach
    backend_cls.terminate_instance = _terminate_in_group
    response_cls.set_desired_capacity = _respond_set_desired_capacity
    response_cls.put_scaling_policy = _respond_put_scaling_policy
    response_cls.describe_scaling_activities = _respond_describe_activities

