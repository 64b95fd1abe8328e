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
from workshop.localaws import discover, pids, process
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
        assert any(url.endswith("/q1") for url in sqs.list_queues()["QueueUrls"])
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


@pytest.mark.slow
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


@pytest.mark.slow
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


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_loopback_calls_bypass_proxies_from_the_environment(monkeypatch):
    """With HTTP(S)_PROXY/ALL_PROXY at a dead port and no NO_PROXY, health and clients still reach the local AWS."""
    server = LocalAWS(port=0, extensions=False).start()
    try:
        dead = f"http://127.0.0.1:{_dead_port()}"
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(var, dead)
        for var in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("WORKSHOP_ENDPOINT", server.endpoint)
        assert discover.health(server.endpoint)["service"] == "workshop-local-aws"
        assert aws.client("sts").get_caller_identity()["Account"] == "123456789012"
    finally:
        server.stop()


def _record(home, port: int, **state) -> None:
    path = home / "local-aws" / f"{port}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"endpoint": f"http://127.0.0.1:{port}", "port": port, **state}))


def test_records_prefer_the_default_port_then_the_newest(own_home):
    """Two or more recorded local AWSes: the default port's comes first, then the newest."""
    _record(own_home, 5001, started_at=100.0)
    _record(own_home, 5002, started_at=200.0)
    assert [r["port"] for r in discover.records()] == [5002, 5001]
    _record(own_home, discover.DEFAULT_PORT, started_at=50.0)
    assert [r["port"] for r in discover.records()] == [discover.DEFAULT_PORT, 5002, 5001]


@pytest.mark.slow
def test_a_pid_is_the_kit_server_only_with_its_start_time_and_command_line(own_home):
    """A record matches a process only if its recorded start time and the local AWS's command line both do."""
    state = process.up()
    assert discover.is_kit_server(state)
    assert not discover.is_kit_server({**state, "proc_start": "1"})  # same PID, another process (after a reboot)
    me = __import__("os").getpid()
    assert not discover.is_kit_server({**state, "pid": me, "proc_start": pids.start_time(me)})  # not the server


def test_down_removes_a_stale_record_and_signals_nothing(own_home):
    """A record naming a live process that is not the local AWS is removed; the process lives on."""
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        _record(own_home, discover.DEFAULT_PORT, pid=sleeper.pid, proc_start=pids.start_time(sleeper.pid))
        done = process.down()
        assert [d["outcome"] for d in done] == ["stale"]
        assert process.describe(done[0]) == f"a stale record of a local AWS (pid {sleeper.pid} is not it) was removed"
        assert sleeper.poll() is None and discover.records() == []
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow
def test_a_spawned_server_exits_when_its_owner_dies(tmp_path):
    """`spawn(owner_pid=N)` from another process than N: the owner watch stops the server soon after N dies."""
    owner = subprocess.Popen(["sleep", "60"])
    proc, state = process.spawn(0, tmp_path / "state.json", tmp_path / "log", owner_pid=owner.pid)
    try:
        owner.kill()
        owner.wait()
        proc.wait(timeout=5)
        assert discover.health(state["endpoint"]) is None
    finally:
        process.stop(proc)


@pytest.mark.slow
def test_a_server_spawned_from_a_worker_thread_outlives_that_thread(tmp_path):
    """The owner is the process, not the thread that spawned: the server keeps answering after that thread ends."""
    import threading

    out = {}
    worker = threading.Thread(target=lambda: out.update(zip(("proc", "state"), process.spawn(
        0, tmp_path / "state.json", tmp_path / "log"))))
    worker.start()
    worker.join()
    try:
        time.sleep(1.5)
        assert out["proc"].poll() is None and discover.health(out["state"]["endpoint"]) is not None
    finally:
        process.stop(out["proc"])


