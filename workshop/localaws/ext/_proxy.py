"""Pass one HTTP request on to a loopback port and bring its answer back (aiohttp, keep-alive).

Used by the load balancers, CloudFront and the edge (`elbv2_dataplane`, `cloudfront_dataplane`,
`route53_edge`). It forwards to 127.0.0.1 only: nothing a request says can send it elsewhere.
The caller maps the failures to its own error pages: `Refused` (nothing listens, or the
connection broke) and `TimedOut` (no answer within the read timeout).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

#: headers that describe one connection, not the message (RFC 9110, section 7.6.1), and the
#: framing ones aiohttp sets itself from the body it sends
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"})
LOOPBACK = "127.0.0.1"


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


async def forward(client: aiohttp.ClientSession, port: int, method: str, path_qs: str, headers, body: bytes, *,
                  read_timeout_s: float, connect_timeout_s: float = 1.0) -> Answer:
    """Send the request to 127.0.0.1:`port`; its answer, or Refused / TimedOut."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s)
    url = f"http://{LOOPBACK}:{int(port)}{path_qs if path_qs.startswith('/') else '/' + path_qs}"
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
    return http, listener, listener.sockets[0].getsockname()[1]


async def close(http: web.Server, listener) -> None:
    listener.close()
    await http.shutdown(0.5)
    try:
        await asyncio.wait_for(listener.wait_closed(), 1.0)
    except (asyncio.TimeoutError, Exception):
        pass
