"""Stage 10: putting it all together (slides 21-33): "10+ million users".

The whole design: stage 8's platform (CloudFront + S3, ELB, an Auto Scaling web tier in two
AZs, ElastiCache, RDS Multi-AZ with read replicas, DynamoDB sessions) plus the serverless
event pipeline of slides 28-29 (API Gateway -> Lambda -> DynamoDB + Streams -> Lambda ->
Firehose -> S3), sized for ten million users: the web tier may grow to 120 instances, the
primary is scaled up, and a larger cache holds the working set. `build` builds every
earlier stage that builds (in order), then these pieces; the serverless pipeline comes from
stage 9's build when that stage exists, otherwise it is created here.
"""

from __future__ import annotations

import io
import json
import zipfile

from .. import tags
from ..architecture import Architecture, Edge, Group, Node
from ..exercises import Exercise, register as register_exercise
from . import _REGISTRY, Check, CheckResult, Stage, register

TARGET_USERS = 10_000_000  # the talk's claim for slide 30 ("10+ million users")
WEB_MAX = 120  # the Auto Scaling group's ceiling: costs nothing until used
PRIMARY_CLASS = "db.r5.8xlarge"  # 32 vCPU: the primary's writes are the last wall (model: ~13 million users)
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


# AWS's published default quotas the pipeline runs into (us-east-1), with their pages.
QUOTAS = {
    "api_gateway_rps": (10_000, "requests/s per account and Region",
                        "docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"),
    "lambda_concurrency": (1_000, "concurrent executions per Region",
                           "docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"),
    "dynamodb_table_wcu": (40_000, "write capacity units per table",
                           "docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"),
    "dynamodb_partition_wcu": (1_000, "write capacity units per partition",
                               "docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"),
    "firehose_records": (500_000, "records/s per Direct PUT stream (us-east-1)",
                         "docs.aws.amazon.com/firehose/latest/dev/limits.html"),
    "firehose_requests": (2_000, "requests/s per Direct PUT stream (us-east-1)",
                          "docs.aws.amazon.com/firehose/latest/dev/limits.html"),
    "firehose_mib": (5, "MiB/s per Direct PUT stream (us-east-1)",
                     "docs.aws.amazon.com/firehose/latest/dev/limits.html"),
    "firehose_batch": (500, "records per PutRecordBatch call",
                       "docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html"),
}

# List prices in us-east-1 (USD), as published on each service's pricing page; check them before quoting.
PRICES = {
    "api_gateway_per_million": (3.50, "REST API requests, first 333 million a month",
                                "aws.amazon.com/api-gateway/pricing/"),
    "lambda_per_million": (0.20, "Lambda requests", "aws.amazon.com/lambda/pricing/"),
    "lambda_per_gb_s": (0.0000166667, "Lambda duration, x86, per GB-second", "aws.amazon.com/lambda/pricing/"),
    "dynamodb_per_million_writes": (0.625, "DynamoDB on-demand write request units (after the Nov 2024 price cut)",
                                    "aws.amazon.com/dynamodb/pricing/on-demand/"),
    "firehose_per_gb": (0.029, "Firehose Direct PUT ingestion, first 500 TB a month, records rounded up to 5 KB",
                        "aws.amazon.com/firehose/pricing/"),
}


def _load_earlier() -> None:
    """Import stages 1-9 first (as `stages._load` does, in name order), even when this module is imported alone."""
    import importlib
    import pkgutil

    from .. import stages

    for info in sorted(pkgutil.iter_modules(stages.__path__), key=lambda m: m.name):
        if info.name.startswith("s") and info.name[1:3].isdigit() and int(info.name[1:3]) < 10:
            importlib.import_module(f"{stages.__name__}.{info.name}")


def _stands_on() -> tuple[int, ...]:
    """Every earlier stage that builds something, in the talk's order."""
    return tuple(n for n in sorted(_REGISTRY) if 0 < n < 10 and _REGISTRY[n].build is not None)


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
        if db.get("ReadReplicaSourceDBInstanceIdentifier") or not is_run(db.get("TagList"), ctx.run_id):
            continue
        if db["DBInstanceClass"] != PRIMARY_CLASS:
            rds.modify_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"], DBInstanceClass=PRIMARY_CLASS,
                                   ApplyImmediately=True)
            changed.append(f"{db['DBInstanceIdentifier']}: {db['DBInstanceClass']} -> {PRIMARY_CLASS}")
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
    from .. import topology

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


# --- the exercise: a case study as a sustained rate ---------------------------------------------

def _events_per_second(value, namespace) -> str | None:
    expected = 45e9 / 86_400  # Supercell (the talk's case study): 45 billion events a day
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return f"expected a number of events per second, found {type(value).__name__}"
    if abs(value - expected) > 1:
        return f"expected about {expected:,.0f} events/s (45 billion / seconds in a day), found {value:,.0f}"
    return None


register_exercise(Exercise("s10-supercell-rate", 10, "supercell_per_s", _events_per_second,
                           "divide the events of one day by the seconds in a day (24 × 60 × 60)"))


