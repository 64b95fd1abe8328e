"""A Lambda handler runs with what AWS gives a function, no more, and nothing it starts outlives its worker."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import stat
import sys
import threading
import uuid
from pathlib import Path

import pytest

from workshop import config
from workshop.localaws import lambda_sandbox, process

from pipeline_helpers import function, invoke, wait_for

pytestmark = pytest.mark.slow  # builds stages or starts processes: make test, not make check

SECRET_NAME = "WORKSHOP_TEST_SERVER_SECRET"
SECRET = f"s3cret-{uuid.uuid4().hex}"

#: what a worker's environment may hold besides the function's own variables (AWS's defined
#: runtime variables, the endpoint, and the private /tmp as HOME and TMPDIR)
ALLOWED = {
    "_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    "TZ", "LANG", "PATH", "HOME", "TMPDIR", "AWS_ENDPOINT_URL",
    "LC_CTYPE",  # set by Python itself when it coerces a missing locale to C.UTF-8 (PEP 538)
}
REQUIRED = ALLOWED - {"LC_CTYPE"}

ENV_DUMP = "import os\ndef handler(event, context):\n    return dict(os.environ)\n"

#: starts `sleep 300`, writes its own and the child's pid and folders to event["pids"], then blocks
SPAWNER = """
import json, os, subprocess, time
def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])
    with open(event["pids"] + ".tmp", "w") as f:
        json.dump({"worker": os.getpid(), "child": child.pid, "home": os.environ["HOME"],
                   "task_root": os.environ["LAMBDA_TASK_ROOT"]}, f)
    os.replace(event["pids"] + ".tmp", event["pids"])
    time.sleep(event.get("sleep", 300))
"""

#: walks up from the worker's parent to event["stop"] (the test process, never beyond), reading
#: each /proc/<pid>/environ directly and through a child process (`cat`)
ANCESTORS = """
import os, subprocess

