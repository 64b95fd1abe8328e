"""Stage 3, web and database apart (slides 6-8): the web instance, and MySQL on Amazon RDS.

The database leaves the box: RDS MySQL in a DB subnet group over two private subnets (in
two AZs, as RDS requires), behind a security group that admits 3306 only from the web
tier's group. The web instance, relieved of the database, becomes a web server of a
web-sized type (m4.large) and is configured with the database endpoint (the instance tag
`app:db-endpoint`: it records which database the web server uses, for people and for `describe_instances`.
An application on the instance could read it from the instance metadata service only if the instance had
instance metadata tags enabled (`MetadataOptions={"InstanceMetadataTags": "enabled"}`; AWS, "View tags for your
EC2 instances from instance metadata", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html),
which the kit does not set; the stage's user data gives the application its endpoint).

The `writes-through-rds` check proves it with a request: a message POSTed to the web box is on
its next page (`X-Data-Source: writer`) and, read with PyMySQL through `workshop.reach`, in the
RDS database's `messages` table (then deleted again). On AWS the database is private: the
check reads it back through the web page only.
"""

from __future__ import annotations

import re
import time
import uuid

from botocore.exceptions import ClientError

from .. import bill, topology
from ..architecture import Architecture, Edge, Group, Node
from ..errors import BadInput, WorkshopError
from ..exercises import Exercise
from . import Band, Check, CheckResult, Stage, infra, register, s01_day_one, site

DB_ENGINE = "mysql"
DB_CLASS = "db.m5.large"
WEB_TYPE = "m4.large"  # a web server, not the whole stack: no need for c4.8xlarge any more
DB_PORT = 3306
ENDPOINT_TAG = "app:db-endpoint"
DB_SG_DESCRIPTION = "database tier: MySQL from the web tier only"

def validate_db_class(db_instance_class: str) -> str:
    if not re.fullmatch(r"db\.[a-z0-9]+\.[a-z0-9]+", str(db_instance_class or "")):
        raise BadInput(f"db_instance_class={db_instance_class!r} is not an RDS instance class such as 'db.m5.large'. "
                       "Nothing was created.")
    return db_instance_class


def db_ingress(web_sg: str) -> list[dict]:
    """MySQL (3306) from the web tier's security group, and from nowhere else."""
    return [{"IpProtocol": "tcp", "FromPort": DB_PORT, "ToPort": DB_PORT,
             "UserIdGroupPairs": [{"GroupId": web_sg, "Description": "the web tier"}]}]


def find_db(ctx, suffix: str = "db") -> dict | None:
    try:
        return infra.client(ctx, "rds").describe_db_instances(DBInstanceIdentifier=ctx.name(suffix))["DBInstances"][0]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "DBInstanceNotFound":
            return None
        raise


def find_db_subnet_group(ctx) -> dict | None:
    try:
        return infra.client(ctx, "rds").describe_db_subnet_groups(
            DBSubnetGroupName=ctx.name("db-subnets"))["DBSubnetGroups"][0]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("DBSubnetGroupNotFoundFault", "DBSubnetGroupNotFound"):
            return None
        raise


def web_user_data(ctx, db: dict | None = None) -> str:
    """The web app (workshop/webapp) told the RDS endpoint and where its master password is: web only, no DB on the box."""
    from . import webtier

    db = db or find_db(ctx)
    endpoint = (db or {}).get("Endpoint", {}).get("Address")
    if not endpoint:
        raise WorkshopError(f"no RDS instance {ctx.name('db')} with an endpoint yet: create it (stage 3) first")
    return webtier.app_user_data(ctx, 3, "web and database apart: the database on RDS", endpoint,
                                 secret_arn=webtier.db_secret_arn(db))


def ensure_private_subnets(ctx, vpc_id: str, azs: list[str]) -> list[str]:
    return [infra.ensure_subnet(ctx, vpc_id, "private", i, az) for i, az in enumerate(azs[:2])]


