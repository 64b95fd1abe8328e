"""A Redis-protocol endpoint over fakeredis: what a local ElastiCache (Redis OSS) node answers.

On AWS each cache node answers Redis on its endpoint (`<cluster>.<hash>.<az>.cache.amazonaws.com:6379`;
ElastiCache User Guide, "Finding connection endpoints"). Here each node gets one
`RedisEndpoint` on a loopback port, serving a fakeredis `FakeServer` (the data). The
members of a replication group share one `FakeServer`: what the primary writes a replica
reads at once; a replica refuses writes with Redis's own `READONLY You can't write against a
read only replica.`

Why this way: fakeredis (2.41) implements the Redis commands (strings, hashes, lists, sets,
sorted sets, streams, pub/sub, transactions, expiry) in pure Python. Its `TcpFakeServer`
serves them with a thread per connection that polls its socket every 10 ms and counts no
keyspace hits or misses. Here fakeredis's asyncio socket (`AsyncFakeSocket`, the one its
asyncio client uses, so blocking commands such as BLPOP wait without blocking the loop) is
fed by an asyncio stream on the data plane's loop: no thread per connection, and each
command is seen on its way in, which gives
- `keyspace_hits` / `keyspace_misses` as Redis counts them: a read command's key that exists
  is a hit, one that does not a miss (Redis, "INFO": "Number of successful lookup of keys in
  the main dictionary"); the ElastiCache metrics CacheHits/CacheMisses are these;
- a capacity gate: `admit(n)` is awaited with the number of commands before their replies go out.

Measured on the kit's 2-core box, side by side (redis-py `GET` on one connection, 3 rounds):
`TcpFakeServer` 11,200-12,900/s, this endpoint 6,000-10,600/s (~12,000/s pipelined); with 50
idle connections `TcpFakeServer`'s polling threads take ~15% of a core, this endpoint <1%.
A cache node costs at most ~35 KiB (`benchmarks/data_endpoints.py`).

This module relies on fakeredis 2.41's `AsyncFakeSocket` and its reply encoder
(`fakeredis._clients._tcp_server.encode_reply`). No AUTH: ElastiCache's AUTH token needs
in-transit encryption (TLS), which the local nodes do not speak.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources

import redis
from fakeredis import FakeServer
from fakeredis._clients._tcp_server import encode_reply
from fakeredis._helpers import SimpleError
from fakeredis._socket._async import AsyncFakeSocket

log = logging.getLogger("workshop.localaws.redis")

#: what `INFO server` reports as redis_version (ElastiCache's Redis OSS 7.1)
DEFAULT_VERSION = (7, 1)
READONLY = "READONLY You can't write against a read only replica."


def _commands() -> dict[str, tuple[frozenset, int, int, int]]:
    """Each command's flags and key positions (first, last, step), from fakeredis's command table."""
    table = json.loads(resources.files("fakeredis").joinpath("commands.json").read_text())
    out = {name: (frozenset(info[2]), info[3], info[4], info[5]) for name, info in table.items() if " " not in name}
    for name in _EVERY_ARGUMENT_A_KEY:  # the table says one key; Redis's COMMAND INFO says -1 (all)
        if name in out:
            out[name] = (out[name][0], 1, -1, 1)
    return out


_EVERY_ARGUMENT_A_KEY = ("mget", "exists", "touch", "sinter", "sunion", "sdiff", "pfcount")


COMMANDS = _commands()


@dataclass
class Stats:
    """What a node counted since it started."""

    commands: int = 0
    hits: int = 0
    misses: int = 0


def new_data(version: tuple[int, int] = DEFAULT_VERSION) -> FakeServer:
    """The data of one cache node, or of all the members of a replication group."""
    return FakeServer(server_type="redis", version=version)


class _NodeSocket(AsyncFakeSocket):
    """fakeredis's asyncio socket, counting hits and misses and refusing writes on a replica."""

    def __init__(self, *args, endpoint: RedisEndpoint, **kwargs):
        self._endpoint = endpoint
        self.processed = 0
        super().__init__(*args, **kwargs)

    def _process_command(self, fields: list[bytes]) -> None:
        if not fields:
            return
        self.processed += 1
        endpoint = self._endpoint
        endpoint.stats.commands += 1
        name = fields[0].decode("utf-8", "replace").lower()
        if name == "info":
            self.put_response(endpoint.info([f.decode("utf-8", "replace") for f in fields[1:]], self._server))
            return
        info = COMMANDS.get(name)
        if info is not None:
            flags, first, last, step = info
            if "write" in flags and not endpoint.writable:
                self.put_response(self._decode_result(SimpleError(READONLY)))
                return
            if "readonly" in flags and first > 0 and self._db is not None:
                end = len(fields) + last if last < 0 else last
                for key in fields[first:end + 1:max(step, 1)]:
                    if key in self._db:
                        endpoint.stats.hits += 1
                    else:
                        endpoint.stats.misses += 1
        super()._process_command(fields)


