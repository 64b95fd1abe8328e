"""Stage 4's claim under traffic: lose a whole Availability Zone and the site carries on.

The drill (`run`): a steady probe through `www` (the load balancer over two AZs) and, beside
it, a probe of the lost AZ's one web instance by its own name, which is what stage 1's single
box was. Then the AZ holding the database primary goes dark (the worse AZ to lose, exercise
4.1): every instance of the run in it stops answering while EC2 still says `running` (only the
run's: a local AWS may serve a whole room, `POST /_workshop/dataplane/az` with `instances`), and RDS fails the
primary over to its standby (`reboot_db_instance(ForceFailover=True)`, what RDS does itself
when the primary's AZ is lost: RDS User Guide, "Failing over a Multi-AZ DB instance"). The
probe shows the errors of the window, when answers came back for good, and that the other AZ
then carries every request; the single box fails every request until its AZ returns.
Finally the AZ comes back and the drill waits until both AZs' targets are healthy again.

What the window is made of, on the local AWS (AWS's figures in brackets):
- the load balancer keeps sending the lost AZ's share to its dead targets until its health
  checks fail them: 2 failed checks at 1 s intervals (AWS: 2 x 30 s; ELB User Guide,
  "Health checks for Application Load Balancer target groups"), answered 502 meanwhile;
- the database refuses connections while it fails over: `rds_multiaz.REBOOTING_S` (AWS:
  typically 60-120 s), every page meanwhile says the database is unavailable.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass

from .. import config, tags
from ..errors import WorkshopError
from ..traffic import probe
from . import infra, s03_web_and_database, s04_users_1000, www

#: seconds of steady traffic before the AZ goes, and of error-free traffic that ends the window
BEFORE_S, CLEAN_S = 2.0, 2.0
#: the longest the drill waits for the site to recover, and for the AZ's targets to be healthy again
RECOVER_TIMEOUT_S, RESTORE_TIMEOUT_S = 10.0, 10.0
RATE = 20.0  # probe requests a second
#: how long the drill waits for www answered from two AZs (a target just started: its first check, longer on a busy machine)
READY_TIMEOUT_S = 8.0
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def run_instances_in(ctx, az: str) -> list[str]:
    """The ids of the run's instances in `az` (any role), by the course's run tag."""
    filters = [{"Name": f"tag:{tags.RUN_KEY}", "Values": [ctx.run_id]},
               {"Name": "availability-zone", "Values": [az]},
               {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    pages = ctx.client("ec2").get_paginator("describe_instances").paginate(Filters=filters)
    return sorted(i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"])


def set_az(ctx, az: str, down: bool, instances: list[str] | None = None) -> list[str]:
    """Take `az` dark (down=True) or bring it back, on the local AWS: the run's instances there (default:
    `run_instances_in`; a shared local AWS serves other runs too), or `instances`; the instances now dark."""
    if not ctx.is_local:
        raise WorkshopError("an AZ cannot be switched off on a real account from here; AWS Fault Injection Service's "
                            "'AZ Availability: Power Interruption' scenario does it (run it on purpose, with care)")
    from .. import aws

    ids = run_instances_in(ctx, az) if instances is None else instances
    req = urllib.request.Request(f"{aws.endpoint(ctx.target)}/_workshop/dataplane/az", method="POST",
                                 data=json.dumps({"az": az, "down": down, "instances": ids}).encode(),
                                 headers={"Content-Type": "application/json"})
    with _direct.open(req, timeout=5) as r:
        answer = json.loads(r.read())
    return sorted(i for i in answer.get("instances", {}) if i in ids)


@dataclass
class Drill:
    """What the drill saw; times are seconds since the probes started."""

    az: str  # the AZ lost
    other: str  # the AZ left
    box: str | None  # the lost AZ's web instance (what stage 1's single box was)
    failed_over: bool  # the primary was in the lost AZ: RDS failed over
    site: probe.Result  # through www
    single: probe.Result | None  # the box, by its own name
    down_at: float
    up_at: float
    restored_s: float | None  # seconds after the AZ came back until both AZs' targets were healthy (None: not)
    wall_s: float = 0.0
    db_lost: bool = False  # a single-AZ primary was in the lost AZ: no standby, down until the AZ returned

    def bad(self, result: probe.Result, t0: float = 0.0, t1: float = float("inf")) -> list[probe.Sample]:
        return [s for s in result.between(t0, t1) if not www.good(s)]

    @property
    def last_error_at(self) -> float | None:
        errors = self.bad(self.site, self.down_at)
        return errors[-1].t if errors else None

    @property
    def recovery_s(self) -> float | None:
        """Seconds from the loss to the last failed request through www (0: none failed)."""
        return 0.0 if self.last_error_at is None else self.last_error_at - self.down_at

    @property
    def after(self) -> tuple[float, float]:
        """The window after recovery while the AZ was still down."""
        return (self.last_error_at or self.down_at) + 0.05, self.up_at

    def errors_after(self) -> int:
        return len(self.bad(self.site, *self.after))

    def azs_after(self) -> dict[str, int]:
        return dict(self.site.by_az(*self.after))

    def single_ok_while_down(self) -> int:
        return 0 if self.single is None else sum(www.good(s) for s in self.single.between(self.down_at, self.up_at))

    def summary(self) -> str:
        site, t0, t1 = self.site, self.down_at, self.up_at
        before = self.site.by_az(0, t0)
        window = self.bad(site, t0, t1)
        kinds = sorted({s.error if s.error else "page without data (database failing over)" for s in window})
        lines = [
            f"{self.az} lost at {t0:.1f} s (web {self.box or '-'}"
            + (f"; the database primary: RDS failed over to {self.other})" if self.failed_over else
               "; the single-AZ database: no standby, down with it)" if self.db_lost else ")")
            + f", back at {t1:.1f} s",
            f"  www (two AZs):      {timeline(site, self)}",
            f"    before: {fmt(before)}",
            f"    {len(window)} of {len(site.between(t0, t1))} requests failed ({', '.join(kinds) or 'none'}); "
            f"recovered {self.recovery_s:.1f} s after the loss; then {self.errors_after()} errors, "
            f"answered by {fmt(self.azs_after())}",
        ]
        if self.single is not None:
            ok = self.single_ok_while_down()
            lines += [f"  one box (stage 1):  {timeline(self.single, self)}",
                      f"    {len(self.bad(self.single, t0, t1))} of {len(self.single.between(t0, t1))} requests failed "
                      f"while {self.az} was down ({ok} answered): no second AZ, the site is down until the AZ returns"]
        lines.append(f"  restored: both AZs healthy {self.restored_s:.1f} s after the AZ came back" if self.restored_s
                     is not None else "  NOT restored: the lost AZ's targets are not healthy yet")
        lines.append(f"  wall time {self.wall_s:.1f} s")
        return "\n".join(lines)


def fmt(counts) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(dict(counts).items())) or "nobody"


def timeline(result: probe.Result, drill: Drill, step: float = 0.5) -> str:
    """A character per half second: '.' all good, 'x' all failed, '~' some; '|' marks the loss and the return."""
    marks, t = [], 0.0
    while t < result.duration:
        if t <= drill.down_at < t + step or t <= drill.up_at < t + step:
            marks.append("|")
        window = result.between(t, t + step)
        bad = sum(not www.good(s) for s in window)
        marks.append(" " if not window else "." if not bad else "x" if bad == len(window) else "~")
        t += step
    return "".join(marks)


def _web_in(ctx, az: str) -> dict | None:
    for suffix in ("web-a", "web-b"):
        instance = infra.find_instance(ctx, suffix)
        if instance is not None and instance["Placement"]["AvailabilityZone"] == az:
            return instance
    return None


def _healthy_azs(ctx) -> list[str]:
    return sorted(az for az, targets in s04_users_1000.target_health_by_az(ctx).items()
                  if any(state == "healthy" for _, state in targets))


def _answering_azs(site: probe.Where, timeout_s: float | None = None) -> list[str]:
    """The AZs that answer GETs through www, waiting up to READY_TIMEOUT_S for a second one (a target just
    started passes its first health check within a second or so)."""
    deadline = time.monotonic() + (READY_TIMEOUT_S if timeout_s is None else timeout_s)
    while True:
        found = sorted({s.az for s in (www.get(site) for _ in range(4)) if www.good(s) and s.az})
        if len(found) >= 2 or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


#: the key a drill is kept under in its context (`StageContext.witness`)
WITNESS = "az-drill"


def run(ctx, az: str | None = None, rate: float = RATE, before_s: float = BEFORE_S, clean_s: float = CLEAN_S) -> Drill:
    """Lose `az` (default: the database primary's) under a steady probe, then bring it back; see the module."""
    started = time.monotonic()
    with config.using(ctx.target):
        db = s03_web_and_database.find_db(ctx)
        if db is None:
            raise WorkshopError(f"no database {ctx.name('db')}: build stage 4 first (ws.build_previous())")
        az = az or db["AvailabilityZone"]
        site_at = www.where(ctx)
        serving = _answering_azs(site_at)
        if az not in serving or len(serving) < 2:
            raise WorkshopError(f"the drill needs www answered from two AZs, found {serving or 'none'} (healthy "
                                f"targets in {_healthy_azs(ctx) or 'none'}): start both web instances and wait for "
                                "their health checks (the serving check says which)")
        other = next(z for z in serving if z != az)
        box = _web_in(ctx, az)
        single = probe.Probe(www.where(ctx, box["PublicDnsName"]).url, rate / 2) if box and box.get(
            "PublicDnsName") else None
        site = probe.Probe(site_at.url, rate, host_header=site_at.host_header)
        failed_over = db["AvailabilityZone"] == az and bool(db.get("MultiAZ"))
        # a single-AZ database in the lost AZ is lost with it (no standby): stopped until the AZ returns
        db_lost = db["AvailabilityZone"] == az and not db.get("MultiAZ")
        rds = ctx.client("rds")
        dark = run_instances_in(ctx, az)
        down = False
        try:
            site.start()
            if single is not None:
                single.start()
            time.sleep(before_s)
            down_at = site.elapsed
            set_az(ctx, az, True, dark)
            down = True
            if failed_over:  # AWS fails over by itself when the primary's AZ goes; here the drill asks for it
                rds.reboot_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"], ForceFailover=True)
            elif db_lost:
                rds.stop_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"])
            deadline = time.monotonic() + RECOVER_TIMEOUT_S
            while time.monotonic() < deadline:
                time.sleep(0.1)
                with site._lock:
                    last_bad = max((s.t for s in site.result.samples if s.t >= down_at and not www.good(s)),
                                   default=down_at)
                if site.elapsed - max(last_bad, down_at + 0.5) >= clean_s:
                    break
            up_at = site.elapsed
            set_az(ctx, az, False, dark)
            down = False
            time.sleep(1.0)  # the box answers again within a reconcile round: the probes see it
        finally:
            if down:
                set_az(ctx, az, False, dark)
            if db_lost:
                rds.start_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"])
            site_result = site.stop()
            single_result = single.stop() if single is not None else None
        came_back = time.monotonic()
        restored = None
        while time.monotonic() - came_back < RESTORE_TIMEOUT_S:
            if _healthy_azs(ctx) == sorted({az, other}):
                restored = time.monotonic() - came_back + 1.0
                break
            time.sleep(0.2)
    drill = Drill(az, other, box["InstanceId"] if box else None, failed_over, site_result, single_result,
                  down_at, up_at, restored, time.monotonic() - started, db_lost)
    ctx.witness(WITNESS, drill)  # the notebook's verify() judges this drill rather than run another
    return drill