def build(ctx, db_instance_class: str = DB_CLASS, web_type: str = WEB_TYPE) -> dict:
    """The database on RDS in private subnets of two AZs; the web instance configured with it."""
    validate_db_class(db_instance_class)
    infra.validate_instance_type(ctx, web_type, "web_type")
    infra.ensure_previous(ctx, None in (infra.find_vpc(ctx), infra.find_instance(ctx, "web-a"),
                                        infra.find_security_group(ctx, "web")))
    vpc_id, web, web_sg = infra.find_vpc(ctx), infra.find_instance(ctx, "web-a"), infra.find_security_group(ctx, "web")
    azs = infra.availability_zones(ctx)[:2]
    private = ensure_private_subnets(ctx, vpc_id, azs)
    db_sg = infra.ensure_security_group(ctx, vpc_id, "db", DB_SG_DESCRIPTION, db_ingress(web_sg))
    rds = infra.client(ctx, "rds")
    if find_db_subnet_group(ctx) is None:
        rds.create_db_subnet_group(DBSubnetGroupName=ctx.name("db-subnets"), SubnetIds=private,
                                   DBSubnetGroupDescription="private subnets in two AZs", Tags=ctx.tag_list())
    db = find_db(ctx)
    if db is None:
        db = rds.create_db_instance(
            DBInstanceIdentifier=ctx.name("db"), Engine=DB_ENGINE, DBInstanceClass=db_instance_class,
            AllocatedStorage=20, MasterUsername="admin", ManageMasterUserPassword=True,
            DBSubnetGroupName=ctx.name("db-subnets"), VpcSecurityGroupIds=[db_sg], AvailabilityZone=azs[0],
            PubliclyAccessible=False, MultiAZ=False,
            Tags=ctx.tag_list() + [{"Key": infra.ROLE_KEY, "Value": "primary"}],
        )["DBInstance"]
    from .. import waits

    db = waits.waiter(rds, "db_instance_available", f"RDS MySQL {ctx.name('db')}", typical_s=600,
                      DBInstanceIdentifier=ctx.name("db"))["DBInstances"][0]
    endpoint = db["Endpoint"]["Address"]
    infra.resize(ctx, web["InstanceId"], web_type, user_data=web_user_data(ctx, db))
    infra.client(ctx, "ec2").create_tags(Resources=[web["InstanceId"]], Tags=[
        {"Key": infra.ROLE_KEY, "Value": "web"}, {"Key": ENDPOINT_TAG, "Value": endpoint}])
    return {"db": ctx.name("db"), "endpoint": endpoint, "db_sg": db_sg, "private_subnets": private}


# --- checks ---------------------------------------------------------------------------------

def _is_public(ctx, subnet_id: str) -> bool:
    ec2 = infra.client(ctx, "ec2")
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["RouteTables"]
    return any(r.get("GatewayId", "").startswith("igw-") for t in tables for r in t.get("Routes", []))


def _database(ctx) -> CheckResult:
    db = find_db(ctx)
    if db is None:
        return CheckResult("database", False, f"no RDS instance {ctx.name('db')}: run the create_db_instance cell")
    if db["Engine"] != DB_ENGINE or db["DBInstanceStatus"] != "available":
        return CheckResult("database", False, f"expected {DB_ENGINE}, available; found {db['Engine']}, "
                                              f"{db['DBInstanceStatus']}")
    subnets = db.get("DBSubnetGroup", {}).get("Subnets", [])
    azs = sorted({s["SubnetAvailabilityZone"]["Name"] for s in subnets})
    if len(azs) < 2:
        return CheckResult("database", False, f"the DB subnet group spans {azs}: RDS needs subnets in two AZs")
    public = [s["SubnetIdentifier"] for s in subnets if _is_public(ctx, s["SubnetIdentifier"])]
    if public or db.get("PubliclyAccessible"):
        return CheckResult("database", False, f"the database is reachable from the internet (public subnets {public} "
                                              f"or PubliclyAccessible): use private subnets")
    return CheckResult("database", True, f"{db['DBInstanceIdentifier']}: {db['Engine']} {db['DBInstanceClass']} in "
                                         f"{db['AvailabilityZone']}, private subnets in {', '.join(azs)}")


def _db_access(ctx) -> CheckResult:
    db_sg, web_sg = infra.find_security_group(ctx, "db"), infra.find_security_group(ctx, "web")
    if db_sg is None or web_sg is None:
        return CheckResult("db-access", False, "the database or web security group is missing: run stages 1 and 3")
    db = find_db(ctx)
    if db is not None and db_sg not in [g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])]:
        return CheckResult("db-access", False, f"the database does not use the group {ctx.name('db')}")
    rules = infra.open_ports(ctx, db_sg)
    others = [(p, s) for p, s in rules if (p, s) != (DB_PORT, web_sg)]
    if others:
        return CheckResult("db-access", False, f"the database group admits more than MySQL from the web tier: "
                                               f"{others[:3]}; revoke them")
    if (DB_PORT, web_sg) not in rules:
        return CheckResult("db-access", False, f"the database group does not admit {DB_PORT} from the web tier's "
                                               f"group {web_sg}: the site cannot reach its database")
    return CheckResult("db-access", True, f"MySQL ({DB_PORT}) admitted only from the web tier's group {web_sg}")


