"""A stage's bill of materials: what it leaves running on a real account, as parts.

A `Part` names what runs, the key of its price in `cost.prices.PRICES` and how many units of
it run per hour; `workshop.cost` prices parts from that one table. Stages declare their bill
(`Stage(bill=...)`) with the building blocks below, sized by their own constants, so the bill
follows the code. Request-priced services are counted at the course's volumes (`VOLUMES`).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Part:
    """One line of a bill: e.g. Part("EC2 m4.large x 8 (web tier)", "ec2:m4.large", 8)."""

    label: str
    price_key: str  # a key of cost.prices.PRICES
    quantity: float  # units per hour (instances, GB, LCU, million requests, ...)
    session_hours: float | None = None  # how long it runs in a typical session (None: all of it)
    in_hourly: bool = True  # counted in the stage's hourly figure (False: an earlier size of the same box)


Bill = tuple[Part, ...]


def ec2(instance_type: str) -> str:
    return f"ec2:{instance_type}"


def rds(db_class: str) -> str:
    return f"rds:{db_class}"


def cache(node_type: str) -> str:
    return f"elasticache:{node_type}"


# --- building blocks ---------------------------------------------------------------------

def box(kind: str, count: int, what: str, gb: int = 8, public_ip: bool = True, **kw) -> Bill:
    """`count` EC2 instances of `kind` with their root volumes (and public IPv4 addresses)."""
    parts = (Part(f"EC2 {kind} x {count} ({what})", ec2(kind), count, **kw),
             Part(f"EBS gp3 {gb} GB x {count} ({what} root volumes)", "ebs:gp3", gb * count, **kw))
    if public_ip:
        parts += (Part(f"public IPv4 x {count} ({what})", "vpc:public-ipv4", count, **kw),)
    return parts


def zone() -> Bill:
    return (Part("Route 53 hosted zone x 1", "route53:hosted-zone", 1),)


def alb() -> Bill:
    return (Part("Application Load Balancer x 1", "elb:alb-hour", 1),
            Part(f"ALB LCU x {VOLUMES['alb_lcu']:g}", "elb:alb-lcu", VOLUMES["alb_lcu"]),
            Part("public IPv4 x 2 (the load balancer's, one per AZ)", "vpc:public-ipv4", 2))


def db(db_class: str, multi_az: bool, replicas: int = 0, gb: int = 20) -> Bill:
    """An RDS MySQL instance (Multi-AZ counts the standby: twice Single-AZ) and its read replicas."""
    copies = 2 if multi_az else 1
    az = "Multi-AZ (primary + standby: twice Single-AZ)" if multi_az else "Single-AZ"
    parts = (Part(f"RDS MySQL {db_class} {az}", rds(db_class), copies),
             Part(f"RDS storage {gb} GB {az}", "rds:storage-gp2", gb * copies))
    if replicas:
        parts += replica(db_class, replicas, gb=gb)
    return parts


def replica(db_class: str, count: int, gb: int = 20, note: str = "") -> Bill:
    return (Part(f"RDS read replica {db_class} x {count}{note}", rds(db_class), count),
            Part(f"RDS replica storage {gb} GB x {count}", "rds:storage-gp2", gb * count))


def alarms(count: int = 2) -> Bill:
    return (Part(f"CloudWatch alarms x {count} (target tracking)", "cloudwatch:alarm", count),)


def edge(cache_node: str, nodes: int) -> Bill:
    """Stage 6's offload: ElastiCache, CloudFront in front of S3, DynamoDB sessions."""
    v = VOLUMES
    return (Part(f"ElastiCache {cache_node} x {nodes} (primary + replica)", cache(cache_node), nodes),
            Part(f"CloudFront {v['cloudfront_requests']:,} HTTPS requests/h", "cloudfront:https-requests",
                 v["cloudfront_requests"] / 10_000),
            Part(f"CloudFront {v['cloudfront_gb']} GB/h out", "cloudfront:gb-out", v["cloudfront_gb"]),
            Part(f"S3 {v['s3_gets']:,} GETs/h (static files, CloudFront misses)", "s3:get-requests",
                 v["s3_gets"] / 1000 / 10),
            Part("S3 storage 1 GB (static site)", "s3:storage", 1),
            Part(f"DynamoDB {v['dynamodb_reads']:,} reads/h (sessions)", "dynamodb:read-units",
                 v["dynamodb_reads"] / 1e6))


def pipeline() -> Bill:
    """Stage 9's serverless pipeline at the course's volumes."""
    v = VOLUMES
    return (Part(f"API Gateway REST {v['api_requests']:,} requests/h", "apigateway:rest-requests",
                 v["api_requests"] / 1e6),
            Part(f"Lambda {v['lambda_invocations']:,} invocations/h", "lambda:requests", v["lambda_invocations"] / 1e6),
            Part(f"Lambda duration {v['lambda_invocations']:,} x {v['lambda_seconds']} s x 128 MB", "lambda:gb-second",
                 v["lambda_invocations"] * v["lambda_seconds"] * 0.125),
            Part(f"DynamoDB {v['dynamodb_writes']:,} writes/h (eventTable)", "dynamodb:write-units",
                 v["dynamodb_writes"] / 1e6),
            Part(f"Firehose {v['firehose_records']:,} records/h (5 KB each, billed)", "firehose:gb-ingested",
                 v["firehose_records"] * 5 / 1024 / 1024),
            Part(f"S3 {v['s3_puts']} PUTs/h (Firehose objects)", "s3:put-requests", v["s3_puts"] / 1000),
            Part("S3 storage 1 GB (pipeline output)", "s3:storage", 1))
