"""Shared fixtures: an embedded local AWS for the whole session, state in a temp folder."""

from __future__ import annotations

import os

import pytest

from kit_processes import kit_processes as _kit_processes

# Tests never touch a real account: drop anything that could select one, before imports.
for _var in ("WORKSHOP_TARGET", "WORKSHOP_AWS_ACCOUNT", "WORKSHOP_ENDPOINT", "WORKSHOP_RUN_ID"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session", autouse=True)
def workshop_home(tmp_path_factory):
    """Keep the kit's state (local AWS address, logs) out of the user's home."""
    home = tmp_path_factory.mktemp("workshop-home")
    os.environ["WORKSHOP_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def local_aws(workshop_home):
    """A local AWS (moto + the kit's extensions) in this process, shared by the session."""
    from workshop.localaws import discover

    server = discover.start_embedded()
    os.environ["WORKSHOP_ENDPOINT"] = server.endpoint
    yield server
    os.environ.pop("WORKSHOP_ENDPOINT", None)


@pytest.fixture(autouse=True)
def _kernel_target_per_test():
    """notebook.start() makes its target the kernel's (`config.use`); a test is a kernel of its own."""
    from workshop import config

    previous = config.use(None)
    yield
    config.use(previous)


# --- no kit process outlives the suite -------------------------------------------------------

def pytest_sessionstart(session):
    session.config._kit_processes_before = set(_kit_processes())


def pytest_sessionfinish(session, exitstatus):
    """The suite's last check: every local AWS and Lambda worker it started is gone once it ends
    (the embedded local AWS is stopped first; what it started gets a few seconds to go)."""
    import time

    from workshop.localaws import discover

    if discover.embedded() is not None:
        discover.embedded().stop()
    before = getattr(session.config, "_kit_processes_before", set())
    deadline = time.monotonic() + 10
    while True:
        left = {pid: line for pid, line in _kit_processes().items() if pid not in before}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if left:
        lines = "\n".join(f"  pid {pid}: {line[:160]}" for pid, line in sorted(left.items()))
        print(f"\nFAILED: {len(left)} kit process(es) the suite started are still running:\n{lines}")
        session.exitstatus = 1
