"""Stage 6, shift some load around (slides 12-17): S3 + CloudFront, DynamoDB sessions, ElastiCache.

On stage 5: the site's static files (real files the kit ships, `workshop/assets/site/`) go
to a private S3 bucket that only CloudFront may read (origin access control); a CloudFront
distribution has two origins, S3 for `/static/*` and the load balancer as the default
(dynamic) origin; sessions move to a DynamoDB table with TTL; an ElastiCache for Redis
replication group, primary and replica in different AZs, caches database reads. The web
instances get a new app config in their user data (`web_config`: sessions in the table, reads
cache-aside through the group's primary endpoint), one at a time (`reconfigure_web`: stop, new
user data, start, back in service), so the site stays up; stage 7's launch template carries it.
Checks: which origin serves a path (CloudFront's own matching rules over the live
configuration), every shipped file in the bucket, a session written and read back, the
cache's nodes in two AZs; and with traffic (`s06_proof`): the same users through CloudFront
hit its cache and cost the web tier less than straight to the load balancer, pages read from
ElastiCache, a session outlives its instance.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import mimetypes
import time
import uuid
from pathlib import Path

from .. import aws, bill, topology
from ..architecture import Architecture, Edge, Node
from ..errors import BadInput, WorkshopError
from ..exercises import Exercise
from . import (
    Band,
    Check,
    CheckResult,
    Stage,
    infra,
    register,
    s01_day_one,
    s03_web_and_database,
    s05_users_100k,
    webtier,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "site"
APP_STATIC = Path(__file__).resolve().parents[1] / "webapp" / "static"
STATIC_PATTERN = "/static/*"
S3_ORIGIN, ALB_ORIGIN = "static-s3", "dynamic-alb"
# CloudFront managed policies (CloudFront Developer Guide, "Use managed cache policies" and
# "Use managed origin request policies"): ids are the same in every account
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
SESSION_TTL_ATTRIBUTE = "expires_at"
SESSION_SECONDS = 24 * 3600  # kit default: a session lives a day
CACHE_NODE_TYPE = "cache.t3.micro"  # the smallest current-generation Redis node (ElastiCache pricing page)
#: node types the stage accepts: small current-generation families (ElastiCache User Guide, "Supported node types")
CACHE_NODE_FAMILIES = ("cache.t3.", "cache.t4g.", "cache.m5.", "cache.m6g.", "cache.m7g.", "cache.r5.", "cache.r6g.", "cache.r7g.")
REDIS_PORT = 6379
CACHE_TTL_S = 30  # kit default: the latest messages may be 30 s old (a write puts the new list there at once)
#: the hosted zone id of every CloudFront distribution, for Route 53 alias records
#: (Route 53 API Reference, AliasTarget: "Specify Z2FDTNDATAQYW2" for CloudFront)
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"


def validate(cache_node_type: str) -> str:
    if not isinstance(cache_node_type, str) or not cache_node_type.startswith(CACHE_NODE_FAMILIES) \
            or cache_node_type.count(".") != 2:
        raise BadInput(f"cache_node_type={cache_node_type!r} is not an ElastiCache node type this stage uses "
                       f"(e.g. {CACHE_NODE_TYPE}, cache.m5.large). Nothing was created.")
    return cache_node_type


# --- names ----------------------------------------------------------------------------------------

def bucket_name(ctx) -> str:
    """Bucket names are global: the account id keeps the run's unique on a real account."""
    return f"{ctx.name('static')}-{aws.account_id()}"


def comment(ctx) -> str:
    return ctx.name("cdn")  # the distribution's Comment: how the course finds it again


# --- S3 -------------------------------------------------------------------------------------------

def asset_files() -> dict[str, Path]:
    """S3 key -> file: everything under workshop/assets/site/ (keys start with static/), and the web
    app's own files (workshop/webapp/static/: what its pages ask for, /static/app.css, ...) as static/<name>."""
    files = {p.relative_to(ASSETS).as_posix(): p for p in sorted(ASSETS.rglob("*")) if p.is_file()}
    files.update({f"static/{p.name}": p for p in sorted(APP_STATIC.iterdir()) if p.is_file()})
    return files


def content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def ensure_bucket(ctx) -> str:
    s3 = infra.client(ctx, "s3")
    name = bucket_name(ctx)
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        params = {} if ctx.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": ctx.region}}
        s3.create_bucket(Bucket=name, **params)
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": ctx.tag_list()})
    return name


