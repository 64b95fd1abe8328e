"""Per-stage bill of materials and its cost: itemised hourly figure and a typical 2-hour session.

The bill of materials is what each stage's notebook leaves running on a real account
(the journey's stages stand on each other, so stage N includes what it builds on), with
the sizes the stage modules use (read from them, so the bill follows the code). Request-
priced services are costed at the course's volumes (`VOLUMES`), which are small.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field

from . import prices
from .prices import PRICES, PRICES_DATE, hourly

SESSION_HOURS = 2.0  # a typical instructor-led session (README: 1-2 hours)

#: the course's traffic per hour while a stage runs (its load tests and checks), an upper estimate
VOLUMES = {
    "cloudfront_requests": 20_000,  # the stage-6 checks and a learner's browsing
    "cloudfront_gb": 0.2,
    "api_requests": 10_000,  # the stage-9 notebook's posted events
    "lambda_invocations": 20_000,  # two functions per event
    "lambda_seconds": 0.1,  # per invocation, at 128 MB
    "dynamodb_writes": 10_000,
    "dynamodb_reads": 10_000,
    "firehose_records": 10_000,  # billed at 5 KB each
    "s3_puts": 200,  # Firehose buffers into few objects; the site's uploads
    "s3_gets": 20_000,
    "alb_lcu": 1.0,  # one LCU covers 25 new connections/s or 1 GB/h: far above the course's traffic
}


@dataclass
class Item:
    label: str  # e.g. "EC2 m4.large x 8 (web tier)"
    price_key: str
    quantity: float  # units per hour (instances, GB, LCU, million requests, ...)
    hourly_usd: float = 0.0
    session_hours: float = SESSION_HOURS  # how long it runs in a typical session
    in_hourly: bool = True  # counted in the stage's hourly figure (False: an earlier size of the same box)
    source: str = ""

    def __post_init__(self):
        self.hourly_usd = round(self.quantity * hourly(self.price_key), 6)
        self.source = PRICES[self.price_key].source

    @property
    def session_usd(self) -> float:
        return self.hourly_usd * self.session_hours


@dataclass
class StageCost:
    stage: int
    title: str
    items: list[Item] = field(default_factory=list)

    @property
    def hourly_usd(self) -> float:
        return round(sum(i.hourly_usd for i in self.items if i.in_hourly), 4)

    @property
    def session_usd(self) -> float:
        return round(sum(i.session_usd for i in self.items), 4)

    def to_json(self) -> dict:
        return {"stage": self.stage, "title": self.title, "region": prices.REGION,
                "hourly_usd": self.hourly_usd, "session_usd": self.session_usd, "session_hours": SESSION_HOURS,
                "price_table_date": PRICES_DATE,
                "items": [{**{k: v for k, v in asdict(i).items()}, "session_usd": round(i.session_usd, 6)}
                          for i in self.items]}


def _const(module: str, name: str, default):
    """A size the stage module uses (e.g. s03's DB_CLASS), or the default if it cannot be read."""
    try:
        return getattr(importlib.import_module(f"workshop.stages.{module}"), name, default)
    except Exception:  # noqa: BLE001 - a stage module mid-edit must not break the bill
        return default


# --- building blocks ---------------------------------------------------------------------

def _box(kind: str, count: int, what: str, gb: int = 8, public_ip: bool = True, **kw) -> list[Item]:
    items = [Item(f"EC2 {kind} x {count} ({what})", prices.ec2(kind), count, **kw),
             Item(f"EBS gp3 {gb} GB x {count} ({what} root volumes)", "ebs:gp3", gb * count, **kw)]
    if public_ip:
        items.append(Item(f"public IPv4 x {count} ({what})", "vpc:public-ipv4", count, **kw))
    return items


def _zone() -> list[Item]:
    return [Item("Route 53 hosted zone x 1", "route53:hosted-zone", 1)]


def _alb() -> list[Item]:
    return [Item("Application Load Balancer x 1", "elb:alb-hour", 1),
            Item(f"ALB LCU x {VOLUMES['alb_lcu']:g}", "elb:alb-lcu", VOLUMES["alb_lcu"]),
            Item("public IPv4 x 2 (the load balancer's, one per AZ)", "vpc:public-ipv4", 2)]


def _db(db_class: str, multi_az: bool, replicas: int = 0, gb: int = 20) -> list[Item]:
    copies = 2 if multi_az else 1
    az = "Multi-AZ (primary + standby: twice Single-AZ)" if multi_az else "Single-AZ"
    items = [Item(f"RDS MySQL {db_class} {az}", prices.rds(db_class), copies),
             Item(f"RDS storage {gb} GB {az}", "rds:storage-gp2", gb * copies)]
    if replicas:
        items += [Item(f"RDS read replica {db_class} x {replicas}", prices.rds(db_class), replicas),
                  Item(f"RDS replica storage {gb} GB x {replicas}", "rds:storage-gp2", gb * replicas)]
    return items


def _edge(cache_node: str, nodes: int) -> list[Item]:
    v = VOLUMES
    return [Item(f"ElastiCache {cache_node} x {nodes} (primary + replica)", prices.cache(cache_node), nodes),
            Item(f"CloudFront {v['cloudfront_requests']:,} HTTPS requests/h", "cloudfront:https-requests",
                 v["cloudfront_requests"] / 10_000),
            Item(f"CloudFront {v['cloudfront_gb']} GB/h out", "cloudfront:gb-out", v["cloudfront_gb"]),
            Item(f"S3 {v['s3_gets']:,} GETs/h (static files, CloudFront misses)", "s3:get-requests",
                 v["s3_gets"] / 1000 / 10),
            Item("S3 storage 1 GB (static site)", "s3:storage", 1),
            Item(f"DynamoDB {v['dynamodb_reads']:,} reads/h (sessions)", "dynamodb:read-units",
                 v["dynamodb_reads"] / 1e6)]


def _pipeline() -> list[Item]:
    v = VOLUMES
    return [Item(f"API Gateway REST {v['api_requests']:,} requests/h", "apigateway:rest-requests",
                 v["api_requests"] / 1e6),
            Item(f"Lambda {v['lambda_invocations']:,} invocations/h", "lambda:requests", v["lambda_invocations"] / 1e6),
            Item(f"Lambda duration {v['lambda_invocations']:,} x {v['lambda_seconds']} s x 128 MB", "lambda:gb-second",
                 v["lambda_invocations"] * v["lambda_seconds"] * 0.125),
            Item(f"DynamoDB {v['dynamodb_writes']:,} writes/h (eventTable)", "dynamodb:write-units",
                 v["dynamodb_writes"] / 1e6),
            Item(f"Firehose {v['firehose_records']:,} records/h (5 KB each, billed)", "firehose:gb-ingested",
                 v["firehose_records"] * 5 / 1024 / 1024),
            Item(f"S3 {v['s3_puts']} PUTs/h (Firehose objects)", "s3:put-requests", v["s3_puts"] / 1000),
            Item("S3 storage 1 GB (pipeline output)", "s3:storage", 1)]


# --- the stages ------------------------------------------------------------------------

def bill_of_materials(stage: int) -> StageCost:
    """What stage `stage` runs on a real account, itemised and priced."""
    day1 = _const("s01_day_one", "INSTANCE_TYPE", "t2.micro")
    sizes = _const("s02_scale_up", "SIZES", ("t2.micro", "m4.2xlarge", "c4.8xlarge"))
    web = _const("s03_web_and_database", "WEB_TYPE", "m4.large")
    db = _const("s03_web_and_database", "DB_CLASS", "db.m5.large")
    web5 = _const("s05_users_100k", "WEB_INSTANCES", 8)
    replicas5 = _const("s05_users_100k", "READ_REPLICAS", 4)
    cache_node = _const("s06_shift_load", "CACHE_NODE_TYPE", "cache.t3.micro")
    asg_min, asg_max = _const("s07_auto_scaling", "MIN_SIZE", 2), _const("s07_auto_scaling", "MAX_SIZE", 10)
    per_az8 = _const("s08_users_500k", "WEB_PER_AZ", 3)
    db10 = _const("s10_ten_million_users", "PRIMARY_CLASS", "db.r5.8xlarge")
    cache10 = _const("s10_ten_million_users", "CACHE_NODE", "cache.r5.large")

    day1_box = _box(day1, 1, "day-1 box, kept for admin") + [Item("Elastic IP (day-1 box)", "vpc:public-ipv4", 0)]
    titles = {1: "Day 1: one box", 2: "Scale up", 3: "Web + database", 4: "Users > 1,000", 5: "Users > 100,000",
              6: "Shift load: S3, CloudFront, ElastiCache, DynamoDB", 7: "Auto Scaling", 8: "Users > 500,000",
              9: "Serverless pipeline", 10: "Ten million users"}
    if stage not in titles:
        from ..errors import BadInput

        raise BadInput(f"no cost estimate for stage {stage!r}; stages 1-10 have one")
    items: list[Item] = []
    if stage == 1:
        items = _box(day1, 1, "web + app + database") + _zone()
    elif stage == 2:
        # the same box, resized through the talk's sizes; the hourly figure is its largest size
        small, mid, big = sizes[0], sizes[1], sizes[-1]
        items = (_box(small, 1, "before resizing", session_hours=1.0, in_hourly=False)
                 + [Item(f"EC2 {mid} x 1 (resized)", prices.ec2(mid), 1, session_hours=0.5, in_hourly=False),
                    Item(f"EC2 {big} x 1 (largest size)", prices.ec2(big), 1, session_hours=0.5)]
                 + [Item("EBS gp3 8 GB x 1 (root volume)", "ebs:gp3", 8),
                    Item("public IPv4 x 1 (Elastic IP)", "vpc:public-ipv4", 1)] + _zone())
    elif stage == 3:
        items = day1_box + _box(web, 1, "web server") + _db(db, multi_az=False) + _zone()
    elif stage == 4:
        items = day1_box + _box(web, 2, "web, one per AZ") + _alb() + _db(db, multi_az=True) + _zone()
    elif stage == 5:
        items = day1_box + _box(web, web5, "web tier, 2 AZs") + _alb() + _db(db, True, replicas5) + _zone()
    elif stage == 6:
        items = (day1_box + _box(web, web5, "web tier, 2 AZs") + _alb() + _db(db, True, replicas5)
                 + _edge(cache_node, 2) + _zone())
    elif stage == 7:
        items = (day1_box + _box(web, asg_max, f"Auto Scaling group at its max; min {asg_min}") + _alb()
                 + _db(db, True, replicas5) + _edge(cache_node, 2) + _zone()
                 + [Item("CloudWatch alarms x 2 (target tracking)", "cloudwatch:alarm", 2)])
    elif stage == 8:
        items = (day1_box + _box(web, 2 * per_az8, f"Auto Scaling, {per_az8} per AZ") + _alb()
                 + _db(db, True, 2) + _edge(cache_node, 2) + _zone()
                 + [Item("CloudWatch alarms x 2 (target tracking)", "cloudwatch:alarm", 2)])
    elif stage == 9:
        items = _pipeline()
    elif stage == 10:
        items = (day1_box + _box(web, 2 * per_az8, "Auto Scaling, ceiling raised: costs only when used") + _alb()
                 + _db(db10, True) + [Item(f"RDS read replica {db} x 2 (unchanged)", prices.rds(db), 2),
                                      Item("RDS replica storage 20 GB x 2", "rds:storage-gp2", 40)]
                 + _edge(cache_node, 2) + [Item(f"ElastiCache {cache10} x 2 (added for 10M users)", prices.cache(cache10), 2)]
                 + _zone()
                 + [Item("CloudWatch alarms x 2 (target tracking)", "cloudwatch:alarm", 2)] + _pipeline())
    return StageCost(stage, titles[stage], [i for i in items if i.quantity])


def estimate(stages: list[int] | None = None) -> list[StageCost]:
    return [bill_of_materials(s) for s in (stages or range(1, 11))]


def table(cost: StageCost) -> str:
    """The itemised bill of one stage, one line per item, then the totals."""
    lines = [f"Stage {cost.stage} ({cost.title}) on AWS {prices.REGION}, on-demand prices of {PRICES_DATE}:"]
    width = max(len(i.label) for i in cost.items)
    for i in cost.items:
        note = "" if i.in_hourly else "   (earlier size; not in the hourly total)"
        lines.append(f"  {i.label.ljust(width)}  ${i.hourly_usd:8.4f}/h{note}")
    lines.append(f"  {'total'.ljust(width)}  ${cost.hourly_usd:8.4f}/h   ~${cost.session_usd:.2f} for a "
                 f"{SESSION_HOURS:g}-hour session")
    return "\n".join(lines)
