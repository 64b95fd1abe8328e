"""Test helpers for the routing data plane: stand-in web instances and a load balancer in front of them.

A stand-in behaves like the kit's web app on an instance (`GET /health` 200 ok, `GET /` HTML with
`X-Instance-Id` and `X-Availability-Zone`, `GET /static/<name>`, `POST /messages`, `GET /whoami`),
is served on the local AWS's data-plane loop and published as kind `instance` under the id of an
instance created with moto, so the real web instances take its place without changing the tests.
`GET /slow?s=N` answers after N seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

from workshop.localaws.dataplane import Endpoint


@dataclass
class FakeInstance:
    instance_id: str
    az: str
    port: int
    runner: web.AppRunner
    plane: object

    def stop(self) -> None:
        """Close the app: its port refuses connections from now on (the endpoint stays published)."""
        self.plane.run(self.runner.cleanup())


def start_instance(plane, instance_id: str, az: str) -> FakeInstance:
    async def root(request):
        return web.Response(text=f"<html><body>{instance_id}</body></html>", content_type="text/html",
                            headers={"X-Instance-Id": instance_id, "X-Availability-Zone": az})

    async def health(request):
        return web.Response(text="ok")

    async def static(request):
        return web.Response(text=f"static {request.match_info['name']} from {instance_id}",
                            headers={"X-Instance-Id": instance_id})

    async def messages(request):
        body = await request.read()
        return web.json_response({"stored": len(body), "instance": instance_id}, status=201)

    async def whoami(request):
        return web.json_response({"instance_id": instance_id, "az": az, "headers": dict(request.headers)})

    async def slow(request):
        await asyncio.sleep(float(request.query.get("s", "5")))
        return web.Response(text="late")

    async def start():
        app = web.Application()
        app.router.add_get("/", root)
        app.router.add_get("/health", health)
        app.router.add_get("/static/{name}", static)
        app.router.add_post("/messages", messages)
        app.router.add_get("/whoami", whoami)
        app.router.add_get("/slow", slow)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]

    runner, port = plane.run(start())

    async def close():  # with the local AWS, unless the test stopped it already
        if runner.server is not None:
            await runner.cleanup()

    plane.on_stop(close)
    plane.publish(Endpoint("instance", instance_id, port, names=(f"{instance_id}.ec2.internal",),
                           details={"az": az, "instance_type": "t3.micro", "vcpus": 2, "private_ip": "10.0.0.1"}))
    return FakeInstance(instance_id, az, port, runner, plane)


@dataclass
class Site:
    """Two instances in two AZs behind an ALB with an HTTP listener."""

    lb: dict
    tg_arn: str
    instances: list[FakeInstance]
    port: int  # the load balancer's data-plane port


def build_site(local_aws, *, interval: int = 5, healthy: int = 2, unhealthy: int = 2, apps: bool = True,
               idle_timeout: int | None = None, health_path: str = "/health") -> Site:
    """A VPC, two subnets, two running instances (stand-in apps unless apps=False), a target group, an ALB."""
    from workshop import aws

    ec2, elb, tag = aws.client("ec2"), aws.client("elbv2"), uuid.uuid4().hex[:8]
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.60.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1a", "us-east-1b"))]
    ids = [ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=s)["Instances"][0]["InstanceId"]
           for s in subnets]
    instances = [start_instance(local_aws.dataplane, i, az) for i, az in zip(ids, ("us-east-1a", "us-east-1b"))] \
        if apps else []
    tg = elb.create_target_group(Name=f"tg-{tag}", Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckPath=health_path,
                                 HealthCheckIntervalSeconds=interval, HealthyThresholdCount=healthy,
                                 UnhealthyThresholdCount=unhealthy)["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name=f"alb-{tag}", Subnets=subnets, Type="application")["LoadBalancers"][0]
    if idle_timeout is not None:
        elb.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[
            {"Key": "idle_timeout.timeout_seconds", "Value": str(idle_timeout)}])
    elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])  # provisioning -> active
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in ids])
    endpoint = local_aws.dataplane.find("load-balancer", lb["LoadBalancerArn"])
    assert endpoint is not None, "the load balancer has no data-plane port"
    return Site(lb, tg, instances, endpoint.port)


def get(url: str, headers: dict | None = None, timeout: float = 5, method: str = "GET",
        data: bytes | None = None) -> tuple[int, CIMultiDict, bytes]:
    """(status, headers (any case), body) of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, CIMultiDict(reply.headers.items()), reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, CIMultiDict(exc.headers.items()), exc.read()


def wait_for(predicate, timeout: float = 5.0, step: float = 0.05):
    """predicate()'s first truthy value within `timeout` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = predicate()
    return value


def health(elb, tg_arn: str) -> dict[str, tuple[str, str | None]]:
    return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
            for d in elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]}


def dumps(value) -> bytes:
    return json.dumps(value).encode()


CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


@dataclass
class Cdn:
    site: Site
    bucket: str
    dist: dict
    port: int  # the distribution's data-plane port


def build_cdn(local_aws, site: Site, *, policy: bool = True) -> Cdn:
    """A private bucket with static/app.css, an OAC, and a distribution: /static/* from S3 (CachingOptimized),
    everything else from the site's load balancer (CachingDisabled); the OAC bucket policy unless policy=False."""
    from workshop import aws

    s3, cf, tag = aws.client("s3"), aws.client("cloudfront"), uuid.uuid4().hex[:8]
    bucket = f"static-{tag}"
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_object(Bucket=bucket, Key="static/app.css", Body=b"body { color: red }", ContentType="text/css",
                  CacheControl="public, max-age=86400")
    oac = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": f"oac-{tag}", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    methods = {"Quantity": 2, "Items": ["GET", "HEAD"], "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": tag, "Comment": tag, "Enabled": True,
        "Origins": {"Quantity": 2, "Items": [
            {"Id": "s3", "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
             "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac},
            {"Id": "alb", "DomainName": site.lb["DNSName"],
             "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "alb", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": CACHING_DISABLED,
                                 "AllowedMethods": {"Quantity": 7, "Items": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH",
                                                                             "POST", "DELETE"],
                                                    "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}},
        "CacheBehaviors": {"Quantity": 1, "Items": [{
            "PathPattern": "/static/*", "TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED, "AllowedMethods": methods}]}})["Distribution"]
    if policy:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringEquals": {"AWS:SourceArn": dist["ARN"]}}}]}))
    endpoint = local_aws.dataplane.find("distribution", dist["Id"])
    assert endpoint is not None, "the distribution has no data-plane port"
    return Cdn(site, bucket, dist, endpoint.port)