def upload_assets(ctx, bucket: str) -> list[str]:
    """Upload the files whose bytes differ from the bucket's copy; the keys uploaded."""
    s3 = infra.client(ctx, "s3")
    have = {o["Key"]: o["ETag"].strip('"') for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])}
    sent = []
    for key, path in asset_files().items():
        body = path.read_bytes()
        if have.get(key) != hashlib.md5(body).hexdigest():
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(path),
                          CacheControl="public, max-age=86400")
            sent.append(key)
    return sent


def bucket_policy(bucket: str, distribution_arn: str) -> dict:
    """Only this CloudFront distribution may read the bucket (the OAC pattern)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowCloudFrontServicePrincipalReadOnly", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}}]}


# --- CloudFront -----------------------------------------------------------------------------------

def find_oac(ctx) -> str | None:
    items = (infra.client(ctx, "cloudfront").list_origin_access_controls().get("OriginAccessControlList") or {}).get("Items") or []
    return next((o["Id"] for o in items if o["Name"] == ctx.name("static-oac")), None)


def ensure_oac(ctx) -> str:
    found = find_oac(ctx)
    if found:
        return found
    return infra.client(ctx, "cloudfront").create_origin_access_control(OriginAccessControlConfig={
        "Name": ctx.name("static-oac"), "Description": "CloudFront reads the static bucket, signed with SigV4",
        "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3",
    })["OriginAccessControl"]["Id"]


def find_distribution(ctx) -> dict | None:
    """The run's distribution summary (found by its Comment), or None."""
    cf = infra.client(ctx, "cloudfront")
    for page in cf.get_paginator("list_distributions").paginate():
        for d in (page.get("DistributionList") or {}).get("Items", []) or []:
            if d.get("Comment") == comment(ctx):
                return d
    return None


def static_behaviour(origin_id: str = S3_ORIGIN) -> dict:
    """/static/* from S3, cached for long (the files carry Cache-Control)."""
    return {"PathPattern": STATIC_PATTERN, "TargetOriginId": origin_id, "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED, "Compress": True,
            "AllowedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"],
                               "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}}


