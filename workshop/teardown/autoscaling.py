"""Auto Scaling kinds: groups (first, so they stop launching) and launch configurations."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .. import waits
from .kind import FRONT_DOORS, STANDING, Kind
from .shapes import gone_when_unlisted, is_gone, paginate


def _find_groups(scope):
    for g in paginate(scope.client("autoscaling"), "describe_auto_scaling_groups", "AutoScalingGroups"):
        r = scope.owned(g.get("Tags"), g["AutoScalingGroupName"], g["AutoScalingGroupName"],
                        state=g.get("Status", ""), data=g)
        if r:
            yield r


def _delete_group(scope, r):
    try:
        scope.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=r.id, ForceDelete=True)
    except ClientError as exc:
        if "in progress" not in str(exc).lower() and not is_gone(exc):
            raise


def _group_gone(scope, r):
    groups = scope.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[r.id])["AutoScalingGroups"]
    if not groups:
        return True
    return waits.Pending(f"{groups[0].get('Status') or 'deleting'}, {len(groups[0].get('Instances', []))} instances")


def _find_launch_configs(scope):
    for lc in paginate(scope.client("autoscaling"), "describe_launch_configurations", "LaunchConfigurations"):
        r = scope.owned(None, lc["LaunchConfigurationName"], lc["LaunchConfigurationName"])  # untaggable: by name
        if r:
            yield r


KINDS = [
    Kind("autoscaling group", "autoscaling", FRONT_DOORS, _find_groups, _delete_group, _group_gone,
         typical_s=180, timeout_s=1800),
    Kind("autoscaling launch configuration", "autoscaling", STANDING, _find_launch_configs,
         lambda s, r: s.client("autoscaling").delete_launch_configuration(LaunchConfigurationName=r.id),
         gone_when_unlisted("autoscaling", "describe_launch_configurations", "LaunchConfigurationNames",
                            "LaunchConfigurations", as_list=True)),
]
