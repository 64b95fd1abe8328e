"""Stages 1-4 build idempotently, their checks pass, and break on purpose with the right message."""

from __future__ import annotations

import time
import uuid

import pytest

from workshop import behaviour, notebook, stages
from workshop.errors import BadInput

pytestmark = pytest.mark.slow  # builds stages or starts processes: make test, not make check


def _ctx(stage: int, run: str):
    return notebook.start(stage=stage, run_id=run, target="local", quiet=True)


def _run() -> str:
    return "t" + uuid.uuid4().hex[:8]


def _inventory(run: str) -> list:
    """Everything the run created: tagged resources, zone records, and instances (ids and types)."""
    from workshop import inventory, topology

    topo = topology.read(run)
    return sorted(str(r) for r in inventory.course_resources(run)) + sorted(topo.dns_records) + \
        sorted((i.id, i.type, i.state) for i in topo.instances)


def _results(stage: int, ctx) -> dict:
    return {r.name: r for r in behaviour.run(ctx)}


def _check(ctx, name: str):
    """One check of the context's stage (stage 4's traffic drills take seconds: run only what a test reads)."""
    return next(c for c in ctx.stage.checks if c.name == name).run(ctx)


def _build(stage: int, run: str):
    ctx = _ctx(stage, run)
    ctx.build_previous()
    ctx.stage.build(ctx)
    return ctx


@pytest.fixture(scope="module")
def stage4(local_aws):
    """One run built up to stage 4 (stages 1, 3 and 4)."""
    run = _run()
    return run, _build(4, run)


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_stage_builds_passes_its_checks_and_builds_twice_without_new_resources(local_aws, number):
    """Building a stage (with what it stands on) passes all its checks; a second build creates and changes nothing."""
    run = _run()
    ctx = _build(number, run)
    results = _results(number, ctx)
    assert results and all(r.ok and not r.degraded for r in results.values()), [r.message for r in results.values()]
    before = _inventory(run)
    ctx = _build(number, run)
    assert _inventory(run) == before
    assert all(r.ok for r in _results(number, ctx).values())


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_live_architecture_matches_the_stage_target(local_aws, number):
    """The live diagram read from the account after a build has nothing missing or extra against the target."""
    from workshop import topology

    run = _run()
    _build(number, run)
    live = topology.live_architecture(topology.read(run))
    diff = stages.get(number).architecture.diff(live)
    assert diff.matches, str(diff)


def test_stage1_stopped_instance_reports_the_site_down(local_aws):
    """Stopping the day-1 instance makes the site check fail naming the stopped box; starting it again restores it."""
    from workshop.stages import infra

    run = _run()
    ctx = _build(1, run)
    instance_id = infra.find_instance(ctx, "web-a")["InstanceId"]
    infra.client(ctx, "ec2").stop_instances(InstanceIds=[instance_id])
    site = _results(1, ctx)["site"]
    assert not site.ok and "the site is down" in site.message and f"{instance_id} is stopped" in site.message
    assert _results(1, ctx)["dns"].ok  # the name still resolves: it is the box that is down
    infra.client(ctx, "ec2").start_instances(InstanceIds=[instance_id])
    assert _results(1, ctx)["site"].ok


def test_stage1_ssh_open_to_the_world_fails_its_check(local_aws):
    """Opening SSH to 0.0.0.0/0 makes the ssh check fail saying so."""
    from workshop.stages import infra

    run = _run()
    ctx = _build(1, run)
    infra.client(ctx, "ec2").authorize_security_group_ingress(
        GroupId=infra.find_security_group(ctx, "web"),
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ssh = _results(1, ctx)["ssh"]
    assert not ssh.ok and "open to 0.0.0.0/0" in ssh.message


def test_stage1_dns_pointing_elsewhere_fails_its_check(local_aws):
    """A www record that no longer points at the Elastic IP fails the dns check with expected and found."""
    from workshop.stages import infra

    run = _run()
    ctx = _build(1, run)
    r53 = infra.client(ctx, "route53")
    r53.change_resource_record_sets(HostedZoneId=infra.find_zone(ctx), ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": infra.www(ctx), "Type": "A", "TTL": 60,
                                                  "ResourceRecords": [{"Value": "192.0.2.1"}]}}]})
    result = _results(1, ctx)["dns"]
    assert not result.ok and "expected" in result.message and "192.0.2.1" in result.message


