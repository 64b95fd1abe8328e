"""`workshop up` / `workshop down`: the local AWS in a background process the kit owns."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from . import discover
from ..errors import WorkshopError
from .server import PortBusy

DEFAULT_PORT = 4599


def up(port: int | None = None, timeout: float = 30.0) -> dict:
    """Start the local AWS in the background (or return the running one's state)."""
    state = discover.running()
    if state:
        if port and state.get("port") != port:
            raise WorkshopError(
                f"a local AWS is already running at {state['endpoint']}; run 'workshop down' first to move it to port {port}"
            )
        return {**state, "already_running": True}
    chosen = port or DEFAULT_PORT
    if port is None and _busy(chosen):
        chosen = 0  # the default is taken: pick any free port
    elif port is not None and _busy(port):
        raise PortBusy("127.0.0.1", port)
    home = discover.state_file().parent
    home.mkdir(parents=True, exist_ok=True)
    discover.state_file().unlink(missing_ok=True)
    log = open(discover.log_file(), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workshop.localaws", "--port", str(chosen), "--state", str(discover.state_file())],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = discover.log_file().read_text(errors="replace").strip().splitlines()[-1:] or ["(no log)"]
            raise WorkshopError(f"the local AWS did not start: {tail[0]}")
        state = discover.running()
        if state and state.get("pid") == proc.pid:
            return state
        time.sleep(0.1)
    proc.kill()
    raise WorkshopError(f"the local AWS did not answer within {timeout:.0f} s; see {discover.log_file()}")


def down(timeout: float = 10.0) -> dict | None:
    """Stop the background local AWS; returns its last state, or None if none was running."""
    path = discover.state_file()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