def _web_config(ctx) -> CheckResult:
    web, db = infra.find_instance(ctx, "web-a"), find_db(ctx)
    if web is None or db is None:
        return CheckResult("web-config", False, "the web instance or the database is missing")
    configured = infra.instance_tags(web).get(ENDPOINT_TAG)
    if configured != db["Endpoint"]["Address"]:
        return CheckResult("web-config", False, f"the web instance's {ENDPOINT_TAG} is {configured!r}, "
                                                f"expected the database endpoint {db['Endpoint']['Address']}")
    if web["State"]["Name"] != "running":
        return CheckResult("web-config", False, f"the web instance is {web['State']['Name']}: start it")
    return CheckResult("web-config", True, f"web {web['InstanceId']} ({web['InstanceType']}) -> {configured}:{DB_PORT}")


def app_database(ctx, instance_id: str) -> str | None:
    """The DB writer the web box's app is configured with (its user data), or None."""
    from ..webapp import userdata

    try:
        config = userdata.parse(infra.current_user_data(ctx, instance_id)) or {}
    except BadInput:
        return None
    return (config.get("db") or {}).get("writer")


def _leads_to(ctx, writer: str | None, endpoint: str) -> bool:
    """True when the app's writer is the RDS endpoint itself, or a name in the run's zone whose CNAME
    is (stage 5 puts `db-writer.<zone>` in front of it, so a re-run of this check still holds)."""
    if writer == endpoint:
        return True
    if not writer or not writer.endswith("." + infra.domain(ctx)):
        return False
    zone_id = infra.find_zone(ctx)
    rr = infra.record(ctx, zone_id, writer, "CNAME") if zone_id else None
    return any(v["Value"].rstrip(".") == endpoint for v in (rr or {}).get("ResourceRecords", []))


# A page read through a replica or the cache may miss a message written a moment ago (replica lag):
# the check reads again for a few seconds before it says the write went missing.
SHOWN_WITHIN_S = 5.0


def _page_showing(where, text: str):
    deadline = time.monotonic() + SHOWN_WITHIN_S
    while True:
        page = site.get(where)
        if text in page.body or page.header("X-Data-Source") == "writer" or time.monotonic() > deadline:
            return page
        time.sleep(0.5)


def rows_in_rds(ctx, db: dict, text: str, delete: bool = False) -> int:
    """How many `messages` rows in the RDS database carry `text` (PyMySQL through workshop.reach); then delete them."""
    from .. import reach
    from . import webtier

    conn = reach.mysql_connect(db, database=webtier.APP_DATABASE)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM messages WHERE text = %s", (text,))
            found = int(cur.fetchone()[0])
            if delete:
                cur.execute("DELETE FROM messages WHERE text = %s", (text,))
        return found
    finally:
        conn.close()


def _writes_through_rds(ctx) -> CheckResult:
    """POST a message to the web box: it is on the next page (from the writer) and in RDS's table."""
    import pymysql

    name = "writes-through-rds"
    web, db = infra.find_instance(ctx, "web-a"), find_db(ctx)
    if web is None or db is None:
        return CheckResult(name, False, "the web instance or the database is missing: run stages 1 and 3")
    endpoint, web_id = db["Endpoint"]["Address"], web["InstanceId"]
    writer = app_database(ctx, web_id)
    if not _leads_to(ctx, writer, endpoint):
        return CheckResult(name, False, f"the web box's app writes to {writer!r}, not the RDS endpoint {endpoint}: "
                                        f"give it stage 3's user data (infra.resize(ws, '{web_id}', "
                                        f"'{web['InstanceType']}', user_data=apart.web_user_data(ws)))")
    first = s01_day_one.answers(ctx, name)
    if not first.ok:
        hint = (f"; {db['DBInstanceIdentifier']} is {db['DBInstanceStatus']} (rds.start_db_instance if stopped)"
                if "without its data" in first.message else "")
        return CheckResult(name, False, first.message + hint)
    where = site.box_where(ctx, web)
    text = f"check {uuid.uuid4().hex[:12]}"
    posted = site.post_message(where, text)
    if posted.status != 303:
        return CheckResult(name, False, f"POST /messages answered {posted.why()}: the web box could not write to "
                                        f"{endpoint}; is the DB instance available (rds.start_db_instance if stopped)?")
    page = _page_showing(where, text)
    source = page.header("X-Data-Source")
    if source not in s01_day_one.WITH_DATA or text not in page.body:
        return CheckResult(name, False, f"the message was saved but the next pages do not show it "
                                        f"(X-Data-Source: {source}, {page.why()})")
    if not ctx.is_local:
        return CheckResult(name, True, f"POST /messages -> 303, then GET / shows it (X-Data-Source: {source}) via "
                                       f"{endpoint}; the database is private, so it was not read from here")
    try:
        found = rows_in_rds(ctx, db, text, delete=True)
    except pymysql.MySQLError as exc:
        return CheckResult(name, False, f"reading it back from {endpoint} failed: MySQL {exc.args[0]}: {exc.args[-1]}")
    if found != 1:
        return CheckResult(name, False, f"the page shows the message but RDS's messages table holds {found} such rows: "
                                        "the web box is not writing to this database")
    return CheckResult(name, True, f"POST /messages -> 303; GET / shows it (X-Data-Source: {source}); PyMySQL finds "
                                   f"the row in {db['DBInstanceIdentifier']}'s messages table (then deletes it)")


