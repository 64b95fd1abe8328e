"""Teardown on the local AWS: finds exactly the course's resources, deletes them in order, leaves nothing."""

from __future__ import annotations

import pytest

from workshop import aws, cli, teardown, waits

from course_resources import create_all

pytestmark = pytest.mark.slow  # builds stages or starts processes: make test, not make check


def _by_kind(resources):
    out = {}
    for r in resources:
        out.setdefault(r.kind, set()).add(r.id)
    return out


def _asg_instances(run):
    groups = aws.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    return {i["InstanceId"] for g in groups if g["AutoScalingGroupName"].startswith(f"sbs-{run}-") for i in g["Instances"]}


@pytest.fixture(scope="module")
def course(local_aws):
    """Every kind of course resource for run 'td' (stage 5), plus run 'keep' (stage 6) that must survive."""
    made = create_all("td", 5)
    made["ec2 instance"] |= _asg_instances("td")
    kept = create_all("keep", 6, region="us-west-2")
    return made, kept


def test_plan_finds_exactly_what_the_course_created(course):
    """The plan lists every resource of the run, of every kind, and nothing of another run."""
    made, _ = course
    assert _by_kind(teardown.plan(run="td", region_list=["us-east-1"])) == made


def test_cli_without_yes_lists_and_deletes_nothing(course, capsys):
    """Without --yes the command lists what it would delete, prints the command to run, and exits 1."""
    made, _ = course
    assert cli.main(["teardown", "--run", "td"]) == 1
    out = capsys.readouterr().out
    assert "workshop teardown --yes --run td" in out and "sbs-td-db-replica-1" in out
    assert _by_kind(teardown.plan(run="td", region_list=["us-east-1"])) == made


def test_interrupted_teardown_resumes(course, monkeypatch):
    """A teardown interrupted while waiting is finished by running it again; only then is nothing left."""
    made, _ = course
    real = waits.together
    calls = []

    def interrupt_second_wave(*items):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*items)

    monkeypatch.setattr(waits, "together", interrupt_second_wave)
    with pytest.raises(KeyboardInterrupt):
        teardown.teardown(run="td", region_list=["us-east-1"], echo=lambda s: None)
    monkeypatch.setattr(waits, "together", real)
    assert teardown.scan(run="td", region_list=["us-east-1"])  # half done


def test_teardown_order_and_completeness(course, capsys):
    """After resuming, the rest goes in dependency order and the final scan of every service is empty."""
    made, kept = course
    order: list[str] = []
    report = teardown.teardown(run="td", region_list=["us-east-1"], echo=order.append)
    assert report.ok, teardown.summary_line(report)
    assert report.remaining == []
    assert teardown.scan(run="td", region_list=["us-east-1", "us-west-2"]) == []

    def pos(prefix):
        return min(i for i, line in enumerate(order) if line.startswith(f"deleting {prefix}"))

    # the resumed run starts nothing twice (waves 1-2 were started before the interruption)
    # and takes the rest in order
    assert not any(line.startswith(("deleting autoscaling group", "deleting rds instance")) for line in order)
    assert pos("iam role") < pos("iam policy")
    assert pos("ec2 security group") < pos("ec2 subnet") < pos("ec2 vpc")
    assert pos("ec2 route table") < pos("ec2 vpc") and pos("ec2 internet gateway") < pos("ec2 vpc")
    # the other run, in another region, is untouched
    still = _by_kind(teardown.plan(run="keep", region_list=["us-west-2"]))
    for kind in ("ec2 vpc", "rds instance", "dynamodb table", "lambda function"):
        assert still[kind] == kept[kind]


def test_first_wave_order(local_aws):
    """ASGs, replicas and CloudFront disabling come first; launch templates, primaries and deletion after."""
    create_all("ord", 5)
    order: list[str] = []
    assert teardown.teardown(run="ord", region_list=["us-east-1"], echo=order.append).ok

    def pos(prefix):
        return min(i for i, line in enumerate(order) if line.startswith(f"deleting {prefix}"))

    assert pos("autoscaling group") < pos("ec2 launch template")
    assert pos("rds instance (read replica)") < pos("rds instance sbs-ord-db")
    assert pos("cloudfront distribution (disable)") < pos("cloudfront distribution sbs-ord-cdn")
    assert pos("ec2 instance") < pos("ec2 security group")
    assert pos("load balancer") < pos("target group")
    assert pos("iam role") < pos("iam policy")
    assert pos("route53 hosted zone") < pos("ec2 vpc")


