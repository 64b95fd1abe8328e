"""What a teardown reports (deleted, blocked, what remains) and how it is shown: a table and one line."""

from __future__ import annotations

from dataclasses import dataclass, field

from .kind import Resource


@dataclass
class Blocker:
    resource: Resource
    message: str  # which resource holds it and what to do


@dataclass
class Report:
    deleted: list[Resource] = field(default_factory=list)
    blocked: list[Blocker] = field(default_factory=list)
    remaining: list[Resource] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # kinds the target cannot list (local AWS gaps)

    @property
    def ok(self) -> bool:
        return not self.remaining and not self.blocked


def table(resources: list[Resource], empty: str = "(nothing)") -> str:
    """A plain-text table: kind, name, id, region, stage, run."""
    if not resources:
        return empty
    rows = [("KIND", "NAME", "ID", "REGION", "STAGE", "RUN")] + [
        (r.kind, r.name, r.id if r.id != r.name else "", r.region, r.stage or "?", r.run or "?") for r in resources]
    widths = [min(60, max(len(row[i]) for row in rows)) for i in range(6)]
    return "\n".join("  ".join(c[:60].ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def summary_line(report: Report) -> str:
    if report.ok:
        return f"teardown complete: {len(report.deleted)} deleted, nothing remains"
    parts = []
    if report.blocked:
        parts.append(f"{len(report.blocked)} could not be deleted ({report.blocked[0].message})")
    if report.remaining:
        parts.append(f"{len(report.remaining)} remain")
    return "teardown incomplete: " + "; ".join(parts)
