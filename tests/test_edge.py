"""The edge routes by Host header: load balancers, distributions, instances and Route 53 records
(workshop/localaws/ext/route53_edge.py)."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from routing_helpers import build_cdn, build_site, get, health, wait_for

from workshop.localaws.ext import route53_edge


def _edge_port(local_aws) -> int:
    edge = wait_for(lambda: local_aws.dataplane.find("edge", "edge"), 3)
    assert edge is not None, "no edge endpoint published"
    return edge.port


def _healthy_site(local_aws):
    from workshop import aws

    site = build_site(local_aws)
    assert wait_for(lambda: {s for s, _ in health(aws.client("elbv2"), site.tg_arn).values()} == {"healthy"}, 3)
    return site


def _zone(name: str) -> str:
    from workshop import aws

    return aws.client("route53").create_hosted_zone(Name=name, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]


def _upsert(zone_id: str, record: dict) -> None:
    from workshop import aws

    aws.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": record}]})


def test_host_of_a_load_balancer_reaches_it(local_aws):
    """Host: the ALB's DNS name (with a dualstack. prefix too) reaches what its own port answers."""
    site = _healthy_site(local_aws)
    port = _edge_port(local_aws)
    ids = {get(f"http://127.0.0.1:{port}/", {"Host": site.lb["DNSName"]})[1]["X-Instance-Id"] for _ in range(4)}
    assert ids == {i.instance_id for i in site.instances}
    status, headers, _ = get(f"http://127.0.0.1:{port}/health", {"Host": "dualstack." + site.lb["DNSName"] + "."})
    assert status == 200


def test_host_of_a_distribution_reaches_it(local_aws):
    """Host: dxxxx.cloudfront.net reaches the distribution (its cache, its origins)."""
    cdn = build_cdn(local_aws, _healthy_site(local_aws))
    port = _edge_port(local_aws)
    status, headers, body = get(f"http://127.0.0.1:{port}/static/app.css", {"Host": cdn.dist["DomainName"]})
    assert (status, body) == (200, b"body { color: red }") and "cloudfront" in headers["X-Cache"]


def test_www_alias_record_reaches_the_load_balancer_and_is_published(local_aws):
    """An alias A record www.<zone> -> the ALB routes there, and is listed as kind 'record' on the edge's port."""
    site = _healthy_site(local_aws)
    zone = f"z{uuid.uuid4().hex[:8]}.example.com"
    zone_id = _zone(zone)
    _upsert(zone_id, {"Name": f"www.{zone}", "Type": "A", "AliasTarget": {
        "HostedZoneId": site.lb["CanonicalHostedZoneId"], "DNSName": site.lb["DNSName"], "EvaluateTargetHealth": True}})
    port = _edge_port(local_aws)
    status, headers, _ = get(f"http://127.0.0.1:{port}/", {"Host": f"www.{zone}"})
    assert status == 200 and headers["X-Instance-Id"] in {i.instance_id for i in site.instances}
    record = local_aws.dataplane.by_host(f"www.{zone}")
    assert record.kind == "record" and record.port == port and record.details["target"] == site.lb["DNSName"].lower()


def test_cname_and_weighted_records(local_aws):
    """A CNAME is followed; weighted records split by weight (weight 0 gets nothing)."""
    site = _healthy_site(local_aws)
    cdn = build_cdn(local_aws, site)
    zone = f"z{uuid.uuid4().hex[:8]}.example.com"
    zone_id = _zone(zone)
    _upsert(zone_id, {"Name": f"cdn.{zone}", "Type": "CNAME", "TTL": 60,
                      "ResourceRecords": [{"Value": cdn.dist["DomainName"]}]})
    for set_id, target, weight in (("alb", site.lb["DNSName"], 1), ("off", cdn.dist["DomainName"], 0)):
        _upsert(zone_id, {"Name": f"app.{zone}", "Type": "CNAME", "TTL": 60, "SetIdentifier": set_id,
                          "Weight": weight, "ResourceRecords": [{"Value": target}]})
    port = _edge_port(local_aws)
    assert "cloudfront" in get(f"http://127.0.0.1:{port}/static/app.css", {"Host": f"cdn.{zone}"})[1]["X-Cache"]
    seen = Counter("X-Cache" in get(f"http://127.0.0.1:{port}/", {"Host": f"app.{zone}"})[1] for _ in range(6))
    assert seen == {False: 6}  # all to the ALB directly, none through CloudFront


