"""Stages 1-3 prove their claims with requests: the box answers, a stopped box answers nothing,
a resize is an outage, and the web box writes through RDS; each check fails when broken on purpose."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from workshop import behaviour, notebook
from workshop.stages import downtime, infra, site
from workshop.traffic import probe

pytestmark = pytest.mark.slow  # builds stages and sends requests: make test, not make check


def _build(stage: int):
    ctx = notebook.start(stage=stage, run_id="t" + uuid.uuid4().hex[:8], target="local", quiet=True)
    ctx.build_previous()
    ctx.stage.build(ctx)
    return ctx


def _check(ctx, name: str):
    """The one named check's result, run as `workshop check` runs it (only that one: some stop the box)."""
    only = [c for c in ctx.stage.checks if c.name == name]
    assert only, f"stage {ctx.stage.number} has no check {name!r}"
    return behaviour.run(dataclasses.replace(ctx, stage=dataclasses.replace(ctx.stage, checks=tuple(only))))[0]


def _state(ctx) -> str:
    return infra.find_instance(ctx, "web-a")["State"]["Name"]


def test_stage1_the_box_answers_and_a_stopped_box_answers_nothing(local_aws):
    """answers: a 200 page from the instance, from its own MySQL; no-failover: every request refused while
    stopped, answers again once started, and the box is left running."""
    ctx = _build(1)
    instance_id = infra.find_instance(ctx, "web-a")["InstanceId"]
    answers, no_failover = _check(ctx, "answers"), _check(ctx, "no-failover")
    assert answers.ok and instance_id in answers.message and "its own MySQL" in answers.message
    assert no_failover.ok, no_failover.message
    assert "requests failed (ConnectionRefusedError" in no_failover.message and "answering again" in no_failover.message
    assert _state(ctx) == "running" and _check(ctx, "answers").ok


def test_stage1_a_box_left_stopped_fails_both_and_names_the_next_step(local_aws):
    """A box stopped and left stopped: answers fails naming start_instances; no-failover cannot show it and
    leaves the box as it found it (stopped)."""
    ctx = _build(1)
    instance_id = infra.find_instance(ctx, "web-a")["InstanceId"]
    infra.client(ctx, "ec2").stop_instances(InstanceIds=[instance_id])
    answers, no_failover = _check(ctx, "answers"), _check(ctx, "no-failover")
    assert not answers.ok and f"{instance_id} is stopped" in answers.message
    assert f"ec2.start_instances(InstanceIds=['{instance_id}'])" in answers.message
    assert not no_failover.ok and no_failover.message.startswith("cannot show it")
    assert _state(ctx) == "stopped"


def test_stage1_a_box_whose_database_is_gone_does_not_answer_with_its_data(local_aws):
    """A box whose app's database cannot be reached answers, but without its data: answers fails saying why."""
    ctx = _build(1)
    instance = infra.find_instance(ctx, "web-a")
    ec2 = infra.client(ctx, "ec2")
    from workshop.stages import s01_day_one
    from workshop.webapp import userdata

    nowhere = userdata.build({"stage": 1, "sessions": "memory", "cache": None,
                              "db": {**s01_day_one.DAY_ONE_DB, "writer": "db.nowhere.example"}})
    ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
    ec2.modify_instance_attribute(InstanceId=instance["InstanceId"], UserData={"Value": nowhere.encode()})
    ec2.start_instances(InstanceIds=[instance["InstanceId"]])
    answers = _check(ctx, "answers")
    assert not answers.ok and "answered without its data" in answers.message and "db.nowhere.example" in answers.message


def test_stage2_a_resize_is_an_outage_under_traffic(local_aws):
    """resize-downtime: refused while running, then some requests fail across the stop and start; the box is
    left running at its size."""
    ctx = _build(2)
    result = _check(ctx, "resize-downtime")
    assert result.ok, result.message
    assert "IncorrectInstanceState" in result.message and "requests failed" in result.message
    instance = infra.find_instance(ctx, "web-a")
    assert instance["State"]["Name"] == "running" and instance["InstanceType"] == "c4.8xlarge"


def test_stage2_a_stopped_box_cannot_be_measured(local_aws):
    """With the box stopped, resize-downtime fails naming the next step and does not start it."""
    ctx = _build(2)
    instance_id = infra.find_instance(ctx, "web-a")["InstanceId"]
    infra.client(ctx, "ec2").stop_instances(InstanceIds=[instance_id])
    result = _check(ctx, "resize-downtime")
    assert not result.ok and "cannot measure it" in result.message and "start_instances" in result.message
    assert _state(ctx) == "stopped"


def test_stage3_a_message_goes_through_the_web_box_into_rds(local_aws):
    """writes-through-rds passes, and leaves no row of its own behind in RDS."""
    from workshop.stages import s03_web_and_database as s03

    ctx = _build(3)
    result = _check(ctx, "writes-through-rds")
    assert result.ok, result.message
    assert "PyMySQL finds the row" in result.message
    from workshop import reach

    conn = reach.mysql_connect(s03.find_db(ctx), database="sbs")
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM messages WHERE text LIKE 'check %'")
        assert cur.fetchone()[0] == 0
    conn.close()


