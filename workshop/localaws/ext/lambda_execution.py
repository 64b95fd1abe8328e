"""Lambda that runs: `Invoke` executes the function's real Python or Node.js code in a warm worker process.

moto keeps the function (zip, handler, runtime, environment, timeout) but runs code only in
Docker. Here `POST /2015-03-31/functions/<name>/invocations` is answered before moto: the
zip is unpacked once per code version, and each function gets warm worker processes
(`workshop/localaws/lambda_worker.py` for python3.x, `lambda_worker.js` run by the machine's
`node` for nodejs runtimes), reused between invocations like warm containers and replaced when
code or configuration changes. What AWS does and this keeps:
- RequestResponse returns the handler's result; an exception is a FunctionError
  (`X-Amz-Function-Error: Unhandled`) with its real errorType/errorMessage; a syntax error
  surfaces at invoke as Runtime.UserCodeSyntaxError; Event answers 202 and runs later;
  DryRun answers 204.
- The timeout is enforced: "Task timed out after N.00 seconds"; the worker is replaced.
- A runtime the local AWS cannot run is refused at CreateFunction / UpdateFunctionConfiguration
  (InvalidParameterValueException, one line saying what to install), never accepted and then
  failed at invoke: python3.x and nodejs (when `node` is installed) only.
- print/logging (console.log for Node.js) go to CloudWatch Logs `/aws/lambda/<name>` (START/END/REPORT lines too);
  `LogType: Tail` returns the last 4 KB base64-encoded, as AWS does.
- The environment is what AWS sets (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, …), credentials
  `testing`, the function's variables and AWS_ENDPOINT_URL = this server, so boto3 in the
  handler calls it; nothing of the server's environment. HOME, the working directory and
  TMPDIR are a private folder per worker (AWS's /tmp). Each worker leads a process group that
  is killed whole (timeout, code change, `workshop down`, the server dying): see
  `workshop/localaws/lambda_sandbox.py`.

`invoke(function, payload)` is the same path for the kit's other extensions (the stream
poller, the API Gateway data plane).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from ... import config, lambda_runtimes
from .. import lambda_sandbox

log = logging.getLogger("workshop.localaws.lambda")

ACCOUNT = "123456789012"  # moto's fixed account id
WORKER_SCRIPT = lambda_sandbox.WORKER_SCRIPT
#: warm workers per function at most (AWS scales much further; two cores here)
MAX_WORKERS = int(os.environ.get("WORKSHOP_LAMBDA_MAX_WORKERS", "4"))
#: warm workers kept idle across all functions at most; beyond it the longest-idle one is stopped
#: (each holds a Python process with boto3, ~30-40 MB: a laptop must not fill up with them)
MAX_IDLE_TOTAL = int(os.environ.get("WORKSHOP_LAMBDA_MAX_IDLE", "12"))
#: an idle warm worker is stopped after this many seconds (AWS recycles idle environments after minutes)
IDLE_S = 600.0


@dataclass
class InvokeResult:
    ok: bool  # False: a FunctionError (payload is the error document)
    payload: bytes
    logs: str
    request_id: str
    error_type: str | None = None
    duration_ms: float = 0.0
    started_ms: int = 0  # wall clock, for the START log line


class Worker:
    """One warm worker process for one version of one function's code and configuration."""

    def __init__(self, key: str, task_root: str, handler: str, env: dict[str, str], tmp: str,
                 runtime: str = "python3"):
        self.key = key
        self.log_stream = None  # set by the runtime: one log stream per worker, like a container
        self.tmp = tmp  # its HOME, working directory and TMPDIR, removed with it
        self._killed = False
        self._kill_lock = threading.Lock()
        try:
            self.proc, self._lifeline = lambda_sandbox.spawn(task_root, handler, env, tmp, runtime)
        except BaseException:
            lambda_sandbox.remove_private_tmp(tmp)
            raise
        self.ready = False
        self.idle_since = time.monotonic()
        self.init_logs = ""
        self.init_ms = 0.0

    def call(self, request: dict, timeout: float) -> dict | None:
        """Send one invocation; the worker's reply, or None on timeout (the worker is then killed)."""
        started = time.monotonic()
        if not self.ready:
            line = self._fast_readline(timeout)
            if not line:
                self.kill()
                return None
            hello = json.loads(line)
            self.init_logs = hello.get("init_logs", "")
            self.ready = True
            self.init_ms = (time.monotonic() - started) * 1000
            timeout = max(0.01, timeout - (time.monotonic() - started))
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            return _exit_error(request["request_id"], "Runtime exited")
        line = self._fast_readline(timeout)
        if line is None:
            self.kill()
            return None
        if not line:
            code = self.proc.poll()
            self.kill()
            return _exit_error(request["request_id"], f"Runtime exited with error: exit status {code}")
        reply = json.loads(line)
        if reply.pop("exit", False):  # the worker crashed after answering (a Node.js uncaught exception)
            self.kill()
        return reply

    def _fast_readline(self, timeout: float) -> str | None:
        """Read a reply line, waiting at most `timeout` s (select on the pipe: no thread per call)."""
        import select

        stream = self.proc.stdout
        deadline = time.monotonic() + timeout
        # text-mode pipes buffer: if a full line is already buffered, readline returns at once
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                ready, _, _ = select.select([stream], [], [], remaining)
                if ready:
                    return stream.readline()
            except (ValueError, OSError):  # killed meanwhile (the server is stopping): as if it exited
                return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the worker with its whole process group, and remove its /tmp folder (once)."""
        with self._kill_lock:
            if self._killed:
                return
            self._killed = True
        lambda_sandbox.kill(self.proc)
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.close(self._lifeline)
        except OSError:
            pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except Exception:
                pass
        lambda_sandbox.remove_private_tmp(self.tmp)


def _exit_error(request_id: str, what: str) -> dict:
    """The reply for a worker that died mid-invocation (e.g. the handler called sys.exit)."""
    return {"ok": False, "logs": "",
            "error": {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: {what}"}}


class Runtime:
    """Warm workers per function, keyed by code and configuration; the invoke path."""

    def __init__(self, server=None):
        self.server = server
        self._lock = threading.Lock()
        self._idle: dict[str, list[Worker]] = {}  # function arn -> idle workers
        self._busy: dict[str, int] = {}
        self._freed = threading.Condition(self._lock)
        self._all: weakref.WeakSet[Worker] = weakref.WeakSet()  # idle and busy: `shutdown` kills them all
        self._code_dir = Path(tempfile.mkdtemp(prefix="workshop-lambda-"))
        self._closed = False
        self.cold_starts = 0

    # --- function lookup ---------------------------------------------------------------
    @staticmethod
    def backend(region: str):
        from moto.backends import get_backend

        return get_backend("lambda")[ACCOUNT][region]

    def find(self, name_or_arn: str, region: str, qualifier: str | None = None):
        """moto's LambdaFunction for a name or ARN, or None when it does not exist."""
        m = re.match(r"arn:aws[\w-]*:lambda:([\w-]+):\d{12}:function:([^:]+)(?::(.+))?$", name_or_arn)
        if m:
            region, name_or_arn, qualifier = m.group(1), m.group(2), qualifier or m.group(3)
        try:
            return self.backend(region).get_function(name_or_arn, qualifier)
        except Exception:
            return None

    @staticmethod
    def _key(fn) -> str:
        config = json.dumps([fn.code_sha_256, fn.handler, fn.run_time, fn.environment_vars, fn.timeout,
                             fn.memory_size, fn.role, fn.last_modified], sort_keys=True, default=str)
        return hashlib.sha256(config.encode()).hexdigest()[:16]

    def _task_root(self, fn) -> str:
        folder = self._code_dir / f"{fn.function_name}-{fn.code_sha_256[:16].replace('/', '_').replace('+', '-')}"
        if not folder.exists():
            tmp = Path(tempfile.mkdtemp(dir=self._code_dir))
            try:
                with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as z:
                    z.extractall(tmp)
            except zipfile.BadZipFile:
                pass  # an empty task root: the import error is reported at invoke, as on AWS
            try:
                tmp.rename(folder)
            except OSError:  # another thread unpacked it first
                shutil.rmtree(tmp, ignore_errors=True)
        return str(folder)

    def _environment(self, fn, log_stream: str, task_root: str, tmp: str) -> dict[str, str]:
        """The worker's whole environment (an allow-list: see `lambda_sandbox.environment`)."""
        endpoint = self.server.endpoint if self.server is not None else (config.current().endpoint or "")
        return lambda_sandbox.environment(
            function_name=fn.function_name, handler=fn.handler or "", runtime=fn.run_time,
            memory_size=fn.memory_size, region=fn.region, log_group=fn.logs_group_name, log_stream=log_stream,
            task_root=task_root, home=tmp, endpoint=endpoint, variables=fn.environment_vars)

    # --- workers -----------------------------------------------------------------------
    def _acquire(self, fn) -> tuple[Worker, bool]:
        """An idle warm worker for the function's current version, or a new one (cold)."""
        arn, key = fn.function_arn, self._key(fn)
        with self._lock:
            idle = self._idle.setdefault(arn, [])
            for stale in [w for w in idle if w.key != key or not w.alive()]:
                idle.remove(stale)
                threading.Thread(target=stale.kill, daemon=True).start()
            while not idle and self._busy.get(arn, 0) >= MAX_WORKERS:
                self._freed.wait(timeout=1)
                idle = self._idle.setdefault(arn, [])
                for stale in [w for w in idle if w.key != key or not w.alive()]:
                    idle.remove(stale)
                    threading.Thread(target=stale.kill, daemon=True).start()
            self._busy[arn] = self._busy.get(arn, 0) + 1
            if idle:
                return idle.pop(), False
        try:
            task_root = self._task_root(fn)
            stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
            tmp = lambda_sandbox.private_tmp(self._code_dir, fn.function_name)
            worker = Worker(key, task_root, fn.handler or "", self._environment(fn, stream, task_root, tmp), tmp,
                            fn.run_time or "python3")
        except BaseException:
            with self._lock:
                self._busy[arn] = max(0, self._busy.get(arn, 1) - 1)
                self._freed.notify_all()
            raise
        worker.log_stream = stream
        with self._lock:
            self._all.add(worker)
        self.cold_starts += 1
        return worker, True

    def _release(self, fn, worker: Worker) -> None:
        with self._lock:
            self._busy[fn.function_arn] = max(0, self._busy.get(fn.function_arn, 1) - 1)
            if worker.alive() and worker.key == self._key(fn) and not self._closed:
                worker.idle_since = time.monotonic()
                self._idle.setdefault(fn.function_arn, []).append(worker)
                self._evict_over_cap()
            else:
                threading.Thread(target=worker.kill, daemon=True).start()
            self._freed.notify_all()

    def _evict_over_cap(self) -> None:
        """Stop the longest-idle workers while more than MAX_IDLE_TOTAL are idle (called with the lock held)."""
        idle = sorted(((w.idle_since, arn, w) for arn, ws in self._idle.items() for w in ws), key=lambda t: t[0])
        for _, arn, w in idle[:max(0, len(idle) - MAX_IDLE_TOTAL)]:
            self._idle[arn].remove(w)
            threading.Thread(target=w.kill, daemon=True).start()

    def idle_workers(self) -> int:
        with self._lock:
            return sum(len(ws) for ws in self._idle.values())

    def reap(self, idle_s: float = IDLE_S) -> None:
        """Stop idle workers of deleted functions, and any idle longer than `idle_s` (AWS recycles them too)."""
        now = time.monotonic()
        with self._lock:
            for arn, idle in list(self._idle.items()):
                gone = self.find(arn, arn.split(":")[3]) is None
                for w in [w for w in idle if gone or now - w.idle_since > idle_s or not w.alive()]:
                    idle.remove(w)
                    threading.Thread(target=w.kill, daemon=True).start()

    def shutdown(self) -> None:
        """Kill every worker, busy ones too (their invocations end as Runtime.ExitError), with their groups."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._idle.clear()
        for w in workers:
            w.kill()
        shutil.rmtree(self._code_dir, ignore_errors=True)

    # --- invoke ------------------------------------------------------------------------
    def invoke(self, fn, payload: bytes | str | None, request_id: str | None = None) -> InvokeResult:
        """Run the function on `payload` (JSON text) in a warm worker; the result or the FunctionError."""
        request_id = request_id or str(uuid.uuid4())
        event = payload.decode() if isinstance(payload, bytes) else (payload or "")
        if event.strip():
            try:
                json.loads(event)
            except ValueError:
                doc = {"errorType": "InvalidRequestContentException",
                       "errorMessage": "Could not parse request body into json"}
                return InvokeResult(False, json.dumps(doc).encode(), "", request_id, doc["errorType"])
        started_ms = int(time.time() * 1000)
        worker, cold = self._acquire(fn)
        started = time.monotonic()
        timeout = float(fn.timeout or 3)
        reply = None
        try:
            reply = worker.call({"request_id": request_id, "event": event, "function_arn": fn.function_arn,
                                 "deadline_ms": time.time() * 1000 + timeout * 1000}, timeout)
        finally:
            self._release(fn, worker)
        duration = (time.monotonic() - started) * 1000
        if reply is None:
            message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
            doc = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            logs = f"{_stamp()} {request_id} Task timed out after {timeout:.2f} seconds\n"
            result = InvokeResult(False, json.dumps(doc).encode(), logs, request_id, doc["errorType"], duration)
        elif reply.get("ok"):
            result = InvokeResult(True, reply["payload"].encode(), reply.get("logs", ""), request_id, None, duration)
        else:
            doc = dict(reply["error"])
            if lambda_runtimes.language(fn.run_time) == "nodejs":  # AWS's Node.js shape
                order = {"errorType": doc.get("errorType"), "errorMessage": doc.get("errorMessage")}
                if "trace" in doc:
                    order["trace"] = doc["trace"]
            else:
                order = {"errorMessage": doc.get("errorMessage"), "errorType": doc.get("errorType"),
                         "requestId": request_id, "stackTrace": doc.get("stackTrace", [])}
            logs = reply.get("logs", "")
            if doc.get("errorType", "").startswith("Runtime.") and not logs:
                logs = f"[ERROR] {doc['errorType']}: {doc['errorMessage']}\n"
            result = InvokeResult(False, json.dumps(order).encode(), logs, request_id, doc.get("errorType"), duration)
        result.started_ms = started_ms
        self._write_logs(fn, worker, result, cold)
        return result

    def _write_logs(self, fn, worker: Worker, result: InvokeResult, cold: bool) -> None:
        try:
            from moto.backends import get_backend

            logs = get_backend("logs")[ACCOUNT][fn.region]
            logs.ensure_log_group(fn.logs_group_name)
            if cold:
                try:
                    logs.create_log_stream(fn.logs_group_name, worker.log_stream)
                except Exception:
                    pass  # the stream already exists
            rid = result.request_id
            lines = []
            if cold and worker.init_logs:
                lines += worker.init_logs.splitlines()
            first = [{"timestamp": result.started_ms, "message": m} for m in lines]
            first.append({"timestamp": result.started_ms, "message": f"START RequestId: {rid} Version: $LATEST"})
            lines = []
            lines += [line for line in result.logs.splitlines() if line.strip()]
            lines.append(f"END RequestId: {rid}")
            billed = max(1, int(result.duration_ms + 0.999))
            report = (f"REPORT RequestId: {rid}\tDuration: {result.duration_ms:.2f} ms\t"
                      f"Billed Duration: {billed} ms\tMemory Size: {fn.memory_size} MB")
            if cold:
                report += f"\tInit Duration: {worker.init_ms:.2f} ms"
            lines.append(report)
            now = int(time.time() * 1000)
            logs.put_log_events(fn.logs_group_name, worker.log_stream,
                                first + [{"timestamp": now, "message": m} for m in lines])
        except Exception:
            log.exception("could not write the logs of %s", fn.function_name)


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's Lambda runtime (created by `install`, or on first use)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


def invoke(name_or_arn: str, payload: bytes | str | None, region: str = "us-east-1") -> InvokeResult | None:
    """Invoke a function in this process's local AWS; None when it does not exist."""
    rt = runtime()
    fn = rt.find(name_or_arn, region)
    if fn is None:
        return None
    return rt.invoke(fn, payload)


