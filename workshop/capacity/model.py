"""The capacity model: pure functions from a Topology and a workload to per-tier load.

A topology becomes a `Plan`: for each tier, the load one user puts on it at the peak
(vCPUs kept busy, or requests/s for a managed service) and what the tier can sustain
(vCPUs × the CPU share at the knee, knee_utilisation: where p95 passes
500 ms; or AWS's default quota). Load is linear in users, so a plan
answers any number of users in microseconds (`Plan.at(users)`): the widgets' slider and
`sweep` build the plan once. `evaluate` = plan + at.

How users become load (names are assumptions, see assumptions.py):
  requests/s per user = active_share × page_requests_per_min / 60, split static/dynamic;
  events/s per user   = active_share × events_per_min / 60.
  CloudFront (any distribution) takes static requests; one with a non-S3 origin also
  caches cdn_dynamic_hit_ratio of dynamic ones. A cache (ElastiCache) answers
  cache_hit_ratio of reads and makes cached pages cheaper for the web tier. Sessions live
  in a DynamoDB table named *session*, else in the cache, else in the database. With a
  serverless pipeline (Lambda functions + an API), events go API Gateway -> Lambda ->
  DynamoDB -> Firehose; without one, each event is a POST to the web tier and one INSERT.
  Writes go to the primary; reads to the read replicas if any, else to the primary.
  Without any database instance the web box runs the database too (stage 1).
  An Auto Scaling group counts at its maximum size: it can grow to it (the label says so).
  Each request that reaches the database holds one connection for db_connection_seconds:
  the primary (or the day-1 box's own MySQL) accepts max_connections of them (limits.py).
  A design's SLA availability (limits.py) is stated beside its peak; the stage's figure at the kit's
  availability target (limits.served_at_target: the peak with an AZ lost, or a share of it) is the story's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

from ..errors import BadInput
from ..topology import Topology
from . import assumptions as _assumptions
from . import instance_types, limits

#: instance roles (tag workshop:role) that serve web traffic; "" = untagged
SERVING_ROLES = ("web", "full-stack", "app", "")
NOTHING_YET = "nothing to measure yet: run a stage first"


@dataclass(frozen=True)
class TierPlan:
    key: str  # "web", "server", "db-primary", "db-replicas", "cache", "sessions", "cdn", ...
    label: str  # e.g. "web tier (8 × m5.large)"
    per_user: float  # load one user puts on the tier at the peak with the cache at its hit ratio, in `unit`
    capacity: float  # the load the tier sustains, in `unit`
    unit: str  # "vCPU" or "requests/s", ...
    raw: float  # the tier's full capacity (100% CPU, or the quota), in `unit`
    per_miss: float = 0.0  # extra load per user for each unit the cache hit ratio falls below its assumption

    def load(self, users: float, hit_loss: float) -> float:
        return users * (self.per_user + self.per_miss * hit_loss)

    def utilisation(self, users: float, hit_loss: float) -> float:
        load = self.load(users, hit_loss)
        return load / self.capacity if self.capacity > 0 else (math.inf if load > 0 else 0.0)


class Tier(NamedTuple):  # a tuple: a thousand results per slider move stay cheap
    key: str
    label: str
    utilisation: float  # load / sustainable capacity at the users asked (1.0 = at the limit)
    load: float  # in `unit`
    capacity: float  # sustainable, in `unit`
    unit: str
    max_users: float  # the users this tier alone sustains (inf if users put no load on it)


@dataclass(frozen=True)
class Result:
    users: float
    tiers: tuple[Tier, ...]
    bottleneck: str  # label of the tier that saturates first as users grow
    bottleneck_key: str
    max_users: int
    az_down: bool = False
    lost_az: str | None = None  # the AZ taken down (the worst one) when az_down
    busiest: str = ""  # label of the most utilised tier at `users`
    busiest_key: str = ""
    cache_hit_ratio: float | None = None  # the hit ratio at `users` (None: no cache)
    availability: limits.Availability | None = None  # the design's SLA availability (stated beside the peak)

    def tier(self, key: str) -> Tier:
        return next(t for t in self.tiers if t.key == key)

    def as_dict(self) -> dict:
        return {
            "users": self.users,
            "max_users": self.max_users,
            "bottleneck": self.bottleneck,
            "bottleneck_key": self.bottleneck_key,
            "busiest_at_users": self.busiest,
            "az_down": self.az_down,
            "lost_az": self.lost_az,
            "cache_hit_ratio": None if self.cache_hit_ratio is None else round(self.cache_hit_ratio, 4),
            "availability": None if self.availability is None else {
                "value": round(self.availability.value, 6), "slas": list(self.availability.parts),
                "meets_target": self.availability.meets_target, "target": limits.TARGET},
            "tiers": [{
                "key": t.key, "label": t.label, "utilisation": round(t.utilisation, 6),
                "load": round(t.load, 6), "capacity": round(t.capacity, 6), "unit": t.unit,
                "max_users": None if math.isinf(t.max_users) else int(t.max_users),
            } for t in self.tiers],
        }


@dataclass(frozen=True)
class Plan:
    tiers: tuple[TierPlan, ...]
    az_down: bool = False
    lost_az: str | None = None
    hit_ratio: float = 0.0  # the cache hit ratio assumed while the working set fits (0: no cache)
    cache_users: float = math.inf  # users whose working set fills the cache's memory
    availability: limits.Availability | None = None

    def hit_loss(self, users: float) -> float:
        """How far the hit ratio has fallen below its assumption at `users` (the cache is full)."""
        if self.hit_ratio <= 0 or users <= self.cache_users:
            return 0.0
        return self.hit_ratio * (1.0 - self.cache_users / users)

    def _tier_max(self, t: TierPlan) -> float:
        if t.capacity <= 0:
            return 0.0
        if t.per_user <= 0 and t.per_miss <= 0:
            return math.inf
        lo, hi = 0.0, t.capacity / t.per_user if t.per_user > 0 else 1e15
        if t.per_miss <= 0 or hi <= self.cache_users:
            return hi
        if t.utilisation(self.cache_users, 0.0) >= 1.0:
            return t.capacity / t.per_user
        lo = self.cache_users  # utilisation is monotone in users: bisect on a log scale
        for _ in range(60):
            mid = math.sqrt(lo * hi) if lo > 0 else hi / 2
            if t.utilisation(mid, self.hit_loss(mid)) < 1.0:
                lo = mid
            else:
                hi = mid
        return lo

    def _summary(self) -> tuple[dict[str, float], TierPlan | None, int]:
        cached = self.__dict__.get("_cached")
        if cached is None:
            m = {t.key: self._tier_max(t) for t in self.tiers}
            b = min(self.tiers, key=lambda t: m[t.key]) if self.tiers else None
            best = 0 if b is None else (10**15 if math.isinf(m[b.key]) else int(m[b.key]))
            cached = (m, b, best)
            object.__setattr__(self, "_cached", cached)
        return cached

    @property
    def tier_max(self) -> dict[str, float]:
        return self._summary()[0]

    @property
    def bottleneck(self) -> TierPlan:
        return self._summary()[1]

    @property
    def max_users(self) -> int:
        return self._summary()[2]

    def at(self, users: float) -> Result:
        if not users >= 0:
            raise BadInput(f"users must be 0 or more, not {users!r}")
        m, b, best = self._summary()
        loss = self.hit_loss(users)
        tiers = []
        busy, busy_u = b, -1.0
        for t in self.tiers:
            load = users * (t.per_user + t.per_miss * loss)
            u = load / t.capacity if t.capacity > 0 else (math.inf if load > 0 else 0.0)
            if u > busy_u:
                busy, busy_u = t, u
            tiers.append(Tier(t.key, t.label, u, load, t.capacity, t.unit, m[t.key]))
        if users == 0:
            busy = b
        hit = (self.hit_ratio - loss) if self.hit_ratio > 0 else None
        return Result(users, tuple(tiers), b.label, b.key, best, self.az_down, self.lost_az, busy.label, busy.key, hit,
                      self.availability)


# --- the workload, per user ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Offload:
    cdn_static: bool = False
    cdn_dynamic: bool = False
    cache: bool = False
    sessions: str = "db"  # "db", "cache", "dynamodb", "server" (on the one box)
    serverless: bool = False


@dataclass(frozen=True)
class _Load:
    """Per user per second at the peak."""
    web_vcpu: float  # vCPU-seconds/s of web work
    reads: float  # database reads/s
    writes: float  # database writes/s
    cache_ops: float
    session_units: float  # DynamoDB session table units/s (reads and writes each)
    cdn_requests: float
    events: float  # events/s into the serverless pipeline
    db_requests: float = 0.0  # requests/s that reach the database (each holds a connection)


def _load(a: Mapping[str, float], o: _Offload, hit: float | None = None) -> _Load:
    active = a["active_share"]
    requests = active * a["page_requests_per_min"] / 60.0
    static = requests * a["static_share"]
    dynamic = requests - static
    events = active * a["events_per_min"] / 60.0
    if hit is None:
        hit = a["cache_hit_ratio"] if o.cache else 0.0

    static_to_web = 0.0 if o.cdn_static else static
    to_origin = dynamic * (1.0 - a["cdn_dynamic_hit_ratio"]) if o.cdn_dynamic else dynamic
    page_cost = hit * a["cached_request_cost"] + (1.0 - hit)
    events_to_web = 0.0 if o.serverless else events
    web_units = (to_origin * page_cost + static_to_web * a["static_request_cost"]
                 + events_to_web * a["event_request_cost"])

    queries = a["db_queries_per_request"]
    reads = to_origin * queries * a["read_share"]  # edge hits read nothing
    writes = dynamic * queries * (1.0 - a["read_share"])  # writes are never served by an edge cache
    cache_ops = reads if o.cache else 0.0
    reads *= 1.0 - hit
    sessions = to_origin * a["session_queries_per_request"]
    session_units = 0.0
    if o.sessions == "dynamodb":
        session_units = sessions / 2.0
    elif o.sessions == "cache":
        cache_ops += sessions
    else:
        reads += sessions / 2.0
        writes += sessions / 2.0
    if not o.serverless:
        writes += events
    cdn = (static if o.cdn_static else 0.0) + (dynamic if o.cdn_dynamic else 0.0)
    return _Load(web_units / a["web_requests_per_vcpu"], reads, writes, cache_ops, session_units, cdn,
                 events if o.serverless else 0.0, to_origin + events_to_web)


# --- topology -> plan -------------------------------------------------------------------------

def _count_label(types: Iterable[str]) -> str:
    counts = Counter(types)
    return " + ".join(f"{n} × {t}" for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _is_s3(domain: str) -> bool:
    return ".s3." in domain or domain.endswith(".s3.amazonaws.com") or "s3-website" in domain


def _components(topo: Topology, down: str | None):
    """What still serves when AZ `down` is lost (None: nothing lost)."""
    in_asg = {i for g in topo.auto_scaling_groups for i in g.instance_ids}
    by_id = {i.id: i for i in topo.instances}
    web = [i for i in topo.running() if i.role in SERVING_ROLES and i.id not in in_asg and i.az != down]
    web_types = [i.type for i in web]
    groups: list[tuple[str, int]] = []  # (instance type, the size counted: the group's max)
    fallback = Counter(i.type for i in topo.instances if i.role in SERVING_ROLES).most_common(1)
    for g in topo.auto_scaling_groups:
        members = [by_id[i] for i in g.instance_ids if i in by_id]
        kind = Counter(m.type for m in members).most_common(1) or fallback
        if not kind:
            continue
        surviving = [z for z in g.azs if z != down] if g.azs else ([] if down else ["?"])
        if surviving or not g.azs:
            web_types += [kind[0][0]] * max(g.max, g.desired)
            groups.append((kind[0][0], max(g.max, g.desired)))
    primaries = [d for d in topo.databases if d.role != "replica" and (d.az != down or d.multi_az)]
    lost_primary = any(d.role != "replica" and d.az == down and not d.multi_az for d in topo.databases)
    replicas = [d for d in topo.databases if d.role == "replica" and d.az != down]
    caches = [c for c in topo.caches if c.az != down]
    web_azs = {i.az for i in web} | {z for g in topo.auto_scaling_groups for z in g.azs if z != down}
    return web_types, groups, len(web_azs) >= 2, primaries, lost_primary, replicas, caches


def _web_label(web_types: list[str], groups: list[tuple[str, int]]) -> str:
    """'2 × m4.large + an Auto Scaling group at its max, 10 × m4.large': a group counts at its max, said aloud."""
    plain = Counter(web_types)
    for kind, n in groups:
        plain[kind] -= n
    plain_label = _count_label(t for t, n in plain.items() for _ in range(n))
    grouped = "; ".join(f"an Auto Scaling group at its max, {n} × {kind}" for kind, n in groups)
    return " + ".join(x for x in (plain_label, grouped) if x)


def _wall(kind: str) -> str:
    """', the largest c4: no bigger box' when `kind` is its family's largest size in the table."""
    family = kind.rsplit(".", 1)[0]
    sizes = [t for name, t in instance_types.EC2.items() if name.rsplit(".", 1)[0] == family]
    if len(sizes) > 1 and instance_types.get(kind).vcpu == max(t.vcpu for t in sizes):
        return f", the largest {family}: no bigger box"
    return ""


