"""The Locust process: started on its own, in its own process group, tied to its owner.

Locust runs on gevent, which monkey-patches the process it loads in; a Jupyter kernel's
event loop and the kit's threads must never see that, so Locust always runs in a child
process (`python -m workshop.traffic._launch`), never imported here. The child:

- leads its own process group (`start_new_session`): `stop()` signals the whole group, so
  nothing Locust starts outlives it, and a terminal's Ctrl-C reaches only the runner, which
  then stops the group at once (SIGTERM, SIGKILL after `grace` s);
- dies with its owner: PR_SET_PDEATHSIG when the owner is the caller's main thread (Linux, at
  once, even after SIGKILL), and the locustfile checks every 0.5 s that its parent is still the
  owner (any POSIX system, any thread); in any case Locust's own `-t` ends it at its duration;
- is told everything on its command line: no LOCUST_* variable of the learner's applies, and
  it runs in the run's folder with HOME there, so no locust.conf or ~/.locust.conf does either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import config

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PREFIX = "locust"  # Locust's CSV files: locust_stats.csv, locust_stats_history.csv, locust_failures.csv, ...


@dataclass
class LocustProcess:
    proc: subprocess.Popen
    folder: Path
    log: Path
    started: float  # time.monotonic() when started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def files(self) -> dict[str, Path]:
        return {"stats": self.folder / f"{PREFIX}_stats.csv", "history": self.folder / f"{PREFIX}_stats_history.csv",
                "failures": self.folder / f"{PREFIX}_failures.csv", "spread": self.folder / "spread.json",
                "final": self.folder / "final.json",
                "log": self.log}

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 2.0) -> int | None:
        """SIGTERM the process group (Locust writes its last stats), SIGKILL it after `grace` s; the exit code."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                continue
            try:  # the leader is gone; anything left in its group goes too
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            break
        try:
            return self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            return None


def command(host: str, users: int, spawn_rate: float, duration_s: int, folder: Path, behaviour_argv: list[str],
            owner_pid: int, die_with_parent: bool, host_header: str | None = None) -> list[str]:
    launch = [sys.executable, "-m", "workshop.traffic._launch", "--owner-pid", str(owner_pid)]
    if die_with_parent:
        launch.append("--die-with-parent")
    return [*launch, "--", "-f", str(LOCUSTFILE), "--headless", "--host", host,
            "-u", str(users), "-r", f"{spawn_rate:g}", "-t", f"{duration_s}s", "--stop-timeout", "2",
            "--csv", str(folder / PREFIX), "--csv-full-history", "--only-summary", "--loglevel", "WARNING",
            "--wl-spread", str(folder / "spread.json"), "--wl-owner-pid", str(owner_pid), *behaviour_argv,
            *(["--wl-host-header", host_header] if host_header else [])]


def start(host: str, users: int, spawn_rate: float, duration_s: int, folder: Path, behaviour_argv: list[str],
          host_header: str | None = None) -> LocustProcess:
    """Start Locust against `host` (already allowed) writing into `folder`; owned by this process. With
    `host_header` every request carries `Host: <it>` (a Route 53 record's name, through the local edge)."""
    folder.mkdir(parents=True, exist_ok=True)
    owner = os.getpid()
    main_thread = threading.current_thread() is threading.main_thread()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env["HOME"] = str(folder)
    # the same kit as ours (a worktree, a checkout not installed): its root first on the path
    env["PYTHONPATH"] = os.pathsep.join([str(config.ROOT), *filter(None, [env.get("PYTHONPATH")])])
    log = folder / "locust.log"
    cmd = command(host, users, spawn_rate, duration_s, folder, behaviour_argv, owner, main_thread, host_header)
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return LocustProcess(proc, folder, log, time.monotonic())
