"""`workshop run`: execute the course's notebooks headless with papermill.

One run, one world:
- **its own local AWS.** On the local target a run starts a private local AWS for itself
  (it dies with the run, however the run dies) unless it is told to attach: `--attach`
  uses the one `workshop up` started, and a target that names an endpoint uses that one.
- **its own run id.** The run id gets a short random suffix (`demo-3f9a`), so two runs on
  one server never share a resource; with `--jobs N` each notebook gets its own
  (`demo-3f9a-s04`). `run_id=` reuses an exact run id, to run the same run again.
- **its own folder.** Executed notebooks and the run's `report.html` go to
  `<build>/runs/<run id>/`; `<build>/report.html` indexes the runs, the latest first.
- **a teardown that tells the truth.** The teardown notebook (stage 99) runs last and alone,
  after every other notebook finished, over every run id of the run, and its "nothing
  remains" is a scan of the whole account.

Notebooks run in stage order, or `--jobs N` at a time (each stands alone). The kernels get
the target through their environment (the kernel is a new process: this is its edge).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import re
import secrets
import tempfile
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
    checks: list[str] = field(default_factory=list)  # the behaviour checks' lines (ws.verify()): ✓/~/✗ name: …
    capacity: str = ""  # the stage's capacity line, as the notebook printed it
    html: Path | None = None  # the executed notebook rendered as HTML


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


@dataclass
class Run:
    """One `workshop run`: its id, where it writes, and which local AWS it used."""

    run_id: str
    folder: Path
    learner: bool = False
    endpoint: str | None = None
    attached: str | None = None  # who started the local AWS the run attached to, if it did
    started: float = field(default_factory=time.time)
    results: list[NotebookResult] = field(default_factory=list)


def new_run_id(base: str) -> str:
    """`base` plus a short random suffix, at most 15 characters (room for `-sNN` per notebook)."""
    return f"{base[:10].rstrip('-')}-{secrets.token_hex(2)}"


def run_course(
    names: list[str] | None = None,
    jobs: int = 1,
    target: config.Target | str | None = None,
    params: dict[str, str] | None = None,
    source: Path = SOLUTIONS,
    build: Path = BUILD,
    progress: bool = True,
    report: bool = True,
    attach: bool = False,
    run_id: str | None = None,
    echo=print,
) -> list[NotebookResult]:
    """Run the selected notebooks; return one result each (the run's report and the index are written too)."""
    params = dict(params or {})
    chosen = _target(target)
    params.setdefault("target", chosen.kind)
    selected = select(names, source)
    if not selected:
        raise BadInput(f"no notebooks to run in {source}")
    per_notebook = plan_parameters(selected, params, source)
    if run_id is None:
        run_id = new_run_id(str(params.get("run_id") or chosen.run_id))
    chosen = chosen.replace(run_id=run_id)
    run = Run(run_id, build / "runs" / run_id, learner=source.resolve() == NOTEBOOKS.resolve())
    run.folder.mkdir(parents=True, exist_ok=True)
    building = [s for s in selected if not s.tears_down]
    teardown = [s for s in selected if s.tears_down]
    jobs = max(1, min(jobs, len(building) or 1))
    with tempfile.TemporaryDirectory(prefix="workshop-kernels-") as sockets, _LocalAWSForRun(chosen, attach) as aws_for_run:
        run.endpoint, run.attached = aws_for_run.endpoint, aws_for_run.attached
        if run.attached:
            echo(f"attached to the local AWS at {run.endpoint} ({run.attached})")
        kernel_env = aws_for_run.kernel_env()
        kernels: list = []  # the run's kernel managers, to interrupt them if the run is interrupted
        results = {s.number: NotebookResult(s.number, s.notebook) for s in selected}
        bar = _progress(len(results), progress)
        lock = threading.Lock()

        def one(stage: stages.Stage, notebook_run_id: str) -> NotebookResult:
            result = results[stage.number]
            nb_params = dict(per_notebook[stage.notebook])
            if "run_id" in declared_parameters(source / stage.notebook):
                nb_params["run_id"] = notebook_run_id
            result.run_id = notebook_run_id
            _execute(source / stage.notebook, run.folder / stage.notebook, nb_params, result, Path(sockets),
                     _kernel_manager_with(kernel_env, kernels))
            with lock:
                bar.update(1)
                bar.set_postfix_str(f"{stage.notebook} {result.status}")
            return result

        def own_id(stage: stages.Stage) -> str:
            return f"{run_id}-s{stage.number:02d}" if jobs > 1 else run_id

        pool = cf.ThreadPoolExecutor(max_workers=jobs)
        futures = [pool.submit(one, s, own_id(s)) for s in building]
        try:
            for future in futures:
                future.result()
            for stage in teardown:  # last and alone: every run id of the run starts with run_id
                one(stage, run_id)
        except KeyboardInterrupt:  # Ctrl-C: no new notebook starts, the running ones stop, then the server
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_kernels(kernels, futures)
            raise
        finally:
            pool.shutdown(wait=True)
            bar.close()
    run.results = [results[s.number] for s in selected]
    if report:
        from . import report as report_mod

        report_mod.write_run(run)
        report_mod.write_index(build)
    return run.results


def _target(target: config.Target | str | None) -> config.Target:
    if isinstance(target, config.Target):
        return target
    current = config.current()
    return current.replace(kind=target) if target else current


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="course", unit="nb", disable=not enabled, leave=True)


