"""Then and now: what the 2015/16 talk used at each stage, what AWS offers today, and what the kit builds.

One table per stage (`ROWS[stage]`), each row with the AWS page it comes from. `markdown(stage)` is
the "Then and now" cell of the stage's notebook; a test keeps each notebook's cell equal to it.
Where the talk's choice is retired or previous generation, the kit builds today's and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADING = "### Then and now"


@dataclass(frozen=True)
class Row:
    what: str
    then: str  # what the talk used (2015/16)
    now: str  # what AWS offers today
    kit: str  # what the kit builds, and why
    source: str  # the AWS page (name and URL)


_EC2_TYPES = 'AWS, "Amazon EC2 instance types", https://aws.amazon.com/ec2/instance-types/'
_EC2_PREVIOUS = 'AWS, "Previous generation instances", https://aws.amazon.com/ec2/previous-generation/'
_EBS = 'AWS, "Amazon EBS volume types", https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html'
_AL = 'AWS, "Amazon Linux 2023", https://aws.amazon.com/linux/amazon-linux-2023/'
_IPV4 = 'AWS, "Amazon VPC pricing" (public IPv4 addresses), https://aws.amazon.com/vpc/pricing/'
_RDS_VERSIONS = ('AWS, "Supported MySQL major versions on Amazon RDS", '
                 'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/MySQL.Concepts.VersionMgmt.html')
_RDS_CLASSES = ('AWS, "DB instance classes", '
                'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.html')
_CLB = ('AWS, "What is a Classic Load Balancer?", '
        'https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/introduction.html')
_MULTI_AZ_CLUSTER = ('AWS, "Multi-AZ DB cluster deployments", '
                     'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/multi-az-db-clusters-concepts.html')
_REPLICAS = ('AWS, "Working with DB instance read replicas", '
             'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.html')
_VALKEY = 'AWS, "Amazon ElastiCache for Valkey", https://aws.amazon.com/elasticache/what-is-valkey/'
_OAC = ('AWS, "Restrict access to an Amazon S3 origin", '
        'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html')
_ON_DEMAND = ('AWS, "DynamoDB throughput capacity" (on-demand mode), '
              'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/capacity-mode.html')
_LAUNCH_CONFIGS = ('AWS, "Auto Scaling launch configurations", '
                   'https://docs.aws.amazon.com/autoscaling/ec2/userguide/launch-configurations.html')
_TARGET_TRACKING = ('AWS, "Target tracking scaling policies for Amazon EC2 Auto Scaling", '
                    'https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html')
_RDS_PROXY = 'AWS, "Amazon RDS Proxy", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.html'
_FIREHOSE = ('AWS, "What is Amazon Data Firehose?", '
             'https://docs.aws.amazon.com/firehose/latest/dev/what-is-this-service.html')
_RUNTIMES = 'AWS, "Lambda runtimes", https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html'
_PROXY = ('AWS, "Choose an API Gateway API integration type", '
          'https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-integration-types.html')
_HTTP_API = ('AWS, "Choose between REST APIs and HTTP APIs", '
             'https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vs-rest.html')

R = Row
ROWS: dict[int, tuple[Row, ...]] = {
    1: (R("the box", "t2.micro (Xen)", "t3.micro / t4g.micro (Nitro; t4g on Graviton)",
          "the talk's t2.micro, still offered", _EC2_TYPES),
        R("the operating system", "Amazon Linux AMI", "Amazon Linux 2023 (the Amazon Linux AMI's support has ended)",
          "Amazon Linux 2023: today's choice, the talk's is retired", _AL),
        R("root volume", "gp2 (3 IOPS per GiB, 100 at least)", "gp3 (3,000 IOPS at any size)", "gp3", _EBS),
        R("a public IPv4 address", "free while attached", "$0.005 an hour each, attached or not (since February 2024)",
          "one Elastic IP, priced by `workshop cost`", _IPV4)),
    2: (R("the sizes", "m4.2xlarge, c4.8xlarge (2015's current generation)",
          "M4 and C4 are previous generation; today M7i/M7g, C7i/C7g and later (Nitro)",
          "the talk's types, to meet its wall; they are still offered", _EC2_PREVIOUS),
        R("provisioned IOPS", "io1, up to 20,000 IOPS a volume",
          "io1/io2 up to 64,000 on Nitro instances (32,000 on others); io2 Block Express up to 256,000; gp3",
          "no PIOPS volume: the table names it", _EBS)),
    3: (R("the database engine", "RDS for MySQL 5.6", "RDS for MySQL 8.0 / 8.4 (5.6 and 5.7 are past standard support)",
          "RDS for MySQL at the engine's default version: today's", _RDS_VERSIONS),
        R("the database class", "db.m3 / db.r3", "db.m5 and later, db.m7g / db.r7g on Graviton",
          "db.m5.large", _RDS_CLASSES)),
    4: (R("the load balancer", 'ELB, the Classic Load Balancer (the talk\'s "Elastic Load Balancing")',
          "Application Load Balancer for HTTP (2016); the Classic Load Balancer is previous generation",
          "an Application Load Balancer: today's choice where the talk's is previous generation", _CLB),
        R("RDS Multi-AZ", "one standby instance, not readable", "also Multi-AZ DB clusters: two readable standbys",
          "the talk's Multi-AZ instance (one standby)", _MULTI_AZ_CLUSTER)),
    5: (R("read replicas", "up to 5 per MySQL source", "up to 15 per MySQL source",
          "the talk's 4", _REPLICAS),
        R("the load balancer", "Classic ELB", "Application Load Balancer", "stage 4's Application Load Balancer",
          _CLB)),
    6: (R("the cache engine", "ElastiCache for Memcached or Redis", "ElastiCache for Valkey, Redis OSS or Memcached",
          "Redis OSS (what the local AWS emulates); Valkey is the drop-in successor", _VALKEY),
        R("S3 behind CloudFront", "origin access identity (OAI)", "origin access control (OAC); OAI is legacy",
          "OAC: today's choice", _OAC),
        R("the sessions table", "provisioned read and write capacity", "on-demand capacity and TTL expiry",
          "an on-demand table with TTL", _ON_DEMAND)),
    7: (R("what the group launches", "a launch configuration", "a launch template (launch configurations take no new "
          "instance types and new accounts cannot create them)", "a launch template: today's choice", _LAUNCH_CONFIGS),
        R("the scaling policy", "simple and step policies on a CloudWatch alarm", "target tracking (2017) as the "
          "default, with step policies for bursts", "both: target tracking on CPU, and a simple policy for a burst",
          _TARGET_TRACKING)),
    8: (R("the load balancer", "Classic ELB", "Application Load Balancer", "stage 4's Application Load Balancer",
          _CLB),
        R("database connections", "each web server's own pool", "RDS Proxy (2020) pools them for the fleet",
          "none: the capacity model counts max_connections instead", _RDS_PROXY)),
    9: (R("the delivery stream", "Amazon Kinesis Firehose", "Amazon Data Firehose (renamed in 2024; same API, "
          "`firehose`)", "Firehose through the same API", _FIREHOSE),
        R("the Lambda runtime", "Python 2.7 or Node.js 0.10 / 4.3", "Python 3 (3.12, 3.13, ...) and Node.js 20, 22, ... "
          "(2.7 and the old Node.js are deprecated)", "python3.13 (`workshop/lambda_runtimes.py`)", _RUNTIMES),
        R("the API integration", "a non-proxy integration with mapping templates", "a Lambda proxy integration "
          "(2016)", "both, side by side: `/logger` (proxy) and `/v2016/logger`", _PROXY)),
    10: (R("the API", "a REST API", "REST APIs, or HTTP APIs (2020: fewer features, lower price)",
           "the talk's REST API", _HTTP_API),
         R("the event table", "provisioned capacity", "on-demand capacity (2018)", "on-demand", _ON_DEMAND),
         R("the load balancer", "Classic ELB", "Application Load Balancer", "stage 4's Application Load Balancer",
           _CLB)),
}
del R


def markdown(stage: int) -> str:
    """The notebook's "Then and now" cell for `stage`: a table, then the sources, one line each."""
    rows = ROWS[stage]
    out = [HEADING, "", "What the 2015/16 talk used, what AWS offers today, and what this notebook builds.", "",
           "| | the talk (2015/16) | today | the kit builds |", "|---|---|---|---|"]
    out += [f"| {r.what} | {r.then} | {r.now} | {r.kit} |" for r in rows]
    sources = sorted({r.source for r in rows}, key=[r.source for r in rows].index)
    out += ["", "Sources: " + "; ".join(sources) + "."]
    return "\n".join(out)
