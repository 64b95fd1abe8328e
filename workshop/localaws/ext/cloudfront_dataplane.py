"""CloudFront distributions that answer real HTTP requests on loopback, with a cache.

Every enabled distribution gets a loopback port from its creation, published as kind
`distribution` with names (its `dxxxx.cloudfront.net` domain and its aliases); the propagation to
edge locations that its Status (InProgress -> Deployed) reports is not modelled: it answers at
once, whatever the API says its status is. As CloudFront does (Developer
Guide, "How CloudFront delivers content", "Cache behavior settings"):

- a request's path picks the first cache behaviour whose PathPattern matches, else the default
  one (`_cloudfront_cache.matches`); a method the behaviour does not allow is a 403;
- an S3 origin is read straight from the local S3, as the origin access control and the bucket
  policy allow (`_cloudfront_s3`): S3's own 403 AccessDenied passes through otherwise;
- a custom origin whose domain is a load balancer's DNS name (or a distribution's, an instance's)
  is reached on that thing's data-plane port; an origin that answers nowhere here is CloudFront's
  502 ("CloudFront wasn't able to connect to the origin");
- GET and HEAD answers are cached by the behaviour's cache policy (managed ones by id, or the
  legacy MinTTL/DefaultTTL/MaxTTL), keyed by path (+ query string when the policy includes it);
  answers carry `X-Cache: Hit from cloudfront`, `Miss from cloudfront` or `RefreshHit from
  cloudfront` (an expired entry the origin confirmed with 304), `Age` on cached answers, `Via`
  and `X-Amz-Cf-Id`; errors carry `X-Cache: Error from cloudfront`;
- CreateInvalidation empties the matching entries before its answer returns.

Not modelled: the viewer protocol policy (everything is plain HTTP on loopback: no redirect to
HTTPS), origin request and response headers policies (the viewer's headers are forwarded as they
are), compression, origin groups, functions, signed URLs, error caching, geo restrictions.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from . import _cloudfront_cache as cache
from . import _cloudfront_s3 as s3
from . import _proxy

log = logging.getLogger("workshop.localaws.cloudfront")

RECONCILE_EVERY_S = 1.0
#: CloudFront's origin response timeout default: 30 s (Developer Guide, "Response timeout")
ORIGIN_READ_TIMEOUT_S = 30.0

_planes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def plane_of(server) -> Distributions | None:
    return _planes.get(server)


@dataclass(frozen=True)
class OriginSpec:
    id: str
    domain: str
    path: str
    bucket: str | None  # an S3 origin's bucket
    oac: bool
    oai: str


@dataclass(frozen=True)
class BehaviourSpec:
    pattern: str  # "" for the default behaviour
    origin_id: str
    policy: cache.Policy
    allowed: tuple[str, ...]
    cached: tuple[str, ...]


@dataclass(frozen=True)
class DistributionSpec:
    id: str
    arn: str
    domain: str
    aliases: tuple[str, ...]
    account: str
    origins: tuple[OriginSpec, ...]
    behaviours: tuple[BehaviourSpec, ...]  # in order, the default last
    root_object: str

    def behaviour(self, path: str) -> BehaviourSpec:
        for behaviour in self.behaviours[:-1]:
            if cache.matches(behaviour.pattern, path):
                return behaviour
        return self.behaviours[-1]

    def origin(self, origin_id: str) -> OriginSpec | None:
        return next((o for o in self.origins if o.id == origin_id), None)


def _items(value) -> list:
    if isinstance(value, dict):
        value = value.get("Items") or []
    if isinstance(value, dict):  # xml: {"Method": [...]} / {"CNAME": ...}
        value = next(iter(value.values()), [])
    return value if isinstance(value, list) else [value] if value else []


def _methods(allowed) -> tuple[tuple[str, ...], tuple[str, ...]]:
    methods = tuple(m.upper() for m in _items(getattr(allowed, "items", None))) or ("GET", "HEAD")
    cached = tuple(m.upper() for m in _items(getattr(allowed, "cached_methods", None))) or ("GET", "HEAD")
    return methods, cached


def _truthy(value) -> bool:
    return value is True or str(value).lower() == "true"


def _behaviour(b, pattern: str) -> BehaviourSpec:
    forwarded = getattr(b, "forwarded_values", None)
    query = _truthy(getattr(forwarded, "QueryString", False))
    cookies = str((getattr(forwarded, "Cookies", None) or {}).get("Forward", "none")).lower() != "none"
    policy = cache.policy_for(b.cache_policy_id or "", (int(b.min_ttl or 0), int(b.default_ttl or 0),
                                                         int(b.max_ttl or 0)), query, cookies)
    allowed, cached = _methods(b.allowed_methods)
    return BehaviourSpec(pattern, b.target_origin_id, policy, allowed, cached)


def _spec(account: str, backend, dist) -> DistributionSpec:
    config = dist.distribution_config
    oacs = getattr(backend, "origin_access_controls", {})
    origins = []
    for o in _items(config.Origins):
        oac_id = getattr(o, "origin_access_control_id", "")
        oai = (o.s3_access_identity or "").rsplit("/", 1)[-1]
        custom = getattr(o, "custom_origin_config", None) is not None
        origins.append(OriginSpec(o.id, o.domain_name.lower().rstrip("."), o.origin_path or "",
                                  None if custom else s3.bucket_of(o.domain_name),
                                  bool(oac_id) and oac_id in oacs, oai))
    behaviours = [_behaviour(b, b.path_pattern) for b in _items(config.CacheBehaviors)]
    behaviours.append(_behaviour(config.DefaultCacheBehavior, ""))
    aliases = tuple(a.lower() for a in _items(config.Aliases))
    return DistributionSpec(dist.id, dist.arn, dist.domain_name, aliases, account, tuple(origins), tuple(behaviours),
                            (config.DefaultRootObject or "").lstrip("/"))


def read() -> tuple[dict[str, DistributionSpec], dict[str, list]]:
    """Enabled distributions by id; each distribution's invalidations (id, paths)."""
    from moto.cloudfront.models import cloudfront_backends

    specs, invalidations = {}, {}
    for account, _region, backend in list(cloudfront_backends.iter_backends()):
        for dist in list(backend.distributions.values()):
            if not _truthy(dist.distribution_config.Enabled):
                continue
            specs[dist.id] = _spec(account, backend, dist)
            invalidations[dist.id] = [(i.id, list(i.paths)) for i in backend.invalidations.get(dist.id, [])]
    return specs, invalidations