def _execute(src: Path, dest: Path, parameters: dict, result: NotebookResult, sockets: Path,
             kernel_manager_class) -> None:
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.WARNING)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(src), str(dest), parameters=parameters, cwd=str(NOTEBOOKS if NOTEBOOKS.exists() else src.parent),
            progress_bar=False, log_output=False, kernel_name="python3", config=_kernel_config(sockets),
            kernel_manager_class=kernel_manager_class,
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
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            if "ws.verify(" in cell.source:
                result.checks += [line for line in text.splitlines() if line[:1] in ("✓", "~", "✗")]
            if "capacity.summary_line(" in cell.source and text.strip():
                result.capacity = text.strip().splitlines()[-1]
            for out in cell.get("outputs", []):
                png = out.get("data", {}).get("image/png")
                if png:
                    result.images.append(png if isinstance(png, str) else "".join(png))
        result.html = _render_html(nb, dest.with_suffix(".html"))


def _render_html(nb, path: Path) -> Path | None:
    """The executed notebook as a page an instructor opens in a browser (nbconvert's lab template)."""
    try:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    except Exception as exc:  # a report without the rendering is still a report
        logging.getLogger(__name__).warning("could not render %s as HTML: %s", path.name, exc)
        return None
    path.write_text(body, encoding="utf-8")
    return path


def _kernel_manager_with(env: dict[str, str], started: list):
    """A kernel manager class whose kernels start with `env` added to this process's environment,
    each manager appended to `started`."""
    from jupyter_client.manager import AsyncKernelManager

    class _KitKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**(kw.get("env") or os.environ), **env}
            started.append(self)
            return await super()._async_pre_start_kernel(**kw)

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts a kernel before asking it to shut down; after the last cell
            # that SIGINT lands in a message handler and the kernel logs "[IPKernelApp] ERROR |
            # KeyboardInterrupt caught in kernel" in passing runs. The shutdown request alone stops
            # it (and a run's Ctrl-C signals its kernels directly: _stop_kernels).
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return _KitKernelManager


def _stop_kernels(kernels: list, futures: list, grace_s: float = 10.0) -> None:
    """Interrupt every running kernel (its cell fails, papermill shuts it down); kill what is left after `grace_s`."""
    import signal

    def pids() -> list[int]:
        found = []
        for km in kernels:
            pid = getattr(getattr(km, "provisioner", None), "pid", None)
            if pid:
                found.append(pid)
        return found

    for pid in pids():
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            pass
    cf.wait([f for f in futures if not f.cancelled()], timeout=grace_s)
    for pid in pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


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


class _LocalAWSForRun:
    """The local AWS a run's kernels use: a private one (default), or the one it attaches to."""

    def __init__(self, target: config.Target, attach: bool):
        self.target = target
        self.attach = attach
        self.endpoint: str | None = target.endpoint
        self.attached: str | None = None
        self._server = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> _LocalAWSForRun:
        if not self.target.is_local:
            return self
        from .localaws import discover, process

        if self.endpoint:
            if not discover.health(self.endpoint):
                from .errors import LocalAWSDown

                raise LocalAWSDown(self.endpoint)
            self.attached = "the endpoint the target names"
            return self
        if self.attach:
            state = discover.running(self.target.home)
            if not state:
                from .errors import LocalAWSDown

                raise LocalAWSDown(discover._recorded_endpoint(self.target.home))
            self.endpoint = state["endpoint"]
            self.attached = f"pid {state.get('pid')}, started by 'workshop up'"
            return self
        self._tmp = tempfile.TemporaryDirectory(prefix="workshop-run-")
        tmp = Path(self._tmp.name)
        # owned by this process: the run's server dies with the run, however the run dies
        self._server, state = process.spawn(0, tmp / "state.json", tmp / "local-aws.log", owner_pid=os.getpid())
        self.endpoint = state["endpoint"]
        return self

    def kernel_env(self) -> dict[str, str]:
        """What a kernel needs to build the same target at its edge (`notebook.start`)."""
        env = {"WORKSHOP_TARGET": self.target.kind, "WORKSHOP_HOME": str(self.target.home)}
        if self.target.is_local:
            env["WORKSHOP_ENDPOINT"] = self.endpoint or ""
        elif self.target.account:
            env["WORKSHOP_AWS_ACCOUNT"] = self.target.account
        return env

    def __exit__(self, *exc) -> bool:
        if self._server is not None:
            from .localaws import process

            process.stop(self._server)
        if self._tmp is not None:
            self._tmp.cleanup()
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
