"""Waits: progress, delayed state changes, timeouts, failure states, interruption and resumption."""

from __future__ import annotations

import time

import pytest
from botocore.stub import Stubber

from workshop import aws, waits


def _after(polls_needed: int, status: str = "creating"):
    """A check that says 'not yet' `polls_needed` times, then ready; counts its calls."""
    calls = []

    def check():
        calls.append(1)
        return len(calls) > polls_needed or waits.Pending(status)
    return check, calls


def test_ready_at_once_does_not_sleep():
    """On the local target a resource that is ready returns at the first look, without sleeping."""
    check, calls = _after(0)
    t = time.monotonic()
    assert waits.wait_for("bucket", check, timeout_s=60, typical_s=30) is True
    assert len(calls) == 1 and time.monotonic() - t < 0.05


def test_delayed_state_change_is_waited_for(capsys):
    """A resource that becomes ready after a few polls is waited for, with a bar naming it and its typical time."""
    check, calls = _after(3)
    assert waits.wait_for("RDS primary sbs-t-db", check, timeout_s=10, typical_s=600, interval_s=0.01)
    assert len(calls) == 4
    err = capsys.readouterr().err
    assert "RDS primary sbs-t-db (typically ~10 min)" in err and "creating" in err


def test_timeout_says_what_and_what_to_do():
    """A wait that runs out of time raises one line naming the resource, its last state and the next step."""
    with pytest.raises(waits.WaitTimeout) as info:
        waits.wait_for("distribution E123 deployed", lambda: waits.Pending("InProgress"), timeout_s=0.2,
                       typical_s=900, interval_s=0.05)
    msg = str(info.value)
    assert "\n" not in msg
    assert "distribution E123 deployed" in msg and "InProgress" in msg and "again" in msg


def test_local_timeout_is_capped(monkeypatch):
    """On the local target a long AWS timeout is capped, so a stuck emulator cannot hang a run."""
    monkeypatch.setattr(waits, "LOCAL_TIMEOUT_S", 0.2)
    t = time.monotonic()
    with pytest.raises(waits.WaitTimeout):
        waits.wait_for("stuck", lambda: False, timeout_s=3600, typical_s=600, interval_s=0.05)
    assert time.monotonic() - t < 2


def test_together_waits_for_the_slowest_not_the_sum():
    """Independent resources are waited for at once: the total is about the slowest one, not the sum."""
    start = time.monotonic()

    def ready_after(seconds):
        return lambda: time.monotonic() - start >= seconds or waits.Pending("creating")

    results = waits.together(*(waits.Wait(f"r{i}", ready_after(0.3), 10, 1, interval_s=0.02) for i in range(4)))
    assert results == [True] * 4
    assert time.monotonic() - start < 0.9  # four waits of 0.3 s in sequence would take 1.2 s