def test_stage3_a_box_still_on_its_own_database_fails_naming_the_fix(local_aws):
    """A web box given back day 1's user data (its own MySQL) fails writes-through-rds, naming stage 3's user data."""
    from workshop.stages import s01_day_one

    ctx = _build(3)
    web_id = infra.find_instance(ctx, "web-a")["InstanceId"]
    ec2 = infra.client(ctx, "ec2")
    ec2.stop_instances(InstanceIds=[web_id])
    ec2.modify_instance_attribute(InstanceId=web_id, UserData={"Value": s01_day_one.USER_DATA.encode()})
    ec2.start_instances(InstanceIds=[web_id])
    result = _check(ctx, "writes-through-rds")
    assert not result.ok and "'localhost'" in result.message and "web_user_data" in result.message


def _point_writer_at(ctx, name: str, target: str) -> None:
    """Give web-a stage 3's app with its writer named `name`, a CNAME in the run's zone leading to `target`."""
    from workshop.stages import s03_web_and_database as s03
    from workshop.stages import webtier

    zone_id = infra.ensure_zone(ctx)
    infra.client(ctx, "route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "CNAME", "TTL": 60,
                                                   "ResourceRecords": [{"Value": target}]}}]})
    web_id = infra.find_instance(ctx, "web-a")["InstanceId"]
    secret = webtier.db_secret_arn(s03.find_db(ctx))
    ec2 = infra.client(ctx, "ec2")
    ec2.stop_instances(InstanceIds=[web_id])
    ec2.modify_instance_attribute(InstanceId=web_id, UserData={"Value": webtier.app_user_data(
        ctx, 3, "writer by name", name, secret_arn=secret).encode()})
    ec2.start_instances(InstanceIds=[web_id])


def test_stage3_a_writer_named_in_the_zone_passes_only_when_it_leads_to_rds(local_aws):
    """Re-run after stage 5, the box writes to `db-writer.<zone>`: the check follows the CNAME to the RDS
    endpoint and passes; a name leading to another endpoint fails naming it."""
    from workshop.stages import s03_web_and_database as s03

    ctx = _build(3)
    endpoint = s03.find_db(ctx)["Endpoint"]["Address"]
    name = f"db-writer.{infra.domain(ctx)}"
    _point_writer_at(ctx, name, endpoint)
    result = _check(ctx, "writes-through-rds")
    assert result.ok, result.message
    _point_writer_at(ctx, name, "elsewhere.example.com")
    result = _check(ctx, "writes-through-rds")
    assert not result.ok and f"{name!r}, not the RDS endpoint {endpoint}" in result.message


def test_stage3_a_stopped_database_fails_the_write(local_aws):
    """With the RDS instance stopped, the box answers without its data and the check says to start the database."""
    from workshop.stages import s03_web_and_database as s03

    ctx = _build(3)
    rds = infra.client(ctx, "rds")
    rds.stop_db_instance(DBInstanceIdentifier=s03.find_db(ctx)["DBInstanceIdentifier"])
    try:
        result = _check(ctx, "writes-through-rds")
    finally:
        rds.start_db_instance(DBInstanceIdentifier=s03.find_db(ctx)["DBInstanceIdentifier"])
    assert not result.ok and "The database is unavailable" in result.message
    assert "is stopped (rds.start_db_instance if stopped)" in result.message


def test_a_watch_measures_from_the_first_error_to_the_answer_after_the_last():
    """The outage is first failed request after the first mark -> first answer after the last failure."""
    w = downtime.Watch(ctx=None, instance={"InstanceId": "i-1"})
    samples = [probe.Sample(t / 10, ok, 200 if ok else None, 0.01, error=None if ok else "ConnectionRefusedError")
               for t, ok in enumerate([True] * 5 + [False] * 7 + [True] * 3)]
    w.result, w.marks = probe.Result(samples, 1.5), [(0.45, "stop_instances"), (1.15, "start_instances")]
    assert w.down_at == pytest.approx(0.5) and w.back_at == pytest.approx(1.2) and w.outage_s == pytest.approx(0.7)
    assert w.errors() == {"ConnectionRefusedError": 7}
    assert [s.ok for s in w.between("stop_instances", "start_instances")] == [False] * 7
    assert "down 0.70 s" in w.summary() and "7 of 15 requests failed" in w.summary()
    w.result = probe.Result([s for s in samples if s.ok][:5], 0.5)
    assert w.outage_s is None and w.summary().startswith("no request failed")


def test_a_terminal_s_traffic_scales_the_machines_of_the_run_its_url_belongs_to(local_aws, tmp_path):
    """`workshop traffic URL --scale K` from a terminal (its own run id) scales the machines of the run that
    owns the URL's resource (the box's `workshop:run` tag), not the terminal's run: else the box would
    answer at scale 1 while the summary claimed K."""
    from workshop import aws
    from workshop.traffic.runner import Run, get_scale

    ctx = _build(1)
    where = site.box_where(ctx, infra.find_instance(ctx, "web-a"))
    terminal = ctx.target.replace(run_id="terminal")
    run = Run(where.url, 2, 1, scale=7, think=1.0, out=tmp_path / "t", target=terminal)
    result = run.start().wait()
    endpoint = aws.endpoint(ctx.target)
    assert result.summary["scaled_run"] == ctx.run_id
    assert get_scale(endpoint, ctx.run_id) == 7 and get_scale(endpoint, "terminal") == 1
