"""Stage 8's proof with traffic (workshop/stages/s08_proof.py): 500,000 users of the talk through www
are served by slide 20's architecture, and are not when the web fleet is cut to one instance."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow  # builds stage 8 and runs Locust: make test, not make check

RUN = "t8p"


@pytest.fixture(scope="module")
def stage8(local_aws):
    from workshop import notebook, stages

    ctx = notebook.StageContext.of(stages.get(8), RUN, "us-east-1")
    ctx.build_previous()
    stages.get(8).build(ctx)
    time.sleep(2)  # the group's instances pass their first health check
    return ctx


def test_500k_users_through_www_are_served(stage8):
    """p95 under 500 ms, errors under 1%, answers from both AZs and all six web instances, CPU per tier read."""
    from workshop.stages import s08_proof

    t0 = time.monotonic()
    m = s08_proof.whole_picture(stage8)
    took = time.monotonic() - t0
    ok, why = s08_proof.served(m)
    assert ok, s08_proof.report(m)
    assert m["talk_users"] >= s08_proof.TALK_USERS
    assert len(m["azs"]) == 2 and len(m["instances"]) >= 6
    assert {"web", "db-primary", "cache"} <= set(m["cpu"]) and 0 < m["cpu"]["web"].mean < 100
    assert took < 30, f"the demo took {took:.0f} s"


def test_one_web_instance_does_not_serve_500k(stage8):
    """The group emptied and all baseline instances but one stopped: the check fails, naming errors or p95."""
    from workshop.stages import infra, s08_proof, webtier
    from workshop.stages import s07_auto_scaling as s07

    infra.client(stage8, "autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=s07.group_name(stage8), MinSize=0, DesiredCapacity=0)
    keep, *others = [i["InstanceId"] for i in s07.baseline_instances(stage8)]
    infra.client(stage8, "ec2").stop_instances(InstanceIds=others)
    tg = webtier.find_target_group(stage8)["TargetGroupArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        healthy = [i for i, s in webtier.target_ids(stage8, tg).items() if s == "healthy"]
        if healthy == [keep]:
            break
        time.sleep(0.5)
    assert healthy == [keep], healthy
    result = s08_proof.check(stage8)
    assert not result.ok
    assert "failed" in result.message or "p95" in result.message, result.message
