"""Topologies drawn from the talk's slides, for testing the capacity model without a build."""

from workshop.topology import AutoScalingGroup, Cache, Database, Distribution, Instance, LoadBalancer, Table, Topology

A, B = "us-east-1a", "us-east-1b"


def _web(n: int, kind: str, role: str = "web") -> list[Instance]:
    return [Instance(f"i-{i}", kind, A if i % 2 == 0 else B, "running", role=role) for i in range(n)]


def _lb() -> list[LoadBalancer]:
    return [LoadBalancer("lb", "arn:lb", "application", [A, B], "lb-1.us-east-1.elb.amazonaws.com")]


def stage1(kind: str = "t2.micro") -> Topology:
    """Slide 3: one instance running the full stack."""
    return Topology(instances=_web(1, kind, "full-stack"))


def stage3(web: str = "t2.micro", db: str = "db.t3.micro") -> Topology:
    """Slide 8: a web instance and an RDS instance."""
    return Topology(instances=_web(1, web), databases=[Database("db", "mysql", db, A, "primary")])


def stage4(web: str = "t2.micro", db: str = "db.t3.micro") -> Topology:
    """Slide 9: ELB, a web instance in each of two AZs, RDS Multi-AZ."""
    return Topology(instances=_web(2, web), load_balancers=_lb(),
                    databases=[Database("db", "mysql", db, A, "primary", multi_az=True, secondary_az=B)])


def stage5(web: str = "t2.micro", db: str = "db.t3.micro") -> Topology:
    """Slide 11: 8 web instances in two AZs, RDS Multi-AZ + 4 read replicas."""
    t = stage4(web, db)
    t.instances = _web(8, web)
    t.databases += [Database(f"r{i}", "mysql", db, A if i % 2 == 0 else B, "replica", source="db") for i in range(4)]
    return t


def stage8(web: str = "t3.micro", db: str = "db.m5.large", node: str = "cache.t3.micro", asg_max: int = 6) -> Topology:
    """Slide 20: 3 auto-scaled web instances per AZ, ElastiCache and a replica per AZ, DynamoDB, S3 + CloudFront.

    Slide 20 names no class: the database is stage 3's db.m5.large (a db.t3.micro's 85 connections are a wall
    below 500,000 users, see test_a_small_primary_runs_out_of_connections_first)."""
    web_instances = _web(6, web)
    return Topology(
        instances=web_instances, load_balancers=_lb(),
        auto_scaling_groups=[AutoScalingGroup("asg", 2, asg_max, 6, [A, B], [i.id for i in web_instances])],
        databases=[Database("db", "mysql", db, A, "primary", multi_az=True, secondary_az=B)]
        + [Database(f"r{i}", "mysql", db, z, "replica", source="db") for i, z in enumerate((A, B))],
        caches=[Cache(f"c{i}", "redis", node, z, "primary") for i, z in enumerate((A, B))],
        distributions=[Distribution("d", "d1.cloudfront.net", ["static.s3.amazonaws.com",
                                                               "lb-1.us-east-1.elb.amazonaws.com"])],
        tables=[Table("sbs-demo-sessions", ttl=True)], buckets=["static"])


def stage10() -> Topology:
    """Slide 30: stage 8 scaled for 10 million (stage 10's build) plus the serverless pipeline of slides 28-29."""
    from workshop.stages import s10_ten_million_users as s10

    t = stage8(db=s10.PRIMARY_CLASS, asg_max=s10.WEB_MAX)
    t.caches += [Cache(f"big{i}", "redis", s10.CACHE_NODE, z, "primary") for i, z in enumerate((A, B))]
    t.functions = ["writeToDynamoDB", "DynamoDBToFirehose"]
    t.apis = ["logger"]
    t.tables.append(Table("eventTable", stream=True))
    t.delivery_streams = ["firehoseToS3"]
    return t
