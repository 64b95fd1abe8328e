"""ELBv2 target health follows the instances' state in the local AWS (workshop/localaws/ext/elbv2_health.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest
from botocore.exceptions import ClientError

PLAIN_MOTO = textwrap.dedent("""
    import boto3
    from moto import mock_aws
    from moto.backends import get_backend
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        elb = boto3.client("elbv2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        tg = elb.create_target_group(Name="tg", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
        tg = tg["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "i-0123456789abcdef0"}])
        print(elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["TargetHealth"]["State"])
""")


def test_plain_moto_calls_a_nonexistent_target_healthy():
    """Without the kit's extension (moto 5.2.5 alone) an instance id with nothing behind it shows healthy."""
    out = subprocess.run([sys.executable, "-c", PLAIN_MOTO], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["healthy"]


@pytest.fixture
def group(local_aws):
    """Three running instances registered in a fresh target group."""
    from workshop import aws

    ec2, elb = aws.client("ec2"), aws.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=3, MaxCount=3,
                                                       SubnetId=subnet)["Instances"]]
    tg = elb.create_target_group(Name=f"tg-{uuid.uuid4().hex[:8]}", Protocol="HTTP", Port=80,
                                 VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in ids])
    return ec2, elb, tg, ids


def _health(elb, tg) -> dict[str, tuple[str, str | None]]:
    return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
            for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}


def test_running_targets_are_healthy(group):
    """Registered running instances are healthy."""
    _, elb, tg, ids = group
    assert _health(elb, tg) == {i: ("healthy", None) for i in ids}


def test_stopped_target_is_unused_and_healthy_again_once_started(group):
    """A stopped instance is 'unused' (Target.InvalidState) as AWS reports, and healthy once started."""
    ec2, elb, tg, ids = group
    ec2.stop_instances(InstanceIds=[ids[0]])
    assert _health(elb, tg)[ids[0]] == ("unused", "Target.InvalidState")
    assert _health(elb, tg)[ids[1]] == ("healthy", None)
    ec2.start_instances(InstanceIds=[ids[0]])
    assert _health(elb, tg)[ids[0]] == ("healthy", None)


def test_instance_terminated_behind_the_load_balancers_back_drains_then_leaves(group):
    """An instance terminated without EC2's hook (as Auto Scaling does) drains once, then leaves the group."""
    from moto.backends import get_backend

    from workshop import config

    _, elb, tg, ids = group
    instance = get_backend("ec2")[config.LOCAL_ACCOUNT]["us-east-1"].get_instance_by_id(ids[2])
    instance._state.name = "terminated"  # what a backend-side termination leaves behind
    assert _health(elb, tg)[ids[2]] == ("draining", "Target.DeregistrationInProgress")
    assert ids[2] not in _health(elb, tg)


def test_terminated_instance_leaves_the_group(group):
    """TerminateInstances removes the target from the group's health listing."""
    ec2, elb, tg, ids = group
    ec2.terminate_instances(InstanceIds=[ids[1]])
    assert ids[1] not in _health(elb, tg)


def test_registering_a_nonexistent_instance_is_refused(group):
    """An instance id with no instance behind it is refused with InvalidTarget, as AWS documents for RegisterTargets."""
    _, elb, tg, ids = group
    with pytest.raises(ClientError) as err:
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "i-0123456789abcdef0"}])
    assert err.value.response["Error"]["Code"] == "InvalidTarget"
    assert set(_health(elb, tg)) == set(ids)