def test_unknown_host_is_404_with_a_way_forward(local_aws):
    """A Host the local AWS does not know is a 404 whose one line says `workshop status` lists the names."""
    port = _edge_port(local_aws)
    status, _, body = get(f"http://127.0.0.1:{port}/", {"Host": "example.org"})
    assert status == 404 and b"workshop status" in body and body.count(b"\n") == 1


def test_a_record_to_an_address_outside_is_not_forwarded(local_aws):
    """An A record to an address that is no instance here, or a CNAME to a database name, is a 502 naming the
    chain (nothing is contacted), and neither is listed as an HTTP record."""
    zone = f"z{uuid.uuid4().hex[:8]}.example.com"
    zone_id = _zone(zone)
    _upsert(zone_id, {"Name": f"out.{zone}", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "93.184.216.34"}]})
    _upsert(zone_id, {"Name": f"reader.{zone}", "Type": "CNAME", "TTL": 60, "SetIdentifier": "r1", "Weight": 1,
                      "ResourceRecords": [{"Value": "db-r1.abc.us-east-1.rds.amazonaws.com"}]})
    status, _, body = get(f"http://127.0.0.1:{_edge_port(local_aws)}/", {"Host": f"out.{zone}"})
    assert status == 502 and b"93.184.216.34" in body
    status, _, body = get(f"http://127.0.0.1:{_edge_port(local_aws)}/", {"Host": f"reader.{zone}"})
    assert status == 502 and b"db-r1.abc.us-east-1.rds.amazonaws.com" in body
    assert local_aws.dataplane.by_host(f"reader.{zone}") is None and local_aws.dataplane.by_host(f"out.{zone}") is None


def test_weights_pick_in_proportion():
    """Route 53 weighted routing: a record's share is weight/sum; all zero weights share equally."""
    record = route53_edge.Record("Z", "w.example.com", "CNAME", (route53_edge.Choice("a", 3, "a"),
                                                                 route53_edge.Choice("b", 1, "b")))
    picks = Counter(record.pick().target for _ in range(4000))
    assert 0.7 < picks["a"] / 4000 < 0.8
    zero = route53_edge.Record("Z", "w.example.com", "CNAME", (route53_edge.Choice("a", 0, "a"),
                                                               route53_edge.Choice("b", 0, "b")))
    assert set(zero.pick().target for _ in range(200)) == {"a", "b"}


def test_ports_close_when_the_local_aws_stops(tmp_path):
    """Stopping a local AWS closes its edge, load balancer and health-check work: the ports refuse."""
    import socket

    from workshop import config
    from workshop.localaws.server import LocalAWS

    server = LocalAWS().start()
    try:
        with config.using(config.target("local", endpoint=server.endpoint, home=tmp_path)):
            site = build_site(server)
        ports = [site.port, _edge_port(server)]
        for port in ports:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        server.stop()
    assert not server.dataplane.running
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_www_through_cloudfront_reaches_s3_and_the_load_balancer(local_aws):
    """Stage 6's path: www alias -> the distribution; /static/* from S3 (cached), / from the ALB's targets."""
    cdn = build_cdn(local_aws, _healthy_site(local_aws))
    zone = f"z{uuid.uuid4().hex[:8]}.example.com"
    _upsert(_zone(zone), {"Name": f"www.{zone}", "Type": "A", "AliasTarget": {
        "HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": cdn.dist["DomainName"], "EvaluateTargetHealth": False}})
    port, host = _edge_port(local_aws), {"Host": f"www.{zone}"}
    assert [get(f"http://127.0.0.1:{port}/static/app.css", host)[1]["X-Cache"] for _ in range(2)] == \
        ["Miss from cloudfront", "Hit from cloudfront"]
    status, headers, _ = get(f"http://127.0.0.1:{port}/", host)
    assert status == 200 and headers["X-Instance-Id"] in {i.instance_id for i in cdn.site.instances}


