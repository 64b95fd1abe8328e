"""Where the kit points: the target (local or a real account), its endpoint and region.

Everything here is read from the environment at call time, so a notebook parameter or a
test can change it. The real-account target needs two explicit settings; nothing else in
the environment (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws) ever selects it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

COURSE = "scale-baby-scale"
DEFAULT_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"  # moto's fixed account id
TARGETS = ("local", "aws")

#: the repository root (the package is installed in editable mode from it)
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    target: str
    region: str
    account: str | None  # the account the learner confirmed (aws) or moto's (local)
    endpoint: str | None  # an explicit local endpoint, e.g. set by `workshop run`

    @property
    def is_local(self) -> bool:
        return self.target == "local"


def home() -> Path:
    """The folder for the kit's own state (the running local AWS's address and logs)."""
    return Path(os.environ.get("WORKSHOP_HOME") or Path.home() / ".workshop")


def run_id() -> str:
    """The run id that names and tags what the course creates (default `demo`)."""
    return os.environ.get("WORKSHOP_RUN_ID", "demo")


def settings(target: str | None = None, region: str | None = None) -> Settings:
    from .errors import BadInput

    chosen = (target or os.environ.get("WORKSHOP_TARGET") or "local").strip().lower()
    if chosen not in TARGETS:
        raise BadInput(f"unknown target {chosen!r}: choose one of {', '.join(TARGETS)}")
    region = region or os.environ.get("WORKSHOP_REGION") or DEFAULT_REGION
    if chosen == "local":
        return Settings("local", region, LOCAL_ACCOUNT, os.environ.get("WORKSHOP_ENDPOINT"))
    return Settings("aws", region, os.environ.get("WORKSHOP_AWS_ACCOUNT"), None)