def plan(topo: Topology, assumptions: Mapping[str, float] | None = None, az_down: bool = False) -> Plan:
    """The per-tier load per user and capacity of `topo`; with az_down, for the worst AZ lost."""
    a = _DEFAULTS if assumptions is None else _assumptions.make(assumptions)
    key = (repr(topo), tuple(a.values()), az_down)  # a Topology is mutable: key on its contents
    found = _PLANS.get(key)
    if found is None:
        if not az_down:
            found = _plan(topo, a, None)
        else:
            found = min((_plan(topo, a, z) for z in (topo.azs or [None])), key=lambda p: p.max_users)
        found.max_users  # noqa: B018 - solve once, before caching
        if len(_PLANS) >= 128:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = found
    return found


_PLANS: dict[tuple, Plan] = {}
_DEFAULTS = _assumptions.defaults()


def _plan(topo: Topology, a: Mapping[str, float], down: str | None) -> Plan:
    if topo.is_empty:
        raise BadInput(NOTHING_YET)
    web_types, groups, web_multi_az, primaries, lost_primary, replicas, caches = _components(topo, down)
    serverless = bool(topo.functions) and bool(topo.apis)
    if not web_types and not serverless:
        if down is not None:  # everything that served sat in the lost AZ
            return Plan((TierPlan("web", "web tier (all in the lost AZ)", 1.0, 0.0, "vCPU", 0.0),), True, down)
        raise BadInput(NOTHING_YET)
    full_stack = not topo.databases and bool(web_types)  # no database instance: the web box runs it
    tables = [t.name.lower() for t in topo.tables]
    sessions = ("server" if full_stack else "dynamodb" if any("session" in t for t in tables)
                else "cache" if caches else "db")
    s3_origins = any(_is_s3(o) for d in topo.distributions for o in d.origins)
    other_origins = any(not _is_s3(o) for d in topo.distributions for o in d.origins)
    o = _Offload(cdn_static=bool(topo.distributions) and (s3_origins or not other_origins),
                 cdn_dynamic=other_origins, cache=bool(caches), sessions=sessions, serverless=serverless)
    hit = a["cache_hit_ratio"] if caches else 0.0
    tiers = _tiers(_load(a, o), a, topo, full_stack, web_types, primaries, lost_primary, replicas, caches, sessions,
                   serverless, groups)
    cache_users = math.inf
    if hit > 0:  # a full cache loses hits: the load each tier gains per unit of hit ratio lost
        worst = _tiers(_load(a, o, 0.0), a, topo, full_stack, web_types, primaries, lost_primary, replicas, caches,
                       sessions, serverless, groups)
        tiers = [replace(t, per_miss=(w.per_user - t.per_user) / hit) for t, w in zip(tiers, worst)]
        memory_mb = sum(instance_types.get(c.node_type).memory_gib for c in caches) * 1024.0
        per_user_mb = a["active_share"] * a["cache_mb_per_active_user"]
        cache_users = memory_mb / per_user_mb if per_user_mb > 0 else math.inf
    return Plan(tuple(tiers), down is not None, down, hit, cache_users, limits.availability(topo, web_multi_az))