def test_stage_teardown_only_touches_that_stage(local_aws):
    """`teardown_stage(N, run)` deletes the run's stage-N resources and leaves its other stages standing."""
    ddb = aws.client("dynamodb")
    from workshop import tags

    for stage in (6, 7):
        ddb.create_table(TableName=tags.name(f"t{stage}", "st"), BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], Tags=tags.tag_list(stage, "st"))
    teardown.teardown_stage(6, "st")
    names = set(ddb.list_tables()["TableNames"])
    assert "sbs-st-t6" not in names and "sbs-st-t7" in names
    teardown.teardown(run="st", region_list=["us-east-1"], echo=lambda s: None)


def test_blocker_names_the_holder(local_aws, capsys, monkeypatch):
    """A course security group held by an interface that is not the course's is reported with its holder; exit 1."""
    from botocore.exceptions import ClientError

    from workshop import tags

    kind = next(k for k in teardown.KINDS if k.name == "ec2 security group")
    real_delete = kind.delete

    def refuse_while_used(scope, r):  # AWS refuses this way; moto does not check ENIs
        enis = scope.client("ec2").describe_network_interfaces(
            Filters=[{"Name": "group-id", "Values": [r.id]}])["NetworkInterfaces"]
        if enis:
            raise ClientError({"Error": {"Code": "DependencyViolation", "Message": f"resource {r.id} has a dependent "
                                         "object"}}, "DeleteSecurityGroup")
        real_delete(scope, r)

    monkeypatch.setattr(kind, "delete", refuse_while_used)

    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]  # not the course's
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="sbs-blk-web", Description="x", VpcId=vpc,
                                   TagSpecifications=[{"ResourceType": "security-group", "Tags": tags.tag_list(4, "blk")}])["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[sg], Description="someone else's")["NetworkInterface"]
    assert cli.main(["teardown", "--yes", "--run", "blk"]) == 1
    out = capsys.readouterr().out
    assert f"{eni['NetworkInterfaceId']} (someone else's)" in out and "sbs-blk-web" in out
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert cli.main(["teardown", "--yes", "--run", "blk"]) == 0
    assert "(nothing: the course has left nothing behind)" in capsys.readouterr().out


def test_whole_course_then_teardown_leaves_nothing(local_aws):
    """After every stage 1-10 is built, the teardown leaves nothing of the run in any service the course uses."""
    from workshop import notebook, stages

    for number in range(1, 11):
        stage = stages.get(number)
        if stage.build is not None:
            stage.build(notebook.StageContext.of(stage, "whole", "us-east-1"))
    found = {r.kind for r in teardown.plan(run="whole", region_list=["us-east-1"])}
    assert {"ec2 instance", "rds instance", "rds instance (read replica)", "load balancer", "autoscaling group",
            "elasticache replication group", "cloudfront distribution", "s3 bucket", "dynamodb table",
            "lambda function", "api gateway rest api", "firehose delivery stream", "route53 hosted zone",
            "iam role", "elasticache subnet group"} <= found
    report = teardown.teardown(run="whole", region_list=["us-east-1"], echo=lambda s: None)
    assert report.ok, teardown.summary_line(report)
    assert teardown.scan(run="whole", region_list=["us-east-1"]) == []


def test_untracked_course_resources_are_reported(local_aws):
    """A course-tagged resource of a service teardown does not know still shows in the final scan."""
    from workshop import tags

    sns = aws.client("sns")
    arn = sns.create_topic(Name="sbs-untr-alerts", Tags=tags.tag_list(7, "untr"))["TopicArn"]
    left = teardown.scan(run="untr", region_list=["us-east-1"])
    assert [(r.kind, r.id) for r in left] == [("untracked sns resource", arn)]
    sns.delete_topic(TopicArn=arn)


def test_local_cache_subnet_group_delete(local_aws):
    """The local AWS deletes an ElastiCache subnet group like AWS: refused while a cluster uses it, then gone."""
    from botocore.exceptions import ClientError

    ec2, ec = aws.client("ec2"), aws.client("elasticache")
    vpc = ec2.create_vpc(CidrBlock="10.88.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.88.1.0/24")["Subnet"]["SubnetId"]
    ec.create_cache_subnet_group(CacheSubnetGroupName="sbs-csg-g", CacheSubnetGroupDescription="x", SubnetIds=[subnet])
    ec.create_cache_cluster(CacheClusterId="sbs-csg-c", Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1, CacheSubnetGroupName="sbs-csg-g")
    with pytest.raises(ClientError, match="CacheSubnetGroupInUse"):
        ec.delete_cache_subnet_group(CacheSubnetGroupName="sbs-csg-g")
    ec.delete_cache_cluster(CacheClusterId="sbs-csg-c")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="sbs-csg-g")
    names = [g["CacheSubnetGroupName"] for g in ec.describe_cache_subnet_groups()["CacheSubnetGroups"]]
    assert "sbs-csg-g" not in names
    with pytest.raises(ClientError, match="CacheSubnetGroupNotFound"):
        ec.delete_cache_subnet_group(CacheSubnetGroupName="sbs-csg-g")
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)


