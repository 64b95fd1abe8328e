"""us-east-1 on-demand list prices (USD) for what the course runs, each with its source page.

One table, one date: `PRICES_DATE` is when the figures were copied from the pages named per
item (Linux/MySQL/Redis on-demand, us-east-1, no free tier, no savings plans). Prices
change: check the page before quoting a figure to a room. `workshop cost` prints the date.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_DATE = "2025-06-01"
REGION = "us-east-1"
HOURS_PER_MONTH = 730  # AWS's convention for turning monthly prices into hourly ones

EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/"
EBS = "https://aws.amazon.com/ebs/pricing/"
VPC = "https://aws.amazon.com/vpc/pricing/"
ELB = "https://aws.amazon.com/elasticloadbalancing/pricing/"
RDS = "https://aws.amazon.com/rds/mysql/pricing/"
ELASTICACHE = "https://aws.amazon.com/elasticache/pricing/"
CLOUDFRONT = "https://aws.amazon.com/cloudfront/pricing/"
LAMBDA = "https://aws.amazon.com/lambda/pricing/"
APIGATEWAY = "https://aws.amazon.com/api-gateway/pricing/"
DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
FIREHOSE = "https://aws.amazon.com/kinesis/data-firehose/pricing/"
S3 = "https://aws.amazon.com/s3/pricing/"
ROUTE53 = "https://aws.amazon.com/route53/pricing/"
CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str  # "hour", "GB-month", "month", "million requests", "GB", ...
    source: str


def _ec2(usd):
    return Price(usd, "hour", EC2)


def _rds(usd):
    return Price(usd, "hour", RDS)  # Single-AZ; Multi-AZ (one standby) is twice this


def _cache(usd):
    return Price(usd, "hour", ELASTICACHE)


PRICES: dict[str, Price] = {
    # EC2 instances, Linux on-demand, per instance-hour
    "ec2:t2.micro": _ec2(0.0116),
    "ec2:t3.micro": _ec2(0.0104),
    "ec2:t3.small": _ec2(0.0208),
    "ec2:t2.small": _ec2(0.023),
    "ec2:m4.large": _ec2(0.10),
    "ec2:m4.2xlarge": _ec2(0.40),
    "ec2:c4.8xlarge": _ec2(1.591),
    "ec2:m5.large": _ec2(0.096),
    "ec2:m5.xlarge": _ec2(0.192),
    "ec2:c5.large": _ec2(0.085),
    # storage and addresses
    "ebs:gp3": Price(0.08, "GB-month", EBS),
    "ebs:gp2": Price(0.10, "GB-month", EBS),
    "vpc:public-ipv4": Price(0.005, "hour", VPC),  # every public IPv4 address, attached or not (since Feb 2024)
    "vpc:nat-gateway": Price(0.045, "hour", VPC),  # not used by the course; here to say what one would cost
    # load balancing
    "elb:alb-hour": Price(0.0225, "hour", ELB),
    "elb:alb-lcu": Price(0.008, "LCU-hour", ELB),
    # RDS for MySQL, Single-AZ instance-hours; storage per GB-month
    "rds:db.t3.micro": _rds(0.017),
    "rds:db.t4g.micro": _rds(0.016),
    "rds:db.t3.small": _rds(0.034),
    "rds:db.m5.large": _rds(0.171),
    "rds:db.m5.xlarge": _rds(0.342),
    "rds:db.m5.2xlarge": _rds(0.684),
    "rds:db.r5.large": _rds(0.25),
    "rds:db.r5.8xlarge": _rds(4.00),
    "rds:storage-gp2": Price(0.115, "GB-month", RDS),  # Single-AZ; Multi-AZ twice this
    # ElastiCache for Redis, per node-hour
    "elasticache:cache.t3.micro": _cache(0.017),
    "elasticache:cache.t4g.micro": _cache(0.016),
    "elasticache:cache.m5.large": _cache(0.156),
    "elasticache:cache.r5.large": _cache(0.216),
    # requests and data at the course's volumes
    "cloudfront:gb-out": Price(0.085, "GB", CLOUDFRONT),  # first 10 TB/month to North America
    "cloudfront:https-requests": Price(0.01, "10,000 requests", CLOUDFRONT),
    "lambda:requests": Price(0.20, "million requests", LAMBDA),
    "lambda:gb-second": Price(0.0000166667, "GB-second", LAMBDA),  # x86
    "apigateway:rest-requests": Price(3.50, "million requests", APIGATEWAY),  # first 333 million a month
    "dynamodb:write-units": Price(0.625, "million write request units", DYNAMODB),
    "dynamodb:read-units": Price(0.125, "million read request units", DYNAMODB),
    "firehose:gb-ingested": Price(0.029, "GB", FIREHOSE),  # each record rounded up to 5 KB
    "s3:storage": Price(0.023, "GB-month", S3),
    "s3:put-requests": Price(0.005, "1,000 requests", S3),
    "s3:get-requests": Price(0.0004, "1,000 requests", S3),
    "route53:hosted-zone": Price(0.50, "month", ROUTE53),
    "cloudwatch:alarm": Price(0.10, "month", CLOUDWATCH),  # standard resolution
}


def hourly(key: str) -> float:
    """The price of one unit per hour where the unit is time-based (month -> /730)."""
    p = PRICES[key]
    if p.unit in ("GB-month", "month"):
        return p.usd / HOURS_PER_MONTH
    return p.usd

