"""Stage 10: putting it all together (slides 21-33): "10+ million users".

The whole design: stage 8's platform (CloudFront + S3, ELB, an Auto Scaling web tier in two
AZs, ElastiCache, RDS Multi-AZ with read replicas, DynamoDB sessions) plus stage 9's
serverless event pipeline of slides 28-29 (API Gateway -> Lambda -> DynamoDB + Streams ->
Lambda -> Firehose -> S3), sized for ten million users: the web tier may grow to 120
instances, the primary and its read replicas (one per AZ) are scaled up, and a larger cache holds the working set. It stands on
every earlier stage that builds (`builds_on`, in order); `build` adds these pieces, and the
pipeline too when it is missing. AWS's quotas the pipeline runs into are in
`workshop.capacity.quotas`, its prices in `workshop.cost.prices`.
"""

from __future__ import annotations

import io
import json
import zipfile

from .. import bill, tags, topology
from ..architecture import Architecture, Edge, Node
from ..exercises import Exercise
from . import (
    Band,
    Check,
    CheckResult,
    Stage,
    register,
    s01_day_one,
    s03_web_and_database,
    s06_shift_load,
    s08_users_500k,
    s09_serverless_pipeline,
)

TARGET_USERS = 10_000_000  # the talk's claim for slide 30 ("10+ million users")
WEB_MAX = 120  # the Auto Scaling group's ceiling: costs nothing until used
PRIMARY_CLASS = "db.r5.8xlarge"  # 32 vCPU: the primary's writes are the last wall (model: ~13 million users)
#: one replica per AZ (slide 20), each with 8 vCPUs: with an AZ lost the one left must carry every read that misses
#: the cache (the capacity model's figure at the kit's availability target: ~13 million, the primary's writes)
REPLICA_CLASS = "db.m5.2xlarge"
CACHE_NODE = "cache.r5.large"  # 13.07 GiB each, two of them: the working set of 10 million users fits

# The two functions of slides 28-29, as the talk shows them (16 lines together).
WRITE_TO_DYNAMODB = '''import json, os, time, uuid, boto3
table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    table.put_item(Item={"id": str(uuid.uuid4()), "ts": int(time.time() * 1000), **body})
    return {"statusCode": 200, "body": json.dumps({"ok": True})}
'''
DYNAMODB_TO_FIREHOSE = '''import json, os, boto3
firehose = boto3.client("firehose")
def handler(event, context):
    records = [{"Data": json.dumps(r["dynamodb"]["NewImage"]) + "\\n"}
               for r in event["Records"] if "NewImage" in r["dynamodb"]]
    if records:
        firehose.put_record_batch(DeliveryStreamName=os.environ["STREAM"], Records=records)
    return {"records": len(records)}
'''


def is_run(items, run_id: str) -> bool:
    """True when a Key/Value tag list marks a resource as this run's (course and run tags)."""
    return tags.is_course(items, run_id)


# --- build --------------------------------------------------------------------------------------

def scale_for_ten_million(ctx) -> list[str]:
    """Raise the web tier's ceiling, scale the primary up, add a cache large enough; say what changed."""
    changed = []
    asg = ctx.client("autoscaling")
    for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
        if is_run(g.get("Tags"), ctx.run_id) and g["MaxSize"] < WEB_MAX:
            asg.update_auto_scaling_group(AutoScalingGroupName=g["AutoScalingGroupName"], MaxSize=WEB_MAX)
            changed.append(f"{g['AutoScalingGroupName']}: MaxSize {g['MaxSize']} -> {WEB_MAX}")
    rds = ctx.client("rds")
    for db in rds.describe_db_instances()["DBInstances"]:
        if not is_run(db.get("TagList"), ctx.run_id):
            continue
        want = REPLICA_CLASS if db.get("ReadReplicaSourceDBInstanceIdentifier") else PRIMARY_CLASS
        if db["DBInstanceClass"] != want:
            rds.modify_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"], DBInstanceClass=want,
                                   ApplyImmediately=True)
            changed.append(f"{db['DBInstanceIdentifier']}: {db['DBInstanceClass']} -> {want}")
    cache = ctx.client("elasticache")
    existing = {c["CacheClusterId"] for c in cache.describe_cache_clusters()["CacheClusters"]}
    zones = sorted(z["ZoneName"] for z in ctx.client("ec2").describe_availability_zones()["AvailabilityZones"])[:2]
    for i, zone in enumerate(zones, start=1):
        cid = ctx.name(f"cache10m-{i}")
        if cid not in existing:
            cache.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=CACHE_NODE, NumCacheNodes=1,
                                       PreferredAvailabilityZone=zone, Tags=ctx.tag_list())
            changed.append(f"{cid}: {CACHE_NODE} in {zone}")
    return changed


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", source)
    return buf.getvalue()


