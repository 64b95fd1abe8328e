"""What routing through the local load balancer and CloudFront costs, against a bare web server.

In one run, in one process with a local AWS (moto + extensions) of its own: two trivial aiohttp
web servers on the data plane stand for two instances in two AZs, behind an ALB (listener ->
target group); a CloudFront distribution serves /static/* from S3 (CachingOptimized, so after the
first request every answer is a Hit). A keep-alive aiohttp client with CONCURRENCY requests in
flight, in the main thread, measures requests/s for SECONDS each against

  1. one bare web server directly (the baseline),
  2. the ALB's port (round-robin over the two),
  3. the distribution's port, cache hits only,
  4. the edge port with the ALB's DNS name as Host (edge -> ALB -> target),

and prints each rate and its ratio to the baseline. The servers, the load balancer and CloudFront
run on the data plane's one event loop (one thread, as in the local AWS); the client runs in a
process of its own, as Locust would.

    PYTHONPATH=. .venv/bin/python benchmarks/routing.py [--seconds 3] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from workshop import aws, config
from workshop.localaws.dataplane import Endpoint
from workshop.localaws.server import LocalAWS

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def _trivial_server(plane, instance_id: str, az: str) -> int:
    async def start():
        async def root(request):
            return web.Response(text="ok", headers={"X-Instance-Id": instance_id, "X-Availability-Zone": az})

        app = web.Application()
        app.router.add_get("/", root)
        app.router.add_get("/health", root)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        plane.on_stop(runner.cleanup)
        return site._server.sockets[0].getsockname()[1]

    port = plane.run(start())
    plane.publish(Endpoint("instance", instance_id, port, details={"az": az}))
    return port


def _build(server: LocalAWS) -> dict:
    ec2, elb, s3, cf = (aws.client(s) for s in ("ec2", "elbv2", "s3", "cloudfront"))
    tag = uuid.uuid4().hex[:8]
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    azs = ("us-east-1a", "us-east-1b")
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.90.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(azs)]
    ids = [ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=s)["Instances"][0]["InstanceId"]
           for s in subnets]
    bare = [_trivial_server(server.dataplane, i, az) for i, az in zip(ids, azs)][0]
    tg = elb.create_target_group(Name=f"tg-{tag}", Protocol="HTTP", Port=80, VpcId=vpc,
                                 HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name=f"alb-{tag}", Subnets=subnets, Type="application")["LoadBalancers"][0]
    elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in ids])
    bucket = f"bench-{tag}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="static/app.css", Body=b"body { color: red }" * 20, ContentType="text/css")
    oac = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": f"oac-{tag}", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": tag, "Comment": tag, "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""},
                                              "OriginAccessControlId": oac}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": CACHING_OPTIMIZED}})["Distribution"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringEquals": {"AWS:SourceArn": dist["ARN"]}}}]}))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states = {d["TargetHealth"]["State"] for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
        if states == {"healthy"}:
            break
        time.sleep(0.05)
    plane = server.dataplane
    return {"bare": bare, "alb": plane.find("load-balancer", lb["LoadBalancerArn"]).port,
            "cdn": plane.find("distribution", dist["Id"]).port, "edge": plane.find("edge", "edge").port,
            "alb_dns": lb["DNSName"]}


async def _load(url: str, seconds: float, concurrency: int, headers: dict | None = None) -> tuple[float, int]:
    """(requests/s answered 200, failures) for `seconds` with `concurrency` requests in flight."""
    done = failed = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        async def worker():
            nonlocal done, failed
            while time.perf_counter() < stop:
                async with client.get(url, headers=headers) as reply:
                    await reply.read()
                    if reply.status == 200:
                        done += 1
                    else:
                        failed += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started), failed


def _measure(url: str, seconds: float, concurrency: int, headers: dict | None) -> tuple[float, int]:
    """_load in a process of its own (as Locust would be), so the client does not share the servers' GIL."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_run_load, (url, seconds, concurrency, headers))


def _run_load(url: str, seconds: float, concurrency: int, headers: dict | None) -> tuple[float, int]:
    return asyncio.run(_load(url, seconds, concurrency, headers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each rate is their median")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="routing-bench-")
    server = LocalAWS().start()
    try:
        with config.using(config.target("local", endpoint=server.endpoint, home=home)):
            ports = _build(server)
        runs = [("bare aiohttp server", f"http://127.0.0.1:{ports['bare']}/", None),
                ("ALB -> 2 targets", f"http://127.0.0.1:{ports['alb']}/", None),
                ("CloudFront hits", f"http://127.0.0.1:{ports['cdn']}/static/app.css", None),
                ("edge (Host: ALB) -> ALB -> targets", f"http://127.0.0.1:{ports['edge']}/",
                 {"Host": ports["alb_dns"]})]
        asyncio.run(_load(runs[2][1], 0.2, 1))  # the first request fills the cache
        rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        failures: dict[str, int] = dict.fromkeys(rates, 0)
        for _ in range(args.rounds):  # interleaved, so a busy moment on the machine hits every case
            for name, url, headers in runs:
                rate, failed = _measure(url, args.seconds, args.concurrency, headers)
                rates[name].append(rate)
                failures[name] += failed
        results = [(name, statistics.median(rates[name]), failures[name]) for name, _, _ in runs]
        base = results[0][1]
        print(f"{args.concurrency} requests in flight, median of {args.rounds} x {args.seconds:g} s, loopback; "
              "client in its own process")
        for name, rate, failed in results:
            print(f"  {name:38s} {rate:8.0f} req/s  x{rate / base:.2f} of bare  ({failed} not 200)")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
