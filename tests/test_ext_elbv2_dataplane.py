"""Application Load Balancers route real HTTP requests on loopback (workshop/localaws/ext/elbv2_dataplane.py)."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from routing_helpers import build_site, get, health, wait_for

from workshop.localaws.ext import _elbv2_probes as probes
from workshop.localaws.ext import elbv2_dataplane


def _healthy(elb, site) -> bool:
    return all(state == "healthy" for state, _ in health(elb, site.tg_arn).values())


def _ids(port: int, n: int) -> list[str]:
    out = []
    for _ in range(n):
        status, headers, _ = get(f"http://127.0.0.1:{port}/")
        out.append(headers.get("X-Instance-Id") if status == 200 else f"HTTP {status}")
    return out


def test_requests_alternate_between_two_azs_then_fail_over(local_aws):
    """Round-robin over the healthy targets of both AZs; a dead web server leaves rotation after the
    scaled unhealthy threshold, and from then on every request reaches the other one."""
    from workshop import aws

    elb = aws.client("elbv2")
    site = build_site(local_aws)
    assert wait_for(lambda: _healthy(elb, site), 3), health(elb, site.tg_arn)
    a, b = (i.instance_id for i in site.instances)
    seen = _ids(site.port, 8)
    assert Counter(seen) == {a: 4, b: 4} and seen[0] != seen[1], seen
    status, headers, body = get(f"http://127.0.0.1:{site.port}/whoami")
    forwarded = __import__("json").loads(body)["headers"]
    assert forwarded["X-Forwarded-For"] == "127.0.0.1" and forwarded["X-Forwarded-Proto"] == "http"
    assert forwarded["X-Amzn-Trace-Id"].startswith("Root=1-")

    site.instances[0].stop()
    # interval 5 s and 2 failures on AWS: 2 x 5/30 s here; allow the loop some slack
    limit = 2 * 5 / probes.TIME_SCALE + 3
    assert wait_for(lambda: health(elb, site.tg_arn)[a][0] == "unhealthy", limit), health(elb, site.tg_arn)
    assert health(elb, site.tg_arn)[a] == ("unhealthy", "Target.FailedHealthChecks")
    assert _ids(site.port, 10) == [b] * 10


def test_no_routable_target_is_503_and_all_unhealthy_fail_open_to_502(local_aws):
    """Stopped instances leave nothing to route to: 503 from the load balancer; targets that only fail their
    health checks are still tried (ALB fails open), so a refused connection is a 502."""
    from workshop import aws

    ec2, elb = aws.client("ec2"), aws.client("elbv2")
    site = build_site(local_aws)
    assert wait_for(lambda: _healthy(elb, site), 3)
    for instance in site.instances:
        instance.stop()
    assert wait_for(lambda: all(s == "unhealthy" for s, _ in health(elb, site.tg_arn).values()), 3)
    status, headers, body = get(f"http://127.0.0.1:{site.port}/")
    assert (status, headers.get("Server")) == (502, "awselb/2.0") and b"502 Bad Gateway" in body
    ec2.stop_instances(InstanceIds=[i.instance_id for i in site.instances])
    assert {s for s, _ in health(elb, site.tg_arn).values()} == {"unused"}
    status, _, body = get(f"http://127.0.0.1:{site.port}/")
    assert status == 503 and b"503 Service Temporarily Unavailable" in body


def test_a_slow_target_is_504_after_the_scaled_idle_timeout(local_aws):
    """A target that does not answer within the idle timeout (30 s on AWS here: 1 s) gets the client a 504."""
    from workshop import aws

    elb = aws.client("elbv2")
    site = build_site(local_aws, idle_timeout=30)
    assert wait_for(lambda: _healthy(elb, site), 3)
    started = time.monotonic()
    status, _, body = get(f"http://127.0.0.1:{site.port}/slow?s=3")
    took = time.monotonic() - started
    assert status == 504 and b"504 Gateway Time-out" in body
    assert 0.9 < took < 2.5, took


def test_post_and_headers_pass_through(local_aws):
    """A POST body reaches the target and its status and headers come back unchanged."""
    from workshop import aws

    elb = aws.client("elbv2")
    site = build_site(local_aws)
    assert wait_for(lambda: _healthy(elb, site), 3)
    status, headers, body = get(f"http://127.0.0.1:{site.port}/messages", method="POST", data=b"hello")
    assert status == 201 and b'"stored": 5' in body
    status, headers, _ = get(f"http://127.0.0.1:{site.port}/")
    assert headers["X-Availability-Zone"] in ("us-east-1a", "us-east-1b")


def test_metrics_reach_cloudwatch(local_aws):
    """RequestCount, HTTPCode_Target_2XX_Count, TargetResponseTime and the host counts land in AWS/ApplicationELB."""
    from datetime import datetime, timedelta, timezone

    from workshop import aws

    elb, cw = aws.client("elbv2"), aws.client("cloudwatch")
    site = build_site(local_aws)
    assert wait_for(lambda: _healthy(elb, site), 3)
    _ids(site.port, 6)
    elbv2_dataplane.plane_of(local_aws).flush_metrics()
    dimension = site.lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    now = datetime.now(timezone.utc)

    def total(name, stat="Sum", dims=None):
        points = cw.get_metric_statistics(Namespace="AWS/ApplicationELB", MetricName=name,
                                          Dimensions=dims or [{"Name": "LoadBalancer", "Value": dimension}],
                                          StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=5),
                                          Period=60, Statistics=[stat])["Datapoints"]
        return sum(p[stat] for p in points)

    scale = local_aws.dataplane.scale
    assert total("RequestCount") == 6 * scale
    assert total("HTTPCode_Target_2XX_Count") == 6 * scale
    assert 0 < total("TargetResponseTime", "Maximum") < 1
    tg_dims = [{"Name": "LoadBalancer", "Value": dimension},
               {"Name": "TargetGroup", "Value": site.tg_arn.split(":")[-1]}]
    assert total("HealthyHostCount", "Maximum", tg_dims) == 2
    # (moto also matches data with more dimensions than asked: Maximum, not Sum)
    assert total("RequestCountPerTarget", "Maximum", tg_dims[1:]) == 6 * scale / 2


def test_without_a_web_app_health_follows_the_instance_state(local_aws):
    """Targets with nothing on the data plane keep elbv2_health's answers; the load balancer answers 503."""
    from workshop import aws

    elb = aws.client("elbv2")
    site = build_site(local_aws, apps=False)
    assert {s for s, _ in health(elb, site.tg_arn).values()} == {"healthy"}
    assert get(f"http://127.0.0.1:{site.port}/")[0] == 503


