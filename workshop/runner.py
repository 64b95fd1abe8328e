"""`workshop run`: execute the course's notebooks headless with papermill.

Notebooks run in stage order (or `--jobs N` at a time: each stands alone, and in
parallel each gets its own run id so they never share resources). A local AWS is used if
one is up, otherwise one is started for the run and stopped after. Executed copies and
`report.html` go to the build folder.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import config, stages
from .errors import BadInput

SOLUTIONS = config.ROOT / "solutions"
NOTEBOOKS = config.ROOT / "notebooks"
BUILD = config.ROOT / "build"


@dataclass
class NotebookResult:
    stage: int
    notebook: str
    status: str = "pending"  # "passed" | "failed"
    duration_s: float = 0.0
    output: Path | None = None
    error: str | None = None  # at most 3 lines
    images: list[str] = field(default_factory=list)  # base64 PNGs shown by the notebook
    slowest_cell_s: float = 0.0
    run_id: str = ""


def select(names: list[str] | None, source: Path = SOLUTIONS) -> list[stages.Stage]:
    """The stages to run, in order: those named (by number), or every stage with a notebook."""
    available = [s for s in stages.all_stages() if (source / s.notebook).exists()]
    if not names:
        return available
    chosen = []
    for name in names:
        stage = stages.get(name)  # unknown -> BadInput listing the valid stages
        if stage not in available:
            raise BadInput(f"stage {stage.number} has no notebook in {source.name}/ yet; "
                           f"runnable: {', '.join(str(s.number) for s in available)}")
        if stage not in chosen:
            chosen.append(stage)
    return sorted(chosen, key=lambda s: s.number)


def declared_parameters(path: Path) -> dict[str, dict]:
    import papermill

    return papermill.inspect_notebook(str(path))


def plan_parameters(selected: list[stages.Stage], params: dict[str, str], source: Path) -> dict[str, dict]:
    """Per notebook, the parameters it declares out of `params`; an unknown one is an error."""
    declared = {s.notebook: declared_parameters(source / s.notebook) for s in selected}
    known = set().union(*declared.values()) if declared else set()
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadInput(f"unknown parameter {', '.join(unknown)}; valid parameters: {', '.join(sorted(known))}")
    out = {}
    for s in selected:
        spec = declared[s.notebook]
        out[s.notebook] = {k: _convert(v, spec[k].get("inferred_type_name", "")) for k, v in params.items() if k in spec}
    return out


def _convert(value, type_name: str):
    if not isinstance(value, str):
        return value
    try:
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
        if type_name == "bool":
            return value.strip().lower() in ("1", "true", "yes", "on")
    except ValueError:
        raise BadInput(f"parameter value {value!r} is not a {type_name}") from None
    return value


def run_course(
    names: list[str] | None = None,
    jobs: int = 1,
    target: str | None = None,
    params: dict[str, str] | None = None,
    source: Path = SOLUTIONS,
    build: Path = BUILD,
    progress: bool = True,
    report: bool = True,
) -> list[NotebookResult]:
    """Run the selected notebooks; return one result each (the report is written too)."""
    params = dict(params or {})
    if target:
        config.settings(target=target)  # validates the name
        params.setdefault("target", target)
    selected = select(names, source)
    if not selected:
        raise BadInput(f"no notebooks to run in {source}")
    per_notebook = plan_parameters(selected, params, source)
    jobs = max(1, min(jobs, len(selected)))
    base_run = str(params.get("run_id") or config.run_id())
    build.mkdir(parents=True, exist_ok=True)
    import tempfile

    sockets = tempfile.TemporaryDirectory(prefix="workshop-kernels-")
    with _local_aws_for_run(target), sockets:
        results = [NotebookResult(s.number, s.notebook) for s in selected]
        bar = _progress(len(results), progress)
        lock = threading.Lock()

        def one(i: int) -> NotebookResult:
            stage, result = selected[i], results[i]
            nb_params = dict(per_notebook[stage.notebook])
            if jobs > 1 and "run_id" in declared_parameters(source / stage.notebook):
                nb_params["run_id"] = f"{base_run}-s{stage.number:02d}"[:20]
            result.run_id = str(nb_params.get("run_id", base_run))
            _execute(source / stage.notebook, build / stage.notebook, nb_params, result, Path(sockets.name))
            with lock:
                bar.update(1)
                bar.set_postfix_str(f"{stage.notebook} {result.status}")
            return result

        with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, range(len(results))))
        bar.close()
    if report:
        from . import report as report_mod

        report_mod.write(results, build / "report.html")
    return results


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="course", unit="nb", disable=not enabled, leave=True)


def _execute(src: Path, dest: Path, parameters: dict, result: NotebookResult, sockets: Path) -> None:
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.WARNING)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(src), str(dest), parameters=parameters, cwd=str(NOTEBOOKS if NOTEBOOKS.exists() else src.parent),
            progress_bar=False, log_output=False, kernel_name="python3", config=_kernel_config(sockets),
        )
        result.status = "passed"
    except PapermillExecutionError as exc:
        result.status = "failed"
        result.error = _three_lines(src.name, exc, dest)
    except Exception as exc:  # kernel died, notebook unreadable, ...
        result.status = "failed"
        result.error = f"✗ {src.name}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    result.duration_s = time.perf_counter() - start
    result.output = dest
    if dest.exists():
        nb = nbformat.read(dest, as_version=4)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("papermill", {})
            result.slowest_cell_s = max(result.slowest_cell_s, float(meta.get("duration") or 0))
            for out in cell.get("outputs", []):
                png = out.get("data", {}).get("image/png")
                if png:
                    result.images.append(png if isinstance(png, str) else "".join(png))


def _kernel_config(sockets: Path):
    """Kernels talk over local sockets (IPC) in a private folder: no TCP port, no 'unencrypted' warning."""
    import uuid

    from traitlets.config import Config

    c = Config()
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = str(sockets / f"kernel-{uuid.uuid4().hex[:8]}")
    return c


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _three_lines(name: str, exc, dest: Path) -> str:
    first = next((line for line in (exc.source or "").splitlines() if line.strip() and not line.startswith("#")), "")
    message = _ANSI.sub("", str(exc.evalue)).strip().splitlines()
    return (
        f"✗ {name}: cell {exc.cell_index} (In [{exc.exec_count}]) failed: {first.strip()[:100]}\n"
        f"  {exc.ename}: {message[0] if message else ''}\n"
        f"  full traceback: {dest}"
    )


class _local_aws_for_run:
    """Use the running local AWS, or start one (its own process) for the run's kernels."""

    def __init__(self, target: str | None):
        self.target = target
        self.server = None
        self.saved: dict[str, str | None] = {}

    def __enter__(self):
        if not config.settings(target=self.target).is_local:
            self._set("WORKSHOP_TARGET", "aws")
            return self
        from .localaws import discover

        self._set("WORKSHOP_TARGET", "local")
        if config.settings().endpoint and discover.health(config.settings().endpoint):
            return self
        state = discover.running()
        if state:
            self._set("WORKSHOP_ENDPOINT", state["endpoint"])
            return self
        import tempfile

        from .localaws import process

        self.tmp = tempfile.TemporaryDirectory(prefix="workshop-run-")
        tmp = Path(self.tmp.name)
        self.server, state = process.spawn(0, tmp / "state.json", tmp / "local-aws.log")
        self._set("WORKSHOP_ENDPOINT", state["endpoint"])
        return self

    def _set(self, key: str, value: str) -> None:
        self.saved.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def __exit__(self, *exc):
        if self.server is not None:
            from .localaws import process

            process.stop(self.server)
            self.tmp.cleanup()
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        return False


def summary(results: list[NotebookResult]) -> str:
    """A plain-text table: notebook, status, seconds, slowest cell; then each failure's 3 lines."""
    width = max([len(r.notebook) for r in results] + [8])
    lines = [f"{'notebook':<{width}}  status   seconds  slowest cell"]
    for r in results:
        lines.append(f"{r.notebook:<{width}}  {r.status:<7}  {r.duration_s:7.1f}  {r.slowest_cell_s:6.2f} s")
    passed = sum(r.status == "passed" for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    for r in results:
        if r.error:
            lines.append(r.error)
    return "\n".join(lines)
