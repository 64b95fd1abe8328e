"""The data plane's loop and registry: what the web, database and cache emulations stand on."""

import asyncio
import json
import socket
import urllib.error
import urllib.request

import pytest

from workshop.localaws.dataplane import DataPlane, Endpoint, free_port_server
from workshop.localaws.server import LocalAWS


class _Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


def _listen(plane: DataPlane) -> int:
    async def start():
        server = await free_port_server(_Echo)
        plane.on_stop(server.close)
        return server.sockets[0].getsockname()[1]

    return plane.run(start())


def test_a_listener_answers_then_stop_closes_it():
    plane = DataPlane()
    port = _listen(plane)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"ping")
        assert conn.recv(4) == b"ping"
    plane.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    plane.stop()  # twice is fine


def test_only_loopback_listeners():
    plane = DataPlane()
    try:
        with pytest.raises(ValueError, match="loopback only"):
            plane.run(free_port_server(_Echo, host="0.0.0.0"))
    finally:
        plane.stop()


def test_registry_finds_by_kind_id_and_aws_name():
    plane = DataPlane()
    lb = plane.publish(Endpoint("load-balancer", "arn:lb/1", 4001, names=("sbs-r-alb-1.us-east-1.elb.amazonaws.com",)))
    plane.publish(Endpoint("instance", "i-1", 4002, details={"az": "us-east-1a"}))
    assert plane.find("load-balancer", "arn:lb/1") is lb
    assert plane.by_host("SBS-R-ALB-1.us-east-1.elb.amazonaws.com.:80") is lb
    assert plane.by_host("example.com") is None and plane.by_host("") is None
    assert [e["kind"] for e in plane.listing()] == ["instance", "load-balancer"]
    assert plane.listing()[0]["url"] == "http://127.0.0.1:4002"
    assert plane.withdraw("instance", "i-1").port == 4002
    assert plane.find("instance", "i-1") is None
    with pytest.raises(ValueError, match="unknown data-plane kind"):
        Endpoint("spaceship", "x", 1)


def test_a_name_answers_for_its_first_endpoint_until_withdrawn_or_renamed():
    """Two endpoints answering to one name (a distribution's alias and the record of it): the first published
    answers, keeps its place when published again unchanged; withdrawn or renamed, the other answers."""
    plane = DataPlane()
    cdn = plane.publish(Endpoint("distribution", "E1", 4001, names=("d1.cloudfront.net", "www.r.example")))
    record = plane.publish(Endpoint("record", "Z1/www.r.example", 4002, names=("www.r.example",)))
    assert plane.by_host("www.r.example") is cdn
    cdn = plane.publish(Endpoint("distribution", "E1", 4003, names=("d1.cloudfront.net", "www.r.example")))
    assert plane.by_host("www.r.example") is cdn and cdn.port == 4003
    plane.publish(Endpoint("distribution", "E1", 4003, names=("d1.cloudfront.net",)))
    assert plane.by_host("www.r.example") is record and plane.by_host("d1.cloudfront.net").port == 4003
    plane.withdraw("record", "Z1/www.r.example")
    assert plane.by_host("www.r.example") is None
    plane.withdraw("distribution", "E1")
    assert plane.by_host("d1.cloudfront.net") is None


def test_run_on_the_loop_itself_is_refused():
    plane = DataPlane()

    async def nested():
        return plane.run(asyncio.sleep(0))

    try:
        with pytest.raises(RuntimeError, match="own loop"):
            plane.run(nested())
    finally:
        plane.stop()


def test_local_aws_lists_its_endpoints_and_stops_its_data_plane():
    aws = LocalAWS(extensions=False).start()
    try:
        with urllib.request.urlopen(f"{aws.endpoint}/_workshop/endpoints", timeout=5) as r:
            assert json.load(r) == {"endpoints": [], "scale": 1}
        port = _listen(aws.dataplane)
        aws.dataplane.publish(Endpoint("instance", "i-abc", port))
        with urllib.request.urlopen(f"{aws.endpoint}/_workshop/endpoints", timeout=5) as r:
            assert [e["resource_id"] for e in json.load(r)["endpoints"]] == ["i-abc"]
    finally:
        aws.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_scale_is_set_through_the_local_aws_and_checked():
    aws = LocalAWS(extensions=False).start()
    try:
        def call(body=None):
            req = urllib.request.Request(f"{aws.endpoint}/_workshop/dataplane/scale", method="POST" if body else "GET",
                                         data=json.dumps(body).encode() if body else None)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, json.load(r)
            except urllib.error.HTTPError as exc:
                return exc.code, json.load(exc)

        assert call() == (200, {"scale": 1})
        assert call({"scale": 500}) == (200, {"scale": 500})
        status, body = call({"scale": 0})
        assert status == 400 and "whole number from 1" in body["message"]
        assert call({"scale": "9"})[0] == 400 and call()[1] == {"scale": 500}
        assert call({"scale": 7, "run": "demo-s07"}) == (200, {"scale": 7, "run": "demo-s07"})
        assert call() == (200, {"scale": 500}) and aws.dataplane.scale_for(name="sbs-demo-s07-web-a") == 7
    finally:
        aws.stop()


@pytest.mark.slow  # status reads the course's resources from moto (~8 s cold)
def test_status_lists_what_serves_traffic(tmp_path, capsys):
    """`workshop status` shows each endpoint's loopback URL and AWS names; --json carries them."""
    from workshop import config
    from workshop.commands import status

    aws = LocalAWS(extensions=False).start()
    try:
        aws.dataplane.publish(Endpoint("load-balancer", "arn:aws:elasticloadbalancing:lb/x", 4567,
                                       names=("sbs-r-alb-1.us-east-1.elb.amazonaws.com",)))
        with config.using(config.target("local", endpoint=aws.endpoint, home=tmp_path)):
            doc = status.collect()
            assert [e["url"] for e in doc["endpoints"]] == ["http://127.0.0.1:4567"]
            status.run(type("Args", (), {"json": False})())
    finally:
        aws.stop()
    assert "load-balancer arn:aws:elasticloadbalancing:lb/x: http://127.0.0.1:4567 " \
           "(sbs-r-alb-1.us-east-1.elb.amazonaws.com)" in capsys.readouterr().out


def test_each_course_run_has_its_own_scale():
    """Two notebooks on one local AWS: each run's machines (by run tag or `sbs-<run>-` name) keep their own
    scale; the longest run id that fits a name wins; machines of no run keep the default."""
    plane = DataPlane()
    plane.set_scale(5, run="demo-s06")
    plane.set_scale(4, run="demo-s07")
    plane.set_scale(2, run="demo")
    assert plane.scale_for(run="demo-s07") == 4 and plane.scale_for(run="demo-s06") == 5
    assert plane.scale_for(name="sbs-demo-s06-db") == 5 and plane.scale_for(name="sbs-demo-db") == 2
    assert plane.scale_for(run="other", name="sbs-other-web-a") == 1 == plane.scale
    with pytest.raises(ValueError, match="course run id"):
        plane.set_scale(3, run="not a run!")
    assert plane.scales() == {"demo-s06": 5, "demo-s07": 4, "demo": 2}
