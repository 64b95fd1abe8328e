"""Stage 6's claims, proved with traffic: CloudFront takes the static load, the cache the reads,
and a visitor's session outlives the instance that served it.

`offload(ctx, via)`: the same virtual users (`workshop.traffic`) straight to the load balancer
("alb": every request reaches the web tier) or through the CloudFront distribution ("cloudfront":
`/static/*` answered from CloudFront's cache, from S3 on a miss). What it measures: CloudFront's
hit ratio (answers with `X-Cache: Hit from cloudfront`, over all requests; CloudFront's own
CacheHitRate metric counts the same way: CloudFront Developer Guide, "Viewing additional CloudFront
distribution metrics"), the pages the app read from ElastiCache (`X-Data-Source: cache`), and the
web tier's CPU from CloudWatch (`AWS/EC2 CPUUtilization`, the mean over the instances).

`session_survives(ctx)`: one client with its cookie visits through the load balancer until a
hand-launched web instance answers, that instance is stopped, and the next page comes from
another one: with sessions in DynamoDB it counts on (visit n+1 says n+1); kept in memory on the
instance, it starts again. The stopped instance is started again and back in service before
the function returns.
"""

from __future__ import annotations

import http.client
import json
import time

from ..errors import WorkshopError
from . import CheckResult, fleet_metrics, infra, s06_shift_load, webtier

#: the offload demo's virtual users (workshop.traffic): 40 users, each 10 users' pace (think 10),
#: each request standing for 5 (scale 5): ~70 local requests/s; on eight m4.large web instances
#: ~45% CPU straight to the load balancer (a page and its 4 static files: 2.25 dynamic requests' work)
USERS, THINK, SCALE = 40, 10.0, 5
DEMO_SECONDS, CHECK_SECONDS = 10, 4
SPAWN_S = 2.0
HIT = "Hit from cloudfront"
COOKIE = "sbs_session"


def urls(ctx) -> dict[str, str]:
    """{"alb": the load balancer's DNS name, "cloudfront": the distribution's}: what traffic may be sent to."""
    lb = webtier.require(ctx, "load balancer", webtier.find_load_balancer(ctx))
    found = s06_shift_load.find_distribution(ctx)
    if found is None:
        raise WorkshopError(f"no CloudFront distribution with Comment {s06_shift_load.comment(ctx)!r}: run the distribution cell")
    return {"alb": f"http://{lb['DNSName']}", "cloudfront": f"http://{found['DomainName']}"}


def web_ids(ctx) -> list[str]:
    """The running web instances behind the load balancer."""
    tg = webtier.require(ctx, "target group", webtier.find_target_group(ctx))
    ids = list(webtier.target_ids(ctx, tg["TargetGroupArn"]))
    return [i["InstanceId"] for i in webtier.instances(ctx, ids) if i["State"]["Name"] == "running"]


def offload(ctx, via: str, seconds: int = DEMO_SECONDS, users: int = USERS, think: float = THINK,
            scale: int = SCALE, live: bool | None = False, out=None) -> dict:
    """Send the virtual users to `via` ("alb" or "cloudfront") for `seconds`; what it measured (see the module)."""
    from ..traffic.live import Silent, for_live
    from ..traffic.runner import Run

    if via not in ("alb", "cloudfront"):
        raise WorkshopError(f"via={via!r}: 'alb' (straight to the load balancer) or 'cloudfront'")
    url = urls(ctx)[via]
    ids = web_ids(ctx)
    warm(ctx, 2 * len(ids))
    fleet_metrics.publish_now(ctx)
    start = fleet_metrics.now()
    presenter = Silent() if live is False else for_live(live)
    with fleet_metrics.restored_scale(ctx):
        # users start over SPAWN_S: forty first pages at once would queue behind each instance's first
        # connections (database, cache, DynamoDB) past the load balancer's scaled idle timeout (504)
        result = Run(url, users, seconds, users / SPAWN_S, scale, think, out, ctx.target, presenter).start().wait()
    fleet_metrics.publish_now(ctx)
    end = fleet_metrics.now()
    s, spread = result.summary, result.spread
    requests = s["requests"] or 0
    hits = (spread.get("cache") or {}).get(HIT, 0)
    sources = {k: v for k, v in (spread.get("sources") or {}).items() if k != "-"}
    pages = sum(sources.values())
    web = sum(v for k, v in (spread.get("instances") or {}).items() if k != "-")
    measured = {"via": via, "url": url, "seconds": seconds, "requests": requests, "failures": s["failures"],
                "rps": round(s["rps"], 1), "p95_ms": s["p95_ms"],
                "hit_ratio": round(hits / requests, 3) if requests else 0.0, "cloudfront_hits": hits,
                "web_requests": web, "pages": pages, "pages_from_cache": sources.get("cache", 0),
                "cache_ratio": round(sources.get("cache", 0) / pages, 3) if pages else 0.0,
                "cpu": fleet_metrics.fleet_average(ctx, ids, start, end), "instances": len(ids),
                "talk_users": s["talk_users"], "window": (start, end)}
    ctx.witness(f"offload-{via}", measured)  # the notebook's verify() judges the demo's runs
    return measured


