"""Stages 6 and 7 prove their claims with real traffic on the local AWS: CloudFront takes the static
load off the web tier, sessions outlive an instance only in DynamoDB, and the Auto Scaling group
grows from the fleet's real CPU and shrinks when the load stops (workshop/stages/s06_proof.py,
s07_ramp.py); each behaviour check fails when its stage is broken on purpose."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # builds stages and sends traffic: make test, not make check

RUN, MEMORY_RUN = "t67", "t67m"


def _ctx(number: int, run: str = RUN):
    from workshop import notebook, stages

    return notebook.StageContext.of(stages.get(number), run, "us-east-1")


def _build(*numbers: int, run: str = RUN) -> None:
    from workshop import stages

    for n in numbers:
        stages.get(n).build(_ctx(n, run))


def _check(number: int, name: str, run: str = RUN):
    from workshop import config, stages

    ctx = _ctx(number, run)
    found = next(c for c in stages.get(number).checks if c.name == name)
    with config.using(ctx.target):
        return found.run(ctx)


@pytest.fixture(scope="module")
def memory_fleet(local_aws):
    """Stages 1, 3, 4 and 5 only: eight web instances keeping sessions in memory, no cache in their config."""
    _build(1, 3, 4, 5, run=MEMORY_RUN)
    return _ctx(6, MEMORY_RUN)


@pytest.fixture(scope="module")
def stage6(local_aws):
    """Stages 1 and 3-6: the web tier reconfigured for DynamoDB sessions and ElastiCache reads."""
    _build(1, 3, 4, 5, 6)
    return _ctx(6)


# --- stage 6 -------------------------------------------------------------------------------------

def test_sessions_kept_in_memory_are_lost_with_their_instance(memory_fleet):
    """With stage 5's config the next page after the instance's loss starts the count again, and the check says so."""
    from workshop import config
    from workshop.stages import s06_proof

    with config.using(memory_fleet.target):
        r = s06_proof.session_survives(memory_fleet)
    assert not r["kept"] and r["store"] == "memory"
    assert r["after"][0] != r["stopped"] and r["after"][1] < len(r["visits"]) + 1
    result = _check(6, "sessions-survive", MEMORY_RUN)
    assert not result.ok and "keep sessions in DynamoDB" in result.message


def test_cached_reads_fail_without_stage_6s_config(memory_fleet):
    """Instances without the cache in their config read every page from the database: the check names the fix."""
    result = _check(6, "cached-reads", MEMORY_RUN)
    assert not result.ok and "stage 6's config" in result.message


def test_rolling_reconfigure_gives_every_hand_launched_instance_stage_6s_config(stage6):
    """Every web instance runs with sessions in the run's table and the Redis group's primary endpoint; a rebuild changes nothing."""
    from workshop import config
    from workshop.stages import s06_shift_load as s06

    with config.using(stage6.target):
        wanted = s06.web_config(stage6)
        instances = s06.fixed_web_instances(stage6)
        assert len(instances) == 8
        assert all(s06.running_config(stage6, i["InstanceId"]) == wanted for i in instances)
        assert wanted["sessions"]["dynamodb"] == stage6.name("sessions")
        assert wanted["cache"]["host"] == s06.find_cache(stage6)["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
        assert s06.reconfigure_web(stage6) == []


def test_sessions_in_dynamodb_survive_the_instance(stage6):
    """A client's fourth page, from another instance after the one that served it stopped, says 4."""
    from workshop import config
    from workshop.stages import s06_proof

    with config.using(stage6.target):
        r = s06_proof.session_survives(stage6)
    assert r["kept"] and r["after"] == (r["after"][0], len(r["visits"]) + 1) and r["after"][0] != r["stopped"]
    assert [v for _, v in r["visits"]] == list(range(1, len(r["visits"]) + 1))
    assert _check(6, "sessions-survive").ok


def test_cloudfront_hits_only_through_the_distribution_and_the_web_tier_does_less(stage6):
    """The same users: hit ratio 0 straight to the load balancer, > 0 through CloudFront, fewer web-tier requests and less CPU."""
    from workshop import config
    from workshop.stages import s06_proof

    with config.using(stage6.target):
        direct = s06_proof.offload(stage6, "alb", seconds=6)
        edge = s06_proof.offload(stage6, "cloudfront", seconds=6)
    assert direct["requests"] > 100 and edge["requests"] > 100
    # known: right after an instance was stopped and started (the session test), the first second's pages can
    # meet the load balancer's scaled 2 s idle timeout (504); what is measured here is where the load goes
    assert direct["failures"] <= 0.1 * direct["requests"] and edge["failures"] <= 0.1 * edge["requests"]
    assert direct["hit_ratio"] == 0 and direct["cloudfront_hits"] == 0
    assert edge["hit_ratio"] > 0.5
    assert edge["web_requests"] < direct["web_requests"] / 2
    assert direct["cpu"] is not None and edge["cpu"] is not None and edge["cpu"] < direct["cpu"]
    assert edge["pages_from_cache"] > 0 and direct["pages_from_cache"] > 0  # cache-aside through ElastiCache


