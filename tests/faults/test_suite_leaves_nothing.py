"""The suite's own last check: a kit process a test leaves running fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workshop import config

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="scans /proc")]

LEAKY = '''
from workshop.localaws import process

def test_leaks_a_local_aws(tmp_path):
    """Starts a local AWS that outlives its owner and never stops it."""
    proc, state = process.spawn(0, tmp_path / "state.json", tmp_path / "log", owner_pid=None)
    (tmp_path.parent / "leaked.pid").write_text(str(proc.pid))
'''


def test_a_leaked_local_aws_fails_the_run(tmp_path):
    """A suite whose test leaves a local AWS running exits 1 and names the process."""
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # tests/: its conftest
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                           "--basetemp", str(tmp_path / "t"), str(tmp_path / "test_leaky.py")],
                          capture_output=True, text=True, env=env, cwd=config.ROOT, timeout=120)
    leaked = int(next((tmp_path / "t").rglob("leaked.pid")).read_text())
    try:
        assert done.returncode == 1, done.stdout[-2000:]
        assert "1 kit process(es) the suite started are still running" in done.stdout
        assert f"pid {leaked}: " in done.stdout and "-m workshop.localaws" in done.stdout
    finally:
        os.kill(leaked, 9)