PIPELINE_NODES = (
    Node("api", "apigateway", "API Gateway\nPOST /prod/logger"), Node("write", "lambda", "writeToDynamoDB"),
    Node("events", "dynamodb", "eventTable\n+ Streams"), Node("forward", "lambda", "DynamoDBToFirehose"),
    Node("firehose", "firehose", "Firehose\nfirehoseToS3"),
)
PIPELINE_EDGES = (Edge("api", "write"), Edge("write", "events", "put_item"), Edge("events", "forward", "stream"),
                  Edge("forward", "firehose", "put_record_batch"))


def _architecture() -> Architecture:
    """Stage 8's platform (or the latest earlier platform stage) + larger caches + the serverless pipeline."""
    from .. import topology

    base = next((_REGISTRY[k].architecture for k in (8, 7, 6, 5) if k in _REGISTRY and _REGISTRY[k].architecture),
                None)
    if base is None:
        return _standalone_architecture()
    groups = {g.id for g in base.groups}
    pipeline = _REGISTRY[9].architecture if 9 in _REGISTRY and _REGISTRY[9].architecture else None
    front = next((x.id for x in base.nodes if x.kind in ("user", "client")), None)
    if pipeline is not None:  # stage 9's own drawing of the pipeline, its ids prefixed, its callers = our users
        callers = {x.id for x in pipeline.nodes if x.kind in ("user", "client")} if front else set()
        ids = {x.id: (front if x.id in callers else f"pipe-{x.id}") for x in pipeline.nodes}
        extra = [Node(ids[x.id], x.kind, x.label) for x in pipeline.nodes if x.id not in callers]
        edges = [Edge(ids[e.src], ids[e.dst], e.label) for e in pipeline.edges]
    else:
        extra = list(PIPELINE_NODES)
        edges = list(PIPELINE_EDGES)
        lake = next((x.id for x in base.nodes if x.kind == "s3"), None)
        edges += [Edge("firehose", lake, "events")] if lake else []
        edges += [Edge(front, "api", "POST events")] if front else []
    for letter in ("A", "B"):
        group = topology.az_group(letter, topology.DATA_TIER)
        extra.append(Node(f"cache10m-{letter.lower()}", "elasticache", f"ElastiCache\n{CACHE_NODE}",
                          group if group in groups else None))
    return Architecture("Stage 10: ten million users, the whole design", base.nodes + tuple(extra), base.groups,
                        base.edges + tuple(edges))


def _standalone_architecture() -> Architecture:
    n = Node
    return Architecture(
        "Ten million users: the whole design",
        nodes=(
            n("user", "user", "Users"), n("dns", "route53", "Route 53"), n("cdn", "cloudfront", "CloudFront"),
            n("static", "s3", "S3 static content"), n("elb", "alb", "Elastic Load Balancing"),
            n("web_a", "autoscaling", "web (Auto Scaling)", "az_a"),
            n("web_b", "autoscaling", "web (Auto Scaling)", "az_b"),
            n("cache_a", "elasticache", "ElastiCache", "az_a"), n("cache_b", "elasticache", "ElastiCache", "az_b"),
            n("db", "rds", "RDS primary (Multi-AZ)", "az_a"), n("standby", "rds-standby", "RDS standby", "az_b"),
            n("rep_a", "rds-replica", "read replica", "az_a"), n("rep_b", "rds-replica", "read replica", "az_b"),
            n("sessions", "dynamodb", "DynamoDB sessions"),
            n("api", "apigateway", "API Gateway /prod/logger"), n("write", "lambda", "writeToDynamoDB"),
            n("events", "dynamodb", "eventTable + Streams"), n("forward", "lambda", "DynamoDBToFirehose"),
            n("firehose", "firehose", "Firehose"), n("lake", "s3", "S3 events"),
        ),
        groups=(Group("az_a", "Availability Zone A"), Group("az_b", "Availability Zone B")),
        edges=(
            Edge("user", "dns", "DNS"), Edge("user", "cdn", "HTTPS"), Edge("cdn", "static", "static"),
            Edge("cdn", "elb", "dynamic"), Edge("elb", "web_a"), Edge("elb", "web_b"),
            Edge("web_a", "cache_a"), Edge("web_b", "cache_b"), Edge("web_a", "db", "writes"),
            Edge("web_b", "rep_b", "reads"), Edge("web_a", "rep_a", "reads"), Edge("db", "standby", "sync"),
            Edge("web_a", "sessions"), Edge("web_b", "sessions"),
            Edge("user", "api", "POST events"), Edge("api", "write"), Edge("write", "events"),
            Edge("events", "forward", "stream"), Edge("forward", "firehose"), Edge("firehose", "lake"),
        ),
    )


_load_earlier()
STAGE = register(Stage(
    number=10,
    slug="ten_million_users",
    title="Ten million users",
    slides="21-33",
    users="10+ million users",
    goal="Put it all together: the whole design, what it serves, and what the case studies' rates would need.",
    architecture=_architecture(),
    builds_on=_stands_on(),
    checks=(Check("ten-million", _capacity, "the capacity model puts the live design at 10 million users or more"),
            Check("az-loss", _az_loss, "losing one AZ leaves the platform serving"),
            Check("pipeline", _pipeline, "the serverless pipeline's pieces exist")),
    build=build,
))
