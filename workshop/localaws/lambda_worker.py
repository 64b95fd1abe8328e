"""One warm Lambda "container": a subprocess that imports a function's handler once and runs it per invocation.

Started by `lambda_sandbox.spawn` as `python lambda_worker.py <task_root> <module.handler> <lifeline fd>`
with the function's environment (nothing of the server's), in its private /tmp folder, leading
its own process group. It imports only the standard library itself (the handler brings boto3
as AWS's runtime does), so it runs as a plain script without the kit.

Before the handler is imported, the worker confines itself (`_confine`) and starts watching
its lifeline (`_watch_lifeline`): when the server closes the pipe or dies, even by SIGKILL, the
worker removes its /tmp folder and kills its process group, handler's children included.

Wire (on a private copy of the original stdout; the handler's own stdout/stderr and logging
are captured per invocation and returned as log text):
  request : one JSON line {"request_id", "event" (JSON text), "deadline_ms", "function_arn", ...}
  response: one JSON line {"ok", "payload" (JSON text) | "error": {errorType, errorMessage, ...}, "logs"}
The first response line, sent before any request, is {"ready": true} once start-up is done.
`lambda_worker.js` speaks the same protocol for nodejs functions (`become` starts it).
"""

from __future__ import annotations

import ctypes
import importlib
import io
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback

