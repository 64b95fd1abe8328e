"""The engine: find the course's resources kind by kind, delete them wave by wave, then scan
again. It knows no service: the kinds (`registry`) know how to find, delete and watch theirs.

Deletion runs in waves: every deletion of a wave is started, then the wave waits for all of
them together (`waits.together`), so the teardown takes as long as each wave's slowest
resource, not the sum. A wave only starts once the one before is gone, which is the
dependency order AWS needs. Everything is idempotent: a teardown interrupted at any point is
finished by running it again. A resource AWS refuses to delete because something else holds
it becomes a `Blocker` naming the holder (the kind's `holder`) and what to do. Finally every
kind is scanned again; `Report.remaining` must be empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from .. import config, tags, waits
from ..errors import Unsupported, WorkshopError
from . import tagging
from .kind import GLOBAL_REGION, Kind, Resource, Scope
from .regions import regions
from .registry import KINDS, TRACKED_SERVICES, WAVES
from .report import Blocker, Report, summary_line
from .shapes import code, is_gone

_NO_RIGHTS = ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "AccessDenied",
              "AccessDeniedException", "UnauthorizedOperation")


def _scopes(run: str | None, stage: int | None, region_list: Iterable[str] | None,
            target: config.Target | None) -> list[Scope]:
    chosen = target or config.current()
    return [Scope(r, run, stage, chosen) for r in (region_list or regions(target=chosen))]


def _kind_scopes(kind: Kind, scopes: list[Scope]) -> list[Scope]:
    if kind.global_:
        s = scopes[0]
        return [Scope(GLOBAL_REGION, s.run, s.stage, s.target)]
    return scopes


def find(kind: Kind, scope: Scope, skipped: list[str] | None = None) -> list[Resource]:
    """The course's resources of one kind in one scope (a kind the target lacks finds none)."""
    try:
        found = list(kind.find(scope))
    except Unsupported:
        if skipped is not None and kind.name not in skipped:
            skipped.append(kind.name)
        return []
    except ClientError as exc:
        if code(exc) in _NO_RIGHTS:
            raise WorkshopError(f"cannot list {kind.name}s in {scope.region}: {code(exc)} — your credentials "
                                "need read and delete rights for the course's services") from None
        raise
    for r in found:
        r.kind = kind.name
    return found


def plan(run: str | None = None, stage: int | None = None, region_list: Iterable[str] | None = None,
         skipped: list[str] | None = None, target: config.Target | None = None) -> list[Resource]:
    """What a teardown would delete, in deletion order."""
    scopes = _scopes(run, stage, region_list, target)
    jobs = [(kind, scope) for kind in KINDS if kind.scanned for scope in _kind_scopes(kind, scopes)]
    # the listing calls are independent and I/O-bound: ask the services at once, keep the order
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda job: find(job[0], job[1], skipped), jobs))
    return [r for rs in found for r in rs]


def _untracked(scope: Scope) -> list[Resource]:
    """Course-tagged resources of services teardown does not know (e.g. an SNS topic a stage adds later)."""
    out = []
    try:
        for arn, t in tagging.tagged(scope):
            service = tagging.arn_service(arn)
            if service and service not in TRACKED_SERVICES:
                out.append(Resource(f"untracked {service} resource", arn, arn.split(":", 5)[-1], scope.region,
                                    *tags.owner(t)))
    except (Unsupported, ClientError):
        return []
    return out


def scan(run: str | None = None, stage: int | None = None, region_list: Iterable[str] | None = None,
         target: config.Target | None = None) -> list[Resource]:
    """What is left of the course (of a run or stage): must be empty after a teardown.

    `scan()` with no run is the proof that nothing of the course remains: every run id, found
    by the course's tags and, where tags do not reach, by the `sbs-` name prefix. Every kind
    teardown deletes is asked, plus anything else tagged for the course that the tagging API
    finds in a service teardown does not know (delete those by hand, and tell us).
    """
    scopes = _scopes(run, stage, region_list, target)
    left = plan(run, stage, [s.region for s in scopes], target=scopes[0].target)
    for s in scopes:
        left.extend(_untracked(s))
    return left


def _blocker(kind: Kind, scope: Scope, r: Resource, exc: Exception) -> Blocker:
    """Name what holds `r`, and what to do."""
    why = code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    holder = ""
    if kind.holder:
        try:
            holder = kind.holder(scope, r)
        except Exception:
            holder = ""
    held = f" is held by {holder}" if holder else f" could not be deleted ({why})"
    todo = ("delete or detach that first (it is outside what this teardown covers: not the course's, or "
            "another stage's or run's; 'workshop teardown --yes' with no --run/--stage takes the whole course), "
            "then run the teardown again") if holder else \
        f"{str(exc).splitlines()[0][:200]}; fix that, then run 'workshop teardown --yes' again"
    return Blocker(r, f"{r.label()} in {r.region}{held}: {todo}")


def teardown(run: str | None = None, stage: int | None = None, region_list: Iterable[str] | None = None,
             echo: Callable[[str], None] = print, target: config.Target | None = None) -> Report:
    """Delete the course's resources (one run's, one stage's) wave by wave, then scan what remains."""
    report = Report()
    scopes = _scopes(run, stage, region_list, target)
    for wave in WAVES:
        started: list[tuple[Kind, Scope, Resource]] = []
        for kind in wave:
            for scope in _kind_scopes(kind, scopes):
                for r in find(kind, scope, report.skipped):
                    echo(f"deleting {r.label()}" + (f" [{scope.region}]" if scope.region != GLOBAL_REGION else ""))
                    try:
                        kind.delete(scope, r)
                    except Unsupported as exc:
                        report.blocked.append(Blocker(r, f"{r.label()}: {exc}"))
                        continue
                    except ClientError as exc:
                        if is_gone(exc):
                            report.deleted.append(r)
                        else:
                            report.blocked.append(_blocker(kind, scope, r, exc))
                        continue
                    started.append((kind, scope, r))
        if started:
            waits.together(*[
                waits.Wait(f"{r.label()} deleted" if k.scanned else f"{r.label()} disabled",
                           (lambda k=k, s=s, r=r: k.gone(s, r)), k.timeout_s, k.typical_s,
                           what_to_do="nothing is lost: run 'workshop teardown --yes' again to resume")
                for k, s, r in started])
            report.deleted.extend(r for k, s, r in started if k.scanned)
    report.remaining = scan(run, stage, [s.region for s in scopes], target=scopes[0].target)
    return report


def teardown_stage(stage_number: int, run_id: str | None = None, target: config.Target | None = None) -> Report:
    """Delete what one stage of one run created (tagged with its stage); used by `ws.finish(teardown=True)`."""
    chosen = target or config.current()
    run = run_id or chosen.run_id
    report = teardown(run=run, stage=int(stage_number), target=chosen)
    print(f"Stage {stage_number} of run {run!r}: deleted {len(report.deleted)} resource(s).")
    if not report.ok:
        raise WorkshopError(summary_line(report) + f" — see 'workshop teardown --run {run}'")
    return report
