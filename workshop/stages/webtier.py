"""What stages 5-8 stand on, found by the run's tags: the load balancer, its target group,
the web instances behind it, the primary database; and the fleet helpers they share.

Stage 4 builds the load balancer, the target group and one web instance per AZ; these
functions find them (by name, or by the course and run tags), so they only read. The
find-or-create helpers here tag and name everything they make, and look up first.
"""

from __future__ import annotations

from collections import Counter

from .. import config, tags
from ..errors import WorkshopError
from . import infra

WEB_ROLE = "web"
#: the database the web app keeps its tables in (it creates it: RDS makes none without DBName)
APP_DATABASE = "sbs"


def app_config(ctx, stage: int, writer: str, reader: str | None = None, secret_arn: str | None = None,
               sessions: str | dict = "memory", cache: dict | None = None) -> dict:
    """The web app's config (workshop/webapp/userdata.py): DB endpoints `writer` (and `reader` from
    stage 5) as RDS or Route 53 names, the master password from RDS's managed secret; `sessions`
    and `cache` as stage 6 sets them. It names the `stage` it is from (`infra.resize` never puts an
    earlier stage's back)."""
    return {"stage": stage, "sessions": sessions, "region": ctx.region, "cache": cache,
            "db": {"writer": writer, "reader": reader, "port": 3306, "user": "admin",
                   "password_secret": secret_arn, "database": APP_DATABASE}}


def app_user_data(ctx, stage: int, title: str, writer: str, reader: str | None = None,
                  secret_arn: str | None = None, sessions: str | dict = "memory", cache: dict | None = None) -> str:
    """User data that installs the course's web app (workshop/webapp) with `app_config`'s config."""
    from ..webapp import userdata

    return userdata.build(app_config(ctx, stage, writer, reader, secret_arn, sessions, cache), title=title)


def db_secret_arn(db: dict | None) -> str | None:
    """The ARN of the secret holding a DB instance's master password (ManageMasterUserPassword), if any."""
    return ((db or {}).get("MasterUserSecret") or {}).get("SecretArn")


def _mine(tag_items, run_id: str) -> bool:
    return tags.is_course(tag_items, run_id)


def find_load_balancer(ctx) -> dict | None:
    """The run's Application Load Balancer (stage 4's `sbs-<run>-alb`), or None."""
    from . import s04_users_1000

    return s04_users_1000.find_load_balancer(ctx)


def find_target_group(ctx) -> dict | None:
    """The target group the load balancer forwards to (stage 4's `sbs-<run>-web-tg`), or None."""
    from . import s04_users_1000

    return s04_users_1000.find_target_group(ctx)


def require(ctx, what: str, found):
    if found is None:
        raise WorkshopError(f"no {what} for run {ctx.run_id!r}: stage 4 builds it; run the set-up cell "
                            "(ws.build_previous()) or notebook 04 first")
    return found


def target_ids(ctx, target_group_arn: str) -> dict[str, str]:
    """Registered target id -> health state."""
    health = infra.client(ctx, "elbv2").describe_target_health(TargetGroupArn=target_group_arn)
    return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]}


def instances(ctx, ids: list[str]) -> list[dict]:
    if not ids:
        return []
    out = []
    for r in infra.client(ctx, "ec2").describe_instances(InstanceIds=ids)["Reservations"]:
        out.extend(r["Instances"])
    return out


def web_instances(ctx) -> list[dict]:
    """The run's live instances tagged with the web role (any stage), oldest first."""
    filters = [{"Name": f"tag:{tags.RUN_KEY}", "Values": [ctx.run_id]},
               {"Name": f"tag:{tags.COURSE_KEY}", "Values": [config.COURSE]},
               {"Name": f"tag:{infra.ROLE_KEY}", "Values": [WEB_ROLE]},
               {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    out = []
    for r in infra.client(ctx, "ec2").describe_instances(Filters=filters)["Reservations"]:
        out.extend(r["Instances"])
    return sorted(out, key=lambda i: (i["LaunchTime"], i["InstanceId"]))


def find_named(ctx, suffixes: list[str]) -> dict[str, dict]:
    """The run's live instances named `sbs-<run>-<suffix>`, by suffix, in one describe call."""
    if not suffixes:
        return {}
    names = {ctx.name(s): s for s in suffixes}
    filters = [{"Name": "tag:Name", "Values": list(names)}, {"Name": f"tag:{tags.RUN_KEY}", "Values": [ctx.run_id]},
               {"Name": f"tag:{tags.COURSE_KEY}", "Values": [config.COURSE]},
               {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    out = {}
    for r in infra.client(ctx, "ec2").describe_instances(Filters=filters)["Reservations"]:
        for i in r["Instances"]:
            name = next((t["Value"] for t in i.get("Tags", []) if t["Key"] == "Name"), "")
            if name in names:
                out.setdefault(names[name], i)
    return out


def by_az(instances_: list[dict]) -> Counter:
    return Counter(i["Placement"]["AvailabilityZone"] for i in instances_)


def find_primary_db(ctx) -> dict | None:
    """The run's primary RDS instance (stage 3's `sbs-<run>-db`), or None."""
    from . import s03_web_and_database

    return s03_web_and_database.find_db(ctx)


def replicas_of(ctx, primary_id: str) -> list[dict]:
    """The primary's read replicas, by id."""
    out = [db for db in infra.client(ctx, "rds").describe_db_instances()["DBInstances"]
           if (db.get("ReadReplicaSourceDBInstanceIdentifier") or "").split(":")[-1] == primary_id
           and db.get("DBInstanceStatus") != "deleting"]
    return sorted(out, key=lambda d: d["DBInstanceIdentifier"])


def public_subnets(ctx) -> list[dict]:
    """The run's public subnets A and B (stage 4), AZ order."""
    found = [infra.find_subnet(ctx, "public", i) for i in (0, 1)]
    if any(s is None for s in found):
        raise WorkshopError(f"the public subnets {infra.subnet_name(ctx, 'public', 0)} and "
                            f"{infra.subnet_name(ctx, 'public', 1)} are missing: stage 4 builds them; run ws.build_previous()")
    return found


def private_subnets(ctx) -> list[dict]:
    found = [infra.find_subnet(ctx, "private", i) for i in (0, 1)]
    if any(s is None for s in found):
        raise WorkshopError(f"the private subnets {infra.subnet_name(ctx, 'private', 0)} and "
                            f"{infra.subnet_name(ctx, 'private', 1)} are missing: stages 3-4 build them; run ws.build_previous()")
    return found


def web_security_group(ctx) -> str:
    group = infra.find_security_group(ctx, "web")
    if group is None:
        raise WorkshopError(f"no security group {ctx.name('web')}: stage 1 builds it; run ws.build_previous()")
    return group


def zone_records(ctx, name: str, rtype: str = "CNAME") -> list[dict]:
    """Every record set of the run's zone named `name` with type `rtype` (weighted ones included)."""
    zone_id = infra.find_zone(ctx)
    if zone_id is None:
        return []
    fqdn = name.rstrip(".").lower() + "."
    out = []
    for page in infra.client(ctx, "route53").get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        out += [rr for rr in page["ResourceRecordSets"] if rr["Name"].lower() == fqdn and rr["Type"] == rtype]
    return out