def test_deleting_the_load_balancer_closes_its_port(local_aws):
    """DeleteLoadBalancer withdraws the endpoint and its port refuses connections."""
    import socket

    from workshop import aws

    elb = aws.client("elbv2")
    site = build_site(local_aws)
    elb.delete_load_balancer(LoadBalancerArn=site.lb["LoadBalancerArn"])
    assert local_aws.dataplane.find("load-balancer", site.lb["LoadBalancerArn"]) is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", site.port), timeout=1).close()


def test_head_keeps_the_length_a_get_would_have(local_aws):
    """HEAD through the load balancer answers no body and the target's Content-Length."""
    import http.client

    from workshop import aws

    site = build_site(local_aws)
    assert wait_for(lambda: _healthy(aws.client("elbv2"), site), 3)
    length = len(get(f"http://127.0.0.1:{site.port}/")[2])
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    conn.request("HEAD", "/")
    reply = conn.getresponse()
    assert (reply.status, reply.read(), reply.getheader("Content-Length")) == (200, b"", str(length))
    conn.close()


@pytest.mark.parametrize("path, reason", [("/slow?s=1", "Target.Timeout"), ("/missing", "Target.ResponseCodeMismatch")])
def test_failed_health_checks_say_why(local_aws, path, reason):
    """A health check that times out or answers another code than the matcher's makes the target unhealthy,
    with AWS's reason code; the load balancer then fails open to the targets it has."""
    from workshop import aws

    elb = aws.client("elbv2")
    site = build_site(local_aws, health_path=path)
    assert wait_for(lambda: {h for h in health(elb, site.tg_arn).values()} == {("unhealthy", reason)}, 3), \
        health(elb, site.tg_arn)
    assert get(f"http://127.0.0.1:{site.port}/")[0] == 200


def test_listener_rules_route_by_path_and_host_before_the_default(local_aws):
    """Rules by priority: /api/* to a fixed response, Host admin.* to a 403, the rest to the default group."""
    from workshop import aws

    elb = aws.client("elbv2")
    site = build_site(local_aws)
    assert wait_for(lambda: _healthy(elb, site), 3)
    listener = elb.describe_listeners(LoadBalancerArn=site.lb["LoadBalancerArn"])["Listeners"][0]["ListenerArn"]
    elb.create_rule(ListenerArn=listener, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
                    Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
                        "StatusCode": "200", "ContentType": "text/plain", "MessageBody": "api here"}}])
    elb.create_rule(ListenerArn=listener, Priority=20, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["admin.*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "403", "ContentType": "text/plain",
                                                                   "MessageBody": "no"}}])
    assert get(f"http://127.0.0.1:{site.port}/api/users")[::2] == (200, b"api here")
    assert get(f"http://127.0.0.1:{site.port}/", {"Host": "admin.example.com"})[::2] == (403, b"no")
    status, _, body = get(f"http://127.0.0.1:{site.port}/apis")  # not /api/*: the target's own 404
    assert status == 404 and body != b"api here"
    assert get(f"http://127.0.0.1:{site.port}/")[1]["X-Instance-Id"] in {i.instance_id for i in site.instances}
