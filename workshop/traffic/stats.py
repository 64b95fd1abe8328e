"""Reading Locust's figures while it runs and once it is done (its CSV files, plus our spread file).

Live figures come from Locust's own `*_stats_history.csv`, which it appends every second (the
locustfile lowers its flush interval from 5 s to 1 s). Chosen over the web UI's JSON
(`/stats/requests`): measured with benchmarks/traffic.py (50 users, 2 shared cores), the two cost
the same where it matters (peak RSS 53 vs 54 MB; start-up 0.6-0.9 vs 0.85-1.0 s; a JSON poll
takes ~5 ms, reading the new CSV lines well under 1 ms), so the deciding facts are that a
headless Locust opens no port at all (a web UI is a loopback listener anything on the machine
can drive — start more users, point it elsewhere — for the run's length) and the figures shown
are exactly those saved. Per interval the runner takes from the `Aggregated` rows:

- users: Locust's user count at that second;
- requests/s and errors: from the change in the total request and failure counts since the
  previous row read (Locust's own `Requests/s` column is a 10-s average lagging 2 s);
- p50/p95/p99 ms: Locust's *current* percentiles (over its last ~10 s window);
- instances and AZs: those that answered since the previous read (an instance that stops
  answering drops out of the next line), with responses per instance.

The final summary comes from the locustfile's `final.json`, written once every user has stopped
(Locust's `*_stats.csv` and `*_failures.csv` lag up to a second; they are the fallback when
Locust was killed). Which instances and AZs answered comes from the locustfile's `spread.json`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path


def _float(value, default=0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


@dataclass
class HistoryReader:
    """Reads the rows Locust appended to its history file since the last call."""

    path: Path
    _offset: int = 0
    _header: list[str] | None = None
    _partial: str = ""
    rows: list[dict] = field(default_factory=list)  # every Aggregated row read so far

    def read(self) -> list[dict]:
        """New `Aggregated` rows (as dicts of Locust's columns), in order."""
        try:
            with open(self.path, encoding="utf-8", newline="") as f:
                f.seek(self._offset)
                chunk = f.read()
                self._offset = f.tell()
        except OSError:
            return []
        text = self._partial + chunk
        complete, _, self._partial = text.rpartition("\n")
        if not complete:
            return []
        lines = list(csv.reader(io.StringIO(complete + "\n")))
        if self._header is None and lines:
            self._header, lines = lines[0], lines[1:]
        new = [dict(zip(self._header, line)) for line in lines if line and len(line) == len(self._header)]
        new = [r for r in new if r.get("Name") == "Aggregated"]
        self.rows.extend(new)
        return new


@dataclass
class Interval:
    """One progress line: what happened between two reads of the history."""

    elapsed_s: float
    users: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int  # in this interval
    failures: int  # in this interval
    total_requests: int
    total_failures: int
    instances: int  # distinct instances that answered since the previous read
    azs: int  # distinct AZs that answered since the previous read
    by_instance: str = ""  # "i-a:120 i-b:118": responses per instance since the previous read

    @property
    def error_pct(self) -> float:
        return 100.0 * self.failures / self.requests if self.requests else 0.0

    def as_dict(self) -> dict:
        return {"elapsed_s": round(self.elapsed_s, 1), "users": self.users, "rps": round(self.rps, 2),
                "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "requests": self.requests,
                "failures": self.failures, "error_pct": round(self.error_pct, 2),
                "total_requests": self.total_requests, "total_failures": self.total_failures,
                "instances": self.instances, "azs": self.azs, "by_instance": self.by_instance}


def interval(previous: dict | None, row: dict, started_at: float, spread: dict) -> Interval:
    """An Interval from two Aggregated history rows (`previous` None: since the start) and the
    responses by instance and AZ over the same stretch (`spread_change`)."""
    total, failed = int(_float(row.get("Total Request Count"))), int(_float(row.get("Total Failure Count")))
    t = _float(row.get("Timestamp"))
    if previous is None:
        before, before_failed, span = 0, 0, max(t - started_at, 1.0)
    else:
        before, before_failed = int(_float(previous.get("Total Request Count"))), \
            int(_float(previous.get("Total Failure Count")))
        span = max(t - _float(previous.get("Timestamp")), 1.0)
    return Interval(
        elapsed_s=max(0.0, t - started_at), users=int(_float(row.get("User Count"))), rps=(total - before) / span,
        p50_ms=_float(row.get("50%")), p95_ms=_float(row.get("95%")), p99_ms=_float(row.get("99%")),
        requests=total - before, failures=failed - before_failed, total_requests=total, total_failures=failed,
        instances=len(seen(spread.get("instances"))), azs=len(seen(spread.get("azs"))),
        by_instance=" ".join(f"{k}:{v}" for k, v in sorted(seen(spread.get("instances")).items())))


def spread_change(before: dict, now: dict) -> dict:
    """Responses by instance and by AZ between two reads of the spread file (only those that answered)."""
    return {key: {k: v - (before.get(key) or {}).get(k, 0) for k, v in (now.get(key) or {}).items()
                  if v > (before.get(key) or {}).get(k, 0)} for key in ("instances", "azs")}


def seen(counts: dict | None) -> dict:
    """Counts without the '-' bucket (responses that named no instance or AZ)."""
    return {k: v for k, v in (counts or {}).items() if k != "-"}


def read_spread(path: Path) -> dict:
    """{"instances": {id: responses}, "azs": {az: responses}} as the locustfile last wrote it."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {"instances": {}, "azs": {}}
    return {"instances": dict(doc.get("instances") or {}), "azs": dict(doc.get("azs") or {})}


def read_final(path: Path) -> dict | None:
    """The whole run as the locustfile wrote it when Locust quit (`final.json`); None if it did not
    (Locust was killed): then `read_totals` and `read_failures` read Locust's last CSV files."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    doc["failures_top"] = sorted(doc.get("failures_top") or [], key=lambda f: -f["occurrences"])[:5]
    for key in ("rps", "avg_ms", "max_ms"):
        doc[key] = round(float(doc.get(key) or 0.0), 2)
    return doc


def read_totals(path: Path) -> dict:
    """The whole run's Aggregated row of `*_stats.csv`: requests, failures, rps, percentiles (ms)."""
    rows = _csv_rows(path)
    row = next((r for r in rows if r.get("Name") == "Aggregated"), {})
    return {"requests": int(_float(row.get("Request Count"))), "failures": int(_float(row.get("Failure Count"))),
            "rps": round(_float(row.get("Requests/s")), 2), "avg_ms": round(_float(row.get("Average Response Time")), 1),
            "p50_ms": _float(row.get("50%")), "p95_ms": _float(row.get("95%")), "p99_ms": _float(row.get("99%")),
            "max_ms": round(_float(row.get("Max Response Time")), 1),
            "by_name": {f"{r.get('Type')} {r.get('Name')}": int(_float(r.get("Request Count")))
                        for r in rows if r.get("Name") != "Aggregated"}}


def read_failures(path: Path, top: int = 5) -> list[dict]:
    """The most frequent failures: {"method", "name", "error", "occurrences"}."""
    rows = _csv_rows(path)
    out = [{"method": r.get("Method", ""), "name": r.get("Name", ""), "error": r.get("Error", ""),
            "occurrences": int(_float(r.get("Occurrences")))} for r in rows]
    return sorted(out, key=lambda f: -f["occurrences"])[:top]


def _csv_rows(path: Path) -> list[dict]:
    try:
        return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    except OSError:
        return []
