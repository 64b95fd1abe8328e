"""AWS's own tutorials, step by step with the AWS CLI, against a local AWS of the module's own.

Each test module gets one local AWS (`workshop up` in the background, in a WORKSHOP_HOME of its
own) and a `cli` (tutorial_cli.AwsCli) that runs the AWS CLI v1 (`aws`, next to this Python)
against it and nothing else.
"""

from __future__ import annotations

import sys

import pytest

from tutorial_cli import AWS, AwsCli


@pytest.fixture(scope="module")
def local_aws_endpoint(tmp_path_factory):
    """`workshop up` for this module alone: its own WORKSHOP_HOME, stopped with `workshop down`."""
    from workshop.localaws import process

    home = tmp_path_factory.mktemp("aws-docs-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKSHOP_HOME", str(home))
        mp.delenv("WORKSHOP_ENDPOINT", raising=False)
        state = process.up()
        try:
            assert not state.get("already_running"), "a fresh WORKSHOP_HOME has no local AWS yet"
            yield state["endpoint"]
        finally:
            process.down()


@pytest.fixture(scope="module")
def cli(local_aws_endpoint, tmp_path_factory):
    """The AWS CLI against this module's local AWS (see AwsCli)."""
    if not AWS.exists():
        pytest.fail(f"the AWS CLI is not installed next to {sys.executable}: pip install -c constraints.txt -e '.[test]'")
    return AwsCli(local_aws_endpoint, tmp_path_factory.mktemp("aws-cli"))

