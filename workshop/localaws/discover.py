"""Find the local AWS to talk to, or start one.

Order: the target's own endpoint (given at the edge: `workshop run` passes its server to
its kernels), then the one that `workshop up` started (its address is in the target's
home, `<WORKSHOP_HOME>/local-aws.json`), then the one embedded in this process, then,
where the caller allows it (a notebook's `start`, a test), a new embedded one.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from pathlib import Path

from .. import config
from ..errors import LocalAWSDown

_embedded = None
_lock = threading.Lock()


def state_file(home: Path | None = None) -> Path:
    return (home or config.home()) / "local-aws.json"


def log_file(home: Path | None = None) -> Path:
    return (home or config.home()) / "local-aws.log"


def health(endpoint: str, timeout: float = 1.0) -> dict | None:
    """The kit server's health document, or None when nothing (or not the kit) answers."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_workshop/health", timeout=timeout) as r:
            return json.loads(r.read())
    except Exception:
        return None


def running(home: Path | None = None) -> dict | None:
    """The state of the local AWS that `workshop up` started, if it still answers."""
    path = state_file(home)
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


def endpoint(target: config.Target | None = None, autostart: bool = False) -> str:
    """The local AWS's URL for `target`: its own, the running one, the embedded one, or (only
    with `autostart`) a new embedded one; else LocalAWSDown naming the last one recorded."""
    t = target or config.current()
    if t.endpoint:
        return t.endpoint.rstrip("/")
    state = running(t.home)
    if state:
        return state["endpoint"]
    if _embedded is not None:
        return _embedded.endpoint
    if autostart:
        return start_embedded().endpoint
    raise LocalAWSDown(_recorded_endpoint(t.home))


def _recorded_endpoint(home: Path | None = None) -> str | None:
    try:
        return json.loads(state_file(home).read_text()).get("endpoint")
    except (OSError, ValueError):
        return None
