"""A traffic run: check, start Locust, report every few seconds, stop, summarise, save.

`Run(url, users, ...)` checks everything before anything starts (the numbers: `options.py`;
the URL: `allow.py`), then `start()` sets the local data plane's scale and starts Locust
(`process.py`); `wait()` reads its figures every `interval` s (`stats.py`) and hands each
interval to the presenter (`live.py`), and ends with a `Result`. `stop()` (any thread) and
Ctrl-C / a kernel interrupt stop the Locust process group at once; so does leaving `wait()`
any other way. A run never outlives `duration + STOP_MARGIN_S` seconds.
"""

from __future__ import annotations

import csv
import json
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..errors import WorkshopError
from . import allow, behaviour, chart, options, process, stats

#: how long past its duration a run may take to start and stop before it is killed
STOP_MARGIN_S = 30.0
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Result:
    """What a run measured: `summary` (a dict, the `--json` output), `rows` (one per interval),
    `spread` (responses by instance, by AZ, by CloudFront's `X-Cache` and by the app's `X-Data-Source`;
    "-" counts responses without the header) and the files written (`csv`, `svg`, Locust's own)."""

    summary: dict
    rows: list[dict]
    spread: dict
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.summary["requests"] > 0 and self.summary["failures"] == 0 and self.summary["stopped_by"] == "duration"

    @property
    def csv(self) -> Path:
        return self.files["csv"]

    @property
    def svg(self) -> Path:
        return self.files["svg"]

    def _repr_html_(self) -> str:
        return f"<pre>{summary_text(self.summary)}</pre>" + chart.svg(self.rows, self.summary["title"])


def default_folder() -> Path:
    return config.ROOT / "build" / "traffic" / time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def talk_scale(opts: options.Options, active_share: float) -> str:
    """'× K = N active users at the talk's scale (M users, A% of them active)'."""
    active = opts.talk_active_users
    think = f" (think ×{opts.think:g})" if opts.think != 1 else ""
    return (f"× {opts.scale:,} = {active:,.0f} active users at the talk's scale{think}, "
            f"~{active / active_share:,.0f} users at {active_share:.0%} active")