def distribution_config(ctx, bucket: str, oac_id: str, alb_dns: str, behaviour: dict | None = None) -> dict:
    """Two origins: the bucket (OAC) for /static/*, the load balancer for everything else."""
    behaviour = behaviour or static_behaviour()
    return {
        "CallerReference": ctx.name("cdn"), "Comment": comment(ctx), "Enabled": True,
        "Origins": {"Quantity": 2, "Items": [
            {"Id": S3_ORIGIN, "DomainName": f"{bucket}.s3.{ctx.region}.amazonaws.com",
             "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac_id},
            {"Id": ALB_ORIGIN, "DomainName": alb_dns,
             "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}},
        ]},
        "DefaultCacheBehavior": {
            "TargetOriginId": ALB_ORIGIN, "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_DISABLED, "OriginRequestPolicyId": ALL_VIEWER,
            "AllowedMethods": {"Quantity": 7, "Items": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
                               "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}},
        "CacheBehaviors": {"Quantity": 1, "Items": [behaviour]},
        "PriceClass": "PriceClass_100",
    }


def ensure_distribution(ctx, bucket: str) -> dict:
    """The distribution (created with the course tags), and the bucket policy naming it."""
    cf = infra.client(ctx, "cloudfront")
    found = find_distribution(ctx)
    if found is None:
        lb = webtier.require(ctx, "load balancer", webtier.find_load_balancer(ctx))
        config = distribution_config(ctx, bucket, ensure_oac(ctx), lb["DNSName"])
        found = cf.create_distribution_with_tags(DistributionConfigWithTags={
            "DistributionConfig": config, "Tags": {"Items": ctx.tag_list()}})["Distribution"]
    policy = bucket_policy(bucket, found["ARN"])
    s3 = infra.client(ctx, "s3")
    try:
        current = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except Exception:  # NoSuchBucketPolicy
        current = None
    if current != policy:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return found


def www_change(ctx, distribution_domain: str) -> dict:
    """www becomes an alias of the distribution: every request now meets CloudFront first."""
    return {"Action": "UPSERT", "ResourceRecordSet": {"Name": infra.www(ctx), "Type": "A", "AliasTarget": {
        "HostedZoneId": CLOUDFRONT_ZONE_ID, "DNSName": distribution_domain, "EvaluateTargetHealth": False}}}


def ensure_www(ctx, distribution_domain: str) -> None:
    zone_id = infra.ensure_zone(ctx)
    current = infra.record(ctx, zone_id, infra.www(ctx))
    if (current or {}).get("AliasTarget", {}).get("DNSName", "").rstrip(".").lower() != distribution_domain.lower():
        infra.client(ctx, "route53").change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": [www_change(ctx, distribution_domain)]})


def origin_for(config: dict, path: str) -> str:
    """The origin id CloudFront sends `path` to: the first cache behaviour whose pattern
    matches (in order; `*` any characters, `?` one, case-sensitive), else the default."""
    for behaviour in (config.get("CacheBehaviors") or {}).get("Items") or []:
        pattern = behaviour["PathPattern"]
        if not pattern.startswith("/"):
            pattern = "/" + pattern
        if fnmatch.fnmatchcase(path, pattern.replace("[", "[[]")):
            return behaviour["TargetOriginId"]
    return config["DefaultCacheBehavior"]["TargetOriginId"]


# --- DynamoDB sessions and ElastiCache ---------------------------------------------------------------

def ensure_sessions(ctx) -> str:
    ddb = infra.client(ctx, "dynamodb")
    name = ctx.name("sessions")
    if name not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"}],
                         Tags=ctx.tag_list())
        from .. import waits

        waits.waiter(ddb, "table_exists", f"DynamoDB table {name}", typical_s=10, TableName=name)
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": SESSION_TTL_ATTRIBUTE})
    return name


def ensure_cache_network(ctx) -> tuple[str, str, list[str]]:
    """The cache subnet group (private subnets A, B) and a security group admitting Redis from the web tier."""
    ec = infra.client(ctx, "elasticache")
    subnets = webtier.private_subnets(ctx)
    group_name = ctx.name("cache-subnets")
    try:
        ec.describe_cache_subnet_groups(CacheSubnetGroupName=group_name)
    except ec.exceptions.CacheSubnetGroupNotFoundFault:
        ec.create_cache_subnet_group(CacheSubnetGroupName=group_name, CacheSubnetGroupDescription="Redis in private subnets A and B",
                                     SubnetIds=[s["SubnetId"] for s in subnets], Tags=ctx.tag_list())
    web_sg = webtier.web_security_group(ctx)
    sg = infra.ensure_security_group(ctx, subnets[0]["VpcId"], "cache", "Redis: 6379 from the web tier only", [
        {"IpProtocol": "tcp", "FromPort": REDIS_PORT, "ToPort": REDIS_PORT, "UserIdGroupPairs": [{"GroupId": web_sg}]}])
    return group_name, sg, [s["AvailabilityZone"] for s in subnets]


def find_cache(ctx) -> dict | None:
    ec = infra.client(ctx, "elasticache")
    try:
        return ec.describe_replication_groups(ReplicationGroupId=ctx.name("cache"))["ReplicationGroups"][0]
    except ec.exceptions.ReplicationGroupNotFoundFault:
        return None


def ensure_cache(ctx, cache_node_type: str = CACHE_NODE_TYPE) -> dict:
    found = find_cache(ctx)
    if found is not None:
        return found
    ec = infra.client(ctx, "elasticache")
    subnet_group, sg, azs = ensure_cache_network(ctx)
    ec.create_replication_group(
        ReplicationGroupId=ctx.name("cache"), ReplicationGroupDescription="database read cache (stage 6)",
        Engine="redis", CacheNodeType=cache_node_type, NumCacheClusters=2, PreferredCacheClusterAZs=azs,
        AutomaticFailoverEnabled=True, MultiAZEnabled=True, CacheSubnetGroupName=subnet_group,
        SecurityGroupIds=[sg], Tags=ctx.tag_list())
    from .. import waits

    waits.waiter(ec, "replication_group_available", f"Redis {ctx.name('cache')}", typical_s=600,
                 ReplicationGroupId=ctx.name("cache"))
    return find_cache(ctx)


# --- the web tier's new config ----------------------------------------------------------------------

def cache_endpoint(group: dict) -> dict:
    """The replication group's primary endpoint {"Address", "Port"}: where the app reads and invalidates."""
    found = (group.get("NodeGroups") or [{}])[0].get("PrimaryEndpoint")
    if not found:
        raise WorkshopError(f"the Redis group {group.get('ReplicationGroupId')} has no primary endpoint yet "
                            f"(status {group.get('Status')}): wait until it is available, then re-run")
    return found


def web_config(ctx, group: dict | None = None) -> dict:
    """Stage 5's app config with sessions in the DynamoDB table and cache-aside reads through Redis."""
    endpoint = cache_endpoint(group or webtier.require(ctx, "Redis replication group", find_cache(ctx)))
    return webtier.app_config(ctx, 6, s05_users_100k.writer_name(ctx), s05_users_100k.reader_name(ctx),
                              secret_arn=webtier.db_secret_arn(s03_web_and_database.find_db(ctx)),
                              sessions={"dynamodb": ctx.name("sessions"), "ttl_attribute": SESSION_TTL_ATTRIBUTE,
                                        "ttl_seconds": SESSION_SECONDS},
                              cache={"host": endpoint["Address"], "port": int(endpoint.get("Port", REDIS_PORT)),
                                     "ttl": CACHE_TTL_S})


def user_data(ctx, config: dict | None = None) -> str:
    """What a stage-6 web instance (and stage 7's launch template) runs."""
    from ..webapp import userdata

    return userdata.build(config or web_config(ctx), title="shift load: sessions in DynamoDB, reads through ElastiCache")


def running_config(ctx, instance_id: str) -> dict | None:
    """The app config an instance's user data carries now (None: not the app's)."""
    from ..webapp import userdata

    return userdata.parse(infra.current_user_data(ctx, instance_id))


def fixed_web_instances(ctx) -> list[dict]:
    """The web instances launched by hand (stages 4-5); an Auto Scaling group's get the launch template's."""
    return [i for i in webtier.web_instances(ctx)
            if not any(t["Key"] == "aws:autoscaling:groupName" for t in i.get("Tags", []))]


def wait_in_service(ctx, instance_id: str) -> None:
    """Until the load balancer's health checks pass on the instance again (if it is a target)."""
    from .. import waits

    tg = webtier.find_target_group(ctx)
    if tg is None or not waits.for_serving() or instance_id not in webtier.target_ids(ctx, tg["TargetGroupArn"]):
        return
    waits.waiter(infra.client(ctx, "elbv2"), "target_in_service", f"{instance_id} healthy behind the load balancer",
                 typical_s=5, TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": instance_id}])


#: the app's health endpoint: no session, no database call (docs/local-web.md)
HEALTH_PATH = "/health"


def ensure_health_path(ctx) -> None:
    """The target group checks `/health` from now on: `/` now writes a session item to DynamoDB on every
    check (a load balancer keeps no cookie), and reads the cache; a shallow check tests the server,
    not its dependencies (ELB User Guide, "Health checks for Application Load Balancer target groups")."""
    tg = webtier.require(ctx, "target group", webtier.find_target_group(ctx))
    if tg.get("HealthCheckPath") != HEALTH_PATH:
        infra.client(ctx, "elbv2").modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath=HEALTH_PATH)


def reconfigure_web(ctx) -> list[str]:
    """A rolling reconfigure: each web instance whose config is not stage 6's, one at a time, is stopped,
    given the new user data, started, and back in service before the next (the site stays up on the
    others). The ids reconfigured (none when every instance has it)."""
    config = web_config(ctx)
    ensure_health_path(ctx)
    done = []
    for instance in fixed_web_instances(ctx):
        if running_config(ctx, instance["InstanceId"]) == config:
            continue
        infra.resize(ctx, instance["InstanceId"], instance["InstanceType"], user_data=user_data(ctx, config))
        wait_in_service(ctx, instance["InstanceId"])
        done.append(instance["InstanceId"])
    return done


def build(ctx, cache_node_type: str = CACHE_NODE_TYPE) -> None:
    """Build stage 6 idempotently on stages 1, 3, 4 and 5 (built by `ws.build_previous()`)."""
    validate(cache_node_type)
    bucket = ensure_bucket(ctx)
    upload_assets(ctx, bucket)
    ensure_www(ctx, ensure_distribution(ctx, bucket)["DomainName"])
    ensure_sessions(ctx)
    ensure_cache(ctx, cache_node_type)
    reconfigure_web(ctx)


# --- checks -----------------------------------------------------------------------------------------

#: paths the routing check asks about, and the origin each must reach
ROUTES = (("/static/css/site.css", S3_ORIGIN), ("/static/img/logo.svg", S3_ORIGIN), ("/", ALB_ORIGIN),
          ("/login", ALB_ORIGIN), ("/api/users", ALB_ORIGIN))


def _live_config(ctx) -> dict | None:
    found = find_distribution(ctx)
    if found is None:
        return None
    return infra.client(ctx, "cloudfront").get_distribution_config(Id=found["Id"])["DistributionConfig"]


def _origins(ctx) -> CheckResult:
    config = _live_config(ctx)
    if config is None:
        return CheckResult("origins", False, f"no CloudFront distribution with Comment {comment(ctx)!r}: run the distribution cell")
    origins = {o["Id"]: o for o in config["Origins"]["Items"]}
    s3 = origins.get(S3_ORIGIN)
    alb = origins.get(ALB_ORIGIN)
    lb = webtier.find_load_balancer(ctx)
    if s3 is None or not s3["DomainName"].startswith(bucket_name(ctx) + "."):
        return CheckResult("origins", False, f"expected an origin {S3_ORIGIN!r} on the bucket {bucket_name(ctx)}, "
                                             f"found {sorted(origins)}")
    if not s3.get("OriginAccessControlId"):
        return CheckResult("origins", False, "the S3 origin has no origin access control: the bucket stays private, "
                                             "so CloudFront could not read it; set OriginAccessControlId")
    if alb is None or lb is None or alb["DomainName"] != lb["DNSName"]:
        return CheckResult("origins", False, f"expected an origin {ALB_ORIGIN!r} on the load balancer "
                                             f"{lb['DNSName'] if lb else '(none)'}, found {sorted(origins)}")
    return CheckResult("origins", True, f"2 origins: S3 {s3['DomainName']} (OAC {s3['OriginAccessControlId']}) "
                                        f"and the load balancer {alb['DomainName']}")


def _routing(ctx) -> CheckResult:
    config = _live_config(ctx)
    if config is None:
        return CheckResult("routing", False, f"no CloudFront distribution with Comment {comment(ctx)!r}")
    wrong = [f"{path} -> {origin_for(config, path)} (expected {want})" for path, want in ROUTES
             if origin_for(config, path) != want]
    if wrong:
        return CheckResult("routing", False, "CloudFront sends " + "; ".join(wrong[:2]) +
                           f": add a cache behaviour {STATIC_PATTERN} -> {S3_ORIGIN} and keep the default on {ALB_ORIGIN}")
    return CheckResult("routing", True, "; ".join(f"{p} -> {o}" for p, o in ROUTES[::2]))


def _www(ctx) -> CheckResult:
    from . import dns

    found = find_distribution(ctx)
    if found is None:
        return CheckResult("www", False, f"no CloudFront distribution with Comment {comment(ctx)!r}")
    answer = dns.resolve(ctx, infra.www(ctx))
    if answer is None or (answer.alias or "").lower() != found["DomainName"].lower():
        return CheckResult("www", False, f"expected {infra.www(ctx)} -> alias {found['DomainName']} (CloudFront), "
                                         f"found {answer}; UPSERT the alias record")
    return CheckResult("www", True, f"{answer} (CloudFront in front of S3 and the load balancer)")


def _assets(ctx) -> CheckResult:
    s3 = infra.client(ctx, "s3")
    bucket = bucket_name(ctx)
    try:
        have = {o["Key"]: o["ETag"].strip('"') for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    except s3.exceptions.NoSuchBucket:
        return CheckResult("assets", False, f"no bucket {bucket}: run the S3 cell")
    files = asset_files()
    stale = [k for k, p in files.items() if have.get(k) != hashlib.md5(p.read_bytes()).hexdigest()]
    if stale:
        return CheckResult("assets", False, f"{len(stale)} of {len(files)} static files missing or different in "
                                            f"{bucket} (e.g. {stale[0]}): upload them")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    if not all(block.values()):
        return CheckResult("assets", False, f"{bucket} is not fully private: block public access; CloudFront reads it through OAC")
    return CheckResult("assets", True, f"all {len(files)} static files in {bucket} (private; read by CloudFront only)")


def _sessions(ctx) -> CheckResult:
    ddb = infra.client(ctx, "dynamodb")
    name = ctx.name("sessions")
    if name not in ddb.list_tables()["TableNames"]:
        return CheckResult("sessions", False, f"no DynamoDB table {name}: run the sessions cell")
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING") or ttl.get("AttributeName") != SESSION_TTL_ATTRIBUTE:
        return CheckResult("sessions", False, f"TTL is not enabled on {name}.{SESSION_TTL_ATTRIBUTE}: old sessions "
                                              "would pile up; update_time_to_live")
    session_id = f"check-{uuid.uuid4().hex[:12]}"
    item = {"session_id": {"S": session_id}, "user": {"S": "learner"}, "cart": {"L": [{"S": "book"}]},
            SESSION_TTL_ATTRIBUTE: {"N": str(int(time.time()) + SESSION_SECONDS)}}
    ddb.put_item(TableName=name, Item=item)
    try:
        back = ddb.get_item(TableName=name, Key={"session_id": {"S": session_id}}, ConsistentRead=True).get("Item")
    finally:
        ddb.delete_item(TableName=name, Key={"session_id": {"S": session_id}})
    if back != item:
        return CheckResult("sessions", False, f"wrote session {session_id} to {name} and read back {back!r}")
    return CheckResult("sessions", True, f"session {session_id} written and read back from {name} "
                                         f"(TTL on {SESSION_TTL_ATTRIBUTE})")


def _cache(ctx) -> CheckResult:
    group = find_cache(ctx)
    if group is None:
        return CheckResult("cache", False, f"no ElastiCache replication group {ctx.name('cache')}: run the cache cell")
    members = group["NodeGroups"][0].get("NodeGroupMembers", []) if group.get("NodeGroups") else []
    roles = {m.get("CurrentRole"): m.get("PreferredAvailabilityZone") for m in members}
    if group.get("Status") != "available" or set(roles) != {"primary", "replica"}:
        return CheckResult("cache", False, f"expected {ctx.name('cache')} available with a primary and a replica, "
                                           f"found {group.get('Status')} with {sorted(r for r in roles if r)}")
    if roles["primary"] == roles["replica"]:
        return CheckResult("cache", False, f"primary and replica are both in {roles['primary']}: one AZ's loss takes "
                                           "the cache; use PreferredCacheClusterAZs with both AZs")
    ec = infra.client(ctx, "elasticache")
    nodes = [n for cid in group["MemberClusters"]
             for n in ec.describe_cache_clusters(CacheClusterId=cid, ShowCacheNodeInfo=True)["CacheClusters"][0].get("CacheNodes", [])]
    if len(nodes) != len(group["MemberClusters"]) or any(n["CacheNodeStatus"] != "available" for n in nodes):
        return CheckResult("cache", False, f"expected one available node per member cluster, found {len(nodes)}")
    return CheckResult("cache", True, f"Redis {group['ReplicationGroupId']}: primary in {roles['primary']}, "
                                      f"replica in {roles['replica']}, {len(nodes)} nodes available")


def _offload(ctx) -> CheckResult:
    from . import s06_proof

    return s06_proof.offload_check(ctx)


def _cached_reads(ctx) -> CheckResult:
    from . import s06_proof

    return s06_proof.cached_reads_check(ctx)


def _sessions_survive(ctx) -> CheckResult:
    from . import s06_proof

    return s06_proof.sessions_check(ctx)


# --- the exercise -------------------------------------------------------------------------------------

def _check_behaviour(value, namespace) -> str | None:
    if not isinstance(value, dict):
        return f"expected a cache behaviour dict, found {type(value).__name__}"
    if value.get("PathPattern") != STATIC_PATTERN:
        return f"expected PathPattern {STATIC_PATTERN!r}, found {value.get('PathPattern')!r}"
    if value.get("TargetOriginId") != S3_ORIGIN:
        return f"expected TargetOriginId {S3_ORIGIN!r} (the bucket's origin), found {value.get('TargetOriginId')!r}"
    if value.get("ViewerProtocolPolicy") not in ("redirect-to-https", "https-only"):
        return f"expected ViewerProtocolPolicy 'redirect-to-https', found {value.get('ViewerProtocolPolicy')!r}"
    if not value.get("CachePolicyId"):
        return "expected a CachePolicyId (static files cache well: CACHING_OPTIMIZED)"
    config = {"CacheBehaviors": {"Items": [value]}, "DefaultCacheBehavior": {"TargetOriginId": ALB_ORIGIN}}
    wrong = [p for p, want in ROUTES if origin_for(config, p) != want]
    if wrong:
        return f"expected {wrong[0]} to reach the right origin with this behaviour, it does not"
    return None


EXERCISES = (Exercise(
    "s06-static-behaviour", 6, "behaviour", _check_behaviour,
    f"{{'PathPattern': '{STATIC_PATTERN}', 'TargetOriginId': '{S3_ORIGIN}', 'ViewerProtocolPolicy': "
    "'redirect-to-https', 'CachePolicyId': CACHING_OPTIMIZED, ...}",
),)


# --- the target architecture ----------------------------------------------------------------------------

def _architecture() -> Architecture:
    base = s05_users_100k.ARCHITECTURE
    data = topology.DATA_TIER
    nodes = list(base.nodes) + [
        Node("cdn", "cloudfront", "CloudFront\n/static/* -> S3, * -> ALB"),
        Node("static", "s3", "S3 bucket\nstatic assets (OAC)"),
        Node("sessions", "dynamodb", "DynamoDB sessions\nTTL"),
        Node("cache-a", "elasticache", "ElastiCache Redis\nprimary", topology.az_group("A", data)),
        Node("cache-b", "elasticache", "ElastiCache Redis\nreplica", topology.az_group("B", data)),
    ]
    edges = [e for e in base.edges if (e.src, e.dst) != ("dns", "alb")] + [
        Edge("dns", "cdn", "www alias"), Edge("cdn", "static", "/static/*"), Edge("cdn", "alb", "dynamic"),
        Edge("web-a1", "sessions", "sessions"), Edge("web-a1", "cache-a", "cached reads"),
        Edge("cache-a", "cache-b", "replication")]
    return Architecture("Stage 6: shift some load around", tuple(nodes), base.groups, tuple(edges))


ARCHITECTURE = _architecture()

BILL = (s01_day_one.ADMIN_BOX
        + bill.box(s03_web_and_database.WEB_TYPE, s05_users_100k.WEB_INSTANCES, "web tier, 2 AZs") + bill.alb()
        + bill.db(s03_web_and_database.DB_CLASS, True, s05_users_100k.READ_REPLICAS)
        + bill.edge(CACHE_NODE_TYPE, 2) + bill.zone())

STAGE = register(Stage(
    number=6,
    slug="shift_load",
    title="Shift some load around",
    slides="12-17",
    users="(performance and efficiency)",
    goal="Move static files to S3 + CloudFront, sessions to DynamoDB, and database reads to ElastiCache, "
         "so the web tier only does dynamic work.",
    architecture=ARCHITECTURE,
    builds_on=(1, 3, 4, 5),
    checks=(
        Check("origins", _origins, "the distribution has an S3 origin with OAC and the load balancer origin"),
        Check("routing", _routing, "/static/* reaches S3, everything else the load balancer"),
        Check("www", _www, "www is an alias of the CloudFront distribution"),
        Check("assets", _assets, "every shipped static file is in the private bucket"),
        Check("sessions", _sessions, "a session is written to DynamoDB and read back; TTL is on"),
        Check("cache", _cache, "Redis primary and replica in different AZs, nodes available"),
        Check("offload", _offload, "the same users through CloudFront: cache hits, fewer requests and less CPU "
                                   "on the web tier than straight to the load balancer (~16 s of traffic)"),
        Check("cached-reads", _cached_reads, "pages read their messages from ElastiCache (X-Data-Source: cache)"),
        Check("sessions-survive", _sessions_survive, "a visitor's session count survives the loss of the "
                                                     "instance that served it (sessions in DynamoDB)"),
    ),
    build=build,
    band=Band(10_000, slide="11-17", note="slides 12-17 give no count ('performance and efficiency'): the stage "
               "adds to slide 11's design, so at least its '10,000s'; the talk claims '500,000+' only for slide 20, "
               "with Auto Scaling too, so no high bound"),
    exercises=EXERCISES,
    bill=BILL,
))
