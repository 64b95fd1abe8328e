"""`python -m workshop.traffic._launch [--owner-pid N [--die-with-parent]] -- LOCUST ARGS`: run Locust
in this process, tied to its owner.

With `--die-with-parent` (the owner is our parent and started us from its main thread) Linux
sends SIGTERM when it dies, even by SIGKILL (prctl PR_SET_PDEATHSIG, set before Locust and gevent
load); the locustfile also watches `--wl-owner-pid` itself. Nothing of the kit but this file loads.
"""

from __future__ import annotations

import os
import signal
import sys


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def main(argv: list[str]) -> int:
    split = argv.index("--") if "--" in argv else len(argv)
    ours, locust_args = argv[:split], argv[split + 1:]
    owner = int(ours[ours.index("--owner-pid") + 1]) if "--owner-pid" in ours else 0
    if "--die-with-parent" in ours and owner and os.getppid() == owner:
        _die_with_parent()
    if owner and os.getppid() != owner and "--die-with-parent" in ours:
        return 3  # the owner died before we got here
    sys.argv = ["locust", *locust_args]
    from locust.main import main as locust_main

    return locust_main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
