"""Stages 4 and 5 prove the talk's claims with traffic: www over two AZs, an AZ lost, reads from the
replicas, replica lag, a replica lost; and `workshop traffic` reaches a Route 53 record."""

from __future__ import annotations

import time
import uuid

import pytest

from workshop import behaviour, notebook
from workshop.traffic import allow, process

EDGE = {"kind": "edge", "resource_id": "edge", "port": 4710, "protocol": "http", "url": "http://127.0.0.1:4710"}
LISTING = [
    EDGE,
    {"kind": "record", "resource_id": "Z1/www.run.example", "port": 4710, "protocol": "http",
     "url": "http://127.0.0.1:4710", "names": ["www.run.example"]},
    {"kind": "load-balancer", "resource_id": "arn:lb/1", "port": 4702, "protocol": "http",
     "url": "http://127.0.0.1:4702", "names": ["sbs-demo-alb-1.us-east-1.elb.amazonaws.com"]},
]


def test_a_record_goes_to_the_edge_with_its_name_as_the_host_header(tmp_path):
    """A Route 53 record's name is sent to the edge's URL with `Host: <name>` on Locust's command line;
    a load balancer's name needs no Host header."""
    record = allow.check_local("http://WWW.run.example.", LISTING, "http://127.0.0.1:4599")
    assert (record.url, record.kind, record.host_header) == ("http://127.0.0.1:4710", "record", "www.run.example")
    lb = allow.check_local("http://sbs-demo-alb-1.us-east-1.elb.amazonaws.com", LISTING, "http://127.0.0.1:4599")
    assert lb.host_header is None
    cmd = process.command(record.url, 1, 1.0, 1, tmp_path, [], 1, False, record.host_header)
    assert cmd[cmd.index("--wl-host-header") + 1] == "www.run.example"
    assert "--wl-host-header" not in process.command(lb.url, 1, 1.0, 1, tmp_path, [], 1, False)


# --- stages built on the local AWS ------------------------------------------------------------------

def _ctx(stage: int, run: str):
    return notebook.start(stage=stage, run_id=run, target="local", quiet=True)


def _check(ctx, name: str):
    return next(c for c in ctx.stage.checks if c.name == name).run(ctx)


def _wait_healthy(ctx, timeout: float = 8.0) -> None:
    """Until www is answered from both AZs (a restarted target passes its first health check)."""
    from workshop.stages import az_outage, www

    found = az_outage._answering_azs(www.where(ctx), timeout)
    assert len(found) == 2, found


@pytest.fixture(scope="module")
def stage4(local_aws):
    """A run built up to stage 4."""
    ctx = _ctx(4, "t" + uuid.uuid4().hex[:8])
    ctx.build_previous()
    ctx.stage.build(ctx)
    return ctx


@pytest.mark.slow
def test_stage4_www_alternates_and_a_stopped_instance_fails_it_naming_the_next_step(stage4):
    """GETs through www alternate between two AZs; with web-b stopped the alternates check fails naming it
    and what to do, and the AZ-loss drill refuses to start (one AZ is serving)."""
    from workshop.stages import infra

    ctx = _ctx(4, stage4.run_id)
    ok = _check(ctx, "alternates")
    assert ok.ok and "alternated between 2 instances" in ok.message and "us-east-1a: 4, us-east-1b: 4" in ok.message
    web_b = infra.find_instance(ctx, "web-b")
    ec2 = ctx.client("ec2")
    ec2.stop_instances(InstanceIds=[web_b["InstanceId"]])
    infra.wait_stopped(ctx, web_b["InstanceId"], "web-b")
    try:
        broken = _check(ctx, "alternates")
        assert not broken.ok and "found us-east-1a: 8" in broken.message
        assert f"{web_b['InstanceId']} in us-east-1b is unused: start it" in broken.message
        drill = _check(ctx, "survives-az-loss")
        assert not drill.ok and "needs www answered from two AZs, found ['us-east-1a']" in drill.message
    finally:
        ec2.start_instances(InstanceIds=[web_b["InstanceId"]])
        _wait_healthy(ctx)
    assert _check(ctx, "alternates").ok


@pytest.mark.slow
def test_stage4_survives_the_loss_of_the_primary_s_az_and_restores_it(stage4):
    """Losing the primary's AZ under a probe: 502s and pages without data for a short window (health checks,
    failover), then no error with the other AZ answering everything; the lone box fails throughout; the AZ
    comes back healthy and the primary has moved; the check passes on a built stage."""
    from workshop.stages import az_outage
    from workshop.stages import s03_web_and_database as s03

    ctx = _ctx(4, stage4.run_id)
    before = s03.find_db(ctx)
    started = time.monotonic()
    drill = az_outage.run(ctx)
    assert time.monotonic() - started < 20
    assert drill.az == before["AvailabilityZone"] and drill.failed_over
    window = drill.bad(drill.site, drill.down_at, drill.up_at)
    assert window and "HTTP 502" in {s.error for s in window}  # the load balancer's dead targets
    assert any(s.ok and s.source == "none" for s in window)  # the database failing over
    assert 0.5 < drill.recovery_s < 6 and drill.errors_after() == 0
    assert set(drill.azs_after()) == {drill.other} and sum(drill.azs_after().values()) >= 20
    assert drill.single is not None and drill.single_ok_while_down() == 0
    assert drill.restored_s is not None and az_outage.set_az(ctx, drill.az, False) == []  # nothing left dark
    assert s03.find_db(ctx)["AvailabilityZone"] == before["SecondaryAvailabilityZone"]
    assert "one box (stage 1)" in drill.summary()
    with ctx.judging_demos():  # the notebook's verify() right after the drill judges it, with no second drill
        judged = _check(ctx, "survives-az-loss")
    assert judged.ok and judged.message.startswith("the drill") and "then 0 errors" in judged.message
    result = _check(ctx, "survives-az-loss")  # on its own (workshop check 4) the check runs a drill
    assert result.ok and "then 0 errors" in result.message and not result.message.startswith("the drill"), result.message


