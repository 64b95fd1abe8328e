"""Stage 7's claim with real traffic: users -> CPU -> alarm -> more instances -> CPU back toward the target.

`ramp(ctx)` starts `workshop.traffic` users through the site's front door (the CloudFront
distribution) over a few seconds and keeps them on until the group's new instances have served
for `SETTLE_S` seconds (the CPU back toward the target), or `seconds` at most; a sampler reads,
every second, the group (desired capacity, instances InService) and which of its instances the
load balancer finds healthy. (A fixed duration was either long on an idle laptop or, on a busy
one whose CPU crossed the target late, over before the group grew.) Afterwards CloudWatch gives the group's `AWS/EC2 CPUUtilization` over the same
window (the metric the target-tracking policy and the burst alarm evaluate). `cool_down(ctx)`
then waits, with no load, until the group is back at its minimum (the policy's AlarmLow).

Times: on AWS the target-tracking alarms are AlarmHigh "3 datapoints within 3 minutes" and
AlarmLow "15 datapoints within 15 minutes" (Amazon EC2 Auto Scaling User Guide, "Target tracking
scaling policies"); the local AWS runs their periods and the CPU datapoints 90 times faster (a
minute is 2/3 s, docs/local-web.md), so the group reacts ~2 s after the CPU crosses the target and
scales in ~10 s after the load stops; launching, joining the target group and passing health
checks take seconds here, a few minutes on AWS.
"""

from __future__ import annotations

import threading
import time

from ..errors import WorkshopError
from . import fleet_metrics, s06_proof, s07_auto_scaling, webtier

#: the ramp's users (workshop.traffic): 50 users at 20 times the model's pace, each request standing
#: for 20: ~33 page views (~170 requests) a second through CloudFront, ~100% CPU on the web tier's
#: four m4.large (stage 4's pair + the group's two) before it grows: over the target with a margin,
#: so a laptop busy with other work (fewer requests sent) still crosses it. Nearly every page is built
#: from ElastiCache (a write puts the new list there), at a fifth of a page's CPU: hence 20, not less.
USERS, THINK, SCALE = 50, 20.0, 20
LOAD_S = 45  # seconds of load at most: the alarm (~2 s after the CPU crosses the target), the launch, settling
#: seconds of load kept on once the new instances are healthy (4.5 minutes at the metrics' time scale):
#: the CPU comes back toward the target
SETTLE_S = 3
SPAWN_S = 4  # users start over this many seconds (a ramp, not a step)
COOL_TIMEOUT_S = 40  # AlarmLow needs 15 low datapoints: ~10 s here


def _group_state(ctx, tg_arn: str) -> dict:
    group = s07_auto_scaling.find_group(ctx)
    if group is None:
        return {}
    health = webtier.target_ids(ctx, tg_arn)
    ids = [i["InstanceId"] for i in group["Instances"] if i.get("LifecycleState") == "InService"]
    return {"desired": group["DesiredCapacity"], "in_service": len(ids),
            "healthy": sum(1 for i in ids if health.get(i) == "healthy")}


class Sampler:
    """Reads the group every `every` s in a thread: rows of {t, desired, in_service, healthy}."""

    def __init__(self, ctx, every: float = 1.0):
        tg = webtier.require(ctx, "target group", webtier.find_target_group(ctx))
        self.ctx, self.tg_arn, self.every = ctx, tg["TargetGroupArn"], every
        self.rows: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="s07-sampler", daemon=True)
        self.started = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                state = _group_state(self.ctx, self.tg_arn)
            except Exception:  # a slow answer must not end the demo: skip the sample
                state = {}
            if state:
                self.rows.append({"t": round(time.monotonic() - self.started, 1), **state})
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def _users_at(traffic_rows: list[dict], t: float, offset: float) -> int:
    """Virtual users running at `t` s after the sampler started (the traffic started `offset` s later)."""
    users = 0
    for row in traffic_rows:
        if row["elapsed_s"] + offset <= t:
            users = row["users"]
    return users


def _cpu_at(series: list[tuple], t0, t: float) -> float | None:
    value = None
    for when, v in series:
        if (when - t0).total_seconds() <= t:
            value = v
    return value


def ramp(ctx, users: int = USERS, seconds: int = LOAD_S, scale: int = SCALE, think: float = THINK,
         spawn_s: float = SPAWN_S, live: bool | None = False, out=None) -> dict:
    """Run the ramp (see the module); rows for the chart and the figures."""
    from ..traffic.live import Silent, for_live
    from ..traffic.runner import Run

    group = s07_auto_scaling.find_group(ctx)
    if group is None:
        raise WorkshopError(f"no Auto Scaling group {s07_auto_scaling.group_name(ctx)}: run the group cell")
    url = s06_proof.urls(ctx)["cloudfront"]
    fleet_metrics.publish_now(ctx)
    t0 = fleet_metrics.now()
    presenter = Silent() if live is False else for_live(live)
    with Sampler(ctx) as sampler, fleet_metrics.restored_scale(ctx):
        started = time.monotonic()
        run = Run(url, users, seconds, users / spawn_s, scale, think, out, ctx.target, presenter, interval=1.0)
        done = threading.Event()
        watch = threading.Thread(target=_stop_once_settled, args=(run, sampler, group["MinSize"], done),
                                 name="s07-settle", daemon=True)
        run.start()
        watch.start()
        try:
            result = run.wait()
        finally:
            done.set()
            watch.join()
    fleet_metrics.publish_now(ctx)
    offset = started - sampler.started
    return _figures(ctx, sampler.rows, result.rows, offset, t0, group["MinSize"], result.summary)