def handler(event, context):
    secret, seen, pid = event["secret"].encode(), [], os.getppid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                direct = secret in f.read()
        except OSError:
            direct = False
        via_child = secret in subprocess.run(["cat", f"/proc/{pid}/environ"], capture_output=True).stdout
        seen.append([pid, direct, via_child])
        if pid == event["stop"]:
            break
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    return seen
"""


needs_node = pytest.mark.skipif(lambda_sandbox.find_node() is None,
                                reason="Node.js is not installed (sudo apt-get install nodejs): nodejs functions need `node`")

NODE_ENV_DUMP = "exports.handler = async () => ({ ...process.env });\n"

#: SPAWNER's twin for Node.js: starts `sleep 300`, writes the pids and folders to event.pids, then waits
NODE_SPAWNER = """
const { spawn } = require('node:child_process');
const fs = require('node:fs');
exports.handler = async (event) => {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  fs.writeFileSync(event.pids + '.tmp', JSON.stringify({ worker: process.pid, child: child.pid,
    home: process.env.HOME, task_root: process.env.LAMBDA_TASK_ROOT }));
  fs.renameSync(event.pids + '.tmp', event.pids);
  await new Promise((resolve) => setTimeout(resolve, (event.sleep || 300) * 1000));
};
"""

#: ANCESTORS' twin for Node.js
NODE_ANCESTORS = """
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
exports.handler = async (event) => {
  const seen = [];
  let pid = process.ppid;
  while (pid > 1) {
    let direct = false, viaChild = false;
    try { direct = fs.readFileSync(`/proc/${pid}/environ`).includes(event.secret); } catch (e) {}
    try { viaChild = execFileSync('cat', [`/proc/${pid}/environ`], { stdio: ['ignore', 'pipe', 'ignore'] }).includes(event.secret); } catch (e) {}
    seen.push([pid, direct, viaChild]);
    if (pid === event.stop) break;
    pid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop().trim().split(' ')[1]);
  }
  return seen;
};
"""


def node_function(source: str, **kwargs) -> str:
    return function("", runtime="nodejs20.x", handler="index.handler", files={"index.js": source}, **kwargs)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:  # a zombie counts as gone
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(*pids: int, timeout: float = 10.0) -> bool:
    return bool(wait_for(lambda: not any(_alive(p) for p in pids), timeout=timeout))


def _kill_leftovers(pids_file: Path) -> None:
    """Clean up after a failed test: kill what the handler started, remove its folders."""
    try:
        pids = json.loads(pids_file.read_text())
    except (OSError, ValueError):
        return
    for pid in (pids["child"], pids["worker"]):
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    lambda_sandbox.remove_private_tmp(pids["home"])  # never a HOME that is not the worker's own folder


class _Spawned:
    """A local AWS in its own process (as `workshop up` starts it), optionally with a secret in its environment."""

    def __init__(self, folder: Path, secret: bool = False):
        with pytest.MonkeyPatch.context() as mp:
            if secret:
                mp.setenv(SECRET_NAME, SECRET)  # in the server's environment only: this process's /proc stays clean
            self.proc, state = process.spawn(0, folder / "state.json", folder / "server.log")
        self.endpoint = state["endpoint"]
        self.target = config.target(endpoint=self.endpoint, home=folder)

    def stop(self) -> None:
        process.stop(self.proc)


@pytest.fixture(scope="module")
def secret_server(tmp_path_factory):
    server = _Spawned(tmp_path_factory.mktemp("secret-server"), secret=True)
    yield server
    server.stop()


def test_the_environment_is_the_allow_list_and_the_functions_variables(secret_server):
    """A handler's os.environ holds AWS's variables, its own variables and the endpoint, and nothing of the server's."""
    with config.using(secret_server.target):
        env = invoke(function(ENV_DUMP, env={"TABLE_NAME": "orders"}))[1]
    assert set(env) - ALLOWED == {"TABLE_NAME"}, "only the allow-list and the function's variables"
    assert REQUIRED <= set(env)
    assert SECRET not in json.dumps(env) and SECRET_NAME not in env
    assert env["TABLE_NAME"] == "orders" and env["AWS_ENDPOINT_URL"] == secret_server.endpoint
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["TZ"] == ":UTC" and env["AWS_REGION"] == "us-east-1"
    assert Path(env["PATH"].split(os.pathsep)[0]).exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl are Linux's")
@pytest.mark.usefixtures("local_aws")
def test_a_process_serving_the_local_aws_is_not_dumpable():
    """The process running the local AWS (here, the tests') is non-dumpable, so same-user processes cannot read its /proc/<pid>/environ."""
    assert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_no_ancestor_of_a_worker_exposes_the_servers_environment(secret_server):
    """Reading /proc/<pid>/environ of the worker's parent and its ancestors (directly or via a child) finds no secret."""
    with config.using(secret_server.target):
        seen = invoke(function(ANCESTORS), {"secret": SECRET, "stop": os.getpid()})[1]
    assert [p for p, *_ in seen][:1] == [secret_server.proc.pid] and seen[-1][0] == os.getpid()
    assert not [p for p, direct, via_child in seen if direct or via_child]


@pytest.mark.usefixtures("local_aws")
def test_home_and_cwd_are_a_private_writable_folder_removed_with_the_worker():
    """HOME, the working directory and TMPDIR are one fresh 0700 folder per worker, not the learner's home, gone with the worker."""
    from workshop.localaws.ext import lambda_execution

    source = ("import os, tempfile\ndef handler(event, context):\n"
              "    open(os.path.expanduser('~/note'), 'w').write('x')\n"
              "    return [os.environ['HOME'], os.getcwd(), tempfile.gettempdir()]\n")
    first, second = function(source), function(source)
    home, cwd, tmp = invoke(first)[1]
    assert home == cwd == tmp and (Path(home) / "note").read_text() == "x"
    assert stat.S_IMODE(Path(home).stat().st_mode) == 0o700
    assert not Path(home).is_relative_to(Path.home()) and home != str(Path.home())
    assert invoke(second)[1][0] != home
    from workshop import aws

    aws.client("lambda").delete_function(FunctionName=first)
    lambda_execution.runtime().reap()
    assert wait_for(lambda: not Path(home).exists(), timeout=5)


