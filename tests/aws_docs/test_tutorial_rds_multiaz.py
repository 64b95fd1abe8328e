"""An RDS Multi-AZ DB instance failed over with the CLI, as AWS's user guide does it."""

from __future__ import annotations

import pytest

from tutorial_cli import wait_for

pytestmark = pytest.mark.slow


def test_forced_failover_reboots_then_swaps_the_azs_and_records_events(cli):
    """Multi-AZ DB instance deployments for Amazon RDS
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html) and Rebooting a
    DB instance (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RebootInstance.html):
    `create-db-instance --multi-az`, `wait db-instance-available`, `reboot-db-instance --force-failover`
    answers status `rebooting`; once `available` again the primary is in the former standby's AZ (the
    endpoint unchanged), and `describe-events` lists the failover's start and completion (RDS-EVENT-0013,
    RDS-EVENT-0049, "Amazon RDS event categories and event messages"). Deviation: the local AWS reboots
    in about a second (AWS: one to two minutes)."""
    created = cli("rds", "create-db-instance", "--db-instance-identifier", "mydbinstance",
                  "--db-instance-class", "db.t3.micro", "--engine", "mysql", "--master-username", "admin",
                  "--master-user-password", "secret99", "--allocated-storage", "20", "--multi-az")
    assert created["DBInstance"]["MultiAZ"] is True
    cli("rds", "wait", "db-instance-available", "--db-instance-identifier", "mydbinstance")
    before = cli("rds", "describe-db-instances", "--db-instance-identifier", "mydbinstance")["DBInstances"][0]
    primary, standby = before["AvailabilityZone"], before["SecondaryAvailabilityZone"]
    assert primary != standby

    rebooted = cli("rds", "reboot-db-instance", "--db-instance-identifier", "mydbinstance", "--force-failover")
    assert rebooted["DBInstance"]["DBInstanceStatus"] == "rebooting"

    def available():
        db = cli("rds", "describe-db-instances", "--db-instance-identifier", "mydbinstance")["DBInstances"][0]
        return db if db["DBInstanceStatus"] == "available" else None

    after = wait_for(available, timeout=30)
    assert after, "the instance did not come back to available within 30 s"
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == (standby, primary)
    assert after["Endpoint"] == before["Endpoint"]

    events = cli("rds", "describe-events", "--source-identifier", "mydbinstance", "--source-type", "db-instance")["Events"]
    messages = [e["Message"] for e in events if "failover" in e.get("EventCategories", [])]
    assert any("failover" in m and "started" in m for m in messages), messages
    assert any("failover" in m and "completed" in m for m in messages), messages