def test_notebook_finish_with_teardown_removes_the_stage(local_aws, capsys):
    """A notebook's last cell `ws.finish(teardown=True)` deletes what its stage created, for its run only."""
    from workshop import notebook, stages, tags

    ddb = aws.client("dynamodb")
    for run in ("fin", "other"):
        ddb.create_table(TableName=tags.name("sessions", run), BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], Tags=tags.tag_list(6, run))
    notebook.StageContext.of(stages.get(6), "fin", "us-east-1").finish(teardown=True)
    names = set(ddb.list_tables()["TableNames"])
    assert "sbs-fin-sessions" not in names and "sbs-other-sessions" in names
    assert "Stage 6 of run 'fin': deleted 1 resource(s)." in capsys.readouterr().out
    ddb.delete_table(TableName="sbs-other-sessions")


def test_whole_course_scan_finds_every_run_by_tags_and_prefix(local_aws):
    """`scan()` with no run, the proof that nothing of the course remains, finds every run's
    resources: tagged ones, and untagged ones named `sbs-<run>-...` (a create interrupted before tagging)."""
    from workshop import inventory, tags

    ddb, iam, ec2 = aws.client("dynamodb"), aws.client("iam"), aws.client("ec2")
    for run in ("wa", "wb"):
        ddb.create_table(TableName=tags.name("t", run), BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], Tags=tags.tag_list(3, run))
    iam.create_role(RoleName="sbs-wc-role", AssumeRolePolicyDocument="{}")  # untagged: found by its name
    ec2.create_security_group(GroupName="sbs-wd-web", Description="untagged")
    expected = {("dynamodb table", "sbs-wa-t", "wa"), ("dynamodb table", "sbs-wb-t", "wb"),
                ("iam role", "sbs-wc-role", "wc"), ("ec2 security group", "sbs-wd-web", "wd")}

    assert expected <= {(r.kind, r.name, r.run) for r in teardown.scan(region_list=["us-east-1"])}
    assert expected <= {(r.kind, r.name, r.run) for r in inventory.course_resources()}  # what `workshop status` lists
    assert {r.run for r in teardown.scan(run="wa", region_list=["us-east-1"])} == {"wa"}
    for run in ("wa", "wb", "wc", "wd"):
        assert teardown.teardown(run=run, region_list=["us-east-1"], echo=lambda s: None).ok
    assert not expected & {(r.kind, r.name, r.run) for r in teardown.scan(region_list=["us-east-1"])}


def test_a_run_covers_its_notebooks_runs_and_no_other(local_aws):
    """teardown(run="fam") takes runs fam-s01 and fam-s02 (a `--jobs` run's notebooks), never run "fama"."""
    from workshop import tags

    s3 = aws.client("s3")
    for run in ("fam-s01", "fam-s02", "fama"):
        bucket = tags.name("data", run)
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags.tag_list(9, run)})
    planned = {r.name for r in teardown.plan(run="fam", region_list=["us-east-1"])}
    assert planned == {"sbs-fam-s01-data", "sbs-fam-s02-data"}
    assert teardown.teardown(run="fam", region_list=["us-east-1"], echo=lambda s: None).ok
    assert [r.name for r in teardown.scan(run=None, region_list=["us-east-1"]) if r.name.startswith("sbs-fam")] == \
        ["sbs-fama-data"]
    teardown.teardown(run="fama", region_list=["us-east-1"], echo=lambda s: None)