# --- the wire ------------------------------------------------------------------------------

def _region(request: Request) -> str:
    from ..server import signed_scope

    return signed_scope(request).region or "us-east-1"


def _invoke_route(request: Request, match) -> Response | None:
    rt = runtime()
    name = unquote(match.group("name"))
    fn = rt.find(name, _region(request), request.args.get("Qualifier"))
    if fn is None:
        return None  # moto answers ResourceNotFoundException
    kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    headers = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
    if kind == "DryRun":
        return Response(b"", status=204, headers=headers)
    body = request.get_data()
    if kind == "Event":
        rid = str(uuid.uuid4())
        threading.Thread(target=rt.invoke, args=(fn, body, rid), name=f"lambda-event-{fn.function_name}",
                         daemon=True).start()
        return Response(b"", status=202, headers={"x-amzn-RequestId": rid})
    result = rt.invoke(fn, body)
    headers["x-amzn-RequestId"] = result.request_id
    if result.error_type == "InvalidRequestContentException":
        return Response(result.payload, status=400, headers={**headers, "x-amzn-ErrorType": result.error_type})
    if not result.ok:
        headers["X-Amz-Function-Error"] = "Unhandled"
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        tail = result.logs.encode()[-4096:]
        headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
    return Response(result.payload, status=200, headers=headers)


