"""Stages 5-8 build what the talk shows, their checks catch each stage broken on purpose, and
building twice creates nothing twice (workshop/stages/s05-s08)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow  # builds stages or starts processes: make test, not make check

RUN = "t58"


def _ctx(number: int, run: str = RUN):
    from workshop import notebook, stages

    return notebook.StageContext.of(stages.get(number), run, "us-east-1")


def _build(*numbers: int, run: str = RUN) -> None:
    from workshop import stages

    for n in numbers:
        stages.get(n).build(_ctx(n, run))


def _result(number: int, check: str):
    from workshop import stages

    found = next(c for c in stages.get(number).checks if c.name == check)
    return found.run(_ctx(number))


def _count(run: str = RUN) -> int:
    from workshop import inventory

    return len(inventory.course_resources(run))


@pytest.fixture(scope="module")
def stage5(local_aws):
    """Stages 1, 3, 4 and 5 built for the module's run."""
    _build(1, 3, 4, 5)
    return _ctx(5)


# --- stage 5 --------------------------------------------------------------------------------------

def test_stage5_checks_pass_once_built(stage5):
    """A built stage 5 passes every check: 8 web instances 4 per AZ, 4 replicas over both AZs, endpoints."""
    from workshop import behaviour

    results = behaviour.run(stage5)
    assert all(r.ok for r in results), behaviour.format_results(results)
    assert "us-east-1a: 4, us-east-1b: 4" in results[0].message


def test_stage5_spread_fails_when_an_instance_stops(stage5):
    """Stopping one web instance makes the spread check name the uneven AZ counts."""
    from workshop.stages import infra
    from workshop.stages import s05_users_100k as s05

    ec2 = infra.client(stage5, "ec2")
    victim = s05.extra_web_ids(stage5)[0]
    ec2.stop_instances(InstanceIds=[victim])
    try:
        result = _result(5, "spread")
        assert not result.ok
        assert "expected 8 running web instances in the target group, 4 per AZ; found" in result.message
        assert ": 3" in result.message
    finally:
        ec2.start_instances(InstanceIds=[victim])
    deadline = time.monotonic() + 30  # a started target is `initial` until its first health check passes
    result = _result(5, "spread")
    while not result.ok and time.monotonic() < deadline:
        time.sleep(0.2)
        result = _result(5, "spread")
    assert result.ok, result.message


def test_stage5_replicas_fail_when_one_is_deleted_and_build_restores_it(stage5):
    """Deleting a read replica fails the replicas check with the count; building again restores it."""
    from workshop.stages import infra

    infra.client(stage5, "rds").delete_db_instance(DBInstanceIdentifier=stage5.name("db-replica-4"), SkipFinalSnapshot=True)
    result = _result(5, "replicas")
    assert not result.ok and "expected 4 read replicas of sbs-t58-db, found 3" in result.message
    _build(5)
    assert _result(5, "replicas").ok


def test_stage5_endpoints_fail_when_the_writer_points_elsewhere(stage5):
    """A writer record that does not lead to the primary fails the endpoints check."""
    from workshop.stages import infra
    from workshop.stages import s05_users_100k as s05

    infra.client(stage5, "route53").change_resource_record_sets(HostedZoneId=infra.find_zone(stage5), ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": s05.writer_name(stage5), "Type": "CNAME",
                                                                 "TTL": 60, "ResourceRecords": [{"Value": "elsewhere.example.com"}]}}]})
    result = _result(5, "endpoints")
    assert not result.ok and "(the primary), found ['elsewhere.example.com']" in result.message
    _build(5)
    assert _result(5, "endpoints").ok


def test_stage5_bad_counts_are_refused_before_anything_is_created(stage5):
    """An odd number of web instances or too many replicas is a BadInput, and nothing new exists."""
    from workshop.errors import BadInput
    from workshop.stages import s05_users_100k as s05

    before = _count()
    with pytest.raises(BadInput, match="even number"):
        s05.build(stage5, web_instances=7)
    with pytest.raises(BadInput, match="read_replicas=16"):
        s05.build(stage5, read_replicas=16)
    assert _count() == before


