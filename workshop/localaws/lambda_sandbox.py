"""What a Lambda worker process gets from the server, and how it is stopped: nothing of the
server's environment, a private /tmp, its own process group.

A web page can reach the local AWS (it listens on loopback), create a function and invoke
it, so a handler is untrusted code running as the learner. This module keeps a worker to
what AWS gives a function:

- `environment(...)`: an allow-list built from nothing (never a copy of `os.environ`): the
  variables AWS defines for a function, the function's own variables, the endpoint.
- `private_tmp(...)`: the worker's HOME, working directory and TMPDIR, a fresh folder
  removed with the worker (AWS's /tmp: writable, per execution environment).
- `protect_server()`: the server's own environment unreadable through /proc.
- `spawn(...)` / `kill(...)`: the worker leads its own process group, and is killed with
  the whole group, so processes a handler started go with it. The worker also watches a
  pipe whose write end only the server holds (see `lambda_worker.py`): when the server
  dies, even by SIGKILL, the worker kills its group itself.
- python3.x functions run in `lambda_worker.py` with the kit's Python; nodejs functions in
  `lambda_worker.js` with the machine's `node` (`find_node`), started through
  `lambda_worker.py --exec`, which confines the process before it becomes Node.js.

This is not a boundary against code bent on escaping (same user: it can open the learner's
files by absolute path, or leave the group with setsid); it removes what a handler would get
without asking: the learner's credentials, HOME and environment.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

WORKER_SCRIPT = Path(__file__).resolve().with_name("lambda_worker.py")
NODE_WORKER_SCRIPT = Path(__file__).resolve().with_name("lambda_worker.js")
#: flags AWS's Node.js runtimes apply (experimental features Lambda disables: "Building Lambda
#: functions with Node.js", https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html)
NODE_FLAGS = ("--no-experimental-require-module",)

_PR_SET_DUMPABLE = 4  # <linux/prctl.h>


def environment(*, function_name: str, handler: str, runtime: str, memory_size: int, region: str,
                log_group: str, log_stream: str, task_root: str, home: str, endpoint: str,
                variables: dict | None = None) -> dict[str, str]:
    """The whole environment of a worker: AWS's variables for a function, its own variables, the endpoint.

    The names and values follow AWS's "Defined runtime environment variables" in the Lambda
    developer guide (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html,
    section "Defined runtime environment variables"): the reserved ones cannot be set by the
    function (AWS rejects them), the unreserved ones (LANG, PATH) it may override.
    Credentials are dummies moto accepts; HOME and TMPDIR are the private folder, AWS's /tmp.
    A nodejs function also gets NODE_PATH (unreserved; AWS's is
    /opt/nodejs/nodeNN/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task:
    here no layers (/opt) and no runtime-bundled SDK, so the task root's node_modules and the task root).
    """
    node = find_node() if runtime.startswith("nodejs") else None
    interpreter = node or sys.executable
    unreserved = {
        "LANG": "en_US.UTF-8",
        # AWS: /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin; the interpreter's folder plays /var/lang/bin
        "PATH": os.pathsep.join([os.path.dirname(interpreter), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home,
        "TMPDIR": home,
        "AWS_ENDPOINT_URL": endpoint,  # boto3 (or the SDK for JavaScript) in the handler calls this local AWS
    }
    if runtime.startswith("nodejs"):
        unreserved["NODE_PATH"] = os.pathsep.join([os.path.join(task_root, "node_modules"), task_root])
    reserved = {
        "_HANDLER": handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": str(WORKER_SCRIPT.parent),
        "TZ": ":UTC",
    }
    own = {str(k): str(v) for k, v in (variables or {}).items()}
    return {**unreserved, **own, **reserved}


def private_tmp(parent: Path | str, function_name: str) -> str:
    """A new folder for one worker (mode 0700), its HOME, working directory and TMPDIR."""
    return tempfile.mkdtemp(prefix=f"tmp-{function_name}-", dir=parent)


def is_private_tmp(path: str | Path) -> bool:
    """Is `path` a worker's private folder (`.../workshop-lambda-*/tmp-*`)? Only those are ever
    removed: a HOME or a working directory that is anything else is never deleted by the kit."""
    p = Path(path)
    return p.name.startswith("tmp-") and p.parent.name.startswith("workshop-lambda-") and p != Path.home()


def remove_private_tmp(path: str | Path) -> None:
    """Remove a worker's private folder; anything that is not one is left alone."""
    if is_private_tmp(path):
        shutil.rmtree(path, ignore_errors=True)


def protect_server() -> None:
    """Make this process's /proc/<pid>/environ (and memory) unreadable to handlers.

    Linux lets any process of the same user read /proc/<pid>/environ of another, so a handler
    could read the server's environment through /proc/<ppid>/environ. PR_SET_DUMPABLE=0 closes
    those files to other non-root processes. Chosen over a clean launcher process: a launcher
    hides the server from the worker's ancestors only, and a handler can scan all of /proc for
    it. It costs the server its core dumps and same-user debuggers (py-spy, gdb need root).
    Not inherited across exec, so workers and other children are unaffected. No-op off Linux.
    When the server runs as root (a container), root workers could still read it: they drop
    all their capabilities first (`lambda_worker._confine`).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def find_node() -> str | None:
    """The `node` executable the local AWS runs nodejs functions with, or None when Node.js is not installed."""
    return shutil.which("node") or shutil.which("nodejs")  # Debian's nodejs package installs both names


def spawn(task_root: str, handler: str, env: dict[str, str], home: str,
          runtime: str = "python3") -> tuple[subprocess.Popen, int]:
    """Start a worker leading its own process group, in `home`; (process, the write end of its lifeline).

    The worker is run by file path with a bare interpreter (-s: no user site, -B: no bytecode
    written into the shared task root), so it needs nothing of the kit's environment. The
    lifeline is a pipe only this process holds the write end of: the worker kills its group
    when it reads end-of-file, i.e. when the server closed it (`kill`) or died.

    A Node.js worker answers on a pipe of its own (its fd number is its last argument; its
    stdout and stderr go nowhere, as the Python worker's stray writes do), and `proc.stdout`
    is the read end of that pipe, so the server reads both workers alike. It is started through
    `lambda_worker.py --exec`, which confines the process (capabilities) and then becomes node.
    """
    nodejs = runtime.startswith("nodejs")
    node = find_node() if nodejs else None
    if nodejs and node is None:
        raise FileNotFoundError("Node.js is not installed (sudo apt-get install nodejs)")
    lifeline_r, lifeline_w = os.pipe()  # both non-inheritable; pass_fds hands the read end to the worker only
    wire_r, wire_w = os.pipe() if nodejs else (None, None)
    python = [sys.executable, "-u", "-s", "-B", str(WORKER_SCRIPT)]
    if nodejs:
        argv = [*python, "--exec", node, *NODE_FLAGS, str(NODE_WORKER_SCRIPT), task_root, handler,
                str(lifeline_r), str(wire_w)]
    else:
        argv = [*python, task_root, handler, str(lifeline_r)]
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL if nodejs else subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, cwd=home, text=True, bufsize=1, start_new_session=True,
            pass_fds=(lifeline_r, wire_w) if nodejs else (lifeline_r,),
        )
    except BaseException:
        os.close(lifeline_w)
        if wire_r is not None:
            os.close(wire_r)
        raise
    finally:
        os.close(lifeline_r)
        if wire_w is not None:
            os.close(wire_w)
    if wire_r is not None:
        proc.stdout = open(wire_r, encoding="utf-8")  # the worker's replies, read as the Python worker's stdout
    return proc, lifeline_w


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the worker's whole process group (the worker and what its handlers started).

    The group id is the worker's pid, which Linux does not hand out again while the unreaped
    worker or any member of its group exists; a handler's child that called setsid() has left
    the group and is out of reach (this is hygiene, not containment).
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.kill()
