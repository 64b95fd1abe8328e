"""RDS Multi-AZ in the local AWS: a standby AZ, a forced failover that swaps it (localaws/ext/rds_multiaz.py)."""

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
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        rds = boto3.client("rds", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
                   for i, az in enumerate(["us-east-1a", "us-east-1b"])]
        rds.create_db_subnet_group(DBSubnetGroupName="g", DBSubnetGroupDescription="d", SubnetIds=subnets)
        rds.create_db_instance(DBInstanceIdentifier="d", Engine="mysql", DBInstanceClass="db.m5.large",
                               MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
                               MultiAZ=True, DBSubnetGroupName="g")
        after = rds.reboot_db_instance(DBInstanceIdentifier="d", ForceFailover=True)["DBInstance"]
        print(after.get("SecondaryAvailabilityZone"), after["AvailabilityZone"])
""")


def test_plain_moto_has_no_standby_and_ignores_forced_failover():
    """Without the kit's extension (moto 5.2.5 alone) a Multi-AZ instance has no standby AZ and never moves."""
    out = subprocess.run([sys.executable, "-c", PLAIN_MOTO], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["None", "us-east-1a"]


@pytest.fixture
def rds_setup(local_aws):
    """A DB subnet group over two AZs and a factory for MySQL instances in it."""
    from workshop import aws

    ec2, rds = aws.client("ec2"), aws.client("rds")
    tag = uuid.uuid4().hex[:8]
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1a", "us-east-1b"))]
    rds.create_db_subnet_group(DBSubnetGroupName=f"g-{tag}", DBSubnetGroupDescription="two AZs", SubnetIds=subnets)

    def make(multi_az: bool) -> str:
        name = f"db-{tag}-{'multi' if multi_az else 'single'}"
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="mysql", DBInstanceClass="db.m5.large",
                               MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
                               MultiAZ=multi_az, DBSubnetGroupName=f"g-{tag}", AvailabilityZone="us-east-1a")
        return name

    return make, rds


def test_multi_az_instance_reports_a_standby_in_the_other_az(rds_setup):
    """A Multi-AZ instance's SecondaryAvailabilityZone is the subnet group's other AZ, from the create answer on."""
    make, rds = rds_setup
    name = make(True)
    db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert (db["AvailabilityZone"], db["SecondaryAvailabilityZone"]) == ("us-east-1a", "us-east-1b")


def test_single_az_instance_has_no_standby(rds_setup):
    """A single-AZ instance reports no SecondaryAvailabilityZone."""
    make, rds = rds_setup
    db = rds.describe_db_instances(DBInstanceIdentifier=make(False))["DBInstances"][0]
    assert "SecondaryAvailabilityZone" not in db


def test_turning_multi_az_on_adds_the_standby(rds_setup):
    """modify_db_instance(MultiAZ=True) gives an existing instance a standby in the other AZ."""
    make, rds = rds_setup
    name = make(False)
    rds.modify_db_instance(DBInstanceIdentifier=name, MultiAZ=True, ApplyImmediately=True)
    db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert db["MultiAZ"] and db["SecondaryAvailabilityZone"] == "us-east-1b"


def test_forced_failover_swaps_azs_keeps_endpoint_and_records_events(rds_setup):
    """ForceFailover swaps primary and standby AZs, keeps the endpoint and adds failover events; twice swaps back."""
    make, rds = rds_setup
    name = make(True)
    before = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    answer = rds.reboot_db_instance(DBInstanceIdentifier=name, ForceFailover=True)["DBInstance"]
    after = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert (answer["AvailabilityZone"], after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == \
        ("us-east-1b", "us-east-1b", "us-east-1a")
    assert after["Endpoint"] == before["Endpoint"]
    events = rds.describe_events(SourceType="db-instance", SourceIdentifier=name)["Events"]
    failovers = [e["Message"] for e in events if "failover" in e["EventCategories"]]
    assert failovers == [
        "A Multi-AZ failover that resulted in the promotion of a standby instance has started.",
        "A Multi-AZ failover has completed.",
    ]
    rds.reboot_db_instance(DBInstanceIdentifier=name, ForceFailover=True)
    back = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert (back["AvailabilityZone"], back["SecondaryAvailabilityZone"]) == ("us-east-1a", "us-east-1b")


def test_plain_reboot_does_not_fail_over(rds_setup):
    """A reboot without ForceFailover leaves the primary where it was."""
    make, rds = rds_setup
    name = make(True)
    rds.reboot_db_instance(DBInstanceIdentifier=name)
    assert rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["AvailabilityZone"] == "us-east-1a"


def test_forced_failover_of_a_single_az_instance_is_refused(rds_setup):
    """ForceFailover on a single-AZ instance is an InvalidParameterCombination error, and nothing moves."""
    make, rds = rds_setup
    name = make(False)
    with pytest.raises(ClientError) as err:
        rds.reboot_db_instance(DBInstanceIdentifier=name, ForceFailover=True)
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "not a Multi-AZ instance" in err.value.response["Error"]["Message"]
    assert rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["AvailabilityZone"] == "us-east-1a"


def test_forced_failover_of_an_unknown_instance_is_not_found(local_aws):
    """ForceFailover names a missing instance with DBInstanceNotFound, as AWS does."""
    from workshop import aws

    with pytest.raises(ClientError) as err:
        aws.client("rds").reboot_db_instance(DBInstanceIdentifier="no-such-db", ForceFailover=True)
    assert err.value.response["Error"]["Code"] == "DBInstanceNotFound"


def test_the_aws_cli_way_sees_the_failover_too(rds_setup, local_aws):
    """A plain boto3 client made outside the kit's factory sees the standby and the swap (it is the server's)."""
    import boto3

    make, _ = rds_setup
    name = make(True)
    plain = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1") \
        .client("rds", endpoint_url=local_aws.endpoint)  # an outside client, like the AWS CLI
    plain.reboot_db_instance(DBInstanceIdentifier=name, ForceFailover=True)
    db = plain.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert (db["AvailabilityZone"], db["SecondaryAvailabilityZone"]) == ("us-east-1b", "us-east-1a")


def test_forced_failover_is_rebooting_for_a_stated_window_then_available(rds_setup):
    """reboot-db-instance --force-failover answers DBInstanceStatus rebooting, describe shows it for
    REBOOTING_S seconds, then available, with the endpoint unchanged."""
    import time

    from workshop.localaws.ext import rds_multiaz

    make, rds = rds_setup
    name = make(True)
    endpoint = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["Endpoint"]
    started = time.monotonic()
    answer = rds.reboot_db_instance(DBInstanceIdentifier=name, ForceFailover=True)["DBInstance"]
    during = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert time.monotonic() - started < rds_multiaz.REBOOTING_S, "the machine was too slow to see the window"
    assert (answer["DBInstanceStatus"], during["DBInstanceStatus"]) == ("rebooting", "rebooting")
    time.sleep(rds_multiaz.REBOOTING_S)
    after = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert (after["DBInstanceStatus"], after["Endpoint"]) == ("available", endpoint)