def cloudfront_error(status: int, text: str) -> web.Response:
    """CloudFront's own error page ("The request could not be satisfied")."""
    body = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n'
            '<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">\n'
            "<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n"
            f"<H1>{status} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n"
            f"{text}\n<BR clear=\"all\">\n</BODY></HTML>")
    return web.Response(status=status, body=body.encode("latin-1"), content_type="text/html",
                        headers={"Server": "CloudFront", "X-Cache": "Error from cloudfront"})


class _Listener:
    def __init__(self, spec: DistributionSpec):
        self.spec = spec
        self.cache = cache.Cache()
        self.http = self.listener = None
        self.port = 0
        self.via = f"1.1 {os.urandom(16).hex()}.cloudfront.net (CloudFront)"


class Distributions:
    def __init__(self, server):
        self.server = server
        self.dataplane = server.dataplane
        self.edges: dict[str, _Listener] = {}
        self.applied: set[str] = set()  # invalidation ids already applied
        self._lock = threading.Lock()
        self._client = None
        self._stopped = False
        self._s3_reads = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="local-aws:cloudfront-s3")

    # --- moto -> data plane ------------------------------------------------------------------
    def reconcile(self) -> None:
        if self._stopped:
            return
        with self._lock:
            try:
                specs, invalidations = read()
            except RuntimeError:
                return
            if not specs and not self.edges:
                return
            for dist_id in list(self.edges):
                if dist_id not in specs:
                    self.dataplane.run(self._close(dist_id))
            for dist_id, spec in specs.items():
                edge = self.edges.get(dist_id)
                if edge is None:
                    self.dataplane.run(self._open(spec))
                    self.applied.update(i for i, _ in invalidations.get(dist_id, []))
                elif edge.spec != spec:
                    edge.spec = spec
                    self._publish(edge)
            fresh = [(d, i, paths) for d, items in invalidations.items() for i, paths in items if i not in self.applied]
            if fresh:
                self.dataplane.run(self._invalidate(fresh))

    async def _invalidate(self, fresh) -> None:
        for dist_id, invalidation_id, paths in fresh:
            edge = self.edges.get(dist_id)
            if edge is not None:
                edge.cache.invalidate(paths)
            self.applied.add(invalidation_id)

    def _publish(self, edge: _Listener) -> None:
        from ..dataplane import Endpoint

        spec = edge.spec
        self.dataplane.publish(Endpoint(
            "distribution", spec.id, edge.port, account=spec.account, names=(spec.domain, *spec.aliases),
            details={"arn": spec.arn, "behaviours": [f"{b.pattern or 'default'} -> {b.origin_id} ({b.policy.name})"
                                                     for b in spec.behaviours]}))

    async def _open(self, spec: DistributionSpec) -> None:
        if self._client is None:
            self._client = _proxy.session()
        edge = _Listener(spec)

        async def handle(request):
            return await self._handle(edge, request)

        edge.http, edge.listener, edge.port = await _proxy.serve(handle)
        self.edges[spec.id] = edge
        self._publish(edge)
        log.info("distribution %s answers on 127.0.0.1:%d", spec.domain, edge.port)

    async def _close(self, dist_id: str) -> None:
        edge = self.edges.pop(dist_id, None)
        self.dataplane.withdraw("distribution", dist_id)
        if edge is not None:
            await _proxy.close(edge.http, edge.listener)

    async def shutdown(self) -> None:
        self._stopped = True
        for dist_id in list(self.edges):
            await self._close(dist_id)
        if self._client is not None:
            await self._client.close()
        self._s3_reads.shutdown(wait=False, cancel_futures=True)

    # --- a request --------------------------------------------------------------------------
    async def _handle(self, edge: _Listener, request: web.BaseRequest) -> web.StreamResponse:
        spec = edge.spec
        path = request.path
        behaviour = spec.behaviour(path)
        method = request.method.upper()
        if method not in behaviour.allowed:
            return cloudfront_error(403, "This distribution is not configured to allow the HTTP request method that "
                                         "was used for this request. The distribution supports only cachable requests.")
        origin = spec.origin(behaviour.origin_id)
        if origin is None:
            return cloudfront_error(502, f"The behaviour's origin {behaviour.origin_id!r} does not exist.")
        cacheable = method in ("GET", "HEAD") and method in behaviour.cached and behaviour.policy.max_ttl > 0
        key = cache.Cache.key(path, request.query_string, behaviour.policy)
        now = time.monotonic()
        entry = edge.cache.get(key) if cacheable else None
        if entry is not None and entry.fresh(now):
            return self._answer(edge, method, entry.status, entry.headers, entry.body, "Hit", entry.age(now))
        validators = entry.validators if entry is not None else {}
        try:
            status, headers, body = await self._fetch(spec, origin, request, method, path, validators)
        except _proxy.Refused:
            return cloudfront_error(502, "CloudFront wasn't able to connect to the origin.")
        except _proxy.TimedOut:
            return cloudfront_error(504, "CloudFront attempted to establish a connection with the origin, but either "
                                         "the attempt failed or the origin closed the connection.")
        if entry is not None and status == 304:
            entry.stored, entry.ttl = now, cache.ttl(behaviour.policy, entry.status, CIMultiDict(entry.headers)) or 0
            return self._answer(edge, method, entry.status, entry.headers, entry.body, "RefreshHit", 0)
        if status >= 400:
            return self._answer(edge, method, status, headers, body, "Error", None)
        seconds = cache.ttl(behaviour.policy, status, CIMultiDict(headers)) if cacheable and method == "GET" else 0
        if seconds > 0:
            found = CIMultiDict(headers)
            kept = {k: found[k] for k in ("ETag", "Last-Modified") if k in found}
            edge.cache.put(key, cache.Entry(status, headers, body, now, seconds, kept))
        return self._answer(edge, method, status, headers, body, "Miss", None)

    async def _fetch(self, spec: DistributionSpec, origin: OriginSpec, request, method: str, path: str,
                     validators: dict) -> tuple[int, list[tuple[str, str]], bytes]:
        if origin.bucket is not None:
            if path == "/" and spec.root_object:
                path = "/" + spec.root_object
            key = (origin.path.strip("/") + "/" if origin.path.strip("/") else "") + unquote(path.lstrip("/"))
            reader = s3.Reader(spec.arn, origin.oac, origin.oai)
            # moto's objects are read off the loop (a large object must not stall every other request)
            return await asyncio.get_running_loop().run_in_executor(self._s3_reads, s3.read, origin.bucket, key,
                                                                    reader, validators.get("ETag"))
        target = self.dataplane.by_host(origin.domain)
        if target is None or target.kind not in ("load-balancer", "distribution", "instance") \
                or target.host != _proxy.LOOPBACK:
            raise _proxy.Refused(f"no data-plane endpoint named {origin.domain}")
        headers = _proxy.end_to_end(request.headers)
        client = _proxy.client_ip(request)
        previous = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{previous}, {client}" if previous else client
        headers["Via"] = f"1.1 {spec.domain} (CloudFront)"
        if "ETag" in validators:
            headers["If-None-Match"] = validators["ETag"]
        if "Last-Modified" in validators:
            headers["If-Modified-Since"] = validators["Last-Modified"]
        path_qs = (origin.path.rstrip("/") + request.raw_path) if origin.path else request.raw_path
        body = await request.read()
        answer = await _proxy.forward(self._client, target.port, method, path_qs, headers, body,
                                      read_timeout_s=ORIGIN_READ_TIMEOUT_S)
        headers = list(answer.headers.items())
        if method == "HEAD" and answer.length is not None:
            headers.append(("Content-Length", answer.length))
        return answer.status, headers, answer.body

    @staticmethod
    def _answer(edge: _Listener, method: str, status: int, headers, body: bytes, outcome: str,
                age: int | None) -> web.Response:
        out = CIMultiDict(headers)
        out["X-Cache"] = f"{outcome} from cloudfront"
        out["Via"] = edge.via
        out["X-Amz-Cf-Pop"] = "LOCAL1-P1"
        out["X-Amz-Cf-Id"] = base64.urlsafe_b64encode(os.urandom(42)).decode()
        if age is not None and outcome in ("Hit", "RefreshHit"):
            out["Age"] = str(age)
        return _proxy.respond(status, out, body, method, out.get("Content-Length") if not body else None)


def _is_cloudfront(request) -> bool:
    from ..server import signed_scope

    return request.method in ("POST", "PUT", "DELETE") and signed_scope(request).service == "cloudfront"


def install(server) -> None:
    plane = Distributions(server)
    _planes[server] = plane
    server.after(_is_cloudfront, lambda request, response: plane.reconcile())
    server.background("cloudfront-dataplane", plane.reconcile, RECONCILE_EVERY_S)
    server.dataplane.on_stop(plane.shutdown)