def cannot_run(runtime: str | None) -> str | None:
    """Why the local AWS cannot run `runtime` and what to do, in one line; None when it can.

    No runtime (a container image function) is left to moto."""
    if not runtime:
        return None
    kind = lambda_runtimes.language(runtime)
    if kind == "python":
        return None
    if kind == "nodejs":
        if lambda_sandbox.find_node() is None:
            return f"The local AWS cannot run {runtime}: Node.js is not installed (sudo apt-get install nodejs)"
        return None
    return f"The local AWS cannot run {runtime}: it runs python3.x and nodejs runtimes only"


_FUNCTIONS = re.compile(r"^/2015-03-31/functions/?$")
_CONFIGURATION = re.compile(r"^/2015-03-31/functions/[^/]+/configuration/?$")


def _sets_runtime(request: Request) -> bool:
    """CreateFunction (POST /2015-03-31/functions) or UpdateFunctionConfiguration (PUT .../configuration)."""
    return ((request.method == "POST" and bool(_FUNCTIONS.match(request.path)))
            or (request.method == "PUT" and bool(_CONFIGURATION.match(request.path))))


def _refuse_unrunnable(request: Request, match) -> Response | None:
    """Lambda's InvalidParameterValueException for a runtime this machine cannot run; else moto answers."""
    try:
        runtime = json.loads(request.get_data() or b"{}").get("Runtime")
    except (ValueError, AttributeError):
        return None  # moto answers a malformed body
    why = cannot_run(runtime) if isinstance(runtime, str) else None
    if why is None:
        return None
    kind = "InvalidParameterValueException"
    return Response(json.dumps({"Type": "User", "message": why}), status=400, mimetype="application/json",
                    headers={"x-amzn-ErrorType": kind, "x-amzn-RequestId": str(uuid.uuid4())})


def install(server) -> None:
    global _runtime
    lambda_sandbox.protect_server()  # this process runs handlers' workers: keep its environment from them
    if _runtime is None or _runtime.server is None:
        _runtime = Runtime(server)  # moto's state is per process, so is the runtime: the first server's endpoint
    owner = _runtime

    def stop() -> None:
        global _runtime
        if owner.server is server:
            owner.shutdown()
            _runtime = None

    server.intercept(_sets_runtime, _refuse_unrunnable)
    server.route("POST", r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$", _invoke_route)
    server.background("lambda-reaper", lambda: owner.reap(), interval=10.0)
    server.on_stop(stop)
