"""Find the local AWS to talk to, or start one.

Order: the target's own endpoint (given at the edge: `workshop run` passes its server to
its kernels), then the one that `workshop up` started (recorded in the target's home,
`<WORKSHOP_HOME>/local-aws/<port>.json`), then the one embedded in this process, then,
where the caller allows it (a notebook's `start`, a test), a new embedded one.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

from .. import config
from ..errors import LocalAWSDown
from . import pids

_embedded = None
_lock = threading.Lock()


#: the port `workshop up` serves on unless told otherwise (or it is taken)
DEFAULT_PORT = 4599

#: urllib without proxies: the local AWS is on this machine, whatever HTTP(S)_PROXY say
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def state_dir(home: Path | None = None) -> Path:
    """Where `workshop up` records each local AWS it started: one `<port>.json` per endpoint."""
    return (home or config.home()) / "local-aws"


def state_file(port: int = DEFAULT_PORT, home: Path | None = None) -> Path:
    return state_dir(home) / f"{port}.json"


def log_file(port: int = DEFAULT_PORT, home: Path | None = None) -> Path:
    return state_dir(home) / f"{port}.log"


def health(endpoint: str, timeout: float = 1.0) -> dict | None:
    """The kit server's health document, or None when nothing (or not the kit) answers in time."""
    try:
        with _direct.open(f"{endpoint}/_workshop/health", timeout=timeout) as r:
            return json.loads(r.read())
    except Exception:
        return None


def endpoints(endpoint: str, timeout: float = 2.0) -> dict:
    """What the local AWS at `endpoint` serves traffic on (`/_workshop/endpoints`): {"endpoints": [...],
    "scale": K}; an empty listing when it does not answer."""
    try:
        with _direct.open(f"{endpoint}/_workshop/endpoints", timeout=timeout) as r:
            return json.loads(r.read())
    except Exception:
        return {"endpoints": [], "scale": 1}


def records(home: Path | None = None) -> list[dict]:
    """Every recorded local AWS, preferred first (the default port's, then the newest);
    each with `state_file`, its record's path. Whether it still runs is not checked."""
    found = []
    for path in state_dir(home).glob("*.json"):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(state, dict) and state.get("endpoint"):
            found.append({**state, "state_file": str(path)})
    return sorted(found, key=lambda s: (s.get("port") != DEFAULT_PORT, -float(s.get("started_at") or 0)))


def is_kit_server(state: dict) -> bool:
    """Is the PID in this record still the local AWS it names (same start time, our command line)?"""
    return pids.is_local_aws(state.get("pid"), state.get("proc_start"))


def answers(state: dict, timeout: float = 1.0) -> bool:
    """Does the recorded local AWS answer at its endpoint, as the recorded process?"""
    doc = health(state.get("endpoint", ""), timeout)
    return doc is not None and doc.get("pid") in (None, state.get("pid"))


def running(home: Path | None = None) -> dict | None:
    """The local AWS that `workshop up` started, if one answers: the default port's if it
    does, else the newest that does."""
    return next((state for state in records(home) if answers(state)), None)


def embedded():
    """The local AWS started inside this process, if any."""
    return _embedded


def start_embedded():
    """Start (once) a local AWS inside this process on a free loopback port."""
    global _embedded
    with _lock:
        if _embedded is None:
            from .server import LocalAWS

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
    return next((state["endpoint"] for state in records(home)), None)
