"""A moto server with the kit's fidelity layer in front of it.

Extensions live in `workshop/localaws/ext/`, one module per behaviour. The contract:

- `patches(moto)` (optional): change moto's classes. The server calls it once per process,
  after checking that the installed moto is in `TESTED_MOTO` (the range the patches were
  written and tested for); outside it, `start()` refuses with `MotoUntested`.
- `install(server)` (optional): register wire behaviour on the server:
  - `server.route(method, path_regex, handler)`: answer a request before moto sees it
    (`handler(request, match)` returns a werkzeug Response, or None to let moto answer);
  - `server.intercept(predicate, handler)`: the same, chosen by any test on the request;
  - `server.after(predicate, hook)`: run `hook(request, response)` after moto answered;
  - `server.background(name, fn, interval)`: call `fn()` every `interval` seconds until stop;
  - `server.on_stop(hook)`; `server.allow_origin(origin)`: one more browser origin allowed;
  - `server.dataplane`: the asyncio loop and registry of what answers traffic on loopback
    (instances, DB and cache endpoints, load balancers; see `workshop/localaws/dataplane.py`).

Helpers for a request: `aws_action(request)` (the operation of a query- or JSON-protocol
request), `signed_scope(request)` (service and region of its SigV4 credential scope) and
`signed_account(request)` (the moto account it acts in).

Before any extension or moto sees a request, `guard` turns away foreign browser origins,
non-local `Host` names, oversized or malformed bodies (see `workshop/localaws/guard.py`).
An operation moto lacks is answered as AWS's 501 `NotImplemented` error in the request's own
protocol, not as moto's HTML page (see `workshop/localaws/unimplemented.py`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import io
import logging
import os
import pkgutil
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from ..errors import WorkshopError
from . import guard
from .wire import SignedScope, aws_action, aws_service, signed_account, signed_scope  # noqa: F401 (the extension API)

log = logging.getLogger("workshop.localaws")

Handler = Callable[[Request, "re.Match[str] | None"], Response | None]


class PortBusy(WorkshopError):
    def __init__(self, host: str, port: int):
        super().__init__(
            f"port {port} on {host} is busy: choose another with --port, or omit --port to pick a free one"
        )
        self.port = port


#: the moto versions the fidelity extensions were written and tested for (pyproject.toml's range)
TESTED_MOTO = ">=5.2.5,<5.3"
#: seconds a connection may stay silent while the server waits for its request or body
SOCKET_TIMEOUT_S = 30.0
#: CPython's thread switch interval in a process that runs a local AWS (the default is 5 ms). The data plane's
#: one event loop (every load balancer, distribution and instance) shares the GIL with thread pools (the web
#: apps' blocking calls, moto's threaded API server); after each wait for I/O the loop waits for the GIL up to a
#: switch interval while a pool thread computes. Measured with benchmarks/stage6_path.py: at 0.5 ms the bare
#: floor went from ~5,900 to ~10,600 requests/s and stage 6's path from ~145 to ~205.
SWITCH_INTERVAL_S = 0.0005


class MotoUntested(WorkshopError):
    def __init__(self, installed: str):
        super().__init__(
            f"moto {installed} is installed, but the local AWS's extensions are tested with moto{TESTED_MOTO}: "
            f"install the tested one with `pip install -c constraints.txt -e .`"
        )
        self.installed = installed


@functools.cache
def installed_moto() -> str:
    """The version of moto installed in this environment."""
    return importlib.metadata.version("moto")


def check_moto() -> str:
    """The installed moto's version, or MotoUntested when it is outside TESTED_MOTO."""
    from packaging.specifiers import SpecifierSet

    installed = installed_moto()
    if installed not in SpecifierSet(TESTED_MOTO, prereleases=True):
        raise MotoUntested(installed)
    return installed


@dataclass
class _Route:
    method: str | None
    pattern: re.Pattern[str] | None
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