@pytest.mark.parametrize("kwargs, words", [
    ({"ssh_cidr": "10.0.0.0/33"}, "not a CIDR block"),
    ({"ssh_cidr": "0.0.0.0/0"}, "whole internet"),
    ({"ssh_cidr": "hello"}, "not a CIDR block"),
    ({"instance_type": "t2.mega"}, "not an EC2 instance type"),
])
def test_stage1_bad_parameters_are_refused_before_anything_is_created(local_aws, kwargs, words):
    """A bad CIDR or instance type is a one-line BadInput, and the run has no resources afterwards."""
    run = _run()
    ctx = _ctx(1, run)
    with pytest.raises(BadInput) as err:
        ctx.stage.build(ctx, **kwargs)
    assert words in str(err.value) and "Nothing was created" in str(err.value)
    assert _inventory(run) == []


def test_stage2_wrong_size_fails_its_check(local_aws):
    """An instance left at m4.2xlarge fails the size check, naming expected and found sizes."""
    from workshop.stages import infra

    run = _run()
    ctx = _build(2, run)
    infra.resize(ctx, infra.find_instance(ctx, "web-a")["InstanceId"], "m4.2xlarge")
    size = _results(2, ctx)["size"]
    assert not size.ok and "expected c4.8xlarge, found m4.2xlarge" in size.message


def test_stage2_bad_sizes_are_refused_before_anything_changes(local_aws):
    """Unknown or shrinking sizes are refused and the instance keeps its type."""
    from workshop.stages import infra

    run = _run()
    ctx = _build(1, run)
    ctx2 = _ctx(2, run)
    for sizes, words in ((["t2.micro", "c4.9xlarge"], "not an EC2 instance type"),
                         (["c4.8xlarge", "t2.micro"], "smaller than")):
        with pytest.raises(BadInput) as err:
            ctx2.stage.build(ctx2, sizes=sizes)
        assert words in str(err.value)
    assert infra.find_instance(ctx, "web-a")["InstanceType"] == "t2.micro"


def test_stage3_database_open_to_an_address_range_fails_its_check(local_aws):
    """Admitting MySQL from a CIDR as well as the web tier fails db-access, naming the extra rule."""
    from workshop.stages import infra

    run = _run()
    ctx = _build(3, run)
    infra.client(ctx, "ec2").authorize_security_group_ingress(
        GroupId=infra.find_security_group(ctx, "db"),
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    access = _results(3, ctx)["db-access"]
    assert not access.ok and "admits more than MySQL from the web tier" in access.message
    assert "0.0.0.0/0" in access.message


def test_stage3_web_not_configured_with_the_endpoint_fails_its_check(local_aws):
    """A web instance whose endpoint tag is wrong fails web-config, naming the expected endpoint."""
    from workshop.stages import infra
    from workshop.stages import s03_web_and_database as s03

    run = _run()
    ctx = _build(3, run)
    web = infra.find_instance(ctx, "web-a")
    infra.client(ctx, "ec2").create_tags(Resources=[web["InstanceId"]],
                                         Tags=[{"Key": s03.ENDPOINT_TAG, "Value": "localhost"}])
    result = _results(3, ctx)["web-config"]
    assert not result.ok and "'localhost'" in result.message
    assert s03.find_db(ctx)["Endpoint"]["Address"] in result.message


def test_stage3_bad_db_class_is_refused_before_anything_is_created(local_aws):
    """A malformed DB instance class is refused before the database or its subnets exist."""
    from workshop.stages import s03_web_and_database as s03

    run = _run()
    _build(1, run)
    before = _inventory(run)
    with pytest.raises(BadInput, match="not an RDS instance class"):
        s03.build(_ctx(3, run), db_instance_class="m5.large")
    assert _inventory(run) == before


def test_stage4_one_az_down_is_degraded_and_both_down_fails(stage4):
    """With one AZ's web instance stopped the serving check passes as degraded; with both stopped it fails."""
    from workshop.stages import infra

    run, ctx = stage4
    ec2 = infra.client(ctx, "ec2")
    web_a, web_b = (infra.find_instance(ctx, s)["InstanceId"] for s in ("web-a", "web-b"))
    ec2.stop_instances(InstanceIds=[web_b])
    serving = _check(ctx, "serving")
    assert serving.ok and serving.degraded and "degraded" in serving.message and web_b in serving.message
    ec2.stop_instances(InstanceIds=[web_a])
    serving = _check(ctx, "serving")
    assert not serving.ok and "the site is down" in serving.message
    ec2.start_instances(InstanceIds=[web_a, web_b])
    deadline = time.monotonic() + 30  # started targets are `initial` until their first health check passes
    serving = _check(ctx, "serving")
    while not (serving.ok and not serving.degraded) and time.monotonic() < deadline:
        time.sleep(0.2)
        serving = _check(ctx, "serving")
    assert serving.ok and not serving.degraded


def test_stage4_forced_failover_swaps_azs_and_the_check_still_passes(stage4):
    """A forced failover from outside the kit's helpers swaps primary and standby; multi-az still passes."""
    from workshop.stages import infra
    from workshop.stages import s03_web_and_database as s03

    run, ctx = stage4
    before = s03.find_db(ctx)
    infra.client(ctx, "rds").reboot_db_instance(DBInstanceIdentifier=before["DBInstanceIdentifier"], ForceFailover=True)
    after = s03.find_db(ctx)
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == \
        (before["SecondaryAvailabilityZone"], before["AvailabilityZone"])
    assert after["Endpoint"] == before["Endpoint"]
    assert _check(ctx, "multi-az").ok
    infra.client(ctx, "rds").reboot_db_instance(DBInstanceIdentifier=before["DBInstanceIdentifier"], ForceFailover=True)


def test_stage4_single_az_database_fails_its_check(local_aws):
    """A database left single-AZ fails multi-az with the call that fixes it."""
    from workshop.stages import infra
    from workshop.stages import s03_web_and_database as s03

    run = _run()
    ctx = _build(4, run)
    infra.client(ctx, "rds").modify_db_instance(DBInstanceIdentifier=s03.find_db(ctx)["DBInstanceIdentifier"],
                                                MultiAZ=False, ApplyImmediately=True)
    result = _check(ctx, "multi-az")
    assert not result.ok and "single-AZ" in result.message and "MultiAZ=True" in result.message


@pytest.mark.parametrize("count", [1, 3, "2"])
def test_stage4_bad_az_count_is_refused_before_anything_is_created(local_aws, count):
    """An AZ count other than 2 is refused before anything is created."""
    run = _run()
    ctx = _ctx(4, run)
    with pytest.raises(BadInput, match="az_count"):
        ctx.stage.build(ctx, az_count=count)
    assert _inventory(run) == []


def _rule(port, **source):
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **source}