def test_stage5_reader_exercise_says_what_is_missing(stage5):
    """The reader-endpoint exercise accepts the weighted records and names what a wrong answer lacks."""
    from workshop.stages import s05_users_100k as s05
    from workshop.stages import webtier

    replicas = webtier.replicas_of(stage5, webtier.find_primary_db(stage5)["DBInstanceIdentifier"])
    namespace = {"ws": stage5, "replicas": replicas}
    right = s05.reader_changes(stage5, replicas)
    assert s05._check_reader_changes(right, namespace) is None
    assert "one record per replica endpoint (4), found 3" in s05._check_reader_changes(right[:3], namespace)
    plain = [dict(c, ResourceRecordSet={k: v for k, v in c["ResourceRecordSet"].items() if k != "SetIdentifier"}) for c in right]
    assert "weighted records" in s05._check_reader_changes(plain, namespace)


# --- stage 6 --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stage6(stage5):
    _build(6)
    return _ctx(6)


def test_stage6_checks_pass_once_built(stage6):
    """A built stage 6 passes: two origins with OAC, routing, www, assets, a session round trip, Redis over two AZs."""
    from workshop import behaviour

    results = behaviour.run(stage6)
    assert all(r.ok for r in results), behaviour.format_results(results)


def test_stage6_routing_fails_without_the_static_behaviour(stage6):
    """Removing the /static/* behaviour sends static files to the load balancer, and the routing check says so."""
    from workshop.stages import infra
    from workshop.stages import s06_shift_load as s06

    cf = infra.client(stage6, "cloudfront")
    dist_id = s06.find_distribution(stage6)["Id"]
    got = cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    saved = config["CacheBehaviors"]
    config["CacheBehaviors"] = {"Quantity": 0, "Items": []}
    etag = cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)["ETag"]
    try:
        result = _result(6, "routing")
        assert not result.ok
        assert "CloudFront sends /static/css/site.css -> dynamic-alb (expected static-s3)" in result.message
    finally:
        config["CacheBehaviors"] = saved
        cf.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig=config)
    assert _result(6, "routing").ok


def test_stage6_assets_fail_when_a_file_is_missing(stage6):
    """A static file missing from the bucket fails the assets check; building again uploads it."""
    from workshop.stages import infra
    from workshop.stages import s06_shift_load as s06

    infra.client(stage6, "s3").delete_object(Bucket=s06.bucket_name(stage6), Key="static/css/site.css")
    result = _result(6, "assets")
    assert not result.ok and f"1 of {len(s06.asset_files())} static files missing or different" in result.message
    _build(6)
    assert _result(6, "assets").ok