@pytest.mark.slow
def test_workshop_traffic_through_www_reaches_both_azs(stage4, tmp_path):
    """`workshop.traffic.run("http://www.<zone>")` sends its requests through the edge to the load balancer:
    every request answered, by both AZs."""
    import workshop.traffic
    from workshop.stages import infra

    ctx = _ctx(4, stage4.run_id)
    _wait_healthy(ctx)
    result = workshop.traffic.run(f"http://{infra.www(ctx)}", users=5, duration=3, think=50, live=False,
                                  out=tmp_path, target=ctx.target)
    assert result.summary["kind"] == "record" and result.summary["host_header"] == infra.www(ctx)
    assert result.summary["failures"] == 0 and set(result.summary["azs"]) == {"us-east-1a", "us-east-1b"}


@pytest.mark.slow
def test_stage4_az_loss_with_a_single_az_database_fails_naming_multi_az(stage4):
    """With the database single-AZ, losing its AZ leaves every page without data until the AZ returns: the
    check fails with the call that adds a standby; the database is started again afterwards."""
    from workshop import waits
    from workshop.stages import s03_web_and_database as s03

    ctx = _ctx(4, stage4.run_id)
    rds, db_id = ctx.client("rds"), s03.find_db(ctx)["DBInstanceIdentifier"]
    rds.modify_db_instance(DBInstanceIdentifier=db_id, MultiAZ=False, ApplyImmediately=True)
    try:
        result = _check(ctx, "survives-az-loss")
        assert not result.ok and "single-AZ database" in result.message and "MultiAZ=True" in result.message
        assert s03.find_db(ctx)["DBInstanceStatus"] == "available"
    finally:
        rds.modify_db_instance(DBInstanceIdentifier=db_id, MultiAZ=True, ApplyImmediately=True)
        waits.waiter(rds, "db_instance_available", "Multi-AZ again", typical_s=1, DBInstanceIdentifier=db_id)


@pytest.fixture(scope="module")
def stage5(local_aws):
    """A run built up to stage 5."""
    ctx = _ctx(5, "t" + uuid.uuid4().hex[:8])
    ctx.build_previous()
    ctx.stage.build(ctx)
    return ctx


@pytest.mark.slow
def test_stage5_traffic_checks_pass_once_built(stage5):
    """Pages through www read from the replicas, a write is stale on a replica then there, a replica lost
    under traffic costs no request and is rebuilt, and the primary's password still opens it afterwards."""
    from workshop import reach
    from workshop.stages import webtier

    ctx = _ctx(5, stage5.run_id)
    started = time.monotonic()
    results = {r.name: r for r in behaviour.run(ctx)}
    assert all(r.ok for r in results.values()), behaviour.format_results(list(results.values()))
    assert "reader: 12" in results["replica-reads"].message
    assert "(stale)" in results["replica-lag"].message
    assert "0 failed" in results["survives-replica-loss"].message
    assert time.monotonic() - started < 30
    primary = webtier.find_primary_db(ctx)
    assert len(webtier.replicas_of(ctx, primary["DBInstanceIdentifier"])) == 4
    reach.mysql_connect(primary).close()  # deleting a replica left the shared secret in place


@pytest.mark.slow
def test_stage5_replica_reads_fail_without_replicas_and_pass_once_rebuilt(stage5):
    """With every replica deleted the replica-reads check fails saying pages were not read from the replicas;
    building stage 5 again brings them back and it passes."""
    from workshop.stages import webtier

    ctx = _ctx(5, stage5.run_id)
    rds = ctx.client("rds")
    primary = webtier.find_primary_db(ctx)
    for replica in webtier.replicas_of(ctx, primary["DBInstanceIdentifier"]):
        rds.delete_db_instance(DBInstanceIdentifier=replica["DBInstanceIdentifier"], SkipFinalSnapshot=True)
    try:
        broken = _check(ctx, "replica-reads")
        assert not broken.ok and "expected 12 pages through www read from the replicas" in broken.message
        assert "none: 12" in broken.message
    finally:
        ctx.stage.build(ctx)
    assert _check(ctx, "replica-reads").ok


@pytest.mark.slow
def test_a_run_s_az_outage_leaves_other_runs_alone(stage4, stage5):
    """Taking us-east-1a dark for stage 4's run stops its instances there, while another run's instances in
    the same AZ keep answering (a room shares one local AWS)."""
    from workshop.stages import az_outage, infra, www

    ctx4, ctx5 = _ctx(4, stage4.run_id), _ctx(5, stage5.run_id)
    dark = az_outage.run_instances_in(ctx4, "us-east-1a")
    box = www.where(ctx4, infra.find_instance(ctx4, "web-a")["PublicDnsName"])
    try:
        assert az_outage.set_az(ctx4, "us-east-1a", True) == dark and dark
        time.sleep(0.5)
        assert www.get(box).status is None  # refused
        assert {s.az for s in www.get_many(www.where(ctx5), 8)} == {"us-east-1a", "us-east-1b"}
    finally:
        az_outage.set_az(ctx4, "us-east-1a", False)
    time.sleep(0.5)
    assert www.get(box).ok