ANYWHERE = {"IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


@pytest.mark.parametrize("name, wrong, words, right", [
    ("s01-web-ingress", [{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
     "SSH (22) closed", [_rule(80, **ANYWHERE), _rule(443, **ANYWHERE)]),
    ("s01-web-ingress", [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
     "expected tcp 80 and 443", None),
    ("s03-db-ingress", [_rule(3306, IpRanges=[{"CidrIp": "10.0.0.0/16"}])],
     "expected no CIDR ranges", [_rule(3306, UserIdGroupPairs=[{"GroupId": "sg-web"}])]),
])
def test_exercise_checkers_say_what_is_wrong_and_accept_the_answer(name, wrong, words, right):
    """Each stage's exercise names what is missing or wrong in a wrong answer and accepts the reference answer."""
    from workshop import exercises

    stages.all_stages()
    namespace = {"web_sg": "sg-web",
                 "public_subnets": {"us-east-1a": "subnet-public-a", "us-east-1b": "subnet-public-b"}}
    exercise = exercises.get(name)
    problem = exercise.checker(wrong, namespace)
    assert problem and words in problem
    if right is not None:
        assert exercise.checker(right, namespace) is None


def test_stage4_build_alone_builds_what_it_stands_on(local_aws):
    """Stage 4's build on an empty run builds stages 1 and 3 first, so a later stage may list only 4 in builds_on."""
    run = _run()
    ctx = _ctx(4, run)
    ctx.stage.build(ctx)
    results = _results(4, ctx)
    assert all(r.ok and not r.degraded for r in results.values()), [r.message for r in results.values()]
    assert all(r.ok for r in _results(3, _ctx(3, run)).values())


def test_stage1_site_check_after_stage4_says_www_moved_on(stage4):
    """Once stage 4 aliases www to the load balancer, stage 1's site check says a later stage moved it (not down)."""
    run, _ = stage4
    site = _results(1, _ctx(1, run))["site"]
    assert not site.ok and "a later stage moved it" in site.message and "down" not in site.message
