"""Shared fixtures: an embedded local AWS for the whole session, state in a temp folder."""

from __future__ import annotations

import functools
import os

import pytest

from kit_processes import kit_processes as _kit_processes

# Tests never touch a real account: drop anything that could select one, before imports.
for _var in ("WORKSHOP_TARGET", "WORKSHOP_AWS_ACCOUNT", "WORKSHOP_ENDPOINT", "WORKSHOP_RUN_ID"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session", autouse=True)
def workshop_home(tmp_path_factory):
    """Keep the kit's state (local AWS address, logs) out of the user's home."""
    home = tmp_path_factory.mktemp("workshop-home")
    os.environ["WORKSHOP_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def local_aws(workshop_home):
    """A local AWS (moto + the kit's extensions) in this process, shared by the session."""
    from workshop.localaws import discover

    server = discover.start_embedded()
    os.environ["WORKSHOP_ENDPOINT"] = server.endpoint
    yield server
    os.environ.pop("WORKSHOP_ENDPOINT", None)


@pytest.fixture(scope="module", autouse=True)
def _session_aws_scrubbed_after_each_module():
    """After each module, the session's local AWS keeps no fleet running: Auto Scaling groups, load
    balancers and instances are deleted, DB instances too. A test module builds stages and leaves them
    standing; kept for the whole session, every one of them went on serving, being health-checked and
    publishing metrics, until late modules' health checks fell minutes behind (stage 8's build then
    waited its full 600 s). Nothing is shared between modules, so nothing is lost."""
    yield
    from workshop.localaws import discover

    server = discover.embedded()
    if server is not None:
        _scrub(server.endpoint)


def _scrub(endpoint: str) -> None:
    from botocore.exceptions import ClientError
    from moto.ec2.models import ec2_backends

    from workshop import aws, config

    def quietly(call, **kwargs):
        try:
            call(**kwargs)
        except ClientError:
            pass

    regions = {r for _, r, b in list(ec2_backends.iter_backends()) if b.reservations}
    for region in sorted(regions):
        target = config.target("local", region=region, endpoint=endpoint)
        client = functools.partial(aws.client, region=region, target=target)
        asg = client("autoscaling")
        for group in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
            quietly(asg.delete_auto_scaling_group, AutoScalingGroupName=group["AutoScalingGroupName"], ForceDelete=True)
        elb = client("elbv2")
        for lb in elb.describe_load_balancers()["LoadBalancers"]:
            quietly(elb.delete_load_balancer, LoadBalancerArn=lb["LoadBalancerArn"])
        ec2 = client("ec2")
        live = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                if i["State"]["Name"] not in ("shutting-down", "terminated")]
        if live:
            quietly(ec2.terminate_instances, InstanceIds=live)
        rds = client("rds")
        dbs = rds.describe_db_instances()["DBInstances"]
        for db in sorted(dbs, key=lambda d: not d.get("ReadReplicaSourceDBInstanceIdentifier")):  # replicas first
            quietly(rds.delete_db_instance, DBInstanceIdentifier=db["DBInstanceIdentifier"], SkipFinalSnapshot=True)


@pytest.fixture(autouse=True)
def _kernel_target_per_test():
    """notebook.start() makes its target the kernel's (`config.use`); a test is a kernel of its own."""
    from workshop import config

    previous = config.use(None)
    yield
    config.use(previous)


# --- no kit process outlives the suite -------------------------------------------------------

def pytest_sessionstart(session):
    session.config._kit_processes_before = set(_kit_processes())


def pytest_sessionfinish(session, exitstatus):
    """The suite's last check: every local AWS and Lambda worker it started is gone once it ends
    (the embedded local AWS is stopped first; what it started gets a few seconds to go)."""
    import time

    from workshop.localaws import discover

    if discover.embedded() is not None:
        discover.embedded().stop()
    before = getattr(session.config, "_kit_processes_before", set())
    deadline = time.monotonic() + 10
    while True:
        left = {pid: line for pid, line in _kit_processes().items() if pid not in before}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if left:
        lines = "\n".join(f"  pid {pid}: {line[:160]}" for pid, line in sorted(left.items()))
        print(f"\nFAILED: {len(left)} kit process(es) the suite started are still running:\n{lines}")
        session.exitstatus = 1
