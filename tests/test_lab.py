"""`workshop lab`: JupyterLab on notebooks/ with a local AWS up that every notebook shares."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from workshop import config

pytestmark = pytest.mark.slow  # builds stages or starts processes: make test, not make check


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_serves_the_learner_notebooks_with_a_local_aws_up(tmp_path):
    """`workshop lab` starts the local AWS, then a JupyterLab (also as root) that lists notebooks/."""
    port = _free_port()
    env = {**os.environ, "WORKSHOP_HOME": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    env.pop("WORKSHOP_ENDPOINT", None)
    log = open(tmp_path / "lab.log", "w")
    lab = subprocess.Popen([sys.executable, "-m", "workshop", "lab", "--no-browser", "--port", str(port)],
                           cwd=config.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        names, deadline = None, time.monotonic() + 90
        while names is None and time.monotonic() < deadline and lab.poll() is None:
            time.sleep(0.5)
            token = re.search(r"token=([0-9a-f]+)", (tmp_path / "lab.log").read_text())
            if not token:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token.group(1)}", timeout=2) as r:
                    names = {c["name"] for c in json.loads(r.read())["content"]}
            except OSError:
                pass
        assert names is not None, (tmp_path / "lab.log").read_text()[-1500:]
        assert {p.name for p in (config.ROOT / "notebooks").glob("*.ipynb")} <= names
        state = json.loads(next((tmp_path / "local-aws").glob("*.json")).read_text())
        with urllib.request.urlopen(f"{state['endpoint']}/_workshop/health", timeout=2) as r:
            assert json.loads(r.read())["service"] == "workshop-local-aws"
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
        subprocess.run([sys.executable, "-m", "workshop", "down"], cwd=config.ROOT, env=env, capture_output=True)