def test_cached_reads_check_passes_on_stage_6(stage6):
    """Pages through the load balancer say X-Data-Source: cache."""
    result = _check(6, "cached-reads")
    assert result.ok and "from ElastiCache" in result.message


def test_offload_check_fails_when_static_files_are_not_cached(stage6):
    """With /static/* under CachingDisabled nothing comes from CloudFront's cache: the offload check fails, and passes again once restored."""
    from workshop import config
    from workshop.stages import infra
    from workshop.stages import s06_shift_load as s06

    with config.using(stage6.target):
        cf = infra.client(stage6, "cloudfront")
        found = s06.find_distribution(stage6)
        answer = cf.get_distribution_config(Id=found["Id"])
        good = answer["DistributionConfig"]
        broken = {**good, "CacheBehaviors": {"Quantity": 1, "Items": [
            {**good["CacheBehaviors"]["Items"][0], "CachePolicyId": s06.CACHING_DISABLED}]}}
        etag = cf.update_distribution(Id=found["Id"], IfMatch=answer["ETag"], DistributionConfig=broken)["ETag"]
        try:
            import time

            time.sleep(1.5)  # the local CloudFront reads its configuration every second
            result = _check(6, "offload")
        finally:
            cf.update_distribution(Id=found["Id"], IfMatch=etag, DistributionConfig=good)
    assert not result.ok and "no answer through CloudFront came from its cache" in result.message


# --- stage 7 -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stage7(stage6):
    _build(7)
    return _ctx(7)


def test_stage7_tracks_the_groups_real_cpu_and_fails_on_a_custom_metric(stage7):
    """The target-tracking policy uses ASGAverageCPUUtilization; put with a custom metric, the policies check says so."""
    from workshop import config
    from workshop.stages import infra
    from workshop.stages import s07_auto_scaling as s07

    assert _check(7, "policies").ok and _check(7, "cpu-metric").ok
    asg = infra.client(stage7, "autoscaling")
    with config.using(stage7.target):
        asg.put_scaling_policy(
            AutoScalingGroupName=s07.group_name(stage7), PolicyName=stage7.name("cpu-target"), PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration={"TargetValue": 50.0, "CustomizedMetricSpecification": {
                "Namespace": "ScaleBabyScale/Simulated", "MetricName": "CPUUtilization", "Dimensions": s07.dimensions(stage7),
                "Statistic": "Average"}})
        try:
            result = _check(7, "policies")
        finally:
            s07.ensure_policies(stage7)
    assert not result.ok and "ASGAverageCPUUtilization" in result.message
    assert _check(7, "policies").ok


def test_stage7_grows_from_real_cpu_under_a_ramp_and_shrinks_after(stage7):
    """Real users push the group's CPU over the target, an alarm (the burst alarm or AlarmHigh) grows the group, its
    new instances pass health checks and the CPU comes back toward the target; with no load the group returns to its minimum."""
    from workshop import config
    from workshop.stages import infra, s07_ramp
    from workshop.stages import s07_auto_scaling as s07

    before = _check(7, "scaled")
    assert not before.ok and "run the ramp" in before.message
    with config.using(stage7.target):
        ramped = s07_ramp.ramp(stage7)
        assert ramped["cpu_crossed_s"] is not None and ramped["peak_cpu"] > s07.TARGET_CPU
        assert ramped["scale_out_s"] is not None and ramped["scale_out_s"] < 15
        assert ramped["joined_s"] is not None and ramped["peak_instances"] > s07.MIN_SIZE
        assert ramped["end_cpu"] < ramped["peak_cpu"]
        # a scale-out alarm ran its policy: the burst alarm (2 datapoints over 75%) or AlarmHigh (3 over the target),
        # whichever came first (the burst's 2 instances may pull the average under the target before AlarmHigh's third)
        cw = infra.client(stage7, "cloudwatch")
        high = cw.describe_alarms(AlarmNamePrefix=f"TargetTracking-{s07.group_name(stage7)}-AlarmHigh")["MetricAlarms"]
        assert len(high) == 1
        ran = [name for name in (high[0]["AlarmName"], stage7.name("cpu-burst"))  # by name: the region's newest
               if cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")["AlarmHistoryItems"]]  # are AlarmLow's
        assert ran
        cooled = s07_ramp.cool_down(stage7, after=ramped)
    assert cooled["scale_in_s"] is not None and cooled["scale_in_s"] < 20  # AlarmLow: 15 one-minute datapoints, 90x faster
    assert s07.find_group(stage7)["DesiredCapacity"] == s07.MIN_SIZE
    assert _check(7, "scaled").ok and _check(7, "group").ok
    svg = s07_ramp.show(cooled, s07.MAX_SIZE)
    import xml.etree.ElementTree as ET

    ET.fromstring(svg)
    assert "CPU target 50%" in svg and "instances" in svg
