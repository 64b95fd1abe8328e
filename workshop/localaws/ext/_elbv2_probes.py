"""Target health from real HTTP health checks, as an Application Load Balancer judges it.

ELB User Guide, "Health checks for Application Load Balancer target groups": every
`HealthCheckIntervalSeconds` the load balancer sends `GET HealthCheckPath` to each target;
a target must pass one check after registration to be `healthy`; `UnhealthyThresholdCount`
consecutive failures make it `unhealthy`, `HealthyThresholdCount` consecutive successes make
it healthy again. Reason codes are the API reference's (TargetHealth): `Elb.InitialHealthChecking`,
`Target.ResponseCodeMismatch`, `Target.Timeout`, `Target.FailedHealthChecks`.

Time runs `TIME_SCALE` times faster here than on AWS (interval and timeout divided by it), so
a demo sees a stopped web server taken out of service in seconds: with the defaults (interval
30 s, 2 failures) that is 2 s instead of a minute.

`RESULTS` holds the verdicts, keyed by (target group ARN, target id); `elbv2_health` answers
DescribeTargetHealth from it for a running instance that has a web server on the data plane.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import aiohttp

#: one second here stands for TIME_SCALE seconds of AWS's health-check and idle timers
TIME_SCALE = 30
#: the shortest a scaled health-check timeout gets (a busy loop must not fail healthy targets)
MIN_TIMEOUT_S = 0.25


def scaled(seconds: float, floor: float = 0.0) -> float:
    """AWS seconds -> local seconds (divided by TIME_SCALE, at least `floor`)."""
    return max(float(seconds) / TIME_SCALE, floor)


@dataclass(frozen=True)
class Verdict:
    state: str  # initial | healthy | unhealthy
    reason: str | None = None
    description: str | None = None


INITIAL = Verdict("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
HEALTHY = Verdict("healthy")

_lock = threading.Lock()
#: (target group ARN, target id) -> Verdict, for targets checked over HTTP
RESULTS: dict[tuple[str, str], Verdict] = {}


def verdict(tg_arn: str, target_id: str) -> Verdict | None:
    with _lock:
        return RESULTS.get((tg_arn, target_id))


def forget(tg_arn: str, target_id: str) -> None:
    with _lock:
        RESULTS.pop((tg_arn, target_id), None)


def codes_match(matcher: str, status: int) -> bool:
    """Does `status` satisfy a Matcher HttpCode ("200", "200,202", "200-299")?"""
    for part in (matcher or "200").split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= status <= int(high):
                return True
        elif part and int(part) == status:
            return True
    return False


@dataclass
class Tracker:
    """One target's consecutive successes and failures, and the verdict they give."""

    verdict: Verdict = INITIAL
    ok_run: int = 0
    fail_run: int = 0

    def passed(self, healthy_threshold: int) -> Verdict:
        self.ok_run, self.fail_run = self.ok_run + 1, 0
        if self.verdict.state == "initial" or (self.verdict.state == "unhealthy" and self.ok_run >= healthy_threshold):
            self.verdict = HEALTHY
        return self.verdict

    def failed(self, unhealthy_threshold: int, reason: str, description: str) -> Verdict:
        self.fail_run, self.ok_run = self.fail_run + 1, 0
        if self.verdict.state != "unhealthy" and self.fail_run >= unhealthy_threshold:
            self.verdict = Verdict("unhealthy", reason, description)
        elif self.verdict.state == "unhealthy":
            self.verdict = Verdict("unhealthy", reason, description)
        return self.verdict


async def check(client: aiohttp.ClientSession, port: int, path: str, host: str, timeout_s: float,
                matcher: str) -> tuple[bool, str, str]:
    """One health check: (passed, reason, description) as the API reference words them."""
    url = f"http://127.0.0.1:{int(port)}{path if path.startswith('/') else '/' + path}"
    try:
        async with client.get(url, headers={"Host": host, "User-Agent": "ELB-HealthChecker/2.0"},
                              timeout=aiohttp.ClientTimeout(total=timeout_s), allow_redirects=False) as reply:
            await reply.read()
            if codes_match(matcher, reply.status):
                return True, "", ""
            return False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{reply.status}]"
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
        return False, "Target.Timeout", "Request timed out"
    except (aiohttp.ClientError, OSError):
        return False, "Target.FailedHealthChecks", "Health checks failed"


def record(tg_arn: str, target_id: str, value: Verdict) -> None:
    with _lock:
        RESULTS[(tg_arn, target_id)] = value
