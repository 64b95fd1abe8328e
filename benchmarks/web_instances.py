"""How much one emulated instance serves, and what a fleet of them costs in memory.

Starts a local AWS in this process, runs instances with the course's web app, and drives
`GET /whoami` (a dynamic request) from a separate load process (aiohttp, `--concurrency`
connections, `--seconds` long) so the load does not share the local AWS's interpreter:

- requests/s one instance of each `--types` sustains at each `--scales` (the data plane's
  scale), with the share answered 503 and the median/p95 latency;
- the local AWS's resident memory (RSS) with `--fleet` instances serving.

    .venv/bin/python benchmarks/web_instances.py
    .venv/bin/python benchmarks/web_instances.py --types t2.micro --scales 1 100 --concurrency 200
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

LOAD = r"""
import asyncio, json, sys, time
import aiohttp
url, seconds, concurrency = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
async def main():
    codes, lat = {}, []
    end = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        async def worker():
            while time.monotonic() < end:
                t = time.monotonic()
                try:
                    async with s.get(url) as r:
                        await r.read()
                        codes[r.status] = codes.get(r.status, 0) + 1
                except aiohttp.ClientError:
                    codes[0] = codes.get(0, 0) + 1
                lat.append(time.monotonic() - t)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    lat.sort()
    print(json.dumps({"codes": codes, "p50": lat[len(lat) // 2], "p95": lat[int(len(lat) * 0.95)]}))
asyncio.run(main())
"""


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", nargs="+", default=["t2.micro", "c4.large"])
    parser.add_argument("--scales", nargs="+", type=int, default=[1, 100])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--fleet", type=int, default=20)
    args = parser.parse_args(argv)

    import boto3

    from workshop.localaws.server import LocalAWS
    from workshop.webapp import userdata

    aws = LocalAWS().start()
    try:
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws.endpoint,
                           aws_access_key_id="bench", aws_secret_access_key="bench")
        data = userdata.build({"sessions": "memory"})

        def serving(instance_type: str, count: int = 1):
            ids = [i["InstanceId"] for i in ec2.run_instances(
                ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType=instance_type,
                UserData=data)["Instances"]]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(aws.dataplane.find("instance", i) for i in ids):
                time.sleep(0.05)
            return ids, [aws.dataplane.find("instance", i) for i in ids]

        rows = []
        for instance_type in args.types:
            ids, (endpoint,) = serving(instance_type)
            for scale in args.scales:
                aws.dataplane.set_scale(scale)
                out = subprocess.run([sys.executable, "-c", LOAD, endpoint.url + "/whoami", str(args.seconds),
                                      str(args.concurrency)], capture_output=True, text=True, check=True)
                result = json.loads(out.stdout)
                codes = {int(k): v for k, v in result["codes"].items()}
                total = sum(codes.values())
                rows.append({"type": instance_type, "vcpus": endpoint.details["vcpus"], "scale": scale,
                             "ok_per_s": round(codes.get(200, 0) / args.seconds, 1),
                             "refused_share": round(1 - codes.get(200, 0) / max(total, 1), 3),
                             "p50_ms": round(result["p50"] * 1000, 1), "p95_ms": round(result["p95"] * 1000, 1)})
                print(rows[-1], flush=True)
            ec2.terminate_instances(InstanceIds=ids)
        aws.dataplane.set_scale(1)
        time.sleep(0.5)
        before = _rss_mb()
        ids, _ = serving("c4.large", args.fleet)
        print({"fleet": args.fleet, "rss_mb_before": round(before, 1), "rss_mb_with_fleet": round(_rss_mb(), 1)})
    finally:
        aws.stop()


if __name__ == "__main__":
    main()