def warm(ctx, pages: int) -> int:
    """`pages` pages through the load balancer, one after the other, before a measurement: an instance's
    first page opens its connections (database, cache, DynamoDB), which is not what is measured. The 200s."""
    from ..traffic import probe

    lb = webtier.require(ctx, "load balancer", webtier.find_load_balancer(ctx))
    where = probe.where(lb["DNSName"], ctx.target)
    host, _, port = where.url.split("//", 1)[1].partition(":")
    ok = 0
    for _ in range(pages):
        status, _doc, _cookie = _visit(host, int(port or 80), where.host_header, None, timeout=5.0)
        ok += status == 200
    return ok


def offload_line(m: dict) -> str:
    cpu = "n/a (CloudWatch has no datapoint yet)" if m["cpu"] is None else f"{m['cpu']:.1f}%"
    return (f"{m['via']:>10}: {m['requests']:,} requests ({m['rps']}/s), CloudFront hit ratio {m['hit_ratio']:.0%}, "
            f"{m['web_requests']:,} reached the web tier, web CPU {cpu} over {m['instances']} instances; "
            f"pages read from ElastiCache {m['pages_from_cache']}/{m['pages']}")


# --- sessions ---------------------------------------------------------------------------------------

def _visit(host: str, port: int, host_header: str | None, cookie: str | None, timeout: float = 2.0):
    """GET /whoami with the cookie: (status, JSON or None, the cookie to keep)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"Host": host_header} if host_header else {}
    if cookie:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    try:
        conn.request("GET", "/whoami", headers=headers)
        r = conn.getresponse()
        body = r.read()
        for name, value in r.getheaders():
            if name.lower() == "set-cookie" and value.startswith(f"{COOKIE}="):
                cookie = value.split(";", 1)[0].split("=", 1)[1]
        return r.status, (json.loads(body) if r.status == 200 else None), cookie
    except (OSError, http.client.HTTPException, ValueError):
        return None, None, cookie
    finally:
        conn.close()


def session_survives(ctx, max_visits: int = 12, wait_s: float = 5.0) -> dict:
    """The session demo (see the module): {"kept", "visits": [(instance, views)], "stopped", "after": (instance, views)}."""
    from ..traffic import probe

    lb = webtier.require(ctx, "load balancer", webtier.find_load_balancer(ctx))
    where = probe.where(lb["DNSName"], ctx.target)
    parts = where.url.split("//", 1)[1]
    host, port = parts.rsplit(":", 1)[0], int(parts.rsplit(":", 1)[1]) if ":" in parts else 80
    fixed = {i["InstanceId"] for i in s06_shift_load.fixed_web_instances(ctx) if i["State"]["Name"] == "running"}
    if len(web_ids(ctx)) < 2 or not fixed:
        raise WorkshopError("the session demo needs two running web instances behind the load balancer, one launched by "
                            "hand (stages 4-5): run ws.build_previous()")
    cookie, visits = None, []
    while len(visits) < max_visits:
        status, doc, cookie = _visit(host, port, where.host_header, cookie)
        if doc is None:
            raise WorkshopError(f"the load balancer answered /whoami with {status}: is the web tier up? (workshop status)")
        visits.append((doc["instance_id"], doc["session_views"]))
        if doc["instance_id"] in fixed and len(visits) >= 3:
            break
    stopped = visits[-1][0]
    ec2 = infra.client(ctx, "ec2")
    ec2.stop_instances(InstanceIds=[stopped])
    try:
        deadline, after = time.monotonic() + wait_s, None
        while time.monotonic() < deadline:  # a reload until another instance answers (a 502 never reached an app)
            status, doc, cookie = _visit(host, port, where.host_header, cookie)
            if doc is not None and doc["instance_id"] != stopped:
                after = (doc["instance_id"], doc["session_views"])
                break
            time.sleep(0.1)
    finally:
        infra.wait_stopped(ctx, stopped, stopped)
        ec2.start_instances(InstanceIds=[stopped])
        infra.wait_running(ctx, stopped, stopped)
        s06_shift_load.wait_in_service(ctx, stopped)
    if after is None:
        raise WorkshopError(f"no other instance answered within {wait_s:g} s of stopping {stopped}")
    return {"kept": after[1] == len(visits) + 1, "visits": visits, "stopped": stopped, "after": after,
            "store": (s06_shift_load.running_config(ctx, after[0]) or {}).get("sessions", "memory")}


def session_line(r: dict) -> str:
    seen = ", ".join(f"{i[-6:]}:{v}" for i, v in r["visits"])
    verdict = ("kept: the count went on" if r["kept"] else
               f"lost: visit {len(r['visits']) + 1} should say {len(r['visits']) + 1}")
    return (f"visits (instance:views) {seen}; stopped {r['stopped']}; next page from {r['after'][0]} says "
            f"{r['after'][1]} -> session {verdict}")


# --- behaviour checks ----------------------------------------------------------------------------

def offload_check(ctx, seconds: int = CHECK_SECONDS) -> CheckResult:
    """The same users straight to the load balancer, then through CloudFront: hits only through
    CloudFront, fewer requests and less CPU on the web tier."""
    seen = [ctx.witnessed(f"offload-{via}") for via in ("alb", "cloudfront")]
    if seen[0] and seen[1]:  # the notebook's demo just sent these users both ways
        (direct, _), (edge, _) = seen
        source = f"the demo's runs {max(seen[0][1], seen[1][1]):.0f} s ago: "
    else:
        direct, edge = offload(ctx, "alb", seconds), offload(ctx, "cloudfront", seconds)
        source = ""
    shown = source + (f"hit ratio {direct['hit_ratio']:.0%} -> {edge['hit_ratio']:.0%}, web-tier requests "
             f"{direct['web_requests']} -> {edge['web_requests']}, web CPU {direct['cpu']}% -> {edge['cpu']}%")
    if not direct["requests"] or not edge["requests"]:
        return CheckResult("offload", False, f"no request was answered ({direct['failures']} and {edge['failures']} "
                                             "failures): is the site up? (workshop status)")
    if edge["hit_ratio"] <= 0:
        return CheckResult("offload", False, f"no answer through CloudFront came from its cache ({shown}): "
                                             f"/static/* should go to S3 with a caching policy, and the files be in the bucket")
    if direct["hit_ratio"] > 0:
        return CheckResult("offload", False, f"requests straight to the load balancer came from a cache ({shown})")
    if edge["web_requests"] >= direct["web_requests"] or None in (direct["cpu"], edge["cpu"]) \
            or edge["cpu"] >= direct["cpu"]:
        return CheckResult("offload", False, f"CloudFront did not take load off the web tier ({shown})")
    return CheckResult("offload", True, shown)


def cached_reads_check(ctx, seconds: float = 2.0) -> CheckResult:
    """Pages through the load balancer read their messages from ElastiCache (`X-Data-Source: cache`)."""
    from ..traffic import probe

    lb = webtier.require(ctx, "load balancer", webtier.find_load_balancer(ctx))
    where = probe.where(lb["DNSName"], ctx.target)
    found = probe.probe(where.url, seconds, rate=20, host_header=where.host_header)
    sources: dict[str, int] = {}
    for sample in found.samples:
        if sample.ok:
            sources[sample.source or "-"] = sources.get(sample.source or "-", 0) + 1
    pages = sum(sources.values())
    if not sources.get("cache"):
        return CheckResult("cached-reads", False, f"none of {pages} pages read from ElastiCache (sources {sources}): "
                                                  "the web instances need stage 6's config (cache: the group's primary endpoint)")
    return CheckResult("cached-reads", True, f"{sources['cache']} of {pages} pages read their messages from ElastiCache "
                                             f"({', '.join(f'{k} {v}' for k, v in sorted(sources.items()))})")


def sessions_check(ctx) -> CheckResult:
    """A session outlives the instance that served it."""
    r = session_survives(ctx)
    if not r["kept"]:
        return CheckResult("sessions-survive", False, f"{session_line(r)}: keep sessions in DynamoDB "
                                                      f"(the instances' config says {r['store']!r})")
    return CheckResult("sessions-survive", True, session_line(r))
