"""The local AWS: a kit-owned moto server with an extension API, started, found and stopped."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from werkzeug.wrappers import Response

from workshop import aws
from workshop.localaws import discover, process
from workshop.localaws.server import LocalAWS, PortBusy, aws_action


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    """A private WORKSHOP_HOME, so `workshop up` here never meets another local AWS."""
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    monkeypatch.delenv("WORKSHOP_ENDPOINT", raising=False)
    yield tmp_path
    process.down()


def test_busy_port_is_refused_at_once_not_hung():
    """Asking for a port that is taken raises PortBusy within a second, naming the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(PortBusy, match=f"port {port}"):
            LocalAWS(port=port).start()
        assert time.monotonic() - started < 1.0


def test_extension_api_routes_and_after_hooks():
    """A route answers before moto; an after-hook sees moto's answer; other requests reach moto."""
    server = LocalAWS(port=0, extensions=False)
    seen = []
    server.route("GET", r"^/hello/(?P<who>\w+)$", lambda req, m: Response(f"hi {m['who']}"))
    server.after(lambda req: aws_action(req) == "CreateQueue", lambda req, resp: seen.append(resp.status_code))
    server.start()
    try:
        with urllib.request.urlopen(f"{server.endpoint}/hello/learner") as r:
            assert r.read() == b"hi learner"
        import boto3

        sqs = boto3.client("sqs", endpoint_url=server.endpoint, region_name="us-east-1",
                           aws_access_key_id="t", aws_secret_access_key="t")
        sqs.create_queue(QueueName="q1")
        assert seen == [200]
        assert sqs.list_queues()["QueueUrls"][0].endswith("/q1")
    finally:
        server.stop()


def test_background_workers_run_until_stop():
    """A background worker is called repeatedly while the server runs, and not after stop()."""
    server = LocalAWS(port=0, extensions=False)
    calls = []
    server.background("tick", lambda: calls.append(time.monotonic()), interval=0.01)
    server.start()
    time.sleep(0.2)
    server.stop()
    count = len(calls)
    time.sleep(0.1)
    assert count >= 3 and len(calls) == count


def test_up_status_down_in_a_background_process(own_home):
    """`workshop up` serves the AWS API from its own process, status finds it, down stops it."""
    from workshop.commands import status

    state = process.up(port=None)
    assert discover.health(state["endpoint"])["pid"] == state["pid"] != __import__("os").getpid()
    assert process.up()["already_running"] is True
    doc = status.collect()
    assert doc["up"] is True and doc["endpoint"] == state["endpoint"]
    process.down()
    assert discover.health(state["endpoint"]) is None
    assert status.collect()["up"] is False


def test_busy_requested_port_for_up_says_so(own_home):
    """`workshop up --port P` on a busy port says the port is busy and starts nothing."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        with pytest.raises(PortBusy):
            process.up(port=s.getsockname()[1])
    assert discover.running() is None


def test_state_survives_the_client_that_created_it(own_home):
    """Resources created through one process are seen by another client (the server owns the state)."""
    state = process.up()
    code = (
        "from workshop import aws; aws.client('s3').create_bucket(Bucket='sbs-demo-survives')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**__import__("os").environ, "WORKSHOP_ENDPOINT": state["endpoint"]})
    with urllib.request.urlopen(f"{state['endpoint']}/_workshop/health") as r:
        assert json.loads(r.read())["service"] == "workshop-local-aws"
    import os

    os.environ["WORKSHOP_ENDPOINT"] = state["endpoint"]
    try:
        names = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    finally:
        del os.environ["WORKSHOP_ENDPOINT"]
    assert "sbs-demo-survives" in names