class _Dispatcher:
    """WSGI app: the door (`guard`) first, then the kit's routes, then moto; after-hooks once moto answered."""

    def __init__(self, moto_app, server: LocalAWS):
        self.moto_app = moto_app
        self.server = server

    def __call__(self, environ, start_response):
        origin = environ.get("HTTP_ORIGIN")
        try:
            self._admit(environ, origin)
        except guard.Refused as refused:  # no CORS header: a foreign page cannot even read why
            return guard.refusal(environ, refused)(environ, _cors(start_response, None))
        respond = _cors(start_response, origin)
        if origin and environ["REQUEST_METHOD"] == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            headers = guard.cors_headers(origin, environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"), preflight=True)
            return Response(status=204, headers=headers)(environ, start_response)
        try:
            body = guard.read_body(environ, guard.limit_for(signed_scope(Request(environ)).service))
            guard.check_json_body(environ, body)
        except guard.Refused as refused:
            return guard.refusal(environ, refused)(environ, respond)
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
                return response(environ, respond)
        environ["wsgi.input"] = io.BytesIO(body)
        if not self.server._after:
            return self.moto_app(environ, respond)
        captured: dict = {}

        def _start(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return respond(status, headers, exc_info)

        chunks = list(self.moto_app(environ, _start))
        response = Response(b"".join(chunks), status=captured.get("status", "200 OK"), headers=captured.get("headers"))
        for after in self.server._after:
            try:
                if after.predicate(request):
                    after.hook(request, response)
            except Exception:
                log.exception("extension after-hook failed for %s %s", request.method, request.path)
        return chunks

    def _admit(self, environ, origin: str | None) -> None:
        """Refuse a non-local Host (DNS rebinding) and a browser origin that is not the kit's."""
        host = environ.get("HTTP_HOST")
        if not guard.is_local_host_header(host):
            raise guard.Refused(403, "AccessDenied", f"The local AWS answers only requests addressed to this "
                                f"machine (localhost, 127.0.0.1, [::1]), not to Host {host!r}", "AccessDeniedException")
        if origin is not None and not guard.is_allowed_origin(origin, self.server.allowed_origins):
            raise guard.Refused(403, "AccessDenied", f"The local AWS refuses requests from the web page at {origin!r}: "
                                "only the learner's own tools (loopback origins) may call it", "AccessDeniedException")


def _cors(start_response, origin: str | None):
    """start_response that drops every CORS header from the answer (moto's flask-cors adds them
    for any origin) and, for an allowed origin, adds the kit's own."""

    def start(status, headers, exc_info=None):
        kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
        if origin:
            kept += guard.cors_headers(origin)
        return start_response(status, kept, exc_info)

    return start


class LocalAWS:
    """moto's server with the fidelity layer, on loopback, in a thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, extensions: bool = True, quiet: bool = True,
                 socket_timeout: float = SOCKET_TIMEOUT_S, allowed_origins: tuple[str, ...] = ()):
        self.host = host
        self.socket_timeout = socket_timeout
        #: browser origins allowed besides loopback ones (exact `scheme://host[:port]`)
        self.allowed_origins: set[str] = {o.rstrip("/") for o in allowed_origins}
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
        self._dataplane = None
        self.route("GET", r"^/_workshop/health$", self._health)
        self.route("GET", r"^/_workshop/endpoints$", self._endpoints)
        self.route(None, r"^/_workshop/dataplane/scale$", self._scale)

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

    def allow_origin(self, origin: str) -> None:
        """Let a web page at `origin` (`scheme://host[:port]`) call the local AWS, with CORS answers."""
        self.allowed_origins.add(origin.rstrip("/"))

    @property
    def dataplane(self):
        """The data plane (created on first use; stopped with the server)."""
        if self._dataplane is None:
            from .dataplane import DataPlane

            self._dataplane = DataPlane()
        return self._dataplane

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

    def start(self) -> LocalAWS:
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL if self.quiet else logging.ERROR)
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))  # process-wide: see the constant
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        # Bind here, in the caller's thread, so a busy port raises (werkzeug would print and exit).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # a restart after a crash may bind while the old connections sit in TIME-WAIT (a
        # listening socket on the port still makes bind fail: PortBusy stays true)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise PortBusy(self.host, self.requested_port) from None
        self._socket = sock
        try:
            check_moto()  # before any extension patches moto
            _apply_patches(__name__, _server_patches)
            if self._load_extensions:
                self._install_extensions()
        except BaseException:
            sock.close()
            raise
        app = _Dispatcher(DomainDispatcherApplication(_moto_app(create_backend_app)), self)
        # a connection silent for socket_timeout seconds (no request, or less body than it
        # declared) is dropped, so it cannot hold a thread forever; answering takes any time
        handler = type("RequestHandler", (MotoRequestHandler,), {"timeout": self.socket_timeout})
        self._server = make_server(self.host, sock.getsockname()[1], app, threaded=True,
                                   request_handler=handler, fd=sock.fileno())
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
        if self._dataplane is not None:
            self._dataplane.stop()

    def on_stop(self, hook: Callable[[], None]) -> None:
        self._on_stop.append(hook)

    def _health(self, request: Request, match) -> Response:
        import json

        body = {"service": "workshop-local-aws", "pid": os.getpid(), "extensions": self.extensions,
                "uptime_s": round(time.time() - self.started_at, 1)}
        return Response(json.dumps(body), mimetype="application/json")

    def _endpoints(self, request: Request, match) -> Response:
        body = self._dataplane.to_json() if self._dataplane is not None else '{"endpoints": [], "scale": 1}'
        return Response(body, mimetype="application/json")

    def _scale(self, request: Request, match) -> Response:
        """GET [?run=R]: the data plane's scale (of run R); POST {"scale": K[, "run": R]}: set it (see
        `dataplane.DataPlane.set_scale`)."""
        import json

        run = request.args.get("run") or None
        if request.method == "POST":
            try:
                body = json.loads(request.get_data() or b"{}")
                run = body.get("run")
                self.dataplane.set_scale(body.get("scale"), run)
            except (ValueError, AttributeError) as exc:
                return Response(json.dumps({"message": str(exc)}), status=400, mimetype="application/json")
        elif request.method != "GET":
            return Response(json.dumps({"message": "GET or POST"}), status=405, mimetype="application/json")
        scale = self._dataplane.scale_for(run=run) if self._dataplane is not None else 1
        return Response(json.dumps({"scale": scale, **({"run": run} if run else {})}), mimetype="application/json")

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
            patches, install = getattr(module, "patches", None), getattr(module, "install", None)
            if patches is not None:
                _apply_patches(module.__name__, patches)
            if install is not None:
                install(self)
            if patches is not None or install is not None:
                self.extensions.append(info.name)


def _moto_app(create_backend_app):
    """moto's app factory, with each service app answering what it lacks as an AWS error (`unimplemented`)."""
    from . import unimplemented

    def create(service):
        app = create_backend_app(service)
        unimplemented.install(app)
        return app

    return create


def _server_patches(moto) -> None:
    """What every local AWS needs of moto, set through moto's own configuration, not the environment:
    AWS's managed policies exist (AWSLambdaBasicExecutionRole, ...), as `MOTO_IAM_LOAD_MANAGED_POLICIES`
    would do; and the botocore session moto opens for region lists reads no profile, so a learner's
    AWS_PROFILE naming a profile that is not in ~/.aws cannot break it."""
    import botocore.session
    from moto import settings
    from moto.core.base_backend import AccountSpecificBackend

    settings.default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    isolated = botocore.session.Session(session_vars={"profile": (None, None, None, None),
                                                      "config_file": (None, None, os.devnull, None),
                                                      "credentials_file": (None, None, os.devnull, None)})
    AccountSpecificBackend.get_session = classmethod(lambda cls: isolated)


_patched: set[str] = set()
_patch_lock = threading.Lock()


def _apply_patches(name: str, patches: Callable) -> None:
    """Call an extension's `patches(moto)` once per process (moto's classes are process-wide)."""
    import moto

    with _patch_lock:
        if name not in _patched:
            patches(moto)
            _patched.add(name)


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