def test_interrupted_wait_resumes_without_creating(local_aws, capsys):
    """Interrupting a wait changes nothing; waiting again finds the same resource and finishes."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    before = len(ec2.describe_vpcs()["Vpcs"])
    polls = []

    def check():
        polls.append(1)
        if len(polls) == 2:
            raise KeyboardInterrupt
        state = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["State"]
        return state == "available" and len(polls) > 3 or waits.Pending(state)

    with pytest.raises(KeyboardInterrupt):
        waits.wait_for(f"VPC {vpc}", check, timeout_s=10, typical_s=5, interval_s=0.01)
    assert "nothing was changed" in capsys.readouterr().out
    assert waits.wait_for(f"VPC {vpc}", check, timeout_s=10, typical_s=5, interval_s=0.01)
    assert len(ec2.describe_vpcs()["Vpcs"]) == before


def test_boto_waiter_follows_delayed_states(local_aws, capsys):
    """A boto3 waiter (db_instance_available) is polled with a bar showing each state until available."""
    rds = aws.client("rds")
    stub = Stubber(rds)
    for state in ("creating", "backing-up", "available"):
        stub.add_response("describe_db_instances", {"DBInstances": [
            {"DBInstanceIdentifier": "sbs-t-db", "DBInstanceStatus": state}]}, {"DBInstanceIdentifier": "sbs-t-db"})
    with stub:
        out = waits.waiter(rds, "db_instance_available", "RDS sbs-t-db", typical_s=600, interval_s=0.01,
                           DBInstanceIdentifier="sbs-t-db")
    assert out["DBInstances"][0]["DBInstanceStatus"] == "available"
    assert "backing-up" in capsys.readouterr().err
    stub.assert_no_pending_responses()


def test_boto_waiter_failure_state_stops(local_aws):
    """A waiter that meets a failure state (a failed database) stops at once and says waiting will not help."""
    rds = aws.client("rds")
    stub = Stubber(rds)
    stub.add_response("describe_db_instances", {"DBInstances": [
        {"DBInstanceIdentifier": "sbs-t-db", "DBInstanceStatus": "failed"}]}, {"DBInstanceIdentifier": "sbs-t-db"})
    with stub, pytest.raises(waits.WaitFailed, match="failed.*will not help"):
        waits.waiter(rds, "db_instance_available", "RDS sbs-t-db", typical_s=600, DBInstanceIdentifier="sbs-t-db")


def test_boto_waiter_on_the_local_aws_is_immediate(local_aws):
    """On the local AWS a real waiter over a live resource returns at the first poll."""
    ec2 = aws.client("ec2")
    iid = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0]["InstanceId"]
    t = time.monotonic()
    waits.waiter(ec2, "instance_running", f"instance {iid}", typical_s=30, InstanceIds=[iid])
    assert time.monotonic() - t < 1
    ec2.terminate_instances(InstanceIds=[iid])


def test_in_a_notebook_the_bar_is_one_line_that_keeps_its_last_state(monkeypatch):
    """A saved or exported notebook shows where the wait ended ('100%| ... ready'), not the first frame
    ('0%| 0/N s') of a widget: the bar is a text display updated in place."""
    import IPython.display

    from workshop import waits

    shown: list[str] = []

    class Handle:
        def update(self, data, raw=True):
            shown.append(data["text/plain"])

    def display(data, raw=True, display_id=False):
        shown.append(data["text/plain"])
        return Handle()

    monkeypatch.setattr(waits, "_in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    answers = iter([waits.Pending("creating"), waits.Pending("creating"), "done"])
    assert waits.wait_for("thing ready", lambda: next(answers), timeout_s=5, typical_s=3, interval_s=0.05) == "done"
    assert shown[0].startswith("thing ready") and " 0%|" in shown[0]
    assert "100%|" in shown[-1] and shown[-1].endswith("ready") and "0/" not in shown[-1]


def test_quiet_waits_draw_nothing(monkeypatch, capsys):
    """A build behind the scenes (the capacity model's) waits without a bar, in a terminal or a notebook."""
    import IPython.display

    from workshop import waits

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a))
    for kernel in (False, True):
        monkeypatch.setattr(waits, "_in_kernel", lambda k=kernel: k)
        answers = iter([waits.Pending("creating"), "done"])
        with waits.quiet():
            assert waits.wait_for("thing ready", lambda a=answers: next(a), timeout_s=5, typical_s=3,
                                  interval_s=0.05) == "done"
    captured = capsys.readouterr()
    assert not shown and "thing ready" not in captured.err + captured.out
    answers = iter([waits.Pending("creating"), "done"])
    monkeypatch.setattr(waits, "_in_kernel", lambda: False)
    waits.wait_for("thing ready", lambda: next(answers), timeout_s=5, typical_s=3, interval_s=0.05)
    assert "thing ready" in capsys.readouterr().err  # and without quiet(), the bar is there


def test_topology_only_builds_skip_serving_waits():
    """The capacity model reads what stages are made of: inside topology_only() builds skip the waits for
    targets to serve; outside, they wait."""
    from workshop import waits

    assert waits.for_serving()
    with waits.topology_only():
        assert not waits.for_serving()
    assert waits.for_serving()
