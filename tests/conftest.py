"""Shared fixtures: an embedded local AWS for the whole session, state in a temp folder."""

from __future__ import annotations

import os

import pytest

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
