"""The target: one frozen value built at the edge, read from the environment in one place."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from workshop import config
from workshop.errors import BadInput


def test_the_environment_is_read_once_into_a_frozen_target():
    """from_environment() reads every WORKSHOP_ setting; the result cannot be changed in place."""
    t = config.from_environment({"WORKSHOP_TARGET": "AWS", "WORKSHOP_REGION": "eu-west-1", "WORKSHOP_AWS_ACCOUNT": "111122223333",
                                 "WORKSHOP_RUN_ID": "class1", "WORKSHOP_HOME": "/tmp/h", "WORKSHOP_ENDPOINT": "http://127.0.0.1:1"})
    assert (t.kind, t.region, t.account, t.run_id, t.home, t.endpoint) == \
        ("aws", "eu-west-1", "111122223333", "class1", Path("/tmp/h"), None)
    with pytest.raises(AttributeError):
        t.region = "us-west-2"  # type: ignore[misc]
    local = config.from_environment({})
    assert (local.kind, local.region, local.account, local.run_id) == ("local", "us-east-1", config.LOCAL_ACCOUNT, "demo")


@pytest.mark.parametrize("changes, message", [
    ({"kind": "azure"}, "unknown target 'azure'"),
    ({"run_id": "no spaces"}, "run id 'no spaces' must be"),
    ({"run_id": "x" * 21}, "must be 1-20"),
    ({"region": "us-east-7"}, "unknown AWS region 'us-east-7'"),
    ({"endpoint": "http://10.0.0.5:4599"}, "talks only to this machine"),
    ({"endpoint": "http://example.com"}, "talks only to this machine"),
])
def test_a_bad_target_is_one_line(changes, message):
    """Unknown kinds, bad run ids, unknown regions and non-loopback endpoints are refused in one line."""
    with pytest.raises(BadInput, match=message) as info:
        config.target(**changes)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:4599", "http://localhost:1", "http://[::1]:80", "http://127.8.9.1"])
def test_loopback_endpoints_are_accepted(url):
    """Every loopback spelling is a local endpoint."""
    assert config.target(endpoint=url).endpoint == url


def test_using_sets_the_current_target_for_a_block_and_per_thread():
    """using() changes current() inside the block only, and not for another thread."""
    outer = config.current()
    inner = config.target(run_id="inner")
    seen = []
    with config.using(inner):
        assert config.current() is inner
        worker = threading.Thread(target=lambda: seen.append(config.current().run_id))
        worker.start()
        worker.join()
    assert config.current() == outer and seen == [outer.run_id]


def test_use_sets_the_process_default_that_using_overrides():
    """use() is the kernel's target; using() wins inside its block; use(None) goes back to the environment."""
    kernel = config.target(run_id="kernel")
    previous = config.use(kernel)
    try:
        assert config.current() is kernel
        with config.using(kernel.replace(run_id="block")):
            assert config.current().run_id == "block"
        assert config.current() is kernel
    finally:
        config.use(previous)


def test_replace_validates_like_a_new_target():
    """A changed copy is checked too: a bad run id is refused, the original is unchanged."""
    t = config.target(run_id="ok")
    with pytest.raises(BadInput):
        t.replace(run_id="not ok!")
    assert t.replace(region="eu-west-1").region == "eu-west-1" and t.region == "us-east-1"
