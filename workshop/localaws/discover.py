"""Find the local AWS to talk to, or start one.

Order: WORKSHOP_ENDPOINT (set by `workshop run` for its kernels), then the one that
`workshop up` started (its address is in `<WORKSHOP_HOME>/local-aws.json`), then, where
allowed (notebooks, tests), an embedded one started in this process.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from pathlib import Path

from .. import config
from ..errors import LocalAWSDown

#: may `endpoint()` start an embedded local AWS in this process? The CLI turns this off.
AUTOSTART = True

_embedded = None
_lock = threading.Lock()


def state_file() -> Path:
    return config.home() / "local-aws.json"


def log_file() -> Path:
    return config.home() / "local-aws.log"


def health(endpoint: str, timeout: float = 1.0) -> dict | None:
    """The kit server's health document, or None when nothing (or not the kit) answers."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_workshop/health", timeout=timeout) as r:
            return json.loads(r.read())
    except Exception:
        return None


def running() -> dict | None:
    """The state of the local AWS that `workshop up` started, if it still answers."""
    path = state_file()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if health(state.get("endpoint", "")) is None:
        return None
    return state


def embedded():
    """The local AWS started inside this process, if any."""
    return _embedded


def start_embedded():
    """Start (once) a local AWS inside this process on a free loopback port."""
    global _embedded
    with _lock:
        if _embedded is None:
            from .server import LocalAWS

            # moto opens boto3 Sessions of its own: a learner's AWS_PROFILE naming a profile
            # that is not in ~/.aws would break it. The local target never reads them.
            for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
                os.environ.pop(var, None)

            _embedded = LocalAWS(port=0).start()
        return _embedded


def endpoint(autostart: bool | None = None) -> str:
    """The local AWS's URL: the configured one, the running one, or a new embedded one."""
    explicit = config.settings().endpoint
    if explicit:
        return explicit.rstrip("/")
    state = running()
    if state:
        return state["endpoint"]
    if _embedded is not None:
        return _embedded.endpoint
    if AUTOSTART if autostart is None else (autostart and AUTOSTART):
        return start_embedded().endpoint
    recorded = _recorded_endpoint()
    raise LocalAWSDown(recorded)


def _recorded_endpoint() -> str | None:
    try:
        return json.loads(state_file().read_text()).get("endpoint")
    except (OSError, ValueError):
        return None


def environ_for_children() -> dict[str, str]:
    """Environment that points a child process (a kernel, a handler) at this local AWS."""
    return {"WORKSHOP_ENDPOINT": endpoint(), "WORKSHOP_TARGET": "local"}


os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