def set_scale(endpoint: str, scale: int, run: str | None = None, timeout: float = 5.0) -> None:
    """Tell the local AWS's data plane that one request stands for `scale` (for course run `run`'s machines)."""
    body = {"scale": scale, **({"run": run} if run else {})}
    req = urllib.request.Request(f"{endpoint}/_workshop/dataplane/scale", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with _direct.open(req, timeout=timeout) as r:
            r.read()
    except Exception as exc:
        raise WorkshopError(f"the local AWS at {endpoint} did not take scale {scale}: {exc}") from None


def get_scale(endpoint: str, run: str | None = None, timeout: float = 5.0) -> int:
    """The scale the local AWS's data plane has for course run `run`'s machines (or its default)."""
    query = f"?run={urllib.parse.quote(run)}" if run else ""
    with _direct.open(f"{endpoint}/_workshop/dataplane/scale{query}", timeout=timeout) as r:
        return int(json.loads(r.read()).get("scale") or 1)


class Run:
    """One traffic run; see the module docstring."""

    def __init__(self, url: str, users: int, duration: int = 60, spawn_rate: float | None = None, scale: int = 1,
                 think: float = 1.0, out: Path | str | None = None, target: config.Target | None = None,
                 presenter=None, interval: float = 2.0, assumptions: dict | None = None, stagger: bool = False):
        from ..capacity import assumptions as _assumptions
        from .live import Silent

        self.options = options.check(users, spawn_rate, duration, scale, think)
        self.behaviour = behaviour.from_assumptions(assumptions, think=self.options.think)
        self.active_share = _assumptions.make(assumptions)["active_share"]
        self.target = target or config.current()
        self.allowed = allow.check(url, self.target)
        self.folder = Path(out) if out else default_folder()
        self.presenter = presenter or Silent()
        self.interval = interval
        self.stagger = bool(stagger)  # users wait before their first page view too (no burst at spawn)
        self.scale_line = talk_scale(self.options, self.active_share)
        self.locust: process.LocustProcess | None = None
        self.rows: list[dict] = []
        self._stop = threading.Event()
        self._stopped_by = "duration"
        self._startup_s: float | None = None
        self._spread: dict = {}
        self.scaled_run: str | None = None  # the course run whose machines the local scale was set for

    # --- control ----------------------------------------------------------------------------
    def start(self) -> Run:
        if self.target.is_local:  # the scale is for the machines of the run the URL's resource belongs to
            from .. import aws
            from .owner import run_of

            self.scaled_run = run_of(self.allowed.kind, self.allowed.resource_id, self.target) or self.target.run_id
            set_scale(aws.endpoint(self.target), self.options.scale, self.scaled_run)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.locust = process.start(self.allowed.url, self.options.users, self.options.spawn_rate,
                                    self.options.duration_s, self.folder,
                                    self.behaviour.argv() + (["--wl-stagger"] if self.stagger else []),
                                    self.allowed.host_header)
        self._wall_start = time.time()
        self.presenter.started(self)
        return self

    def stop(self) -> None:
        """Stop the run from any thread: `wait()` stops Locust and returns the result so far."""
        self._stopped_by = "stopped"
        self._stop.set()

    def wait(self) -> Result:
        assert self.locust is not None, "start() first"
        files = self.locust.files()
        reader = stats.HistoryReader(files["history"])
        deadline = self.locust.started + self.options.duration_s + STOP_MARGIN_S
        previous = None
        try:
            while self.locust.running():
                if self._stop.wait(self.interval):
                    break
                if time.monotonic() > deadline:
                    self._stopped_by = "overran"
                    break
                previous = self._read(reader, previous, files)
        except BaseException:
            self._stopped_by = "interrupt"
            self.locust.stop(grace=1.0)
            raise
        finally:
            if self.locust.running():
                self.locust.stop()
        code = self.locust.proc.returncode
        self._read(reader, previous, files)
        return self._finish(code, files)

    def _read(self, reader: stats.HistoryReader, previous: dict | None, files: dict) -> dict | None:
        now = stats.read_spread(files["spread"])
        spread, self._spread = stats.spread_change(self._spread, now), now
        new = []
        for row in reader.read():
            if self._startup_s is None and int(float(row.get("User Count") or 0)) > 0:
                self._startup_s = max(0.0, float(row["Timestamp"]) - self._wall_start)  # ±1 s: Locust's resolution
            item = stats.interval(previous, row, self._wall_start, {})
            previous = row
            if item.requests == 0 and item.users == 0 and not self.rows and not new:
                continue  # Locust is up but has not started users yet
            new.append(item)
        if new:  # who answered since the last read goes with its last row, the one shown
            last = stats.interval(reader.rows[-2] if len(reader.rows) > 1 else None, reader.rows[-1],
                                  self._wall_start, spread)
            new[-1] = last
            self.rows.extend(item.as_dict() for item in new)
            self.presenter.interval(self, self.rows[-1], progress_line(self.rows[-1], self.scale_line))
        return previous

    # --- the end ----------------------------------------------------------------------------
    def _finish(self, code: int | None, files: dict) -> Result:
        final = stats.read_final(files["final"])
        if final is not None:
            totals, failures = final, final["failures_top"]
            spread = {key: final.get(key) or {} for key in ("instances", "azs", "cache", "sources")}
        else:
            totals, failures = stats.read_totals(files["stats"]), stats.read_failures(files["failures"])
            spread = stats.read_spread(files["spread"])
        if final is None and not files["stats"].exists():
            tail = (files["log"].read_text(errors="replace").strip().splitlines() or ["(no output)"])[-1]
            raise WorkshopError(f"Locust did not run (exit code {code}): {tail}; see {files['log']}")
        o = self.options
        summary = {
            "url": self.allowed.url, "kind": self.allowed.kind, "resource_id": self.allowed.resource_id,
            "host_header": self.allowed.host_header,
            "target": self.target.kind, "users": o.users, "spawn_rate": o.spawn_rate, "duration_s": o.duration_s,
            "scale": o.scale, "scaled_run": self.scaled_run, "think": o.think, "talk_active_users": o.talk_active_users,
            "talk_users": round(o.talk_active_users / self.active_share), "talk_scale": self.scale_line,
            **{k: totals[k] for k in ("requests", "failures", "rps", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")},
            "error_pct": round(100.0 * totals["failures"] / totals["requests"], 2) if totals["requests"] else 0.0,
            "by_name": totals["by_name"], "failures_top": failures,
            "instances": stats.seen(spread["instances"]), "azs": stats.seen(spread["azs"]),
            "unnamed_responses": spread["instances"].get("-", 0),
            "stopped_by": self._stopped_by, "locust_exit_code": code, "locust_pid": self.locust.pid,
            "locust_startup_s": None if self._startup_s is None else round(self._startup_s, 2),
            "behaviour": self.behaviour.as_dict(), "folder": str(self.folder),
            "title": f"{o.users} users → {self.allowed.url} ({self.allowed.kind}) × {o.scale:,} = "
                     f"{o.talk_active_users:,.0f} active users at the talk's scale",
        }
        summary["verdict"] = verdict(summary)
        result = Result(summary, list(self.rows), spread, {})
        result.files = save(result, self.folder, files)
        self.presenter.finished(self, result)
        return result


def verdict(s: dict) -> str:
    if s["stopped_by"] == "interrupt":
        return "interrupted: Locust was stopped"
    if s["stopped_by"] == "stopped":
        return "stopped before its duration"
    if s["stopped_by"] == "overran":
        return f"Locust did not finish within {STOP_MARGIN_S:.0f} s of its duration and was stopped"
    if s["requests"] == 0:
        return f"no request completed: is {s['url']} serving? (workshop status)"
    if s["failures"] == s["requests"]:
        first = (s["failures_top"] or [{"error": "?"}])[0]["error"]
        return f"every request failed ({first}): is {s['url']} serving? (workshop status)"
    if s["failures"]:
        return f"{s['error_pct']:g}% of requests failed; see failures_top"
    return "all requests answered"


def progress_line(row: dict, scale_line: str) -> str:
    return (f"{row['elapsed_s']:5.0f} s  users {row['users']:>5}  {row['rps']:8.1f} req/s  "
            f"p50 {row['p50_ms']:.0f} / p95 {row['p95_ms']:.0f} / p99 {row['p99_ms']:.0f} ms  "
            f"errors {row['error_pct']:.1f}%  instances {row['instances']} · AZs {row['azs']}  {scale_line}")


def summary_text(s: dict) -> str:
    host = f" with Host: {s['host_header']}" if s.get("host_header") else ""
    lines = [f"{s['users']} users for {s['duration_s']} s on {s['url']}{host} ({s['kind']} {s['resource_id']}) "
             f"{s['talk_scale']}",
             f"requests {s['requests']:,} ({s['rps']:,.1f}/s), failures {s['failures']:,} ({s['error_pct']:g}%), "
             f"p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms, max {s['max_ms']:.0f} ms",
             "instances: " + (", ".join(f"{k} {v:,}" for k, v in sorted(s["instances"].items())) or
                              "none named (no X-Instance-Id header)"),
             "AZs: " + (", ".join(f"{k} {v:,}" for k, v in sorted(s["azs"].items())) or "none named"),
             ]
    lines += [f"failed {f['occurrences']:,} × {f['method']} {f['name']}: {f['error']}" for f in s["failures_top"]]
    lines.append(s["verdict"])
    return "\n".join(lines)


def save(result: Result, folder: Path, files: dict) -> dict[str, Path]:
    """traffic.csv (one row per interval), traffic.svg, summary.json; plus Locust's own files."""
    out = {"csv": folder / "traffic.csv", "svg": folder / "traffic.svg", "summary": folder / "summary.json"}
    columns = list(result.rows[0]) if result.rows else ["elapsed_s"]
    with open(out["csv"], "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(result.rows)
    out["svg"].write_text(chart.svg(result.rows, result.summary["title"]), encoding="utf-8")
    out.update({f"locust_{k}": Path(v) for k, v in files.items() if k not in ("spread", "final") and Path(v).exists()})
    result.summary["files"] = {k: str(v) for k, v in out.items()}
    out["summary"].write_text(json.dumps({**result.summary, "spread": result.spread}, indent=2), encoding="utf-8")
    return out
