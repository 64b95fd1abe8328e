"""The local AWS's process under faults: owners killed, stale records, a stalled server, a proxy.

Each test runs the kit in its own WORKSHOP_HOME (a temp folder that every local AWS it
starts names on its command line) and ends by proving none of them is left running.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workshop import config
from workshop.localaws import discover, pids

pytestmark = [pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="scans /proc"), pytest.mark.slow]

OWNER = """
import sys, time
from pathlib import Path
from workshop.localaws import process
tmp = Path(sys.argv[1])
proc, state = process.spawn(0, tmp / "state.json", tmp / "local-aws.log")
print(proc.pid, flush=True)
time.sleep(120)
"""

HASTY_OWNER = """
import os, subprocess, sys
subprocess.Popen([sys.executable, "-m", "workshop.localaws", "--owner-pid", str(os.getpid()),
                  "--state", sys.argv[1] + "/state.json"], start_new_session=True)
os._exit(0)
"""


def servers(marker: str) -> list[int]:
    """PIDs of live local AWS processes whose command line names `marker` (the test's temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if pids.MARKER in cmd and marker in cmd and pids.alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pids.alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def home(tmp_path):
    """A private WORKSHOP_HOME; at the end, `workshop down` there and no local AWS of this test is left."""
    env = {**os.environ, "WORKSHOP_HOME": str(tmp_path)}
    env.pop("WORKSHOP_ENDPOINT", None)
    yield tmp_path, env
    workshop(env, "down")
    left = [pid for pid in servers(str(tmp_path)) if not gone_within(pid, 5)]
    for pid in left:
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)
    assert left == [], "orphaned local AWS processes"


def workshop(env: dict, *argv: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop", *argv], cwd=config.ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_spawned_server_dies_with_its_owner(home, sig):
    """The local AWS a process spawns (as `workshop run` does) exits within seconds when that process is killed."""
    tmp, env = home
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        server = int(owner.stdout.readline())
        assert servers(str(tmp)) == [server]
        os.kill(owner.pid, sig)
        owner.wait(timeout=10)
        assert gone_within(server, 5), f"the server outlived its owner killed by {sig.name}"
    finally:
        owner.kill()
        owner.wait()


def test_a_server_whose_owner_died_before_it_started_never_serves(home):
    """An owner that exits right after starting the server (the re-parenting race): the server quits, no record."""
    tmp, env = home
    subprocess.run([sys.executable, "-c", HASTY_OWNER, str(tmp)], env=env, check=True, timeout=30)
    deadline = time.monotonic() + 15
    while servers(str(tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert servers(str(tmp)) == [] and not (tmp / "state.json").exists()


def test_down_never_signals_a_process_that_is_not_the_local_aws(home):
    """A record naming another live process (after a crash, a reboot): `down` leaves it alone, removes the record."""
    tmp, env = home
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        record = f"{discover.DEFAULT_PORT}.json"
        (tmp / "local-aws").mkdir()
        (tmp / "local-aws" / record).write_text(
            f'{{"pid": {sleeper.pid}, "proc_start": "{pids.start_time(sleeper.pid)}", '
            f'"endpoint": "http://127.0.0.1:{discover.DEFAULT_PORT}", "port": {discover.DEFAULT_PORT}}}')
        done = workshop(env, "down")
        assert done.returncode == 0 and done.stderr == ""
        assert lines(done.stdout) == [f"a stale record of a local AWS (pid {sleeper.pid} is not it) was removed"]
        assert sleeper.poll() is None and not (tmp / "local-aws" / record).exists()
        again = workshop(env, "down")
        assert lines(again.stdout) == ["no local AWS was running"]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stalled_server_is_waited_for_and_reported_never_replaced(home):
    """A local AWS that stops answering (SIGSTOP): `up` waits, says so in one line; after SIGCONT, `up` finds it."""
    tmp, env = home
    started = workshop(env, "up")
    assert started.returncode == 0, started.stderr
    (pid,) = servers(str(tmp))
    os.kill(pid, signal.SIGSTOP)
    try:
        stuck = workshop(env, "up", "--wait", "2")
        assert stuck.returncode == 2
        assert lines(stuck.stdout) == [line for line in lines(stuck.stdout) if "waiting for the local AWS" in line]
        assert f"(pid {pid}) to answer" in stuck.stdout
        assert len(lines(stuck.stderr)) == 1 and f"(pid {pid}) is running but has not answered" in stuck.stderr
        assert servers(str(tmp)) == [pid], "a second local AWS was started"
        threading.Timer(1.5, os.kill, (pid, signal.SIGCONT)).start()
        slow = workshop(env, "up", "--wait", "30")
        assert slow.returncode == 0, slow.stderr
        assert "local AWS already running at" in slow.stdout and f"(pid {pid})" in slow.stdout
        assert servers(str(tmp)) == [pid]
    finally:
        os.kill(pid, signal.SIGCONT)
    endpoint = re.search(r"started at (\S+) ", started.stdout).group(1)
    stopped = workshop(env, "down")
    assert lines(stopped.stdout) == [f"local AWS at {endpoint} stopped"]


def test_a_proxy_in_the_environment_is_not_used_for_the_local_aws(home):
    """HTTP(S)_PROXY/ALL_PROXY set to a dead port and no NO_PROXY: up, status, the client factory and down all work."""
    _, env = home
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {k: v for k, v in env.items() if k.lower() != "no_proxy"}
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, ALL_PROXY=dead, http_proxy=dead, https_proxy=dead)
    started = workshop(env, "up")
    assert started.returncode == 0 and "local AWS started at" in started.stdout, started.stderr
    status = workshop(env, "status")
    assert status.returncode == 0 and lines(status.stdout)[0].endswith("— up"), status.stdout + status.stderr
    code = "from workshop import aws; print(aws.client('sts').get_caller_identity()['Account'])"
    sts = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    assert sts.stdout.strip() == config.LOCAL_ACCOUNT, sts.stderr
    stopped = workshop(env, "down")
    assert len(lines(stopped.stdout)) == 1 and lines(stopped.stdout)[0].endswith(" stopped")
