"""Requests/s through stage 6's whole path, against a bare loopback HTTP server (the floor), in one run.

Run: .venv/bin/python benchmarks/stage6_path.py [SECONDS] [CONCURRENCY]   (defaults 5, 32)

Builds stages 1, 3, 4, 6 on a private local AWS in this process (its own WORKSHOP_HOME), then drives
`GET /` from a separate load process (aiohttp, CONCURRENCY connections, keep-alive, SECONDS long;
each path measured twice, interleaved, the better kept) at:

- floor: a bare aiohttp handler on loopback, on the data plane's loop (what one loop answers at best);
- www: `Host: www.<zone>` to the edge port -> CloudFront (the default behaviour forwards `/` to the
  origin) -> the load balancer -> a web instance (its emulated CPU at the data plane's scale 1) ->
  the app: the session in DynamoDB, the page's data from ElastiCache (the read replica on a miss);
- the same through the load balancer only, and one instance directly (where the time goes).

Each row: requests/s, its share of the floor, p50/p95, status codes, and where the pages' data
came from (`X-Data-Source`) and CloudFront's verdicts (`X-Cache`). The machine's load average is
printed: figures are shared with whatever else runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
ONLY = os.environ.get("S6PATH_ONLY")  # a path name prefix: measure only that one (profiling)
CONCURRENCY = int(sys.argv[2]) if len(sys.argv) > 2 else 32

LOAD = r"""
import asyncio, json, sys, time, collections
import aiohttp
url, host, seconds, concurrency = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
async def main():
    codes, lat, src, cache = collections.Counter(), [], collections.Counter(), collections.Counter()
    headers = {"Host": host} if host != "-" else {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        async def worker(n):
            cookie = {}
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                t = time.monotonic()
                try:
                    async with s.get(url, headers=headers, cookies=cookie) as r:
                        await r.read()
                        codes[r.status] += 1
                        src[r.headers.get("X-Data-Source", "-")] += 1
                        cache[r.headers.get("X-Cache", "-")] += 1
                except aiohttp.ClientError as e:
                    codes[type(e).__name__] += 1
                lat.append(time.monotonic() - t)
        t0 = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.monotonic() - t0
    lat.sort()
    print(json.dumps({"rps": len(lat) / wall, "codes": codes, "p50": lat[len(lat) // 2] * 1000,
                      "p95": lat[int(len(lat) * 0.95)] * 1000, "sources": src, "cache": cache}))
asyncio.run(main())
"""


def load(url: str, host: str | None) -> dict:
    out = subprocess.run([sys.executable, "-c", LOAD, url, host or "-", str(SECONDS), str(CONCURRENCY)],
                         capture_output=True, text=True, timeout=SECONDS + 60)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout)


def main() -> None:
    os.environ["WORKSHOP_HOME"] = tempfile.mkdtemp(prefix="s6path-home-")
    for var in ("WORKSHOP_TARGET", "WORKSHOP_AWS_ACCOUNT", "WORKSHOP_RUN_ID"):
        os.environ.pop(var, None)
    sys.path.insert(0, os.path.dirname(__file__))
    from traffic import bare_server  # the floor benchmarks/traffic.py measures

    from workshop import notebook
    from workshop.localaws import discover
    from workshop.stages import infra, s06_proof
    from workshop.traffic import probe

    server = discover.start_embedded()
    os.environ["WORKSHOP_ENDPOINT"] = server.endpoint
    try:
        ctx = notebook.start(stage=6, run_id="path6", target="local", quiet=True)
        t0 = time.monotonic()
        ctx.build_previous()
        ctx.stage.build(ctx)
        print(f"stage 6 built in {time.monotonic() - t0:.0f} s; load average "
              f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; {CONCURRENCY} connections, {SECONDS:g} s a round",
              flush=True)
        time.sleep(2)
        floor = bare_server(server) + "/"
        www = probe.where(infra.www(ctx), ctx.target)
        lb = probe.where(s06_proof.urls(ctx)["alb"].split("//")[1], ctx.target)
        one = probe.where(_instance_name(ctx), ctx.target)
        paths = [("floor: bare aiohttp server", floor, None),
                 ("www: edge -> CloudFront -> ALB -> instance -> cache/DB", www.url + "/", www.host_header),
                 ("load balancer -> instance -> cache/DB", lb.url + "/", lb.host_header),
                 ("one instance -> cache/DB", one.url + "/", one.host_header)]
        if ONLY:
            paths = [p for p in paths if p[0].startswith(ONLY) or p[0].startswith("floor")]
        best: dict[str, dict] = {}
        if os.environ.get("S6PATH_PROFILE"):  # py-spy over this process while the paths are measured
            subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-p", str(os.getpid()),
                              "-d", str(int(SECONDS * 2 * len(paths))), "-r", "50", "-f", "raw", "-o",
                              os.environ["S6PATH_PROFILE"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        for _ in range(2):
            for name, url, host in paths:
                r = load(url, host)
                if name not in best or r["rps"] > best[name]["rps"]:
                    best[name] = r
        base = best[paths[0][0]]["rps"]
        print("\n| path | req/s | of the floor | p50 / p95 ms | codes | data from | X-Cache |")
        print("|---|---|---|---|---|---|---|")
        for name, _, _ in paths:
            r = best[name]
            print(f"| {name} | {r['rps']:,.0f} | {r['rps'] / base:.2f} | {r['p50']:.1f} / {r['p95']:.1f} | "
                  f"{dict(r['codes'])} | {dict(r['sources'])} | {dict(r['cache'])} |")
        print(f"load average now {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        server.stop()


def _instance_name(ctx) -> str:
    from workshop.stages import s06_proof, webtier

    inst = webtier.instances(ctx, s06_proof.web_ids(ctx)[:1])[0]
    return inst.get("PublicDnsName") or inst["InstanceId"]


if __name__ == "__main__":
    main()