def _tiers(load: _Load, a, topo, full_stack, web_types, primaries, lost_primary, replicas, caches, sessions,
           serverless, groups=()) -> list[TierPlan]:
    target = a["knee_utilisation"]  # a CPU tier serves until its queue turns p95 up
    tiers: list[TierPlan] = []

    def cpu_tier(key, label, per_user, vcpu):
        tiers.append(TierPlan(key, label, per_user, vcpu * target, "vCPU", float(vcpu)))

    web_vcpu = sum(instance_types.vcpus(t) for t in web_types)
    db_cpu = load.reads / a["db_reads_per_vcpu"] + load.writes / a["db_writes_per_vcpu"]
    held = load.db_requests * a["db_connection_seconds"]  # connections in use per user (Little's law)

    def connection_tier(key, label, limit):
        tiers.append(TierPlan(key, label, held, float(limit), "connections", float(limit)))

    if full_stack:
        wall = _wall(web_types[0]) if len(set(web_types)) == 1 and len(web_types) == 1 else ""
        cpu_tier("server", f"single server, web + database ({_count_label(web_types)}{wall})", load.web_vcpu + db_cpu,
                 web_vcpu)
        connection_tier("connections", f"database connections (MySQL's default max_connections, "
                                       f"{limits.MYSQL_DEFAULT_CONNECTIONS})", limits.MYSQL_DEFAULT_CONNECTIONS)
    else:
        if web_types:
            cpu_tier("web", f"web tier ({_web_label(web_types, list(groups))})", load.web_vcpu, web_vcpu)
        if lost_primary and not primaries:
            tiers.append(TierPlan("db-primary", "database primary (lost with its AZ: no Multi-AZ standby)",
                                  1.0, 0.0, "vCPU", 0.0))
        elif primaries:
            writes = load.writes / a["db_writes_per_vcpu"]
            reads = 0.0 if replicas else load.reads / a["db_reads_per_vcpu"]
            what = "writes" if replicas else "reads + writes"
            cpu_tier("db-primary", f"database primary, {what} ({_count_label(d.instance_class for d in primaries)})",
                     writes + reads, sum(instance_types.vcpus(d.instance_class) for d in primaries))
            limit = sum(limits.rds_max_connections(d.instance_class) for d in primaries)
            connection_tier("connections", f"database connections (RDS max_connections {limit:,} on "
                                           f"{_count_label(d.instance_class for d in primaries)})", limit)
        if replicas:
            cpu_tier("db-replicas", f"read replicas ({_count_label(d.instance_class for d in replicas)})",
                     load.reads / a["db_reads_per_vcpu"], sum(instance_types.vcpus(d.instance_class) for d in replicas))
    if caches:
        cpu_tier("cache", f"cache ({_count_label(c.node_type for c in caches)})",
                 load.cache_ops / a["cache_ops_per_vcpu"],
                 sum(instance_types.vcpus(c.node_type) for c in caches))
    quota = a["dynamodb_table_capacity"]
    if sessions == "dynamodb":
        tiers.append(TierPlan("sessions", "session store (DynamoDB table)", load.session_units, quota, "units/s",
                              quota))
    if topo.distributions:
        n = len(topo.distributions)
        cap = a["cloudfront_rps"] * n
        tiers.append(TierPlan("cdn", f"CloudFront ({n} distribution{'s' if n > 1 else ''})", load.cdn_requests,
                              cap, "requests/s", cap))
    if serverless:
        ev = load.events
        tiers.append(TierPlan("api", "API Gateway (account quota)", ev, a["api_gateway_rps"], "requests/s",
                              a["api_gateway_rps"]))
        # writeToDynamoDB runs once per event; DynamoDBToFirehose once per stream batch (up to 100 records)
        concurrency = ev * (1.0 + 1.0 / 100.0) * a["lambda_duration_ms"] / 1000.0
        tiers.append(TierPlan("lambda", "Lambda (concurrency quota)", concurrency, a["lambda_concurrency"],
                              "concurrent executions", a["lambda_concurrency"]))
        tiers.append(TierPlan("events-table", "DynamoDB event table (write quota)", ev, quota, "units/s", quota))
        if topo.delivery_streams:
            cap = a["firehose_records_per_s"] * len(topo.delivery_streams)
            tiers.append(TierPlan("firehose", "Firehose (records quota)", ev, cap, "records/s", cap))
    return tiers


