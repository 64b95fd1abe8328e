"""`workshop up` / `workshop down`: the local AWS in a background process the kit owns."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    discover.state_file().parent.mkdir(parents=True, exist_ok=True)
    discover.state_file().unlink(missing_ok=True)
    _, state = spawn(chosen, discover.state_file(), discover.log_file(), timeout)
    return state


def spawn(port: int, state_path: Path, log_path: Path, timeout: float = 30.0):
    """Start a local AWS process on `port` (0: any free one); return (process, state) once it answers.

    The process gets no AWS_* variables: the learner's profiles and keys can neither
    break moto (which opens a boto3 Session of its own) nor leak into Lambda handlers.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(MOTO_IAM_LOAD_MANAGED_POLICIES="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workshop.localaws", "--port", str(port), "--state", str(state_path)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = Path(log_path).read_text(errors="replace").strip().splitlines()[-1:] or ["(no log)"]
            raise WorkshopError(f"the local AWS did not start: {tail[0]}")
        try:
            state = json.loads(Path(state_path).read_text())
        except (OSError, ValueError):
            state = None
        if state and state.get("pid") == proc.pid and discover.health(state["endpoint"]):
            return proc, state
        time.sleep(0.05)
    proc.kill()
    raise WorkshopError(f"the local AWS did not answer within {timeout:.0f} s; see {log_path}")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a local AWS process started by `spawn`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
