"""The Redis-protocol endpoint a local cache node answers on (localaws/redis_server.py)."""

import socket
import threading
import time

import pytest
import redis

from workshop.localaws.dataplane import DataPlane
from workshop.localaws.redis_server import new_data, serve


@pytest.fixture
def plane():
    plane = DataPlane()
    yield plane
    plane.stop()


@pytest.fixture
def pair(plane):
    """A primary and a read-only replica over the same data."""
    data = new_data()
    primary = plane.run(serve(data))
    replica = plane.run(serve(data, writable=False))
    plane.on_stop(primary.close)
    plane.on_stop(replica.close)
    return primary, replica


def _client(endpoint, **kwargs):
    return redis.Redis(port=endpoint.port, decode_responses=True, socket_timeout=3, **kwargs)


def test_primary_writes_replica_reads_and_refuses_writes(pair):
    """What the primary sets the replica reads; a write on the replica is Redis's READONLY error."""
    primary, replica = pair
    assert _client(primary).set("k", "v")
    assert _client(replica).get("k") == "v"
    with pytest.raises(redis.exceptions.ReadOnlyError):
        _client(replica).incr("counter")


def test_hits_and_misses_count_key_lookups_of_read_commands(pair):
    """GET of an existing key is a hit, of a missing one a miss, MGET counts each key; writes count neither."""
    primary, _ = pair
    c = _client(primary)
    c.set("a", 1)
    c.get("a")
    c.get("b")
    c.mget("a", "b", "c")
    assert (primary.stats.hits, primary.stats.misses) == (2, 3)
    stats = c.info("stats")
    assert (stats["keyspace_hits"], stats["keyspace_misses"]) == (2, 3)
    assert c.info("replication")["role"] == "master"


def test_a_blocking_command_does_not_stall_other_clients(pair):
    """BLPOP waits on the shared loop without blocking it: another client is served, then wakes the waiter."""
    primary, _ = pair
    got = {}
    waiter = threading.Thread(target=lambda: got.setdefault("v", _client(primary).blpop("jobs", timeout=3)))
    waiter.start()
    time.sleep(0.2)
    other = _client(primary)
    assert other.ping()
    other.rpush("jobs", "job-1")
    waiter.join(3)
    assert tuple(got["v"]) == ("jobs", "job-1")


def test_pubsub_reaches_a_subscriber_on_another_connection(pair):
    """PUBLISH on one connection is delivered to a SUBSCRIBE on another."""
    primary, _ = pair
    sub = _client(primary).pubsub()
    sub.subscribe("news")
    assert sub.get_message(timeout=1)["type"] == "subscribe"
    assert _client(primary).publish("news", "hi") == 1
    message = sub.get_message(timeout=2)
    assert message and message["data"] == "hi"
    sub.close()


def test_pipelines_and_resp3_work(pair):
    """A pipeline of five INCRs answers in order; a RESP3 client (HELLO 3) reads hashes as maps."""
    primary, _ = pair
    pipe = _client(primary).pipeline()
    for _ in range(5):
        pipe.incr("n")
    assert pipe.execute() == [1, 2, 3, 4, 5]
    c3 = _client(primary, protocol=3)
    c3.hset("h", mapping={"x": "1"})
    assert c3.hgetall("h") == {"x": "1"}


def test_close_refuses_new_connections_and_drops_open_ones(plane, pair):
    """close(): the port refuses, and an open client's next command fails."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    primary, _ = pair
    c = _client(primary, retry=Retry(NoBackoff(), 0))
    c.ping()
    plane.run(primary.close())
    with pytest.raises(redis.exceptions.ConnectionError):
        c.ping()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", primary.port), timeout=1)
