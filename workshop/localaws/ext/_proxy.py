"""Pass one HTTP request on to a loopback port and bring its answer back (aiohttp, keep-alive).

Used by the load balancers, CloudFront and the edge (`elbv2_dataplane`, `cloudfront_dataplane`,
`route53_edge`). It forwards to 127.0.0.1 only: nothing a request says can send it elsewhere.
The caller maps the failures to its own error pages: `Refused` (nothing listens, or the
connection broke) and `TimedOut` (no answer within the read timeout).

**A hop between two of these proxies is a call.** Each one listens on its own loopback port
(`serve`), so `curl` reaches any of them. When one forwards to a port that another of them serves
in this same process (the edge to a CloudFront distribution, a distribution to a load balancer),
`forward` calls that proxy's handler with the request (`LocalRequest`: method, path, headers, body)
instead of writing HTTP to a socket and parsing it back on the same event loop: the same handler,
the same answer, without two HTTP parsers and a connection per hop (`benchmarks/stage6_path.py`:
alone this did not lift stage 6's path, which waited on the interpreter lock and the session write,
see docs/performance.md; it is the loop's work saved once those were mended). The last hop, to an instance's web app (a whole
aiohttp application with its own middleware and files), stays HTTP, as do requests from outside.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

log = logging.getLogger("workshop.localaws.proxy")

#: headers that describe one connection, not the message (RFC 9110, section 7.6.1), and the
#: framing ones aiohttp sets itself from the body it sends
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"})
LOOPBACK = "127.0.0.1"
#: loopback port -> (its event loop, the handler of the proxy this process serves there): `serve` adds, `close` removes
_LOCAL: dict[int, tuple[asyncio.AbstractEventLoop, Callable[[object], Awaitable[web.StreamResponse]]]] = {}


class Refused(Exception):
    """Nothing accepted the connection, or it broke before a whole answer came back."""


class TimedOut(Exception):
    """The origin accepted the request but did not answer within the read timeout."""


@dataclass
class Answer:
    status: int
    headers: CIMultiDict
    body: bytes
    length: str | None = None  # the origin's Content-Length (what a HEAD answer must keep)

    def response(self, method: str = "GET") -> web.Response:
        return respond(self.status, self.headers, self.body, method, self.length)


def respond(status: int, headers, body: bytes, method: str, length: str | None = None) -> web.Response:
    """A response; to HEAD, without the body but with the Content-Length a GET would have."""
    if method.upper() != "HEAD":
        return web.Response(status=status, headers=headers, body=body)
    headers = CIMultiDict(headers)
    headers["Content-Length"] = length if length is not None else str(len(body))
    return web.Response(status=status, headers=headers)


def end_to_end(headers) -> CIMultiDict:
    """`headers` without the hop-by-hop ones (and any named in `Connection`)."""
    named = {h.strip().lower() for h in headers.get("Connection", "").split(",") if h.strip()}
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP and k.lower() not in named)


def session(limit_per_host: int = 256) -> aiohttp.ClientSession:
    """A pool of keep-alive connections; bodies pass as they are (no decompression), no headers added."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=limit_per_host, keepalive_timeout=30)
    return aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                 skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))


class LocalRequest:
    """A request handed to a proxy of this process (see the module): what the proxies read of one."""

    transport = None  # no socket: `client_ip` says loopback, as the forwarding proxy's address would be

    def __init__(self, method: str, path_qs: str, headers, body: bytes):
        url = URL(path_qs, encoded=True)
        self.method = method
        self.raw_path = path_qs
        self.path, self.query_string = url.path, url.query_string
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self._body = body or b""

    async def read(self) -> bytes:
        return self._body


async def _call(handler, method: str, path_qs: str, headers, body: bytes, read_timeout_s: float) -> Answer:
    try:
        response = await asyncio.wait_for(handler(LocalRequest(method, path_qs, headers, body)), read_timeout_s)
    except asyncio.TimeoutError as exc:
        raise TimedOut(f"no answer within {read_timeout_s:g} s") from exc
    except web.HTTPException as exc:  # as aiohttp's server answers a raised one
        response = exc
    except Exception:  # as aiohttp's server answers a handler that failed
        log.exception("a proxy's handler failed")
        response = web.Response(status=500, text="500 Internal Server Error\n")
    body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
    return Answer(response.status, end_to_end(response.headers), body, response.headers.get("Content-Length"))


async def forward(client: aiohttp.ClientSession, port: int, method: str, path_qs: str, headers, body: bytes, *,
                  read_timeout_s: float, connect_timeout_s: float = 1.0) -> Answer:
    """Send the request to 127.0.0.1:`port` (a call when a proxy of this process serves it); its answer,
    or Refused / TimedOut."""
    path_qs = path_qs if path_qs.startswith("/") else "/" + path_qs
    local = _LOCAL.get(int(port))
    if local is not None and local[0] is asyncio.get_running_loop():  # (another local AWS's loop: HTTP)
        return await _call(local[1], method, path_qs, headers, body, read_timeout_s)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s)
    url = f"http://{LOOPBACK}:{int(port)}{path_qs}"
    for attempt in (1, 2):
        try:
            async with client.request(method, url, headers=headers, data=body or None, allow_redirects=False,
                                      timeout=timeout) as reply:
                data = await reply.read()
                return Answer(reply.status, end_to_end(reply.headers), data, reply.headers.get("Content-Length"))
        except aiohttp.ServerDisconnectedError as exc:
            # a pooled connection the origin had closed: one fresh try (safe: nothing was answered)
            if attempt == 2:
                raise Refused(str(exc) or "the origin closed the connection") from exc
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
            raise TimedOut(f"no answer within {read_timeout_s:g} s") from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise Refused(str(exc) or type(exc).__name__) from exc
    raise Refused("unreachable")  # pragma: no cover


def client_ip(request: web.BaseRequest) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return peer[0] if peer else LOOPBACK


async def serve(handler) -> tuple[web.Server, object, int]:
    """An aiohttp low-level server for `handler` on a free loopback port: (server, listener, port)."""
    from ..dataplane import free_port_server

    http = web.Server(handler, access_log=None)
    listener = await free_port_server(http)
    port = listener.sockets[0].getsockname()[1]
    _LOCAL[port] = (asyncio.get_running_loop(), handler)
    return http, listener, port


async def close(http: web.Server, listener) -> None:
    for sock in listener.sockets or ():
        _LOCAL.pop(sock.getsockname()[1], None)
    listener.close()
    await http.shutdown(0.5)
    try:
        await asyncio.wait_for(listener.wait_closed(), 1.0)
    except (asyncio.TimeoutError, Exception):
        pass
