"""Scale, baby, scale! — the workshop kit's front door.

What a notebook or a user script needs, in one import::

    import workshop
    ws = workshop.start(stage=4, run_id="demo")        # a StageContext on the current target
    ec2 = workshop.client("ec2")                       # the one client factory
    workshop.check("s04-azs", answer)                  # an exercise check

    with workshop.using(workshop.target(kind="local", endpoint="http://127.0.0.1:4599")):
        ...                                            # another target for the block

The names resolve on first use (PEP 562), so `import workshop` stays cheap for the local
AWS's own processes. Everything else is in the modules named for their one job.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> (module, attribute)
_EXPORTS = {
    "BadInput": ("errors", "BadInput"),
    "StageContext": ("context", "StageContext"),
    "Target": ("config", "Target"),
    "WorkshopError": ("errors", "WorkshopError"),
    "check": ("exercises", "check"),
    "client": ("aws", "client"),
    "current": ("config", "current"),
    "resource": ("aws", "resource"),
    "start": ("notebook", "start"),
    "target": ("config", "target"),
    "using": ("config", "using"),
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .aws import client, resource  # noqa: F401
    from .config import Target, current, target, using  # noqa: F401
    from .context import StageContext  # noqa: F401
    from .errors import BadInput, WorkshopError  # noqa: F401
    from .exercises import check  # noqa: F401
    from .notebook import start  # noqa: F401


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'workshop' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
