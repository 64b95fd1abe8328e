"""Processes by id: is this PID still the process we recorded, and dying with an owner.

A PID alone names a process only while it lives: after a crash or a reboot the same
number can belong to anything. So the kit records a PID with its start time (field 22 of
`/proc/<pid>/stat` on Linux, `ps -o lstart=` elsewhere) and signals it only while both
match and its command line is the local AWS's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

#: what the local AWS's command line contains (`python -m workshop.localaws ...`)
MARKER = "-m workshop.localaws"


def start_time(pid: int) -> str | None:
    """When `pid` started, as an opaque token that differs between two processes with the
    same PID; None if there is no such process (or it has exited and is a zombie)."""
    stat = _proc_stat(pid)
    if stat is not None:
        return None if stat[0] == "Z" else stat[19]  # state is field 3, starttime field 22
    if Path("/proc/self/stat").exists():
        return None
    out = _ps(pid, "stat=,lstart=")
    if not out or out.split()[0].startswith("Z"):
        return None
    return " ".join(out.split()[1:])


def cmdline(pid: int) -> str:
    """The command line of `pid` ('' if it is gone or unreadable)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return _ps(pid, "command=") if not Path("/proc/self").exists() else ""


def alive(pid: int | None) -> bool:
    """Does `pid` name a running (not zombie) process?"""
    return bool(pid) and start_time(int(pid)) is not None


def same(pid: int | None, started: str | None) -> bool:
    """Is `pid` still the process that started at `started` (see `start_time`)?"""
    return bool(pid and started) and start_time(int(pid)) == started


def is_local_aws(pid: int | None, started: str | None) -> bool:
    """Is `pid` the kit's local AWS that was recorded as started at `started`?"""
    return same(pid, started) and MARKER in cmdline(int(pid))


def reap(pid: int) -> None:
    """Collect `pid`'s exit status if it is a child of ours (no zombie left behind)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send `sig` to this process when its parent dies (prctl PR_SET_PDEATHSIG).

    The kernel sends it when the *thread* that forked us exits, so the owner must start us
    from a thread that lives as long as it does (its main thread). False where unsupported.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(sig), 0, 0, 0) == 0  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return False


def watch_owner(owner: int, on_death: Callable[[], None], interval: float = 0.5) -> bool:
    """Call `on_death()` (once, from a daemon thread) when process `owner` is gone.

    Works everywhere (it polls), and also when `owner` was our parent and died between our
    fork and this call: then we have been re-parented and `owner` is gone or a zombie.
    Returns False (and calls nothing) if `owner` is already gone.
    """
    started = start_time(owner)
    was_parent = os.getppid() == owner
    if started is None:
        return False

    def gone() -> bool:
        return (was_parent and os.getppid() != owner) or not same(owner, started)

    def loop() -> None:
        while not gone():
            time.sleep(interval)
        on_death()

    threading.Thread(target=loop, name=f"owner-{owner}-watch", daemon=True).start()
    return True


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (after the command name, which may hold spaces)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return raw[raw.rfind(")") + 2:].split()


def _ps(pid: int, fields: str) -> str:
    try:
        return subprocess.run(["ps", "-p", str(pid), "-o", fields], capture_output=True, text=True,
                              timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
