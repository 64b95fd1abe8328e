"""The probe: a trickle of requests that shows an outage begin and end, and who answered."""

import time

import pytest
from aiohttp import web

from workshop import config
from workshop.errors import BadInput, WorkshopError
from workshop.localaws.dataplane import Endpoint
from workshop.localaws.server import LocalAWS
from workshop.traffic import probe


@pytest.fixture()
def site(tmp_path):
    """A local AWS whose data plane has one web server answering as i-1 in us-east-1a, and a www record."""
    aws = LocalAWS(extensions=False).start()
    state = {"up": True}

    async def page(request):
        if not state["up"]:
            raise web.HTTPServiceUnavailable()
        return web.Response(text="hi", headers={"X-Instance-Id": "i-1", "X-Availability-Zone": "us-east-1a"})

    async def start():
        app = web.Application()
        app.router.add_get("/", page)
        runner = web.AppRunner(app)
        await runner.setup()
        site_ = web.TCPSite(runner, "127.0.0.1", 0)
        await site_.start()
        aws.dataplane.on_stop(runner.cleanup)
        return runner.addresses[0][1]

    port = aws.dataplane.run(start())
    aws.dataplane.publish(Endpoint("instance", "i-1", port, names=("ec2-1.compute-1.amazonaws.com",)))
    aws.dataplane.publish(Endpoint("record", "Z/www.run.example", port, names=("www.run.example",)))
    with config.using(config.target("local", endpoint=aws.endpoint, home=tmp_path)):
        yield aws, port, state
    aws.stop()


def test_an_outage_shows_as_errors_then_recovery(site):
    aws, port, state = site
    with probe.Probe(f"http://127.0.0.1:{port}", rate=40) as p:
        time.sleep(0.5)
        state["up"] = False
        time.sleep(1.0)
        state["up"] = True
        time.sleep(0.5)
    r = p.result
    assert r.first_error_at is not None and 0.3 < r.first_error_at < 1.6
    assert r.recovered_at is not None and r.recovered_at > r.first_error_at
    assert r.errors(r.recovered_at) == 0 and r.errors() >= 10
    assert r.by_az() == {"us-east-1a": r.ok_count()} and set(r.by_instance()) == {"i-1"}


def test_a_dead_port_fails_fast_not_hangs(site):
    aws, port, state = site
    aws.dataplane.run(_close_all(aws))
    started = time.monotonic()
    r = probe.probe(f"http://127.0.0.1:{port}", seconds=0.5, rate=20)
    assert time.monotonic() - started < 2.5
    assert r.ok_count() == 0 and r.errors() >= 5 and r.recovered_at is None and "x" in r.timeline()


async def _close_all(aws):
    for hook in aws.dataplane._on_stop:
        await hook()


def test_where_finds_course_names_and_refuses_the_rest(site):
    aws, port, state = site
    assert probe.where("www.run.example") == probe.Where(f"http://127.0.0.1:{port}", "www.run.example")
    assert probe.where("ec2-1.compute-1.amazonaws.com.") == probe.Where(f"http://127.0.0.1:{port}")
    with pytest.raises(WorkshopError, match="www.run.example"):
        probe.where("www.example.com")
    with pytest.raises(BadInput, match="this machine only"):
        probe.where("http://198.51.100.7/")
    with pytest.raises(BadInput, match="1 to 200"):
        probe.Probe(f"http://127.0.0.1:{port}", rate=0)
