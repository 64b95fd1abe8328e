"""Runs and teardowns under faults: the server killed mid-run, Ctrl-C of a run and of a teardown,
two runs on one server. Each asserts nothing is lost, nothing is orphaned, and the message is one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from workshop import aws, config, runner
from workshop.localaws import process

from kit_processes import kit_processes as _kit_processes

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="scans /proc")]


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('run_id: str = "demo"  # run id\ntarget: str = "auto"  # target')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# 00 test"), params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


START = "from workshop import notebook\nws = notebook.start(stage=0, run_id=run_id)"


def _kernels_of(pid: int) -> list[int]:
    """Live kernel processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"ipykernel" in cmd and " Z " not in stat:
                found.append(int(entry.name))
    return found


def _wait(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def test_the_server_killed_mid_run_fails_the_notebook_in_one_line(tmp_path, monkeypatch):
    """kill -9 of the run's local AWS: the notebook fails with 'not answering', the run reports it, nothing is left."""
    monkeypatch.delenv("WORKSHOP_ENDPOINT", raising=False)
    before = set(_kit_processes())
    src = tmp_path / "src"
    src.mkdir()
    _notebook(src / "00_welcome.ipynb", START,
              "import json, os, signal, urllib.request\n"
              "pid = json.load(urllib.request.urlopen(ws.target.endpoint + '/_workshop/health'))['pid']\n"
              "os.kill(pid, signal.SIGKILL)",
              "import time\ntime.sleep(0.5)\nws.client('s3').list_buckets()")
    (r,) = runner.run_course(["0"], source=src, build=tmp_path / "b", progress=False)
    assert r.status == "failed"
    assert len(r.error.splitlines()) == 3 and "LocalAWSDown: the local AWS at http://127.0.0.1:" in r.error
    assert _wait(lambda: not (set(_kit_processes()) - before)) and not _kernels_of(os.getpid())


RUN_SCRIPT = """
import sys
from pathlib import Path
from workshop import cli, runner
runner.SOLUTIONS = Path(sys.argv[1])
sys.exit(cli.main(["run", "0", "--no-progress", "--build", sys.argv[2]]))
"""


def test_ctrl_c_of_a_run_stops_its_kernel_and_its_server(tmp_path):
    """Ctrl-C during a notebook: `workshop: interrupted` (exit 130); its kernel and its local AWS are gone."""
    src = tmp_path / "src"
    src.mkdir()
    _notebook(src / "00_welcome.ipynb", START, f"open({str(tmp_path / 'started')!r}, 'w').close()\n"
              "import time\ntime.sleep(120)")
    before = set(_kit_processes())
    env = {k: v for k, v in os.environ.items() if k != "WORKSHOP_ENDPOINT"}
    proc = subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, str(src), str(tmp_path / "b")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert _wait(lambda: (tmp_path / "started").exists(), timeout=60), "the notebook never started"
        kernels = _kernels_of(proc.pid)
        servers = set(_kit_processes()) - before
        assert kernels and servers
        os.kill(proc.pid, signal.SIGINT)  # the runner alone: it must stop its kernels itself
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == "workshop: interrupted"
    assert _wait(lambda: not (set(_kit_processes()) & servers))
    assert _wait(lambda: not any(Path(f"/proc/{k}").exists() for k in kernels))


def test_ctrl_c_of_a_teardown_loses_nothing_and_a_second_one_finishes(tmp_path, monkeypatch):
    """Ctrl-C during `workshop teardown --yes` exits 130 in one line; run again, it finishes and nothing remains."""
    from course_resources import create_all

    home = tmp_path / "home"
    monkeypatch.setenv("WORKSHOP_HOME", str(home))
    monkeypatch.delenv("WORKSHOP_ENDPOINT", raising=False)
    state = process.up()
    try:
        with config.using(config.target(endpoint=state["endpoint"], home=home)):
            create_all("intr", 5)
        env = {**os.environ, "WORKSHOP_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "workshop", "teardown", "--yes"], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen = ""
        deadline = time.monotonic() + 60
        while "Tearing down" not in seen and time.monotonic() < deadline and proc.poll() is None:
            seen += proc.stdout.readline()  # the teardown has started deleting once it says so
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        out = seen + out
        # 130: interrupted mid-way, one line; 0 or -SIGINT: it had finished before the signal landed
        assert proc.returncode in (0, 130, -signal.SIGINT), out + err
        if proc.returncode == 130:
            assert err.strip().splitlines() == ["workshop: interrupted"]
        again = subprocess.run([sys.executable, "-m", "workshop", "teardown", "--yes"], env=env, text=True,
                               capture_output=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "nothing: the course has left nothing behind" in again.stdout
    finally:
        process.down()


def test_two_runs_on_one_server_share_nothing(tmp_path, monkeypatch):
    """Two runs attached to one local AWS at once: both pass, each under its own run id and folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("WORKSHOP_HOME", str(home))
    monkeypatch.delenv("WORKSHOP_ENDPOINT", raising=False)
    state = process.up()
    try:
        src = tmp_path / "src"
        src.mkdir()
        _notebook(src / "00_welcome.ipynb", START, "ws.client('s3').create_bucket(Bucket=ws.name('mark'))")
        results: list = []
        target = config.target(home=home)
        threads = [threading.Thread(target=lambda: results.extend(runner.run_course(
            ["0"], source=src, build=tmp_path / "b", progress=False, attach=True, target=target, echo=lambda s: None)))
            for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert [r.status for r in results] == ["passed", "passed"], [r.error for r in results]
        assert results[0].run_id != results[1].run_id and results[0].output.parent != results[1].output.parent
        s3 = aws.client("s3", target=config.target(endpoint=state["endpoint"]))
        assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == sorted(f"sbs-{r.run_id}-mark" for r in results)
    finally:
        process.down()