@pytest.mark.usefixtures("local_aws")
def test_a_child_process_dies_when_its_worker_is_killed_for_a_timeout(tmp_path):
    """A process the handler started is killed with its worker when the invocation times out."""
    pids_file = tmp_path / "pids.json"
    try:
        reply, payload = invoke(function(SPAWNER, timeout=2), {"pids": str(pids_file)})
        assert reply.get("FunctionError") and "Task timed out" in payload["errorMessage"]
        pids = json.loads(pids_file.read_text())
        assert _gone(pids["worker"], pids["child"])
        assert not Path(pids["home"]).exists()
    finally:
        _kill_leftovers(pids_file)


@pytest.mark.usefixtures("local_aws")
def test_stopping_the_runtime_kills_busy_workers_and_their_children(tmp_path):
    """`workshop down` or a server stop kills a worker busy in a long handler, and what it started."""
    from workshop.localaws.ext import lambda_execution

    rt = lambda_execution.Runtime()  # a runtime of its own: stopping it leaves the session's alone
    pids_file = tmp_path / "pids.json"
    name = function(SPAWNER, timeout=300)
    call = threading.Thread(target=rt.invoke, args=(rt.find(name, "us-east-1"), json.dumps({"pids": str(pids_file)})),
                            daemon=True)
    try:
        call.start()
        assert wait_for(pids_file.exists, timeout=20)
        pids = json.loads(pids_file.read_text())
        assert _alive(pids["worker"]) and _alive(pids["child"])
        rt.shutdown()
        assert _gone(pids["worker"], pids["child"])
        call.join(timeout=5)
        assert not call.is_alive()
    finally:
        rt.shutdown()
        _kill_leftovers(pids_file)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_busy_worker_and_its_child_die_when_the_server_process_ends(tmp_path, sig):
    """A worker in a long handler, and the process it started, die when the server process gets SIGTERM or SIGKILL."""
    server = _Spawned(tmp_path)
    pids_file = tmp_path / "pids.json"
    try:
        with config.using(server.target):
            reply, _ = invoke(function(SPAWNER, timeout=300), {"pids": str(pids_file)}, InvocationType="Event")
        assert reply["StatusCode"] == 202
        assert wait_for(pids_file.exists, timeout=20)
        pids = json.loads(pids_file.read_text())
        assert _alive(pids["worker"]) and _alive(pids["child"])
        server.proc.send_signal(sig)
        server.proc.wait(timeout=15)
        assert _gone(pids["worker"], pids["child"])
        assert wait_for(lambda: not Path(pids["home"]).exists(), timeout=5)
    finally:
        server.stop()
        _kill_leftovers(pids_file)
        if pids_file.exists():  # the code folder a SIGKILLed server could not remove
            code_dir = Path(json.loads(pids_file.read_text())["task_root"]).parent
            if code_dir.name.startswith("workshop-lambda-"):
                shutil.rmtree(code_dir, ignore_errors=True)


def test_only_a_workers_private_folder_is_ever_removed(tmp_path):
    """remove_private_tmp deletes `.../workshop-lambda-*/tmp-*` and leaves a HOME or any other folder alone."""
    code_dir = tmp_path / "workshop-lambda-abc"
    private = Path(lambda_sandbox.private_tmp(code_dir.mkdir() or code_dir, "fn"))
    elsewhere = tmp_path / "tmp-not-under-a-code-dir"
    elsewhere.mkdir()
    for kept in (elsewhere, tmp_path, Path.home()):
        lambda_sandbox.remove_private_tmp(kept)
        assert kept.exists()
    lambda_sandbox.remove_private_tmp(private)
    assert not private.exists() and code_dir.exists()


