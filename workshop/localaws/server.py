"""A moto server with the kit's fidelity layer in front of it.

Extensions live in `workshop/localaws/ext/`, one module per behaviour, each with an
`install(server)` function. With the server they can:

- `server.route(method, path_regex, handler)`: answer a request before moto sees it
  (`handler(request, match)` returns a werkzeug Response, or None to let moto answer);
- `server.intercept(predicate, handler)`: the same, chosen by any test on the request;
- `server.after(predicate, hook)`: run `hook(request, response)` after moto answered;
- `server.background(name, fn, interval)`: call `fn()` every `interval` seconds until stop.

`aws_action(request)` names the AWS operation of a query- or JSON-protocol request.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import pkgutil
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import parse_qs

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from werkzeug.serving import make_server  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from ..errors import WorkshopError  # noqa: E402

log = logging.getLogger("workshop.localaws")

Handler = Callable[[Request, "re.Match[str] | None"], Optional[Response]]


class PortBusy(WorkshopError):
    def __init__(self, host: str, port: int):
        super().__init__(
            f"port {port} on {host} is busy: choose another with --port, or omit --port to pick a free one"
        )
        self.port = port


@dataclass
class _Route:
    method: str | None
    pattern: "re.Pattern[str] | None"
    predicate: Callable[[Request], bool] | None
    handler: Handler


@dataclass
class _Worker:
    name: str
    fn: Callable[[], None]
    interval: float
    thread: threading.Thread | None = None


@dataclass
class _After:
    predicate: Callable[[Request], bool]
    hook: Callable[[Request, Response], None]


def aws_action(request: Request) -> str | None:
    """The AWS operation a query-protocol (Action=) or JSON-protocol (X-Amz-Target) request names."""
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    action = request.args.get("Action")
    if action:
        return action
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        values = parse_qs(request.get_data(cache=True, as_text=True)).get("Action")
        if values:
            return values[0]
    return None


def aws_service(request: Request) -> str | None:
    """The service named in the request's SigV4 credential scope (e.g. `lambda`, `ec2`)."""
    auth = request.headers.get("Authorization", "")
    m = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/", auth)
    return m.group(1) if m else None


class _Dispatcher:
    """WSGI app: the kit's routes first, then moto; after-hooks once moto answered."""

    def __init__(self, moto_app, server: "LocalAWS"):
        self.moto_app = moto_app
        self.server = server

    def __call__(self, environ, start_response):
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        request = Request(environ, shallow=False)
        request._cached_data = body  # werkzeug reads get_data() from here
        for route in self.server._routes:
            match = None
            if route.method and route.method != request.method:
                continue
            if route.pattern is not None:
                match = route.pattern.match(request.path)
                if not match:
                    continue
            if route.predicate is not None and not route.predicate(request):
                continue
            try:
                response = route.handler(request, match)
            except Exception:  # a bug in an extension must not take the server down
                log.exception("extension route failed for %s %s", request.method, request.path)
                response = Response('{"message":"Internal server error"}', status=500, mimetype="application/json")
            if response is not None:
                return response(environ, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        if not self.server._after:
            return self.moto_app(environ, start_response)
        captured: dict = {}

        def _start(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        chunks = list(self.moto_app(environ, _start))
        response = Response(b"".join(chunks), status=captured.get("status", "200 OK"), headers=captured.get("headers"))
        for after in self.server._after:
            try:
                if after.predicate(request):
                    after.hook(request, response)
            except Exception:
                log.exception("extension after-hook failed for %s %s", request.method, request.path)
        return chunks


def _read_body(environ) -> bytes:
    """The whole request body: Content-Length bytes, or a chunked stream to its end."""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return environ["wsgi.input"].read(int(length)) if int(length) > 0 else b""
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
        return environ["wsgi.input"].read()
    return b""


class LocalAWS:
    """moto's server with the fidelity layer, on loopback, in a thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, extensions: bool = True, quiet: bool = True):
        self.host = host
        self.requested_port = port
        self._routes: list[_Route] = []
        self._after: list[_After] = []
        self._workers: list[_Worker] = []
        self._stop = threading.Event()
        self._server = None
        self._thread: threading.Thread | None = None
        self._load_extensions = extensions
        self.quiet = quiet  # embedded in a notebook: no request errors on the cell's stderr
        self._on_stop: list[Callable[[], None]] = []
        self.extensions: list[str] = []
        self.started_at = time.time()
        self.route("GET", r"^/_workshop/health$", self._health)

    # --- extension API --------------------------------------------------------------
    def route(self, method: str | None, path_regex: str, handler: Handler) -> None:
        self._routes.append(_Route(method, re.compile(path_regex), None, handler))

    def intercept(self, predicate: Callable[[Request], bool], handler: Handler) -> None:
        self._routes.append(_Route(None, None, predicate, handler))

    def after(self, predicate: Callable[[Request], bool], hook: Callable[[Request, Response], None]) -> None:
        self._after.append(_After(predicate, hook))

    def background(self, name: str, fn: Callable[[], None], interval: float) -> None:
        worker = _Worker(name, fn, interval)
        self._workers.append(worker)
        if self._thread is not None:
            self._start_worker(worker)

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    # --- lifecycle ------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "LocalAWS":
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL if self.quiet else logging.ERROR)
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        # Bind here, in the caller's thread, so a busy port raises (werkzeug would print and exit).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.host, self.requested_port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise PortBusy(self.host, self.requested_port) from None
        self._socket = sock
        try:
            if self._load_extensions:
                self._install_extensions()
        except BaseException:
            sock.close()
            raise
        app = _Dispatcher(DomainDispatcherApplication(create_backend_app), self)
        self._server = make_server(self.host, sock.getsockname()[1], app, threaded=True,
                                   request_handler=MotoRequestHandler, fd=sock.fileno())
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()
        for worker in self._workers:
            self._start_worker(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._socket.close()
        for worker in self._workers:
            if worker.thread is not None:
                worker.thread.join(timeout=5)
        for hook in list(self._on_stop):
            try:
                hook()
            except Exception:
                log.exception("stop hook failed")

    def on_stop(self, hook: Callable[[], None]) -> None:
        self._on_stop.append(hook)

    def _health(self, request: Request, match) -> Response:
        import json

        body = {"service": "workshop-local-aws", "pid": os.getpid(), "extensions": self.extensions,
                "uptime_s": round(time.time() - self.started_at, 1)}
        return Response(json.dumps(body), mimetype="application/json")

    def _start_worker(self, worker: _Worker) -> None:
        def loop():
            while not self._stop.is_set():
                try:
                    worker.fn()
                except Exception:
                    log.exception("background worker %s failed", worker.name)
                self._stop.wait(worker.interval)

        worker.thread = threading.Thread(target=loop, name=f"local-aws:{worker.name}", daemon=True)
        worker.thread.start()

    def _install_extensions(self) -> None:
        from . import ext

        for info in sorted(pkgutil.iter_modules(ext.__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{ext.__name__}.{info.name}")
            install = getattr(module, "install", None)
            if install is not None:
                install(self)
                self.extensions.append(info.name)


def wait_until_answering(endpoint: str, timeout: float = 10.0) -> bool:
    """True once `endpoint` answers HTTP, False after `timeout` seconds."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/_workshop/health", timeout=1):
                return True
        except Exception:
            time.sleep(0.05)
    return False
