"""The knee vs the model: where each stage stops serving well under model users' load, against
`workshop capacity --stage N`'s peak (the users `capacity.plan(topology).max_users` says it serves).

Run: .venv/bin/python benchmarks/knee.py [STAGE ...]   (default 1 3 4 5 6 8; prints figures measured now)

For each stage, on a private local AWS (its own WORKSHOP_HOME, a run id of its own): build it
(`build_previous()` + the stage's build), read its live topology and the model's peak, then
ramp model users (`workshop.traffic`, Locust in its own process) through the stage's front door
(the instance at 1/3, the load balancer at 4/5, CloudFront at 6/8) in steps of STEP_S seconds at
fractions of the model's peak, and find the knee (`workshop.traffic.knee`: the last step before
p95 > 500 ms or errors > 1%). The scale K and think factor F are chosen (`knee.scale_for`) so the
ramp's top is at most 300 virtual users and ~MAX_RPS local requests/s; the knee's users are
converted to the model's users: users x F x K / active share. Each row also says which tier was
busiest at the last step that held and at the first that broke (CPU % per tier, from the emulated
machines' own counters: what CloudWatch's CPUUtilization reports).

The ratio measured/model compares the knee with the model's **peak** (everything up; `workshop
capacity` also states the users at the availability target, which is lower by design). The model
counts every CPU tier up to `knee_utilisation` (95%) of its vCPUs: where queueing turns p95 up. Steps
are STEP_S = 12 s because an overloaded queue needs time to show it: in 6-s steps a tier at 110-120%
of its CPU still answered within 500 ms (its backlog had not grown past it yet), and the knee came
late.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

STAGES = (1, 3, 4, 5, 6, 8)
FRONT = {1: "instance", 3: "instance", 4: "load balancer", 5: "load balancer", 6: "CloudFront", 8: "CloudFront"}
FRACTIONS = (0.6, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5)  # of the model's peak; the ramp stops at the first break
STEP_S = 12
MAX_RPS = 250.0  # local requests/s at the ramp's top: leaves this shared 2-core machine room to be the platform
MAX_USERS = 300


def front_door(n: int, topo, endpoint: str) -> str:
    from workshop.localaws import discover

    if FRONT[n] == "CloudFront":
        return f"http://{topo.distributions[0].domain}"
    if FRONT[n] == "load balancer":
        return f"http://{topo.load_balancers[0].dns}"
    web = [i for i in topo.running() if i.role in ("web", "full-stack")]
    listing = {e["resource_id"]: e for e in discover.endpoints(endpoint)["endpoints"] if e["kind"] == "instance"}
    return listing[web[0].id]["url"]


def groups_at_max(ctx) -> int:
    """Every Auto Scaling group of the run at its maximum size (MinSize too), its targets healthy; how many
    instances that added. The model counts a group at its max ("it can grow to it"); a 12-s step is too short
    for target tracking to grow it (alarm datapoints, launch, health checks), so the ramp measures the fleet
    the model counts, not the scaling (stage 7's notebook shows that)."""
    from workshop.stages import s08_users_500k, webtier

    client = ctx.client("autoscaling")
    tg = webtier.find_target_group(ctx)
    healthy = sum(1 for v in webtier.target_ids(ctx, tg["TargetGroupArn"]).values() if v == "healthy") if tg else 0
    added = 0
    for group in client.describe_auto_scaling_groups()["AutoScalingGroups"]:
        if not group["AutoScalingGroupName"].startswith(f"sbs-{ctx.run_id}-") or \
                group["DesiredCapacity"] >= group["MaxSize"]:
            continue
        added += group["MaxSize"] - group["DesiredCapacity"]
        client.update_auto_scaling_group(AutoScalingGroupName=group["AutoScalingGroupName"],
                                         MinSize=group["MaxSize"], DesiredCapacity=group["MaxSize"])
    if added and tg:
        s08_users_500k.wait_in_service(ctx, healthy + added, timeout_s=120)
    return added


def tier_busy(server, run_id: str, web_ids: set[str]) -> dict[str, tuple[float, int]]:
    """(vCPU-seconds booked since start, vCPUs) per tier of `run_id`: the emulated machines' own counters
    (web: `Cpu.busy_seconds`, DB and cache: `Slots.total`), what CloudWatch's CPUUtilization is made of."""
    out: dict[str, list[float]] = {}

    def add(tier, busy, vcpus):
        b = out.setdefault(tier, [0.0, 0])
        b[0] += busy
        b[1] += vcpus

    for key, serving in list(server.ec2_web.serving.items()):
        if key[2] in web_ids:
            add("web", serving.cpu.busy_seconds, serving.cpu.slots)
    prefix = f"sbs-{run_id}-"
    for db in list(server.rds_endpoints._dbs.values()):
        if db.want.identifier.startswith(prefix):
            add("db-primary" if db.want.role == "primary" else "db-replicas", db.slots.total, db.slots.count)
    for node in list(server.elasticache_endpoints._nodes.values()):
        if node.want.cluster_id.startswith(prefix):
            add("cache", node.slots.total, node.slots.count)
    return {k: (v[0], int(v[1])) for k, v in out.items()}


def percent(before: dict, after: dict, seconds: float) -> dict[str, float]:
    return {k: 100.0 * (busy - before.get(k, (0.0, 0))[0]) / (vcpus * seconds)
            for k, (busy, vcpus) in after.items() if vcpus}


def measure(n: int, server, target, folder) -> dict:
    from workshop import capacity, notebook, topology
    from workshop.capacity import assumptions
    from workshop.traffic import behaviour, knee
    from workshop.traffic.runner import Run

    run_id = f"knee{n}"
    t0 = time.monotonic()
    ctx = notebook.start(stage=n, run_id=run_id, target="local", quiet=True)
    ctx.build_previous()
    ctx.stage.build(ctx)
    at_max = groups_at_max(ctx)
    built_s = time.monotonic() - t0
    time.sleep(2)  # health checks bring the targets in service
    topo = topology.read(run_id)
    plan = capacity.model.plan(topo)
    active_share = assumptions.defaults()["active_share"]
    per_min = behaviour.from_assumptions().requests_per_min
    fit = knee.scale_for(plan.max_users * active_share * FRACTIONS[-1], per_min, MAX_USERS, MAX_RPS)
    url = front_door(n, topo, server.endpoint)
    steps, cpu = [], {}
    web_ids = {i.id for i in topo.running() if i.role in ("web", "full-stack")}
    for f in FRACTIONS:
        users = max(1, round(plan.max_users * active_share * f / fit.scale / fit.think))
        before = tier_busy(server, run_id, web_ids)
        result = Run(url, users, STEP_S, spawn_rate=min(users, 1000), scale=fit.scale, think=fit.think, stagger=True,
                     out=folder / f"s{n}-{users}", target=ctx.target, interval=1.0).start().wait()
        cpu[users] = percent(before, tier_busy(server, run_id, web_ids), STEP_S)  # the work came in STEP_S
        step = knee.Step.of(users, result.summary)
        steps.append(step)
        if knee.breaks(step):
            break
    k = knee.find(steps)
    talk = knee.talk_users(k.users, fit.think, fit.scale, active_share)
    target = assumptions.defaults()["knee_utilisation"]
    full = saturation(steps, cpu, plan.bottleneck.key, fit, active_share, per_min)
    return {"stage": n, "at_max": at_max, "model": plan.max_users, "bottleneck": plan.bottleneck.key, "measured": talk,
            "ratio": talk / plan.max_users, "model_full": plan.max_users / target, "cpu_full": full, "knee": k, "fit": fit, "steps": steps, "cpu": cpu, "built_s": built_s, "per_min": per_min,
            "url": url}


def saturation(steps, cpu: dict, tier: str, fit, active_share: float, per_min: float) -> float | None:
    """The users at which `tier`'s measured CPU reaches 100%: a least-squares line through the origin of CPU
    against the users the *served* requests stand for (requests/s x K ÷ each active user's rate ÷ the active
    share; the generator's shortfall and Poisson noise drop out), over the steps below 100%."""
    tier = "web" if tier == "server" else tier  # the one box: its CPU is the web instance's
    points = [(s.rps * fit.scale / (per_min / 60.0) / active_share, cpu.get(s.users, {}).get(tier)) for s in steps]
    points = [(u, c) for u, c in points if c is not None and 0 < c < 100 and u > 0]
    if not points:
        return None
    slope = sum(u * c for u, c in points) / sum(u * u for u, _ in points)
    return 100.0 / slope if slope > 0 else None


def show(r: dict) -> str:
    k, fit = r["knee"], r["fit"]
    grown = f", Auto Scaling at its max (+{r['at_max']} instances)" if r["at_max"] else ""
    lines = [f"stage {r['stage']} via {FRONT[r['stage']]} (built in {r['built_s']:.0f} s{grown}), K={fit.scale}, think={fit.think:g}: "
             f"model peak {r['model']:,} users (bottleneck {r['bottleneck']}), knee {r['measured']:,.0f} users "
             f"({k.users} virtual users), ratio {r['ratio']:.2f}; {k.why}; the {r['bottleneck']} tier's CPU reaches "
             f"100% at {fmt(r['cpu_full'])} users (model: {r['model_full']:,.0f})"]
    for s in r["steps"]:
        cpu = ", ".join(f"{t} {p:.0f}%" for t, p in r["cpu"].get(s.users, {}).items())
        asked = s.users * fit.think * r["per_min"] / 60
        lines.append(f"    {s.users:>4} users: {s.rps:6.1f} req/s ({s.rps / asked:4.0%} of asked), p95 {s.p95_ms:5.0f} ms, errors {s.error_pct:4.1f}%  "
                     f"CPU {cpu}")
    return "\n".join(lines)


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def main(argv: list[str]) -> None:
    os.environ["WORKSHOP_HOME"] = tempfile.mkdtemp(prefix="knee-bench-home-")
    for var in ("WORKSHOP_TARGET", "WORKSHOP_AWS_ACCOUNT", "WORKSHOP_RUN_ID"):
        os.environ.pop(var, None)
    from pathlib import Path

    from workshop import config
    from workshop.localaws import discover

    stages = [int(a) for a in argv] or list(STAGES)
    server = discover.start_embedded()
    os.environ["WORKSHOP_ENDPOINT"] = server.endpoint
    target = config.target(endpoint=server.endpoint, home=os.environ["WORKSHOP_HOME"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load}; steps of {STEP_S} s, knee: p95 > 500 ms or "
          f"errors > 1%", flush=True)
    rows, t0 = [], time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="knee-bench-") as tmp:
            for n in stages:
                r = measure(n, server, target, Path(tmp))
                rows.append(r)
                print(show(r), flush=True)
    finally:
        server.stop()
    print("\n| stage | front door | K, think | model peak (users) | bottleneck | measured knee (users) | knee / peak | "
          "model at 100% CPU | measured at 100% CPU | ratio at 100% |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        full = r["cpu_full"]
        print(f"| {r['stage']} | {FRONT[r['stage']]} | {r['fit'].scale}, {r['fit'].think:g} | {r['model']:,} | "
              f"{r['bottleneck']} | {r['measured']:,.0f} | {r['ratio']:.2f} | {r['model_full']:,.0f} | {fmt(full)} | "
              f"{'-' if full is None else format(full / r['model_full'], '.2f')} |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"whole run {time.monotonic() - t0:.0f} s; load average now {load}")


if __name__ == "__main__":
    main(sys.argv[1:])