@needs_node
def test_a_nodejs_workers_environment_is_the_allow_list_and_node_path(secret_server):
    """A Node.js handler's process.env holds AWS's variables (NODE_PATH, AWS_EXECUTION_ENV too) and its own, nothing of the server's."""
    with config.using(secret_server.target):
        env = invoke(node_function(NODE_ENV_DUMP, env={"TABLE_NAME": "orders"}))[1]
    assert set(env) - ALLOWED == {"TABLE_NAME", "NODE_PATH"}, "only the allow-list, NODE_PATH and the function's variables"
    assert REQUIRED <= set(env)
    assert SECRET not in json.dumps(env) and SECRET_NAME not in env
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x" and env["AWS_ENDPOINT_URL"] == secret_server.endpoint
    assert env["NODE_PATH"].split(os.pathsep) == [os.path.join(env["LAMBDA_TASK_ROOT"], "node_modules"),
                                                  env["LAMBDA_TASK_ROOT"]]


@needs_node
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_no_ancestor_of_a_nodejs_worker_exposes_the_servers_environment(secret_server):
    """A Node.js handler reading /proc/<pid>/environ of its parent and ancestors (directly or via `cat`) finds no secret."""
    with config.using(secret_server.target):
        seen = invoke(node_function(NODE_ANCESTORS), {"secret": SECRET, "stop": os.getpid()})[1]
    assert [p for p, *_ in seen][:1] == [secret_server.proc.pid] and seen[-1][0] == os.getpid()
    assert not [p for p, direct, via_child in seen if direct or via_child]


@needs_node
@pytest.mark.usefixtures("local_aws")
def test_a_nodejs_workers_home_is_its_private_folder():
    """A Node.js handler's HOME, working directory and os.tmpdir() are its private 0700 folder, not the learner's home."""
    source = ("const fs = require('node:fs'), os = require('node:os');\n"
              "exports.handler = async () => { fs.writeFileSync(os.homedir() + '/note', 'x');\n"
              "  return [process.env.HOME, process.cwd(), os.tmpdir()]; };\n")
    home, cwd, tmp = invoke(node_function(source))[1]
    assert home == cwd == tmp and (Path(home) / "note").read_text() == "x"
    assert stat.S_IMODE(Path(home).stat().st_mode) == 0o700
    assert lambda_sandbox.is_private_tmp(home) and home != str(Path.home())


@needs_node
@pytest.mark.usefixtures("local_aws")
def test_a_child_of_a_nodejs_handler_dies_when_its_worker_is_killed_for_a_timeout(tmp_path):
    """A process a Node.js handler started is killed with its worker when the invocation times out; its folder goes too."""
    pids_file = tmp_path / "pids.json"
    try:
        reply, payload = invoke(node_function(NODE_SPAWNER, timeout=2), {"pids": str(pids_file)})
        assert reply.get("FunctionError") and "Task timed out" in payload["errorMessage"]
        pids = json.loads(pids_file.read_text())
        assert _gone(pids["worker"], pids["child"])
        assert not Path(pids["home"]).exists()
    finally:
        _kill_leftovers(pids_file)


@needs_node
def test_a_busy_nodejs_worker_and_its_child_die_when_the_server_is_killed(tmp_path):
    """A Node.js worker in a long handler, and the process it started, die (lifeline) when the server gets SIGKILL."""
    server = _Spawned(tmp_path)
    pids_file = tmp_path / "pids.json"
    try:
        with config.using(server.target):
            reply, _ = invoke(node_function(NODE_SPAWNER, timeout=300), {"pids": str(pids_file)}, InvocationType="Event")
        assert reply["StatusCode"] == 202
        assert wait_for(pids_file.exists, timeout=20)
        pids = json.loads(pids_file.read_text())
        assert _alive(pids["worker"]) and _alive(pids["child"])
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=15)
        assert _gone(pids["worker"], pids["child"])
        assert wait_for(lambda: not Path(pids["home"]).exists(), timeout=5)
    finally:
        server.stop()
        _kill_leftovers(pids_file)
        if pids_file.exists():  # the code folder a SIGKILLed server could not remove
            code_dir = Path(json.loads(pids_file.read_text())["task_root"]).parent
            if code_dir.name.startswith("workshop-lambda-"):
                shutil.rmtree(code_dir, ignore_errors=True)
