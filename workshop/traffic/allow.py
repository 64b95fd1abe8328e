"""Only the course's own URLs: where `workshop traffic` may send load.

A load generator pointed at someone else's site is an attack, so the URL must be one the
course serves:

- local target: a loopback URL whose port is one the local AWS's data plane answers HTTP on
  (an instance, load balancer, distribution, record or the edge: `GET /_workshop/endpoints`,
  listed by `workshop status`), or one of those endpoints' AWS DNS names (a load balancer's,
  a distribution's, a Route 53 record's such as `www.<zone>`), which stands for its loopback URL, so
  the same command works on both targets; a record's requests go to the edge with `Host: <name>`;
- aws target: the DNS name of one of the run's load balancers or CloudFront distributions,
  found by the course's tags (`inventory.course_resources`, the reader behind `workshop status`).

Anything else is refused, naming the URLs that are accepted. Only the site's root is taken
(a virtual user requests `/`, `/static/...` and `/messages` on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .. import config
from ..errors import BadInput


@dataclass(frozen=True)
class Allowed:
    url: str  # the root to send load to: scheme://host[:port]
    kind: str  # the endpoint's kind: instance, load-balancer, distribution, ...
    resource_id: str
    source: str  # where the allow-list came from
    #: the Host header every request carries: a Route 53 record's name, which the local AWS's edge port
    #: routes by (on AWS, DNS resolves the name instead); None for everything else
    host_header: str | None = None


def _root(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        raise BadInput(f"{url!r} is not a URL; e.g. http://127.0.0.1:PORT (see 'workshop status')") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"{url!r} is not an http(s) URL; e.g. http://127.0.0.1:PORT (see 'workshop status')")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadInput(f"give the site's root, not a page: {parts.scheme}://{parts.netloc} (a virtual user requests "
                       "/, /static/... and /messages on it)")
    return parts.scheme, parts.hostname.lower().rstrip("."), port


def local_http_endpoints(listing: list[dict]) -> list[dict]:
    """The endpoints of a data-plane listing (`/_workshop/endpoints`) that answer HTTP."""
    return [e for e in listing if e.get("protocol") == "http" and e.get("port")]


def check_local(url: str, listing: list[dict], endpoint: str) -> Allowed:
    """`url` if it is loopback on a port the local AWS at `endpoint` serves HTTP on (or names such an
    endpoint by its AWS DNS name); else BadInput."""
    scheme, host, port = _root(url)
    served = local_http_endpoints(listing)
    accepted = ", ".join(f"{e['url']} ({e['kind']} {e['resource_id']})" for e in served) or \
        "none yet: run a stage that starts a web server first"
    where = f"the local AWS at {endpoint} serves HTTP on: {accepted} (see 'workshop status')"
    named = next((e for e in served if host in (n.lower().rstrip(".") for n in e.get("names") or ())), None)
    if named is not None:  # an AWS DNS name (a load balancer's, a distribution's): its loopback stand-in
        return Allowed(named["url"], named["kind"], named["resource_id"], f"{endpoint}/_workshop/endpoints",
                       host if named["kind"] == "record" else None)
    if not config.is_loopback_url(url):
        raise BadInput(f"refused {url!r}: on the local target traffic goes to this machine only; {where}")
    port = port or (443 if scheme == "https" else 80)
    match = next((e for e in served if int(e["port"]) == port), None)
    if match is None or scheme != "http":
        raise BadInput(f"refused {url!r}: not one of the course's URLs; {where}")
    return Allowed(f"http://{host if ':' not in host else f'[{host}]'}:{port}", match["kind"],
                   match["resource_id"], f"{endpoint}/_workshop/endpoints")


def aws_front_doors(resources) -> list[tuple[str, str, str]]:
    """(DNS name, kind, id) of each load balancer and CloudFront distribution among the course's resources."""
    found = []
    for r in resources:
        data = getattr(r, "data", None) or {}
        if r.kind in ("load balancer", "classic load balancer") and data.get("DNSName"):
            found.append((data["DNSName"].lower().rstrip("."), "load-balancer", r.id))
        elif r.kind.startswith("cloudfront distribution") and data.get("DomainName"):
            found.append((data["DomainName"].lower().rstrip("."), "distribution", r.id))
    return sorted(set(found))


def check_aws(url: str, doors: list[tuple[str, str, str]], run_id: str) -> Allowed:
    """`url` if its host is one of the run's load balancers or distributions (`aws_front_doors`); else BadInput."""
    scheme, host, port = _root(url)
    accepted = ", ".join(f"http://{name} ({kind})" for name, kind, _ in doors) or \
        "none: run stage 4 (load balancer) or 6 (CloudFront) first"
    match = next((d for d in doors if d[0] == host), None)
    if match is None:
        raise BadInput(f"refused {url!r}: on your AWS account traffic goes only to run {run_id!r}'s load balancer "
                       f"or CloudFront distribution; accepted: {accepted}")
    netloc = host if port is None else f"{host}:{port}"
    return Allowed(f"{scheme}://{netloc}", match[1], match[2], f"course tags of run {run_id!r}")


def check(url: str, target: config.Target) -> Allowed:
    """The allowed root for `url` on `target` (reads the local AWS's endpoints, or the run's tagged resources)."""
    if target.is_local:
        from .. import aws
        from ..errors import LocalAWSDown
        from ..localaws import discover

        try:
            endpoint = aws.endpoint(target)
        except LocalAWSDown:
            endpoint = None
        if endpoint is None or discover.health(endpoint) is None:
            if not config.is_loopback_url(url):  # refused whatever the local AWS would say
                raise BadInput(f"refused {url!r}: on the local target traffic goes to this machine only, to a URL "
                               "'workshop status' lists (the local AWS is not answering: run 'workshop up')")
            raise LocalAWSDown(endpoint)
        return check_local(url, discover.endpoints(endpoint)["endpoints"], endpoint)
    from .. import inventory

    return check_aws(url, aws_front_doors(inventory.course_resources(target.run_id, target)), target.run_id)
