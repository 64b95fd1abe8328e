"""`workshop up` / `workshop down`: the local AWS in a background process the kit owns.

Each one `workshop up` starts is recorded in `<home>/local-aws/<port>.json` with its PID and
that PID's start time; `down` signals a PID only while it is still that local AWS, and
removes a record that names anything else. A local AWS that is alive but slow to answer is
waited for, never replaced. One that `spawn` starts for a caller (`workshop run`) exits
when its owner dies, however it dies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import WorkshopError
from . import discover, pids
from .server import PortBusy

DEFAULT_PORT = discover.DEFAULT_PORT

#: `spawn(owner_pid=CALLER)`: the process calling `spawn` owns the server
CALLER = -1


def up(port: int | None = None, timeout: float = 30.0, wait: float = 15.0,
       say: Callable[[str], None] | None = None) -> dict:
    """Start the local AWS in the background (or return the running one's state).

    A recorded local AWS that is alive but does not answer is waited for (up to `wait` s,
    telling `say`) and never replaced; stale records are removed (telling `say`).
    """
    say = say or (lambda line: None)
    state = discover.running() or _recorded_alive(wait, say)
    if state:
        if port and state.get("port") != port:
            raise WorkshopError(
                f"a local AWS is already running at {state['endpoint']}; run 'workshop down' first to move it to port {port}"
            )
        return {**state, "already_running": True}
    for attempt in range(3):
        chosen = port or DEFAULT_PORT
        if port is None and (attempt or _busy(chosen)):
            chosen = _free_port()  # the default is taken: pick any free port
        elif port is not None and _busy(port):
            raise PortBusy("127.0.0.1", port)
        path = discover.state_file(chosen)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        try:
            _, state = spawn(chosen, path, discover.log_file(chosen), timeout, owner_pid=None)
            return state
        except PortBusy:  # another program took the free port first: try another
            if port is not None or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _recorded_alive(wait: float, say: Callable[[str], None]) -> dict | None:
    """A recorded local AWS that is still the kit's but did not answer: wait for it to answer.

    Returns its state once it answers, None if no record names a live local AWS (stale
    records are removed); raises if it is alive but still silent after `wait` seconds.
    """
    for state in discover.records():
        if not discover.is_kit_server(state):
            Path(state["state_file"]).unlink(missing_ok=True)
            say(_stale(state))
            continue
        say(f"waiting for the local AWS at {state['endpoint']} (pid {state['pid']}) to answer")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and discover.is_kit_server(state):
            if discover.answers(state, timeout=min(2.0, max(0.1, deadline - time.monotonic()))):
                return state
            time.sleep(0.2)
        if discover.is_kit_server(state):
            raise WorkshopError(
                f"the local AWS at {state['endpoint']} (pid {state['pid']}) is running but has not answered "
                f"for {wait:g} s; see {discover.log_file(state.get('port', DEFAULT_PORT))}, or replace it: "
                "workshop down && workshop up"
            )
        Path(state["state_file"]).unlink(missing_ok=True)  # it exited while we waited
    return None


def spawn(port: int, state_path: Path, log_path: Path, timeout: float = 30.0, owner_pid: int | None = CALLER):
    """Start a local AWS process on `port` (0: any free one); return (process, state) once it answers.

    It exits when process `owner_pid` dies, however it dies (default: the caller; at once
    on Linux when the caller's main thread spawns it, see `pids.die_with_parent`, else
    within a second); with `owner_pid=None` it runs until stopped (`workshop up`).
    It gets no AWS_* variables: the learner's profiles and keys can neither break moto
    (which opens a boto3 Session of its own) nor leak into Lambda handlers.
    """
    owner = os.getpid() if owner_pid == CALLER else owner_pid
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(MOTO_IAM_LOAD_MANAGED_POLICIES="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    cmd = [sys.executable, "-m", "workshop.localaws", "--port", str(port), "--state", str(state_path)]
    if owner:
        cmd += ["--owner-pid", str(owner)]
        if owner == os.getpid() and threading.current_thread() is threading.main_thread():
            cmd.append("--die-with-parent")  # safe: the forking thread lives as long as the owner
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if proc.returncode == 2 and port:
                raise PortBusy("127.0.0.1", port)
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
    proc.wait()
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


def down(timeout: float = 10.0) -> list[dict]:
    """Stop every local AWS `workshop up` recorded; returns their records, each with an
    `outcome`: "stopped", or "stale" when its PID is no longer that local AWS (then the PID
    is not signalled, only the record removed)."""
    done = []
    for state in discover.records():
        pid, started = state.get("pid"), state.get("proc_start")
        if discover.is_kit_server(state):
            _terminate(pid, started, timeout)
            outcome = "stopped"
        else:
            outcome = "stale"
        Path(state["state_file"]).unlink(missing_ok=True)
        done.append({**state, "outcome": outcome})
    return done


def describe(state: dict) -> str:
    """One line for what `down` did with a record."""
    if state["outcome"] == "stale":
        return _stale(state)
    return f"local AWS at {state['endpoint']} stopped"


def _stale(state: dict) -> str:
    return f"a stale record of a local AWS (pid {state.get('pid')} is not it) was removed"


def _terminate(pid: int, started: str, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout`, the process `pid` that started at `started` (only it)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not pids.same(pid, started):
            break
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids.reap(pid)  # a server this process started (tests) would linger as a zombie
            if not pids.same(pid, started):
                break
            time.sleep(0.05)
    pids.reap(pid)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