Admit = Callable[[int], Awaitable[None]]


class RedisEndpoint:
    """One cache node's Redis listener on loopback: `port`, `stats`, `connections`, `drop_connections()`,
    `close()`; `writable` False makes it a read-only replica."""

    def __init__(self, data: FakeServer, admit: Admit | None):
        self.data = data
        self.admit = admit
        self.writable = True
        self.stats = Stats()
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def connections(self) -> int:
        return len(self._writers)

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        sock = _NodeSocket(self.data, db=0, client_class=redis.Redis, lua_modules=None, endpoint=self,
                           client_info={"laddr": f"127.0.0.1:{self.port}", "addr": f"{peer[0]}:{peer[1]}"})
        busy = [False]

        def flush() -> None:
            responses = sock.responses
            while responses is not None and not responses.empty():
                writer.write(encode_reply(responses.get_nowait(), sock._client_info.protocol_version))

        async def pump() -> None:  # replies that come later: a blocking command's, a published message
            while True:
                await sock._response_available.wait()
                sock._response_available.clear()
                if not busy[0]:
                    flush()

        pumping = asyncio.ensure_future(pump())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                busy[0] = True
                before = sock.processed
                try:
                    sock.sendall(data)
                except (SimpleError, redis.ResponseError) as exc:  # not RESP (an inline command): Redis closes too
                    writer.write(encode_reply(exc, 2))
                    break
                except (redis.ConnectionError, StopIteration, RuntimeError):
                    break
                if self.admit is not None and sock.processed > before:
                    await self.admit(sock.processed - before)
                busy[0] = False
                flush()
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            pumping.cancel()
            self._writers.discard(writer)
            sock.close()
            writer.close()

    def info(self, sections: list[str], data: FakeServer) -> bytes:
        """INFO (fakeredis has none): server, clients, stats with keyspace_hits/misses, replication, keyspace."""
        wanted = {s.lower() for s in sections} - {"all", "default", "everything"}
        version = ".".join(str(v) for v in data.version) + ".0"
        keyspace = [f"db{i}:keys={len(db)},expires=0,avg_ttl=0" for i, db in sorted(data.dbs.items()) if len(db)]
        blocks = {
            "server": [f"redis_version:{version}", "redis_mode:standalone", "os:workshop local ElastiCache (fakeredis)",
                       f"tcp_port:{self.port}"],
            "clients": [f"connected_clients:{self.connections}"],
            "stats": [f"total_commands_processed:{self.stats.commands}", f"keyspace_hits:{self.stats.hits}",
                      f"keyspace_misses:{self.stats.misses}"],
            "replication": [f"role:{'master' if self.writable else 'slave'}"],
            "keyspace": keyspace,
        }
        lines = []
        for name, body in blocks.items():
            if not wanted or name in wanted:
                lines += [f"# {name.capitalize()}", *body, ""]
        return "\r\n".join(lines).encode()

    def drop_connections(self) -> int:
        dropped = list(self._writers)
        for writer in dropped:
            writer.transport.abort()
        return len(dropped)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.drop_connections()


async def serve(data: FakeServer, *, port: int = 0, writable: bool = True, admit: Admit | None = None) -> RedisEndpoint:
    """A Redis endpoint on 127.0.0.1:`port` (0: a free one) over `data` (see `new_data`).

    `admit(n)`, if given, is awaited with the number of commands a read brought, before their
    replies are written: the place for a capacity model. Run on the data plane's loop."""
    endpoint = RedisEndpoint(data, admit)
    endpoint.writable = writable
    await endpoint._listen(port)
    return endpoint