# --- the front door ---------------------------------------------------------------------------

def evaluate(topology: Topology, users: float, assumptions: Mapping[str, float] | None = None,
             az_down: bool = False) -> Result:
    """Per-tier capacity and utilisation of `topology` at `users`, its bottleneck and max users."""
    return plan(topology, assumptions, az_down).at(users)


def sweep(topology: Topology, users: Iterable[float], assumptions: Mapping[str, float] | None = None,
          az_down: bool = False) -> list[Result]:
    """`evaluate` for many user counts, planning once."""
    p = plan(topology, assumptions, az_down)
    return [p.at(u) for u in users]


def max_users(topology: Topology, assumptions: Mapping[str, float] | None = None, az_down: bool = False) -> int:
    return plan(topology, assumptions, az_down).max_users


def web_cpu_percent(users: float, instances: int, instance_type: str, assumptions: Mapping[str, float] | None = None,
                    *, cdn: bool = True, cache: bool = True, sessions: str = "dynamodb",
                    serverless: bool = False) -> float:
    """CPU % of each of `instances` web servers of `instance_type` serving `users` (capped at 100).

    By default the web tier of stages 6-8: CloudFront in front (static and cached dynamic
    pages), ElastiCache for reads, sessions in DynamoDB.
    """
    if instances <= 0:
        return 100.0 if users > 0 else 0.0
    a = _assumptions.make(assumptions)
    o = _Offload(cdn_static=cdn, cdn_dynamic=cdn, cache=cache, sessions=sessions, serverless=serverless)
    busy = users * _load(a, o).web_vcpu
    return min(100.0, 100.0 * busy / (instances * instance_types.vcpus(instance_type)))


def about(n: float) -> str:
    """A user count rounded to two significant figures, with thousands separators: 3,690 -> '3,700'."""
    if math.isinf(n):
        return "unlimited"
    n = int(n)
    if n < 100:
        return f"{n:,}"
    digits = len(str(n)) - 2
    return f"{round(n, -digits):,}"


def describe(result: Result) -> str:
    """'this architecture serves up to ~X users; the bottleneck is the Y; 99.50% available by AWS's SLAs, …'"""
    line = f"this architecture serves up to ~{about(result.max_users)} users; the bottleneck is the {result.bottleneck}"
    web = next((t for t in result.tiers if t.key == "web"), None)
    if web is not None and "Auto Scaling" in web.label and result.bottleneck_key != "web":
        line += f"; it assumes the {web.label}"  # a group counts at its max: say so beside the figure
    if result.availability is not None and not result.az_down:
        line += f"; {result.availability.short()}"
    return line