def test_stage6_sessions_fail_without_ttl(stage6):
    """A sessions table without TTL fails the sessions check."""
    from workshop.stages import infra

    ddb = infra.client(stage6, "dynamodb")
    ddb.update_time_to_live(TableName=stage6.name("sessions"),
                            TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"})
    result = _result(6, "sessions")
    assert not result.ok and "TTL is not enabled" in result.message
    _build(6)
    assert _result(6, "sessions").ok


def test_stage6_cache_fails_when_the_group_is_gone(stage6):
    """Without the Redis replication group the cache check fails; building again creates it over two AZs."""
    from workshop.stages import infra

    infra.client(stage6, "elasticache").delete_replication_group(ReplicationGroupId=stage6.name("cache"))
    result = _result(6, "cache")
    assert not result.ok and "no ElastiCache replication group sbs-t58-cache" in result.message
    _build(6)
    result = _result(6, "cache")
    assert result.ok and "primary in us-east-1a, replica in us-east-1b" in result.message


def test_stage6_origin_matching_follows_cloudfront_rules():
    """The first matching behaviour wins, patterns are case-sensitive, the default takes the rest."""
    from workshop.stages import s06_shift_load as s06

    config = {"CacheBehaviors": {"Items": [s06.static_behaviour()]}, "DefaultCacheBehavior": {"TargetOriginId": s06.ALB_ORIGIN}}
    assert s06.origin_for(config, "/static/js/app.js") == s06.S3_ORIGIN
    assert s06.origin_for(config, "/STATIC/js/app.js") == s06.ALB_ORIGIN
    assert s06.origin_for(config, "/staticky") == s06.ALB_ORIGIN


def test_stage6_bad_node_type_is_refused():
    """A cache node type that is not ElastiCache's is refused before anything is created."""
    from workshop.errors import BadInput
    from workshop.stages import s06_shift_load as s06

    with pytest.raises(BadInput, match="cache_node_type='m5.large'"):
        s06.validate("m5.large")


# --- stage 7 --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stage7(stage6):
    _build(7)
    return _ctx(7)


def test_stage7_group_spans_both_azs_and_retires_the_hand_launched_extras(stage7):
    """The group is balanced over both AZs in the target group, and stage 5's extras are gone from it."""
    from workshop.stages import s05_users_100k as s05

    result = _result(7, "group")
    assert result.ok and "us-east-1a: 1, us-east-1b: 1" in result.message
    assert s05.extra_web_ids(stage7) == []
    assert _result(7, "policies").ok


def test_stage5_after_stage7_relaunches_nothing_and_checks_the_groups_spread(stage7):
    """Once the group runs the web tier, stage 5 launches no hand-made instance and checks the spread it finds."""
    from workshop.stages import s05_users_100k as s05

    assert s05.missing_web(_ctx(5)) == []
    _build(5)
    assert s05.extra_web_ids(_ctx(5)) == []
    result = _result(5, "spread")
    assert result.ok and "Auto Scaling group now sizes the tier" in result.message


def test_stage7_models_day_reaches_max_at_the_peak_and_min_at_night(stage7):
    """The capacity model's day keeps the group within bounds: its max at the evening peak, its min at night;
    it publishes nothing, so no alarm has acted (the ramp of real users is tests/test_traffic_stages_6_7.py)."""
    from workshop.stages import s07_auto_scaling as s07

    rows = s07.plan_day(stage7)
    baseline = len(s07.baseline_instances(stage7))
    fleet = [r["instances"] - baseline for r in rows]
    assert min(fleet) == s07.MIN_SIZE and max(fleet) == s07.MAX_SIZE
    busiest = max(rows, key=lambda r: r["users"])
    assert busiest["instances"] - baseline == s07.MAX_SIZE
    assert all(r["cpu"] <= s07.TARGET_CPU for r in rows if r["instances"] - baseline < s07.MAX_SIZE)
    before = _result(7, "scaled")
    assert not before.ok and "run the ramp" in before.message
    assert _result(7, "group").ok


def test_stage7_peak_line_agrees_with_the_capacity_model(stage7):
    """The day's peak line takes its ceiling from the capacity model: past it, it names the bottleneck."""
    from workshop import capacity
    from workshop.stages import s07_auto_scaling as s07

    ceiling = capacity.evaluate(capacity.live(stage7), 0)
    rows = [{"users": s07.PEAK_USERS, "instances": 12, "cpu": 47.7}, {"users": 1_000, "instances": 4, "cpu": 1.0}]
    line = s07.peak_line(stage7, rows)
    assert line.startswith("peak: 900,000 users on 12 web instances at 47.7% CPU; fleet between 4 and 12")
    assert f"puts this design at ~{capacity.about(ceiling.max_users)} users" in line and ceiling.bottleneck in line
    within = s07.peak_line(stage7, [{"users": ceiling.max_users // 2, "instances": 6, "cpu": 30.0}])
    assert f"within the ~{capacity.about(ceiling.max_users)} users" in within


def test_stage7_group_fails_when_detached_from_the_target_group(stage7):
    """A group detached from the load balancer's target group fails the group check."""
    from workshop.stages import infra, webtier
    from workshop.stages import s07_auto_scaling as s07

    asg = infra.client(stage7, "autoscaling")
    tg = webtier.find_target_group(stage7)["TargetGroupArn"]
    asg.detach_load_balancer_target_groups(AutoScalingGroupName=s07.group_name(stage7), TargetGroupARNs=[tg])
    try:
        result = _result(7, "group")
        assert not result.ok and "is not attached to the load balancer's target group" in result.message
    finally:
        asg.attach_load_balancer_target_groups(AutoScalingGroupName=s07.group_name(stage7), TargetGroupARNs=[tg])
    assert _result(7, "group").ok


def test_stage7_terminated_instance_is_replaced(stage7):
    """Terminating one of the group's instances brings a replacement, registered in the target group."""
    from workshop.stages import infra, webtier
    from workshop.stages import s07_auto_scaling as s07

    group = s07.find_group(stage7)
    victim = group["Instances"][0]["InstanceId"]
    infra.client(stage7, "ec2").terminate_instances(InstanceIds=[victim])
    after = s07.find_group(stage7)
    ids = [i["InstanceId"] for i in after["Instances"]]
    assert victim not in ids and len(ids) == group["DesiredCapacity"]
    registered = webtier.target_ids(stage7, webtier.find_target_group(stage7)["TargetGroupArn"])
    assert victim not in registered and set(ids) <= set(registered)


def test_stage7_bad_bounds_are_refused():
    """max below min, or a group of one, is refused before anything is created."""
    from workshop.errors import BadInput
    from workshop.stages import s07_auto_scaling as s07

    with pytest.raises(BadInput, match="max_size=2 is below min_size=3"):
        s07.validate(3, 2)
    with pytest.raises(BadInput, match="min_size=1"):
        s07.validate(1, 4)


# --- stage 8 and building twice -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stage8(stage7):
    _build(8)
    return _ctx(8)


def test_stage8_matches_slide_20(stage8):
    """The live diagram matches the target as built (before the traffic check, whose load may grow the group,
    as in the notebook), and every check passes, slide 20's components and 500,000 users served among them."""
    from workshop import behaviour, stages, topology

    live = topology.live_architecture(topology.read(RUN))
    assert stages.get(8).architecture.diff(live).matches, str(stages.get(8).architecture.diff(live))
    results = behaviour.run(stage8)
    assert all(r.ok for r in results), behaviour.format_results(results)


def test_stage8_fails_when_the_web_tier_shrinks(stage8):
    """With the group back at its minimum, slide 20's three web instances per AZ are missing, and the checks say so."""
    from workshop.stages import infra
    from workshop.stages import s07_auto_scaling as s07

    infra.client(stage8, "autoscaling").update_auto_scaling_group(AutoScalingGroupName=s07.group_name(stage8),
                                                                  MinSize=2, DesiredCapacity=2)
    web = _result(8, "web-tier")
    assert not web.ok and "expected 3+ healthy web instances in each AZ" in web.message
    slide = _result(8, "slide-20")
    assert not slide.ok and "auto-scaled web instances, 3 per AZ" in slide.message
    _build(8)
    assert _result(8, "web-tier").ok
    group = s07.find_group(stage8)
    assert group["MinSize"] == group["DesiredCapacity"] == 4  # slide 20's tier is the group's floor, not a setting


def test_building_stages_1_to_8_twice_creates_nothing_twice(stage8):
    """A second build of every stage leaves the run with exactly the same resources."""
    from workshop import inventory

    before = inventory.course_resources(RUN)
    _build(1, 3, 4, 5, 6, 7, 8)
    after = inventory.course_resources(RUN)
    assert len(after) == len(before)
    assert {r.name for r in after} == {r.name for r in before}


def test_day_plot_is_a_well_formed_svg_with_the_groups_bounds():
    """The day's plot is an SVG (no plotting library) that marks min and max."""
    import xml.etree.ElementTree as ET

    from workshop.stages import dayplot

    rows = [{"minute": m, "users": 1000 * (m // 60 + 1), "instances": 2 + m // 360} for m in range(0, 1440, 30)]
    svg = dayplot.svg(rows, 2, 10)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "min 2" in svg and "max 10" in svg and "20:00" not in svg and "21:00" in svg
