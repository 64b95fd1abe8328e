"""Stand-in for the one factory's coming form, `aws.client(service, region=, target=)` with
its client cache inside, until that change to `aws.py` reaches this branch.

Delete at merge: callers then call `aws.client` with the same arguments. Until then this is
the only client cache in the kit (teardown, topology and the stage helpers share it).
"""

from __future__ import annotations

import inspect
import threading

from . import aws, config

_TAKES_TARGET = "target" in inspect.signature(aws.client).parameters
_cache: dict[tuple, object] = {}
_lock = threading.Lock()


def client(service: str, region: str | None = None, target: config.Target | None = None):
    """A client for `service` in `region` (default: the target's) on `target` (default: the current one)."""
    chosen = target or config.current()
    if _TAKES_TARGET:
        return aws.client(service, region=region, target=chosen)
    with config.using(chosen):
        where = aws.endpoint() if chosen.is_local else chosen.account
        key = (chosen, where, service, region or chosen.region)
        with _lock:
            found = _cache.get(key)
        if found is None:
            made = aws.client(service, region=region)
            with _lock:
                found = _cache.setdefault(key, made)
    return found
