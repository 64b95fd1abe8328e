"""EC2 in the local AWS refuses a type change on a running instance (workshop/localaws/ext/ec2_instance_state.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from botocore.exceptions import ClientError

PLAIN_MOTO = textwrap.dedent("""
    import boto3
    from moto import mock_aws
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        i = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0]
        ec2.modify_instance_attribute(InstanceId=i["InstanceId"], InstanceType={"Value": "m4.2xlarge"})
        found = ec2.describe_instances(InstanceIds=[i["InstanceId"]])["Reservations"][0]["Instances"][0]
        print(found["State"]["Name"], found["InstanceType"])
""")


def test_plain_moto_changes_the_type_of_a_running_instance():
    """Without the kit's extension (moto 5.2.5 alone) a running instance's type changes, which AWS refuses."""
    out = subprocess.run([sys.executable, "-c", PLAIN_MOTO], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["running", "m4.2xlarge"]


@pytest.fixture
def instance(local_aws):
    """A running t2.micro instance."""
    from workshop import aws

    ec2 = aws.client("ec2")
    answer = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t2.micro")
    return ec2, answer["Instances"][0]["InstanceId"]


def _type(ec2, instance_id):
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["InstanceType"]


def test_type_change_on_a_running_instance_is_refused(instance):
    """Changing InstanceType while running fails with IncorrectInstanceState and leaves the type unchanged."""
    ec2, instance_id = instance
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "m4.2xlarge"})
    assert err.value.response["Error"]["Code"] == "IncorrectInstanceState"
    assert f"'{instance_id}' is not in the 'stopped' state" in err.value.response["Error"]["Message"]
    assert _type(ec2, instance_id) == "t2.micro"


def test_stop_modify_start_changes_the_type(instance):
    """Stop, modify, start changes the type, as on AWS."""
    ec2, instance_id = instance
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "c4.8xlarge"})
    ec2.start_instances(InstanceIds=[instance_id])
    assert _type(ec2, instance_id) == "c4.8xlarge"


def test_other_attributes_change_while_running(instance):
    """Attributes AWS lets you change on a running instance (here DisableApiTermination) still change."""
    ec2, instance_id = instance
    ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})
    answer = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
    assert answer["DisableApiTermination"]["Value"] is True


def test_an_elastic_ip_stays_on_its_instance_through_stop_and_start(instance):
    """An instance with an Elastic IP keeps that address as its public IP while stopped and after starting."""
    ec2, instance_id = instance
    address = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=instance_id)

    def public_ip():
        found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        return found.get("PublicIpAddress")

    ec2.stop_instances(InstanceIds=[instance_id])
    assert public_ip() == address["PublicIp"]
    ec2.start_instances(InstanceIds=[instance_id])
    assert public_ip() == address["PublicIp"]
    ec2.disassociate_address(AssociationId=ec2.describe_addresses(
        AllocationIds=[address["AllocationId"]])["Addresses"][0]["AssociationId"])
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.start_instances(InstanceIds=[instance_id])
    assert public_ip() != address["PublicIp"]  # without it, a start gives a new address (as before)