def ensure_pipeline(ctx, bucket: str | None = None) -> list[str]:
    """The serverless pipeline of slides 28-29, found by name or created (when stage 9 did not build it).

    Firehose delivers into `bucket` (an existing bucket of the run, e.g. stage 6's) or a new one.
    """
    made = []
    names = {"table": ctx.name("eventTable"), "bucket": bucket or ctx.name("events").lower(),
             "stream": ctx.name("firehoseToS3"),
             "role": ctx.name("pipeline-role"), "write": ctx.name("writeToDynamoDB"),
             "forward": ctx.name("DynamoDBToFirehose"), "api": ctx.name("logger-api")}
    ddb, s3, iam = ctx.client("dynamodb"), ctx.client("s3"), ctx.client("iam")
    if names["table"] not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName=names["table"], BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                         Tags=ctx.tag_list())
        made.append(names["table"])
    if names["bucket"] not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=names["bucket"])
        s3.put_bucket_tagging(Bucket=names["bucket"], Tagging={"TagSet": ctx.tag_list()})
        made.append(names["bucket"])
    try:
        role_arn = iam.get_role(RoleName=names["role"])["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
            "Service": ["lambda.amazonaws.com", "firehose.amazonaws.com"]}}]}
        role_arn = iam.create_role(RoleName=names["role"], AssumeRolePolicyDocument=json.dumps(trust),
                                   Tags=ctx.tag_list())["Role"]["Arn"]
        made.append(names["role"])
    fh = ctx.client("firehose")
    if names["stream"] not in fh.list_delivery_streams()["DeliveryStreamNames"]:
        fh.create_delivery_stream(DeliveryStreamName=names["stream"], DeliveryStreamType="DirectPut",
                                  ExtendedS3DestinationConfiguration={"RoleARN": role_arn,
                                                                      "BucketARN": f"arn:aws:s3:::{names['bucket']}"},
                                  Tags=ctx.tag_list())
        made.append(names["stream"])
    lam = ctx.client("lambda")
    have = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    for key, source, env in (("write", WRITE_TO_DYNAMODB, {"TABLE": names["table"]}),
                             ("forward", DYNAMODB_TO_FIREHOSE, {"STREAM": names["stream"]})):
        if names[key] not in have:
            lam.create_function(FunctionName=names[key], Runtime="python3.12", Role=role_arn, Handler="handler.handler",
                                Code={"ZipFile": _zip(source)}, Timeout=10, Environment={"Variables": env},
                                Tags=ctx.tags)
            made.append(names[key])
    apigw = ctx.client("apigateway")
    if not any(a["name"] == names["api"] for a in apigw.get_rest_apis()["items"]):
        api = apigw.create_rest_api(name=names["api"], tags=ctx.tags)["id"]
        root = next(r["id"] for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/")
        res = apigw.create_resource(restApiId=api, parentId=root, pathPart="logger")["id"]
        apigw.put_method(restApiId=api, resourceId=res, httpMethod="POST", authorizationType="NONE")
        fn_arn = lam.get_function(FunctionName=names["write"])["Configuration"]["FunctionArn"]
        uri = f"arn:aws:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{fn_arn}/invocations"
        apigw.put_integration(restApiId=api, resourceId=res, httpMethod="POST", type="AWS_PROXY",
                              integrationHttpMethod="POST", uri=uri)
        apigw.create_deployment(restApiId=api, stageName="prod")
        made.append(names["api"])
    return made


def build(ctx) -> None:
    """Stage 10 on top of every earlier stage (built by `build_previous`): scale settings and the pipeline."""
    scale_for_ten_million(ctx)
    live = topology.read(ctx.run_id)
    if not (live.functions and live.apis and live.delivery_streams):
        ensure_pipeline(ctx, live.buckets[0] if live.buckets else None)


# --- checks -------------------------------------------------------------------------------------

def _capacity(ctx) -> CheckResult:
    from .. import capacity, topology

    live = topology.read(ctx.run_id)
    result = capacity.evaluate(live, TARGET_USERS)
    ok = result.max_users >= TARGET_USERS
    line = capacity.describe(result)
    return CheckResult("ten-million", ok, line if ok else
                       f"expected >= {TARGET_USERS:,} users, {line}: re-run this notebook's set-up and scale-out cells")


def _az_loss(ctx) -> CheckResult:
    from .. import capacity, topology

    live = topology.read(ctx.run_id)
    result = capacity.evaluate(live, 0, az_down=True)
    ok = result.max_users > 0
    return CheckResult("az-loss", ok, f"with {result.lost_az} down it still serves ~{capacity.about(result.max_users)} "
                       f"users (bottleneck: {result.bottleneck})" if ok else
                       f"losing {result.lost_az} stops the platform: {result.bottleneck}")


def _pipeline(ctx) -> CheckResult:
    from .. import topology

    live = topology.read(ctx.run_id)
    missing = [what for what, have in (("Lambda functions", len(live.functions) >= 2), ("an API", live.apis),
                                       ("a Firehose stream", live.delivery_streams),
                                       ("a DynamoDB table with a stream", any(t.stream for t in live.tables)))
               if not have]
    return CheckResult("pipeline", not missing, "the serverless pipeline is in place (API, 2 functions, stream table, "
                       "Firehose)" if not missing else f"missing from the pipeline: {', '.join(missing)}")


# --- the exercise: the case studies as sustained rates ---------------------------------------------

#: the talk's case studies (docs/talk.md, "Case studies") that exercise 10.1 names: (who, count, period)
RATE_CASES = (
    ("Supercell", 45e9, "day"),  # 45 billion real-time events every day
    ("AdRoll", 60e9, "day"),  # 60 billion ad events daily
    ("Localytics", 100e9, "month"),  # 100 billion data points monthly
)
#: seconds in each period; a month is taken as 30 days (29 to 31 pass the tolerance too)
PERIOD_S = {"day": 24 * 60 * 60, "month": 30 * 24 * 60 * 60}
#: how far an answer may be from the exact average: 520,000/s for Supercell's 520,833 is fine
RATE_TOLERANCE = 0.05
#: what a known slip does to the answer (found / expected), and the slip
_SLIPS = ((60.0, "a rate per minute, not per second"), (3600.0, "a rate per hour, not per second"),
          (30.0, "a month taken as one day (a month has about 30)"))


def _check_rates(value, namespace) -> str | None:
    if not callable(value):
        return f"expected a function per_second(count, period), found {type(value).__name__}"
    for who, count, period in RATE_CASES:
        expected = count / PERIOD_S[period]
        found = value(count, period)
        if isinstance(found, bool) or not isinstance(found, (int, float)):
            return f"expected a number of events per second for {who}, found {found!r}"
        if abs(found - expected) <= RATE_TOLERANCE * expected:
            continue
        slip = next((why for factor, why in _SLIPS if abs(found / expected / factor - 1) < 0.1), "")
        return (f"expected about {expected:,.0f}/s for {who} ({count / 1e9:g} billion a {period}, ±"
                f"{RATE_TOLERANCE:.0%}), found {found:,.0f}" + (f": that looks like {slip}" if slip else ""))
    return None


EXERCISES = (Exercise(
    "s10-case-rates", 10, "per_second", _check_rates,
    "an average rate is a count over the seconds of its period; how many seconds does each period hold?",
    more="a day is 24 × 60 × 60 seconds, and a month about 30 of those days",
),)


def _architecture() -> Architecture:
    """Stage 8's platform + larger caches + stage 9's pipeline (its ids prefixed, its callers = our users)."""
    base, pipeline = s08_users_500k.ARCHITECTURE, s09_serverless_pipeline.ARCHITECTURE
    groups = {g.id for g in base.groups}
    front = next((x.id for x in base.nodes if x.kind in ("user", "client")), None)
    callers = {x.id for x in pipeline.nodes if x.kind in ("user", "client")} if front else set()
    ids = {x.id: (front if x.id in callers else f"pipe-{x.id}") for x in pipeline.nodes}
    extra = [Node(ids[x.id], x.kind, x.label) for x in pipeline.nodes if x.id not in callers]
    edges = [Edge(ids[e.src], ids[e.dst], e.label) for e in pipeline.edges]
    for letter in ("A", "B"):
        group = topology.az_group(letter, topology.DATA_TIER)
        extra.append(Node(f"cache10m-{letter.lower()}", "elasticache", f"ElastiCache\n{CACHE_NODE}",
                          group if group in groups else None))
    return Architecture("Stage 10: ten million users, the whole design", base.nodes + tuple(extra), base.groups,
                        base.edges + tuple(edges))


ARCHITECTURE = _architecture()

#: stage 8's platform with the primary scaled up and the bigger caches, plus stage 9's pipeline
BILL = (s01_day_one.ADMIN_BOX
        + bill.box(s03_web_and_database.WEB_TYPE, 2 * s08_users_500k.WEB_PER_AZ,
                   "Auto Scaling, ceiling raised: costs only when used")
        + bill.alb() + bill.db(PRIMARY_CLASS, True)
        + bill.replica(REPLICA_CLASS, s08_users_500k.BILLED_REPLICAS, note=" (scaled up for 10M users)")
        + bill.edge(s06_shift_load.CACHE_NODE_TYPE, 2)
        + (bill.Part(f"ElastiCache {CACHE_NODE} x 2 (added for 10M users)", bill.cache(CACHE_NODE), 2),)
        + bill.zone() + bill.alarms(2) + s09_serverless_pipeline.BILL)


STAGE = register(Stage(
    number=10,
    slug="ten_million_users",
    title="Ten million users",
    slides="21-27, 30-34",
    users="10+ million users",
    goal="Put it all together: the whole design, what it serves, and what the case studies' rates would need.",
    architecture=ARCHITECTURE,
    builds_on=(1, 2, 3, 4, 5, 6, 7, 8, 9),  # every earlier stage that builds
    checks=(Check("ten-million", _capacity, "the capacity model puts the live design at 10 million users or more"),
            Check("az-loss", _az_loss, "losing one AZ leaves the platform serving"),
            Check("pipeline", _pipeline, "the serverless pipeline's pieces exist")),
    build=build,
    exercises=EXERCISES,
    bill=BILL,
    band=Band(10_000_000, slide="30"),  # "10+ million users"
))