def _check_db_ingress(value, namespace) -> str | None:
    web_sg = namespace.get("web_sg")
    if not isinstance(value, list) or not value:
        return f"expected a list with one IpPermissions dict (tcp 3306 from the web tier's group), found {value!r}"
    for p in value:
        if p.get("IpRanges") or p.get("Ipv6Ranges"):
            ranges = p.get("IpRanges") or p.get("Ipv6Ranges")
            return f"expected no CIDR ranges (the database must not be reachable by address), found {ranges}"
        if (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort")) != ("tcp", DB_PORT, DB_PORT):
            found = f"{p.get('IpProtocol')} {p.get('FromPort')}-{p.get('ToPort')}"
            return f"expected tcp {DB_PORT}-{DB_PORT}, found {found}"
        groups = [g.get("GroupId") for g in p.get("UserIdGroupPairs", [])]
        if groups != [web_sg]:
            return f"expected the source to be the web tier's group {web_sg}, found {groups}"
    return None


EXERCISES = (Exercise(
    "s03-db-ingress", 3, "db_ingress", _check_db_ingress,
    "one IpPermissions dict: tcp, FromPort/ToPort 3306, UserIdGroupPairs=[{'GroupId': web_sg}] (no IpRanges)",
),)


_A, _B = topology.az_group("A"), topology.az_group("B")
ARCHITECTURE = Architecture(
    "Stage 3: web and database apart",
    nodes=(
        Node("user", "user", "Users"),
        Node("dns", "route53", "Route 53\nwww A record"),
        Node("eip", "eip", "Elastic IP"),
        Node("web", "ec2", "EC2 m4.large\nweb server", group=topology.az_group("A", topology.WEB_TIER)),
        Node("db", "rds", "RDS MySQL\ndb.m5.large", group=topology.az_group("A", topology.DATA_TIER)),
    ),
    groups=(Group(_A, "Availability Zone A"),
            Group(topology.az_group("A", topology.WEB_TIER), topology.WEB_TIER, parent=_A),
            Group(topology.az_group("A", topology.DATA_TIER), topology.DATA_TIER, parent=_A)),
    edges=(Edge("user", "dns", "DNS"), Edge("dns", "eip", "www"), Edge("eip", "web", "HTTP"),
           Edge("web", "db", "MySQL 3306")),
)

BILL = s01_day_one.ADMIN_BOX + bill.box(WEB_TYPE, 1, "web server") + bill.db(DB_CLASS, multi_az=False) + bill.zone()

STAGE = register(Stage(
    number=3,
    slug="web_and_database",
    title="Web and database apart",
    slides="6-8",
    users="> 100",
    goal="Move the database to Amazon RDS MySQL in private subnets, reachable only from the web tier.",
    architecture=ARCHITECTURE,
    builds_on=(1,),
    checks=(
        Check("database", _database, "RDS MySQL available in a private DB subnet group over two AZs"),
        Check("db-access", _db_access, "the database admits 3306 only from the web tier's security group"),
        Check("web-config", _web_config, "the running web instance is configured with the database endpoint"),
        Check("writes-through-rds", _writes_through_rds, "a message POSTed to the web box is on its next page and, "
                                                         "read with PyMySQL, in the RDS database"),
    ),
    build=build,
    exercises=EXERCISES,
    bill=BILL,
    band=Band(101, slide="8"),
))
