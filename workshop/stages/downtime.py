"""Watch the day-1 box while it stops and starts: a probe's timeline with the calls marked on it.

    with downtime.watch(ws, instance) as w:
        w.mark("stop_instances");  ec2.stop_instances(InstanceIds=[instance_id]); infra.wait_stopped(...)
        w.stopped()
        w.mark("start_instances"); ec2.start_instances(InstanceIds=[instance_id]); ...
    print(w.report())

A probe (`workshop/traffic/probe.py`) sends `rate` requests a second to the box's address
(`site.box_where`) from before the first call until the box answers again after the last one
(at most `recover_s`), then a little longer. The calls stay in the caller's hands, so a notebook
shows the boto3 calls that teach; the watch only marks when each was sent. If the block fails
half-way, the instance is started again on the way out: a demo or a check leaves the stage whole.

What the figures mean on each target: on the local AWS, moto stops and starts an instance at
once and the web server closes before StopInstances answers and reopens before StartInstances
does (`localaws/ext/ec2_web.py`): the measured outage is the time between the two calls (and
`stopped()`'s wait for one refused request), resolved to one probe interval. On AWS, StopInstances shuts the operating system down first ("By default, this includes a
graceful operating system (OS) shutdown", EC2 API Reference, StopInstances), the instance boots on
start, and cloud-init runs the user data again, installing the app (docs/local-web.md): none of
that is emulated, so the same cell measures a far longer outage there.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from ..traffic import probe
from . import infra, site

#: requests a second while watching (a trickle: the point is when answers stop and come back)
RATE = 10.0
#: seconds probed before the first call and after the box answers again
LEAD_S = 1.0
TAIL_S = 1.0


@dataclass
class Watch:
    ctx: object
    instance: dict
    rate: float = RATE
    lead_s: float = LEAD_S
    tail_s: float = TAIL_S
    recover_s: float | None = None  # None: 10 s locally, 10 min on AWS (a boot and the user data's run)
    marks: list[tuple[float, str]] = field(default_factory=list)
    result: probe.Result | None = None
    where: probe.Where | None = None
    _probe: probe.Probe | None = None

    @property
    def instance_id(self) -> str:
        return self.instance["InstanceId"]

    def mark(self, label: str) -> float:
        """Note that `label` (a call, a state reached) happens now; returns the probe's elapsed seconds."""
        t = self._probe.elapsed
        self.marks.append((t, label))
        return t

    def stopped(self, within_s: float | None = None) -> float:
        """Mark "stopped" once a probe request has failed. On AWS that is so when `wait_stopped` returns
        (the OS has shut down). Locally the box refuses as soon as StopInstances answers, but a resize
        done at once takes tens of milliseconds and would fall between two probe requests: waiting for
        one refusal (at most one probe interval, 0.1 s at 10 requests/s) makes the outage visible."""
        limit = within_s if within_s is not None else (2.0 if self.ctx.is_local else 60.0)
        since = self.marks[-1][0] if self.marks else 0.0
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not any(not s.ok and s.t >= since for s in list(self._probe.result.samples)):
            time.sleep(0.02)
        return self.mark("stopped")

    def at(self, label: str) -> float | None:
        return next((t for t, m in self.marks if m == label), None)

    def __enter__(self) -> Watch:
        self.where = site.box_where(self.ctx, self.instance)
        self._probe = probe.Probe(self.where.url, self.rate, host_header=self.where.host_header).start()
        time.sleep(self.lead_s)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        try:
            if exc_type is None:
                self._await_answers()
                time.sleep(self.tail_s)
        finally:
            self.result = self._probe.stop()
            if exc_type is not None:
                self.restore()

    def _await_answers(self) -> None:
        limit = self.recover_s if self.recover_s is not None else (10.0 if self.ctx.is_local else 600.0)
        since = self.marks[-1][0] if self.marks else 0.0
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            answered = [s.t for s in list(self._probe.result.samples) if s.ok and s.t >= since]
            if answered:
                self.marks.append((min(answered), "answering"))  # when that request was sent
                return
            time.sleep(0.05)

    def restore(self) -> None:
        """Start the instance again if the block left it stopped (a failed demo or check)."""
        current = describe(self.ctx, self.instance_id)
        if current["State"]["Name"] != "running":
            infra.ensure_running(self.ctx, current)

    # --- what was seen ---------------------------------------------------------------------
    @property
    def down_at(self) -> float | None:
        """When the first request after the first mark failed."""
        start = self.marks[0][0] if self.marks else 0.0
        return next((s.t for s in self.result.samples if not s.ok and s.t >= start), None)

    @property
    def back_at(self) -> float | None:
        return self.result.recovered_at

    @property
    def outage_s(self) -> float | None:
        """Seconds from the first failed request to the first answer after the last one."""
        if self.down_at is None or self.back_at is None:
            return None
        return self.back_at - self.down_at

    def between(self, first: str, last: str) -> list[probe.Sample]:
        """The requests sent between two marks."""
        t0, t1 = self.at(first), self.at(last)
        return [] if t0 is None or t1 is None else self.result.between(t0, t1)

    def errors(self) -> Counter:
        return Counter(s.error for s in self.result.samples if not s.ok)

    def summary(self) -> str:
        """One line: how long the site was down, how many requests failed and how."""
        failed = sum(self.errors().values())
        how = ", ".join(f"{n} {kind}" for kind, n in self.errors().most_common()) or "none"
        if self.down_at is None:
            return f"no request failed ({self.result.ok_count()} answered)"
        if self.back_at is None:
            return f"down from {self.down_at:.1f} s and not answering again by the end ({failed} failed: {how})"
        return (f"down {self.outage_s:.2f} s (first error at {self.down_at:.2f} s, answering again at "
                f"{self.back_at:.2f} s): {failed} of {len(self.result.samples)} requests failed ({how})")

    def report(self) -> str:
        """Per-second rows (answered, failed, the marks in that second), the timeline and the summary."""
        lines = [f"probing {self.where.url}" + (f" (Host: {self.where.host_header})" if self.where.host_header else "")
                 + f" at {self.rate:g} requests/s", " second  answered  failed",]
        for row in self.result.seconds():
            marks = [f"{m} {t:.2f} s" for t, m in self.marks if row["second"] <= t < row["second"] + 1]
            lines.append(f"{row['second']:>7}  {row['ok']:>8}  {row['errors']:>6}" + ("   <- " + ", ".join(marks)
                                                                                        if marks else ""))
        lines.append(f"timeline {self.result.timeline()}  ('.' all answered, 'x' all failed, '~' some)")
        lines.append(self.summary())
        return "\n".join(lines)


def describe(ctx, instance_id: str) -> dict:
    """The instance as describe_instances gives it now."""
    return infra.client(ctx, "ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def watch(ctx, instance: dict, **kwargs) -> Watch:
    """A Watch on `instance` (a describe_instances item): use it as a context manager."""
    return Watch(ctx, instance, **kwargs)
