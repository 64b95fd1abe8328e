"""Where the kit points: one frozen `Target` (local or a real account, region, endpoint,
account, run id, state folder), built once at the edge and passed down.

The edges are the CLI's arguments (`workshop ...`), `notebook.start(...)` and a test's
fixture. `from_environment()` is the only place the kit reads its `WORKSHOP_*` settings
from the environment, and nothing in the kit writes them. Code deep in the call graph that
has no target in hand asks `current()`: the target of the innermost `using(...)` block,
else the one `use(...)` set for the process (a notebook's kernel), else the environment's.
This is how `diagrams` keeps its current diagram: a `ContextVar` and a context manager.

The real-account target needs two explicit settings (WORKSHOP_TARGET=aws and
WORKSHOP_AWS_ACCOUNT); nothing else in the environment (AWS_PROFILE, AWS_ACCESS_KEY_ID,
~/.aws) ever selects it.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

COURSE = "scale-baby-scale"
DEFAULT_REGION = "us-east-1"
DEFAULT_RUN_ID = "demo"
LOCAL_ACCOUNT = "123456789012"  # moto's fixed account id
TARGETS = ("local", "aws")

#: the repository root (the package is installed in editable mode from it)
ROOT = Path(__file__).resolve().parents[1]

_RUN_ID = re.compile(r"[A-Za-z0-9-]{1,20}")


@dataclass(frozen=True)
class Target:
    """What a run acts on. Build it with `target(...)` or `from_environment()`; change it with `.replace(...)`."""

    kind: str = "local"  # "local" | "aws"
    region: str = DEFAULT_REGION
    account: str | None = LOCAL_ACCOUNT  # moto's on local; the account the learner confirmed on aws
    endpoint: str | None = None  # local only: the local AWS's URL (None: find the running one)
    run_id: str = DEFAULT_RUN_ID  # names and tags what the course creates
    home: Path = Path.home() / ".workshop"  # the kit's own state (the local AWS's address and logs)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    def replace(self, **changes) -> Target:
        """A copy with some fields changed, validated like a new one."""
        fields = dataclasses.asdict(self)
        fields.update(changes)
        return target(**fields)


def target(kind: str = "local", region: str | None = None, account: str | None = None,
           endpoint: str | None = None, run_id: str | None = None, home: Path | str | None = None) -> Target:
    """A validated Target: a bad kind, run id or endpoint is a one-line BadInput."""
    from .errors import BadInput

    chosen = (kind or "local").strip().lower()
    if chosen not in TARGETS:
        raise BadInput(f"unknown target {kind!r}: choose one of {', '.join(TARGETS)}")
    run = run_id or DEFAULT_RUN_ID
    if not _RUN_ID.fullmatch(run):
        raise BadInput(f"run id {run!r} must be 1-20 letters, digits or '-'")
    region = (region or DEFAULT_REGION).strip()
    if region != DEFAULT_REGION and region not in known_regions():
        raise BadInput(f"unknown AWS region {region!r}; e.g. us-east-1, eu-west-1, ap-southeast-2")
    if chosen == "local":
        account = LOCAL_ACCOUNT
        endpoint = endpoint.rstrip("/") if endpoint else None
        if endpoint and not is_loopback_url(endpoint):
            raise BadInput(f"the local target talks only to this machine, not {endpoint!r}: "
                           "use http://127.0.0.1:PORT (or localhost, [::1]), or unset WORKSHOP_ENDPOINT")
    else:
        endpoint = None
    return Target(chosen, region, account, endpoint, run, Path(home) if home else Path.home() / ".workshop")


def is_loopback_url(url: str) -> bool:
    """True for an http(s) URL whose host is this machine (127.0.0.0/8, ::1, localhost)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - a bad port raises ValueError
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_regions: frozenset[str] | None = None


def known_regions() -> frozenset[str]:
    """Every region botocore knows, in every partition (read once from its endpoint data)."""
    global _regions
    if _regions is None:
        import botocore.loaders

        data = botocore.loaders.create_loader().load_data("endpoints")
        _regions = frozenset(r for p in data["partitions"] for r in p.get("regions", {}))
    return _regions


def from_environment(environ: Mapping[str, str] | None = None) -> Target:
    """The one reader of the kit's settings in the environment (WORKSHOP_TARGET, _REGION,
    _AWS_ACCOUNT, _ENDPOINT, _RUN_ID, _HOME); unset ones take their defaults."""
    env = os.environ if environ is None else environ
    return target(
        kind=env.get("WORKSHOP_TARGET") or "local",
        region=env.get("WORKSHOP_REGION") or None,
        account=env.get("WORKSHOP_AWS_ACCOUNT") or None,
        endpoint=env.get("WORKSHOP_ENDPOINT") or None,
        run_id=env.get("WORKSHOP_RUN_ID") or None,
        home=env.get("WORKSHOP_HOME") or None,
    )


_current: contextvars.ContextVar[Target | None] = contextvars.ContextVar("workshop_target", default=None)
_process_default: Target | None = None


def current() -> Target:
    """The target in force here: the innermost `using(...)`, else `use(...)`'s, else the environment's."""
    return _current.get() or _process_default or from_environment()


@contextlib.contextmanager
def using(chosen: Target) -> Iterator[Target]:
    """Make `chosen` the current target inside the block (per thread and task, like a ContextVar)."""
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def use(chosen: Target | None) -> Target | None:
    """Make `chosen` the current target of this process from now on (a notebook's kernel);
    `use(None)` goes back to the environment's. Returns the previous one."""
    global _process_default
    previous, _process_default = _process_default, chosen
    return previous


def home() -> Path:
    """The folder for the kit's own state (the running local AWS's address and logs)."""
    return current().home


def run_id() -> str:
    """The current target's run id (default `demo`)."""
    return current().run_id

