"""CloudFront's cache rules: which behaviour a path takes, how long an answer stays, what a key is.

Sources (CloudFront Developer Guide): "Cache behavior settings" (path patterns: case-sensitive,
`*` any run of characters, `?` exactly one, first match in the distribution's order, else the
default behaviour); "Use managed cache policies" (the policies below, by id); "Manage how long
content stays in the cache (expiration)" (how Cache-Control, Expires and the TTLs combine).

Simplifications, stated in docs/local-routing.md: only 200, 203, 300, 301 and 410 answers are
cached (no error caching); an answer with `Set-Cookie` is not cached unless the policy forwards
cookies; the key is the path, plus the whole query string when the policy includes query strings.
"""

from __future__ import annotations

import email.utils
import functools
import re
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Policy:
    name: str
    min_ttl: int
    default_ttl: int
    max_ttl: int
    query: bool = False  # query string part of the cache key (and forwarded)
    cookies: bool = False  # cookies part of the cache key


#: "Use managed cache policies": the ids are the same in every account
MANAGED = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": Policy("CachingOptimized", 1, 86400, 31536000),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": Policy("CachingOptimizedForUncompressedObjects", 1, 86400, 31536000),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": Policy("CachingDisabled", 0, 0, 0),
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": Policy("UseOriginCacheControlHeaders", 0, 0, 31536000, cookies=True),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": Policy("UseOriginCacheControlHeaders-QueryStrings", 0, 0, 31536000,
                                                   query=True, cookies=True),
}
#: a policy id the local AWS does not know (moto keeps no custom cache policies): CloudFront's
#: legacy defaults (MinTTL 0, DefaultTTL 86400, MaxTTL 31536000)
UNKNOWN = Policy("custom (unknown here: legacy defaults)", 0, 86400, 31536000)
CACHEABLE_STATUS = frozenset({200, 203, 300, 301, 410})


def policy_for(cache_policy_id: str, legacy: tuple[int, int, int], query: bool, cookies: bool) -> Policy:
    """The behaviour's policy: a managed one by id, else its legacy TTLs and forwarded values."""
    if cache_policy_id:
        return MANAGED.get(cache_policy_id, UNKNOWN)
    return Policy("legacy", *legacy, query=query, cookies=cookies)


@functools.lru_cache(maxsize=512)
def _pattern(path_pattern: str) -> re.Pattern:
    pattern = path_pattern if path_pattern.startswith("/") else "/" + path_pattern
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z",
                      re.DOTALL)


def matches(path_pattern: str, path: str) -> bool:
    """Does a CloudFront PathPattern match this request path (case-sensitive)?"""
    return path_pattern in ("*", "/*") or bool(_pattern(path_pattern).match(path))


def _directives(cache_control: str) -> dict[str, str | None]:
    out = {}
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.lower()] = value.strip('"') if value else None
    return out


def ttl(policy: Policy, status: int, headers, now: float | None = None) -> int:
    """Seconds CloudFront keeps this answer (0: not cached)."""
    if policy.max_ttl == 0 or status not in CACHEABLE_STATUS:
        return 0
    if "set-cookie" in {k.lower() for k in headers} and not policy.cookies:
        return 0
    directives = _directives(headers.get("Cache-Control", ""))
    if {"no-store", "no-cache", "private"} & set(directives):
        return policy.min_ttl
    for name in ("s-maxage", "max-age"):
        if directives.get(name) is not None:
            try:
                return max(policy.min_ttl, min(policy.max_ttl, int(directives[name])))
            except ValueError:
                break
    expires = headers.get("Expires")
    if expires:
        when = email.utils.parsedate_to_datetime(expires) if _parses(expires) else None
        if when is not None:
            left = int(when.timestamp() - (now or time.time()))
            return max(policy.min_ttl, min(policy.max_ttl, left))
    return max(policy.min_ttl, min(policy.max_ttl, policy.default_ttl))


def _parses(value: str) -> bool:
    try:
        email.utils.parsedate_to_datetime(value)
        return True
    except (TypeError, ValueError):
        return False


@dataclass
class Entry:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    stored: float  # time.monotonic() when fetched (or revalidated)
    ttl: int
    validators: dict[str, str] = field(default_factory=dict)  # If-None-Match / If-Modified-Since

    def fresh(self, now: float) -> bool:
        return now - self.stored < self.ttl

    def age(self, now: float) -> int:
        return int(now - self.stored)


class Cache:
    """One distribution's cached answers, by key (path[?query])."""

    def __init__(self):
        self.entries: dict[str, Entry] = {}

    @staticmethod
    def key(path: str, query: str, policy: Policy) -> str:
        return f"{path}?{query}" if policy.query and query else path

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def put(self, key: str, entry: Entry) -> None:
        self.entries[key] = entry

    def invalidate(self, paths) -> int:
        """Drop the entries an invalidation's paths name (`/static/*`: a prefix; else exact); how many."""
        dropped = 0
        for key in list(self.entries):
            path = key.split("?", 1)[0]
            for wanted in paths:
                wanted = wanted if wanted.startswith("/") else "/" + wanted
                if (wanted.endswith("*") and path.startswith(wanted[:-1])) or path == wanted:
                    del self.entries[key]
                    dropped += 1
                    break
        return dropped