def test_hops_between_the_kits_proxies_are_calls_with_the_same_answer(local_aws):
    """Edge -> CloudFront -> load balancer: the two inner hops call the next proxy's handler (no HTTP on the
    distribution's or the load balancer's port, yet each handles the request), and the instance gets the same
    request as through the ports: a POST's body, the query, X-Forwarded-For with a hop per proxy, CloudFront's
    Via. A port no proxy of this process serves (the instance's) is still reached over HTTP."""
    import json

    from workshop.localaws.ext import _proxy, cloudfront_dataplane, elbv2_dataplane

    cdn = build_cdn(local_aws, _healthy_site(local_aws))
    edge = _edge_port(local_aws)
    lb = elbv2_dataplane.plane_of(local_aws).listeners[cdn.site.lb["LoadBalancerArn"]]
    dist = cloudfront_dataplane.plane_of(local_aws).edges[cdn.dist["Id"]]
    assert {lb.port, dist.port} <= set(_proxy._LOCAL) and cdn.site.instances[0].port not in _proxy._LOCAL
    http_before = (lb.http.requests_count, dist.http.requests_count)
    status, headers, body = get(f"http://127.0.0.1:{edge}/whoami?a=1&b=%20x", {"Host": cdn.dist["DomainName"]})
    seen = json.loads(body)["headers"]
    assert status == 200 and headers["X-Cache"] == "Miss from cloudfront", (status, headers)
    assert (lb.http.requests_count, dist.http.requests_count) == http_before  # no HTTP on their ports
    assert seen["X-Forwarded-For"] == "127.0.0.1, 127.0.0.1" and seen["Via"].endswith("(CloudFront)")
    assert seen["X-Amzn-Trace-Id"].startswith("Root=")
    # the same request straight to the distribution's port: HTTP there, the same kind of answer
    status2, headers2, body2 = get(f"http://127.0.0.1:{dist.port}/whoami?a=1&b=%20x")
    assert status2 == 200 and dist.http.requests_count == http_before[1] + 1
    assert json.loads(body2)["instance_id"] in {i.instance_id for i in cdn.site.instances}


def test_a_local_request_reads_like_aiohttps():
    """What a proxy reads of a call (path decoded, query string, headers, body) is what aiohttp gives it."""
    import asyncio

    from aiohttp.test_utils import make_mocked_request

    from workshop.localaws.ext._proxy import LocalRequest

    for path_qs in ("/", "/a%20b/c?x=1&y=%20z", "/static/app.css?v=2#frag", "/%E2%9C%93?q=%E2%9C%93"):
        mine = LocalRequest("GET", path_qs, {"Host": "h", "X-A": "1"}, b"body")
        theirs = make_mocked_request("GET", path_qs, headers={"Host": "h", "X-A": "1"})
        assert (mine.path, mine.query_string, mine.raw_path) == (theirs.path, theirs.query_string, theirs.raw_path), \
            path_qs
        assert mine.headers["x-a"] == "1" and asyncio.run(mine.read()) == b"body"


def test_failover_answers_the_secondary_when_the_primary_load_balancer_has_no_healthy_target(local_aws):
    """Failover records: PRIMARY while its load balancer has a healthy target (EvaluateTargetHealth), else SECONDARY."""
    from workshop import aws

    primary, secondary = _healthy_site(local_aws), _healthy_site(local_aws)
    zone = f"z{uuid.uuid4().hex[:8]}.example.com"
    zone_id = _zone(zone)
    for role, site in (("PRIMARY", primary), ("SECONDARY", secondary)):
        _upsert(zone_id, {"Name": f"app.{zone}", "Type": "A", "SetIdentifier": role.lower(), "Failover": role,
                          "AliasTarget": {"HostedZoneId": site.lb["CanonicalHostedZoneId"],
                                          "DNSName": site.lb["DNSName"], "EvaluateTargetHealth": True}})
    port, host = _edge_port(local_aws), {"Host": f"app.{zone}"}
    assert get(f"http://127.0.0.1:{port}/", host)[1]["X-Instance-Id"] in {i.instance_id for i in primary.instances}
    aws.client("ec2").stop_instances(InstanceIds=[i.instance_id for i in primary.instances])
    ids = {get(f"http://127.0.0.1:{port}/", host)[1]["X-Instance-Id"] for _ in range(4)}
    assert ids <= {i.instance_id for i in secondary.instances}
