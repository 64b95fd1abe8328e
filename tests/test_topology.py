"""The live topology: course resources read with describe calls, drawn by AZ and tier, diffed with a target."""

from __future__ import annotations

import uuid

import pytest

from workshop import topology
from workshop.topology import Database, ElasticIP, HostedZone, Instance, LoadBalancer, Topology


def _run() -> str:
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture
def course(local_aws):
    """Two runs' course resources plus an untagged instance; returns (run, other run, ids)."""
    from workshop import aws, tags

    ec2, elb, rds, r53 = (aws.client(s) for s in ("ec2", "elbv2", "rds", "route53"))
    run, other = _run(), _run()

    def tagged(r, role, stage=4):
        items = [{"Key": k, "Value": v} for k, v in tags.tags(stage, r).items()]
        return items + [{"Key": "workshop:role", "Value": role}]

    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1a", "us-east-1b"))]

    def launch(subnet, tag_items):
        spec = [{"ResourceType": "instance", "Tags": tag_items}] if tag_items else []
        return ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m4.large",
                                 SubnetId=subnet, TagSpecifications=spec)["Instances"][0]["InstanceId"]

    web_a, web_b = launch(subnets[0], tagged(run, "web")), launch(subnets[1], tagged(run, "web"))
    foreign = launch(subnets[0], tagged(other, "web"))
    untagged = launch(subnets[0], [])
    eip = ec2.allocate_address(Domain="vpc",
                               TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": tagged(run, "eip")}])
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=web_a)
    lb = elb.create_load_balancer(Name=f"sbs-{run}-alb", Subnets=subnets, Tags=tagged(run, "lb"))["LoadBalancers"][0]
    tg = elb.create_target_group(Name=f"sbs-{run}-tg", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": web_a}, {"Id": web_b}])
    rds.create_db_subnet_group(DBSubnetGroupName=f"sbs-{run}-g", DBSubnetGroupDescription="d", SubnetIds=subnets)
    rds.create_db_instance(DBInstanceIdentifier=f"sbs-{run}-db", Engine="mysql", DBInstanceClass="db.m5.large",
                           MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
                           MultiAZ=True, DBSubnetGroupName=f"sbs-{run}-g", AvailabilityZone="us-east-1a",
                           Tags=tagged(run, "primary"))
    zone = r53.create_hosted_zone(Name=f"{run}.example.org", CallerReference=run)["HostedZone"]["Id"].split("/")[-1]
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone, AddTags=tagged(run, "dns"))
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": f"www.{run}.example.org", "Type": "A", "AliasTarget": {
            "HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"], "EvaluateTargetHealth": False}}}]})
    return run, other, {"web_a": web_a, "web_b": web_b, "foreign": foreign, "untagged": untagged,
                        "eip": eip["PublicIp"], "lb": lb}


def test_read_finds_only_the_runs_course_resources(course):
    """read(run) returns that run's tagged instances, with AZ and role, and nothing of another run or untagged."""
    run, other, ids = course
    topo = topology.read(run)
    assert {(i.id, i.az, i.role) for i in topo.instances} == {
        (ids["web_a"], "us-east-1a", "web"), (ids["web_b"], "us-east-1b", "web")}
    everyone = {i.id for i in topology.read().instances}
    assert {ids["web_a"], ids["web_b"], ids["foreign"]} <= everyone and ids["untagged"] not in everyone


def test_read_fills_load_balancer_database_address_and_dns(course):
    """Load balancer health per AZ, the Multi-AZ standby, the Elastic IP and the zone's alias record are read."""
    run, _, ids = course
    topo = topology.read(run)
    (lb,) = topo.load_balancers
    assert lb.healthy_by_az == {"us-east-1a": 1, "us-east-1b": 1} and lb.dns == ids["lb"]["DNSName"]
    (db,) = topo.databases
    assert (db.role, db.multi_az, db.az, db.secondary_az) == ("primary", True, "us-east-1a", "us-east-1b")
    assert [(e.public_ip, e.instance_id) for e in topo.elastic_ips] == [(ids["eip"], ids["web_a"])]
    assert topo.dns_records == [f"www.{run}.example.org. A ALIAS {ids['lb']['DNSName']}"]