def _stop_once_settled(run, sampler: Sampler, min_size: int, done: threading.Event, settle_s: float = SETTLE_S):
    """Stop `run` `settle_s` seconds after more than `min_size` of the group's instances are healthy."""
    joined = None
    while not done.wait(0.25):
        last = sampler.rows[-1] if sampler.rows else None
        if joined is None and last is not None and last["healthy"] > min_size:
            joined = time.monotonic()
        if joined is not None and time.monotonic() - joined >= settle_s:
            run.stop()
            return


def cool_down(ctx, timeout_s: float = COOL_TIMEOUT_S, after: dict | None = None) -> dict:
    """No load: wait until the group is back at its minimum; the rows go on from `after`'s (the ramp's)."""
    group = s07_auto_scaling.find_group(ctx)
    if group is None:
        raise WorkshopError(f"no Auto Scaling group {s07_auto_scaling.group_name(ctx)}: run the group cell")
    t0 = fleet_metrics.now()
    with Sampler(ctx) as sampler:
        deadline = sampler.started + timeout_s
        while time.monotonic() < deadline:
            last = sampler.rows[-1] if sampler.rows else None
            if last and last["t"] > 2 and last["desired"] == group["MinSize"] and last["in_service"] == group["MinSize"]:
                break
            time.sleep(0.5)
    figures = _figures(ctx, sampler.rows, [], 0.0, t0, group["MinSize"], None)
    figures["scale_in_s"] = next((r["t"] for r in sampler.rows if r["t"] > 0 and r["desired"] == group["MinSize"]
                                  and r["in_service"] == group["MinSize"]), None)
    if after is not None:
        shift = after["rows"][-1]["minute"] + 1 if after["rows"] else 0
        figures["rows"] = after["rows"] + [dict(r, minute=r["minute"] + shift) for r in figures["rows"]]
    return figures


def _figures(ctx, samples: list[dict], traffic_rows: list[dict], offset: float, t0, min_size: int,
             summary: dict | None) -> dict:
    end = fleet_metrics.now()
    series = fleet_metrics.series(ctx, ("AutoScalingGroupName", s07_auto_scaling.group_name(ctx)), t0, end)
    baseline = len(s07_auto_scaling.baseline_instances(ctx))
    talk = (summary or {}).get("talk_users", 0) / max(1, (summary or {}).get("users", 1))  # talk-scale users per virtual user
    rows = [{"minute": r["t"], "users": round(_users_at(traffic_rows, r["t"], offset) * talk), "instances": r["in_service"],
             "healthy": r["healthy"], "desired": r["desired"], "baseline": baseline,
             "cpu": _cpu_at(series, t0, r["t"])} for r in samples]
    grew = next((r for r in rows if r["desired"] > min_size), None)
    joined = next((r for r in rows if r["healthy"] > min_size), None)
    crossed = next(((w - t0).total_seconds() for w, v in series
                    if v > s07_auto_scaling.TARGET_CPU), None)
    peak_cpu = max((v for _, v in series), default=None)
    tail = [v for w, v in series if (w - t0).total_seconds() >= (rows[-1]["minute"] - 6 if rows else 0)]
    return {"rows": rows, "cpu_series": [((w - t0).total_seconds(), v) for w, v in series],
            "cpu_crossed_s": None if crossed is None else round(crossed, 1),
            "scale_out_s": grew["minute"] if grew else None, "joined_s": joined["minute"] if joined else None,
            "peak_instances": max((r["instances"] for r in rows), default=0), "min_size": min_size,
            "peak_cpu": peak_cpu, "end_cpu": round(sum(tail) / len(tail), 1) if tail else None,
            "summary": summary}


def ramp_line(f: dict) -> str:
    s = f["summary"] or {}
    return (f"{s.get('users', 0)} virtual users ({s.get('talk_users', 0):,} users at the talk's scale), "
            f"{s.get('rps', 0):.0f} requests/s through CloudFront: group CPU crossed the target at "
            f"{f['cpu_crossed_s']} s, peaked at {f['peak_cpu']}%; desired capacity grew at {f['scale_out_s']} s, "
            f"new instances healthy behind the load balancer at {f['joined_s']} s; {f['min_size']} -> "
            f"{f['peak_instances']} instances; CPU over the last 6 s {f['end_cpu']}%")


def show(figures: dict, max_size: int, title: str = "Real users, real CPU, the group") -> str:
    """The chart (inline SVG): users (area), the group's instances (steps), its CPU (line)."""
    from . import dayplot

    svg = dayplot.svg(figures["rows"], figures["min_size"], max_size, title, x_unit="s",
                      cpu_target=s07_auto_scaling.TARGET_CPU)
    try:
        from IPython.display import SVG, display

        display(SVG(svg))
    except ImportError:
        pass
    return svg