# <linux/prctl.h>, <linux/capability.h>
_PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 4, 24, 47, 4
_CAP_SETPCAP = 8
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _Context:
    """The `context` object AWS passes to a Python handler (the attributes handlers use)."""

    def __init__(self, req: dict):
        self.aws_request_id = req["request_id"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = req.get("function_arn", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = req["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


class _Capture(io.TextIOBase):
    """sys.stdout / sys.stderr during an invocation: collects what the handler prints."""

    def __init__(self):
        self.buffer_text: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.buffer_text.append(s)
        return len(s)

    def take(self) -> str:
        text = "".join(self.buffer_text)
        self.buffer_text.clear()
        return text


class _LambdaFormatter(logging.Formatter):
    """AWS's Python runtime log line: [LEVEL]\\ttimestamp\\trequest id\\tmessage."""

    request_id = ""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        return f"[{record.levelname}]\t{stamp}\t{self.request_id}\t{record.getMessage()}"


def _error(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict:
    here = os.path.abspath(__file__)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename != here and not f.filename.startswith("<frozen") and "importlib" not in f.filename]
    if isinstance(exc, SyntaxError) and exc.filename:
        return {"errorType": error_type or "SyntaxError", "errorMessage": message if message is not None else str(exc),
                "stackTrace": [f'  File "{exc.filename}" Line {exc.lineno}\n        {(exc.text or "").strip()}\n']}
    stack = [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line or ""}\n' for f in frames]
    return {"errorType": error_type or type(exc).__name__, "errorMessage": message if message is not None else str(exc),
            "stackTrace": stack}


def _load(handler_spec: str):
    """Import the handler like AWS's runtime; a failure is an error dict returned at each invoke."""
    module_name, _, function_name = handler_spec.rpartition(".")
    if not module_name:
        return None, {"errorType": "Runtime.MalformedHandlerName",
                      "errorMessage": f"Bad handler '{handler_spec}': not enough values to unpack (expected 2, got 1)",
                      "stackTrace": []}
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except SyntaxError as exc:
        where = f"({os.path.basename(exc.filename or module_name)}, line {exc.lineno})"
        return None, _error(exc, "Runtime.UserCodeSyntaxError",
                            f"Syntax error in module '{module_name}': {exc.msg} {where}")
    except ImportError as exc:
        return None, _error(exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except Exception as exc:  # an exception raised at import time (init error)
        return None, _error(exc)
    fn = getattr(module, function_name, None)
    if fn is None:
        return None, {"errorType": "Runtime.HandlerNotFound",
                      "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'", "stackTrace": []}
    return fn, None


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _confine() -> None:
    """Keep the handler out of other processes' /proc/<pid>/environ (Linux; a no-op elsewhere).

    The server made itself non-dumpable (`lambda_sandbox.protect_server`), which closes its
    environ to other non-root processes. A worker run as root (a container) could still read it:
    CAP_SYS_PTRACE, CAP_SYS_ADMIN and CAP_PERFMON each open it (tried one by one). So a root
    worker gives up every capability, the bounding set included, so that the processes its
    handler starts cannot regain them; on AWS a handler runs without capabilities too. Linux
    then refuses it the environ of every root process that still has capabilities (the server,
    the kernel, the notebook server): one may only inspect a process whose capabilities are a
    subset of one's own. The worker also makes itself non-dumpable: one function's handler
    cannot read another's variables. Failures are ignored: this narrows what a handler sees.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if os.geteuid() == 0:
            try:
                last = int(open("/proc/sys/kernel/cap_last_cap").read())
            except (OSError, ValueError):
                last = 40
            for cap in [c for c in range(last + 1) if c != _CAP_SETPCAP] + [_CAP_SETPCAP]:  # SETPCAP allows the drop
                libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
            libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
            libc.capset(ctypes.byref(_CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)), (_CapData * 2)())
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # after capset, which may reset it
    except (OSError, AttributeError):
        pass


def _watch_lifeline(fd: int, tmp: str) -> None:
    """In a thread: when the lifeline reaches end-of-file (the server closed it or died), remove
    the /tmp folder and SIGKILL this worker's process group, the handler's children with it.

    A pipe rather than PR_SET_PDEATHSIG: the death signal follows the *thread* that started the
    worker (a short-lived request thread in the server), and it would not reach the handler's
    children. Limit: the thread needs the GIL, so a handler stuck in a C call that never
    releases it delays this until the call returns (sleeping, I/O and Python loops are fine).
    """
    os.set_inheritable(fd, False)  # processes the handler starts do not get it

    def watch() -> None:
        try:
            while os.read(fd, 64):
                pass
        except OSError:
            pass
        # only the private folder the server made (`.../workshop-lambda-*/tmp-*`), never anything else
        if os.path.basename(tmp).startswith("tmp-") and os.path.basename(os.path.dirname(tmp)).startswith("workshop-lambda-"):
            shutil.rmtree(tmp, ignore_errors=True)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def main(argv: list[str]) -> int:
    task_root, handler_spec = argv[1], argv[2]
    _confine()
    if len(argv) > 3:
        _watch_lifeline(int(argv[3]), os.getcwd())  # started in its /tmp folder
    wire = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol channel
    os.dup2(2, 1)  # stray fd-level writes go to stderr, never into the protocol
    inbox = sys.stdin
    capture = _Capture()
    sys.stdout = sys.stderr = capture
    formatter = _LambdaFormatter()
    handler_out = logging.StreamHandler(capture)
    handler_out.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler_out]
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL") or logging.WARNING)
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        sys.path[0] = task_root  # the handler imports from its code, not from the kit's folder
    else:
        sys.path.insert(0, task_root)
    fn, init_error = _load(handler_spec)
    init_logs = capture.take()
    wire.write(json.dumps({"ready": True, "init_logs": init_logs}) + "\n")
    while True:
        line = inbox.readline()
        if not line:
            break
        if not line.strip():
            continue
        req = json.loads(line)
        formatter.request_id = req["request_id"]
        if init_error is not None:
            wire.write(json.dumps({"ok": False, "error": init_error, "logs": ""}) + "\n")
            continue
        reply: dict
        try:
            event = json.loads(req["event"]) if req["event"] else {}
            result = fn(event, _Context(req))
            try:
                payload = json.dumps(result)
            except (TypeError, ValueError) as exc:
                reply = {"ok": False, "error": {"errorType": "Runtime.MarshalError",
                                                "errorMessage": f"Unable to marshal response: {exc}", "stackTrace": []}}
            else:
                reply = {"ok": True, "payload": payload}
        except Exception as exc:
            reply = {"ok": False, "error": _error(exc)}
            print(f"[ERROR] {reply['error']['errorType']}: {reply['error']['errorMessage']}", file=capture)
            print("".join(traceback.format_exception(exc)).rstrip(), file=capture)
        reply["logs"] = capture.take()
        wire.write(json.dumps(reply) + "\n")
    return 0


def become(argv: list[str]) -> None:
    """`lambda_worker.py --exec <program> <args>`: confine this process, then replace it with
    another runtime's worker (Node.js's `lambda_worker.js`), keeping its pid, group and pipes.

    Dropped capabilities survive exec, so a root Node.js worker has none either. Being
    non-dumpable does not (exec resets it), and Node.js cannot set it: a nodejs worker's own
    /proc/<pid>/environ stays readable to processes of the same user.
    """
    _confine()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--exec"]:
        become(sys.argv[2:])
    sys.exit(main(sys.argv))