@pytest.mark.slow
def test_up_replaces_a_stale_record_and_says_so(own_home):
    """`up` with a record naming a process that is not the local AWS: says it removed the record, starts a new one."""
    sleeper = subprocess.Popen(["sleep", "60"])
    said = []
    try:
        _record(own_home, discover.DEFAULT_PORT, pid=sleeper.pid, proc_start=pids.start_time(sleeper.pid))
        state = process.up(say=said.append)
        assert said == [f"a stale record of a local AWS (pid {sleeper.pid} is not it) was removed"]
        assert state["pid"] != sleeper.pid and discover.is_kit_server(state) and sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def _tcp_states(port: int) -> set[str]:
    """The states of this machine's IPv4 TCP sockets bound to `port` (Linux's /proc/net/tcp)."""
    names = {"01": "ESTABLISHED", "06": "TIME_WAIT", "0A": "LISTEN"}
    rows = [line.split() for line in open("/proc/net/tcp").read().splitlines()[1:]]
    return {names.get(r[3], r[3]) for r in rows if int(r[1].split(":")[1], 16) == port}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_restart_on_the_same_port_while_connections_sit_in_time_wait():
    """A server stopped right after serving can be started again on the same port at once (SO_REUSEADDR)."""
    first = LocalAWS(port=0, extensions=False).start()
    port = first.port
    for _ in range(3):  # read to the end: the server closes first, so its side waits in TIME-WAIT
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"GET /_workshop/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            while c.recv(65536):
                pass
    first.stop()
    deadline = time.monotonic() + 2  # the kernel drops the closed listener within a few ms
    while "LISTEN" in _tcp_states(port) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert "TIME_WAIT" in _tcp_states(port)
    second = LocalAWS(port=port, extensions=False).start()
    try:
        assert second.port == port
    finally:
        second.stop()


@pytest.mark.parametrize("version", ["5.3.0", "5.2.4", "6.0.0", "4.2.14"])
def test_a_moto_outside_the_tested_range_is_refused_at_start(monkeypatch, version):
    """Starting with an untested moto refuses in one line naming the installed and the tested versions."""
    from workshop.localaws import server as server_module

    monkeypatch.setattr(server_module, "installed_moto", lambda: version)
    with pytest.raises(server_module.MotoUntested) as caught:
        LocalAWS(port=0).start()
    message = str(caught.value)
    assert f"moto {version}" in message and server_module.TESTED_MOTO in message and "\n" not in message


def test_the_tested_moto_range_is_the_one_pyproject_declares():
    """TESTED_MOTO is pyproject.toml's moto range, and the installed moto is inside it."""
    import re
    from pathlib import Path

    import tomllib

    from workshop.localaws.server import TESTED_MOTO, check_moto

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    declared = [re.sub(r"^moto(\[[^]]*\])?", "", d) for d in project["dependencies"] if d.startswith("moto")]
    assert declared == [TESTED_MOTO]
    check_moto()


def test_extension_patches_are_applied_once_per_process(local_aws):
    """A second server does not patch moto again: the patched methods are the same objects."""
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.elbv2.models import FakeTargetGroup

    before = (FakeTargetGroup.health_for, FakeTargetGroup.register, FakeAutoScalingGroup.set_desired_capacity)
    second = LocalAWS(port=0).start()
    try:
        assert (FakeTargetGroup.health_for, FakeTargetGroup.register,
                FakeAutoScalingGroup.set_desired_capacity) == before
        assert "elbv2_health" in second.extensions and "cloudfront_oac" in second.extensions
    finally:
        second.stop()


def test_extensions_use_the_servers_helpers_not_their_own():
    """No extension parses the SigV4 scope or keeps its own 'patched' flag: they use signed_scope and patches(moto)."""
    from pathlib import Path

    from workshop.localaws import ext

    for path in Path(ext.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "Credential=" not in text, f"{path.name} parses the SigV4 scope itself"
        assert "_PATCHED" not in text and "global _patched" not in text.lower(), f"{path.name} keeps its own patch flag"


@pytest.mark.parametrize("headers, query, expected", [
    ({"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/lambda/aws4_request, "
                       "SignedHeaders=host, Signature=0"}, "", ("lambda", "eu-west-1")),
    ({}, "X-Amz-Credential=AKID%2F20240101%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=0", ("s3", "us-west-2")),
    ({}, "", (None, None)),
    ({"Authorization": "Bearer token"}, "", (None, None)),
])
def test_signed_scope_reads_service_and_region(headers, query, expected):
    """signed_scope gives the service and region of a signed request (header or presigned URL), or (None, None)."""
    from werkzeug.test import EnvironBuilder

    from workshop.localaws.server import signed_scope

    request = EnvironBuilder(path="/", query_string=query, headers=headers).get_request()
    assert tuple(signed_scope(request)) == expected