def test_stopped_instance_is_read_and_its_target_counts_unhealthy(course):
    """A stopped instance stays in the topology as stopped; its AZ's healthy count drops to 0."""
    from workshop import aws

    run, _, ids = course
    aws.client("ec2").stop_instances(InstanceIds=[ids["web_b"]])
    topo = topology.read(run)
    assert {i.id: i.state for i in topo.instances}[ids["web_b"]] == "stopped"
    assert topo.load_balancers[0].healthy_by_az == {"us-east-1a": 1, "us-east-1b": 0}
    assert [i.id for i in topo.running("web")] == [ids["web_a"]]


def test_read_never_lists_images_and_filters_every_instance_listing(course, monkeypatch):
    """read() makes no DescribeImages call and every DescribeInstances call carries the course tag filter."""
    run, _, _ = course
    calls, spied = [], []
    original = topology._client

    def spying(service):
        c = original(service)
        spied.append(c)
        c.meta.events.register("provide-client-params.*.*",
                               lambda params, model, **kw: calls.append((model.name, params)),
                               unique_id="test-topology-spy")
        return c

    monkeypatch.setattr(topology, "_client", spying)
    topology.read(run)
    names = [n for n, _ in calls]
    assert "DescribeImages" not in names and "DescribeInstances" in names
    for name, params in calls:
        if name == "DescribeInstances":
            assert {"Name": "tag:workshop:course", "Values": ["scale-baby-scale"]} in params["Filters"]
    for c in spied:  # leave the shared clients as they were
        c.meta.events.unregister("provide-client-params.*.*", unique_id="test-topology-spy")


def test_read_of_an_unknown_run_is_empty(local_aws):
    """A run that created nothing reads as an empty topology."""
    assert topology.read(_run()).is_empty


def _stage4_like(web_b: bool = True, standby: bool = True) -> Topology:
    instances = [Instance("i-a", "m4.large", "us-east-1a", "running", "web-a", "web")]
    if web_b:
        instances.append(Instance("i-b", "m4.large", "us-east-1b", "running", "web-b", "web"))
    return Topology(
        instances=instances,
        load_balancers=[LoadBalancer("alb", "arn:alb", "application", ["us-east-1a", "us-east-1b"], "alb.example")],
        databases=[Database("db", "mysql", "db.m5.large", "us-east-1a", "primary", multi_az=standby,
                            secondary_az="us-east-1b" if standby else None)],
        elastic_ips=[ElasticIP("1.2.3.4", "eipalloc-1", "i-a")],
        zones=[HostedZone("Z1", "demo.example.")],
        dns_records=["www.demo.example. A ALIAS alb.example"],
    )


def test_live_architecture_groups_by_az_and_tier_and_matches_stage_4():
    """A stage-4 topology draws web instances and databases inside their AZ's tier and matches stage 4's target."""
    from workshop import stages

    live = topology.live_architecture(_stage4_like(), "live")
    paths = {n.id: live.group_path(n) for n in live.nodes}
    assert paths["ec2-i-b"] == ("Availability Zone B", "Web tier")
    assert paths["rds-db-standby"] == ("Availability Zone B", "Data tier")
    assert stages.get(4).architecture.diff(live).matches


def test_live_architecture_diff_names_what_is_missing_and_extra():
    """Without the AZ-B web instance and the standby, the diff names both as missing; stage 1's target sees extras."""
    from workshop import stages

    diff = stages.get(4).architecture.diff(topology.live_architecture(_stage4_like(web_b=False, standby=False)))
    assert diff.missing == ("1 x ec2 in Availability Zone B / Web tier",
                            "1 x rds-standby in Availability Zone B / Data tier")
    assert not diff.extra
    day1 = stages.get(1).architecture.diff(topology.live_architecture(_stage4_like()))
    assert "1 x alb" in day1.extra and not day1.missing


def test_dns_edges_follow_the_records():
    """Route 53 is drawn pointing at what its records answer with (the load balancer), not at every front door."""
    live = topology.live_architecture(_stage4_like())
    kinds = {n.id: n.kind for n in live.nodes}
    from_dns = {kinds[e.dst] for e in live.edges if e.src == "route53"}
    assert from_dns == {"alb"}


def test_live_cloudfront_wires_only_its_origin_buckets():
    """A distribution draws an edge to the bucket it serves, not to a bucket it does not front (stage 10's events)."""
    from workshop.topology import Distribution, Topology, live_architecture

    topo = Topology(distributions=[Distribution("d", "d1.cloudfront.net", ["static.s3.amazonaws.com"])],
                    buckets=["static", "events"])
    edges = {(e.src, e.dst) for e in live_architecture(topo).edges}
    assert ("cloudfront-0", "s3-0") in edges and ("cloudfront-0", "s3-1") not in edges
