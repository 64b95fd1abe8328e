"""Stage 9: the serverless data pipeline of slides 28-29, for real, in both eras.

HTTP POST /prod/logger -> API Gateway (request validator) -> Lambda writeToDynamoDB ->
DynamoDB eventTable + Streams (NEW_IMAGE) -> Lambda DynamoDBToFirehose -> Firehose
firehoseToS3 -> S3. It stands alone (builds_on=()). The two handler bodies are the
learner's exercises; their reference versions live in the solution notebook (the single
source), and `handler_sources()` reads them from there for `build` and the benchmark.

Beside it, on the same API and stage, POST /prod/v2016/logger is the talk's own 2016 design:
a non-proxy Lambda integration (type AWS, a passthrough request template, integration and
method responses) in front of `writeToDynamoDB-2016`, which stores the posted body as the
item. Lambda proxy integrations only appeared in September 2016 (AWS News Blog, "API Gateway
Update - New Features Simplify API Development"). That handler is given, not an exercise:
`handler_2016_source()` reads it from the solution notebook too.

Names derive from the run id but keep the talk's names: `ws.name("eventTable")` ->
`sbs-<run>-eventTable`. Each function has its own least-privilege role.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from decimal import Decimal
from pathlib import Path

from .. import bill, lambda_runtimes
from ..architecture import Architecture, Edge, Node
from ..exercises import Exercise
from . import Band, Check, CheckResult, Stage, register

RUNTIME = lambda_runtimes.COURSE_RUNTIME
HANDLER_FILE = "handler.py"
API_STAGE = "prod"
PATH = "/logger"              # today's design: AWS_PROXY, what `workshop load` and `workshop status` use
PATH_2016 = "/v2016/logger"   # the talk's 2016 design: AWS (non-proxy) with mapping templates
#: the 2016 integration's templates (Velocity): the body passes through as the event; the reply is mapped back
REQUEST_TEMPLATES_2016 = {"application/json": "$input.json('$')"}
RESPONSE_TEMPLATES_2016 = {"application/json": '{"eventId": $input.json(\'$.eventId\')}'}
#: a Lambda error (its errorMessage matches) becomes a 500 with the message, instead of a 200
ERROR_PATTERN_2016 = ".+"
ERROR_TEMPLATES_2016 = {"application/json": '{"message": $input.json(\'$.errorMessage\')}'}
#: the request model: what a valid event looks like (the validator rejects anything else with 400)
EVENT_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "LoggerEvent",
    "type": "object",
    "required": ["userId", "value"],
    "properties": {"userId": {"type": "string", "minLength": 1}, "value": {"type": "number"}},
}


def names(ctx) -> dict[str, str]:
    """Every resource name of the stage for this run (the talk's names, prefixed by the run)."""
    return {
        "table": ctx.name("eventTable"),
        "bucket": ctx.name("events").lower(),
        "stream": ctx.name("firehoseToS3"),
        "write": ctx.name("writeToDynamoDB"),
        "write_2016": ctx.name("writeToDynamoDB-2016"),
        "forward": ctx.name("DynamoDBToFirehose"),
        "api": ctx.name("logger-api"),
        "write_role": ctx.name("writeToDynamoDB-role"),
        "forward_role": ctx.name("DynamoDBToFirehose-role"),
        "firehose_role": ctx.name("firehoseToS3-role"),
    }


ARCHITECTURE = Architecture(
    "Serverless pipeline: 16 lines of code, zero servers",
    nodes=(
        Node("apps", "client", "Web apps"),
        Node("api", "apigateway", "API Gateway\nPOST /prod/logger"),
        Node("write", "lambda", "writeToDynamoDB"),
        Node("write_2016", "lambda", "writeToDynamoDB-2016\n(the talk's design)"),
        Node("table", "dynamodb", "eventTable\n+ Streams"),
        Node("forward", "lambda", "DynamoDBToFirehose"),
        Node("firehose", "firehose", "firehoseToS3"),
        Node("bucket", "s3", "S3 bucket"),
    ),
    edges=(
        Edge("apps", "api", "HTTP POST"),
        Edge("api", "write", "AWS_PROXY"),
        Edge("write", "table", "put_item"),
        Edge("api", "write_2016", "AWS + templates\n/v2016/logger"),
        Edge("write_2016", "table", "put_item"),
        Edge("table", "forward", "stream batches"),
        Edge("forward", "firehose", "put_record_batch"),
        Edge("firehose", "bucket", "objects"),
    ),
)


# --- handler code ---------------------------------------------------------------------------

def handler_sources() -> tuple[str, str]:
    """The reference handler modules (writeToDynamoDB, DynamoDBToFirehose), from the solution notebook."""
    from .. import exercises

    ns: dict = {}
    write = exercises.take_solution(exercises.get("s09-write-handler"), ns)
    forward = exercises.take_solution(exercises.get("s09-forward-handler"), ns)
    return write, forward


def handler_2016_source() -> str:
    """The talk's 2016 writeToDynamoDB (given, not an exercise), from the solution notebook's cell."""
    return given_source("write_to_dynamodb_2016_py")


def given_source(variable: str) -> str:
    """The string a solution notebook cell assigns to `variable` (`variable = r'''...'''`), read without running it."""
    import ast

    from .. import exercises

    cells = json.loads((exercises.SOLUTIONS / STAGE.notebook).read_text())["cells"]
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or f"{variable} = " not in source:
            continue
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == variable for t in node.targets) \
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    raise LookupError(f"no cell in {STAGE.notebook} assigns the string {variable!r}")


def body_lines(source: str, function: str = "handler") -> int:
    """Lines of code in a function's body (no blank lines, comments or docstring): the talk's count."""
    import ast

    tree = ast.parse(source)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if not body:
        return 0
    lines = source.splitlines()[body[0].lineno - 1:body[-1].end_lineno]
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def zip_source(source: str) -> bytes:
    """A deployment package: one file, `handler.py` (handler `handler.handler`)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(HANDLER_FILE, date_time=(2020, 1, 1, 0, 0, 0))  # same code -> same CodeSha256
        info.external_attr = 0o644 << 16
        z.writestr(info, source)
    return buf.getvalue()


# --- exercises: run the learner's handler against a fake boto3, in a process of its own ------

HARNESS = Path(__file__).with_name("handler_harness.py")
HANDLER_TIMEOUT_S = 10


class HandlerRun:
    """What one run of a learner's handler did: its result, its boto3 calls, the error it raised."""

    def __init__(self, doc: dict):
        self.result = _decode(doc.get("result"))
        self.calls: list[tuple[str, dict]] = [(name, _decode(kwargs)) for name, kwargs in doc.get("calls", [])]
        self.error: str | None = doc.get("error")


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"$decimal"}:
            return Decimal(value["$decimal"])
        if set(value) == {"$bytes"}:
            return value["$bytes"].encode()
        if set(value) == {"$repr"}:
            return value["$repr"]
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _run_handler(source: str, event: dict, env: dict, replies: dict | None = None) -> HandlerRun:
    """Run `source`'s handler(event, context) in a fresh interpreter whose environment is `env`
    (as Lambda gives a function its variables): the learner's code cannot touch the kernel."""
    replies = replies if replies is not None else {"put_record_batch": {"FailedPutCount": 0, "RequestResponses": []}}
    request = json.dumps({"source": source, "event": event, "replies": replies})
    try:
        done = subprocess.run([sys.executable, "-I", str(HARNESS)], input=request, capture_output=True, text=True,
                              env={"PATH": os.defpath, **env}, timeout=HANDLER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return HandlerRun({"error": f"Task timed out after {HANDLER_TIMEOUT_S} seconds"})
    try:
        return HandlerRun(json.loads(done.stdout))
    except ValueError:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return HandlerRun({"error": tail})


def _check_write(source, namespace) -> str | None:
    if not isinstance(source, str):
        return f"expected the handler module's source as a string, found {type(source).__name__}"
    run = _run_handler(source, {"body": json.dumps({"userId": "u1", "value": 42})}, {"TABLE_NAME": "eventTable"})
    if run.error:
        return f"the handler raised {run.error}"
    problem = _check_write_reply(run)
    if problem:
        return problem
    # the case the exercise names: a value with a decimal point must reach DynamoDB as a Decimal
    fractional = _run_handler(source, {"body": '{"userId": "u2", "value": 4.2}'}, {"TABLE_NAME": "eventTable"})
    if fractional.error and "Float types are not supported" in fractional.error:
        return ("expected {'value': 4.2} stored as Decimal('4.2'), found a float (boto3 raised 'Float types are not "
                "supported'): parse the body with json.loads(..., parse_float=Decimal)")
    if fractional.error:
        return f"the handler raised {fractional.error} for a body with value 4.2"
    stored = [kw.get("Item", {}) for name, kw in fractional.calls if name == "put_item"]
    if not stored or stored[0].get("value") != Decimal("4.2"):
        return f"expected {{'value': 4.2}} stored as Decimal('4.2'), found {stored[0] if stored else 'no put_item'}"
    return None


def _check_write_reply(run: HandlerRun) -> str | None:
    result = run.result
    puts = [kw for name, kw in run.calls if name == "put_item"]
    if len(puts) != 1:
        return f"expected one table.put_item(Item=...) per POST, found {len(puts)}"
    item = puts[0].get("Item", {})
    if item.get("userId") != "u1" or item.get("value") != 42 or item.get("eventId") != "req-0001":
        return (f"expected Item with eventId=context.aws_request_id, userId and value from the body, "
                f"found {item}")
    if not isinstance(result, dict) or result.get("statusCode") != 200:
        return f"expected a proxy response {{'statusCode': 200, 'body': ...}}, found {result!r}"
    try:
        body = json.loads(result.get("body") or "")
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("eventId") != "req-0001":
        return f"expected body to be JSON {{\"eventId\": <the request id>}}, found {result.get('body')!r}"
    return None


def _stream_event() -> dict:
    def rec(name, event_id, user, value):
        image = {"eventId": {"S": event_id}, "userId": {"S": user}, "value": {"N": str(value)}}
        d = {"Keys": {"eventId": {"S": event_id}}, "SequenceNumber": "1", "StreamViewType": "NEW_IMAGE",
             "ApproximateCreationDateTime": 1700000000, "SizeBytes": 60}
        if name != "REMOVE":
            d["NewImage"] = image
        return {"eventID": "x", "eventName": name, "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "eventVersion": "1.1", "dynamodb": d, "eventSourceARN": "arn:aws:dynamodb:::table/t/stream/1"}

    return {"Records": [rec("INSERT", "e1", "u1", 42), rec("INSERT", "e2", "u2", 7.5), rec("REMOVE", "e0", "u0", 1)]}


def _check_forward(source, namespace) -> str | None:
    if not isinstance(source, str):
        return f"expected the handler module's source as a string, found {type(source).__name__}"
    run = _run_handler(source, _stream_event(), {"STREAM_NAME": "firehoseToS3"})
    if run.error:
        return f"the handler raised {run.error}"
    problem = _check_forward_records(run)
    if problem:
        return problem
    # the case the exercise names: Firehose refuses part of the batch -> the handler raises, so it is retried
    refused = {"put_record_batch": {"FailedPutCount": 1, "RequestResponses": [
        {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}, {"RecordId": "r2"}]},
        "put_record": {"RecordId": "r"}}
    partial = _run_handler(source, _stream_event(), {"STREAM_NAME": "firehoseToS3"}, replies=refused)
    batched = any(name == "put_record_batch" for name, _ in partial.calls)  # put_record raises by itself
    if batched and partial.error is None:
        return ("expected the handler to raise when put_record_batch answers FailedPutCount=1 (the stream then "
                "retries the batch), found it returned: the refused record would be lost")
    return None


def _check_forward_records(run: HandlerRun) -> str | None:
    sent = []
    for name, kw in run.calls:
        if name == "put_record_batch":
            sent += [r.get("Data") for r in kw.get("Records", [])]
        elif name == "put_record":
            sent.append(kw.get("Record", {}).get("Data"))
    try:
        events = [json.loads(d) for d in sent]
    except (TypeError, ValueError):
        return f"expected each Firehose record's Data to be one JSON document, found {sent!r}"
    ids = sorted(str(e.get("eventId")) for e in events if isinstance(e, dict))
    if ids != ["e1", "e2"]:
        return f"expected the two INSERTed events (e1, e2) sent to Firehose once each, found eventIds {ids}"
    if not all(isinstance(d, str) and d.endswith("\n") for d in sent):
        return "expected each record's Data to end with a newline (one event per line in S3)"
    return None


EXERCISES = (Exercise("s09-write-handler", 9, "write_to_dynamodb_py", _check_write,
                      "the body is a JSON string, and DynamoDB refuses floats: which json.loads argument turns "
                      "numbers into Decimal? The event's identity is Lambda's request id (in the context)"),
             Exercise("s09-forward-handler", 9, "dynamodb_to_firehose_py", _check_forward,
                      "keep INSERTs only, flatten NewImage ({'S': 'u1'} -> 'u1') into one JSON line each; then read "
                      "what put_record_batch answers: a batch the handler does not fail is never retried"))


# --- build -------------------------------------------------------------------------------------

def _policy(statements: list[dict]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _trust(service: str) -> str:
    return _policy([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


def _role(iam, name: str, service: str, statements: list[dict], tags: list[dict]) -> str:
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(service), Tags=tags)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="least-privilege", PolicyDocument=_policy(statements))
    return arn


def roles(ctx, n: dict) -> dict[str, str]:
    """The three least-privilege roles; each may do exactly what its function needs."""
    iam, region, account = ctx.client("iam"), ctx.region, _account()
    logs = {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/sbs-{ctx.run_id}-*"}
    table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{n['table']}"
    stream_arn = f"arn:aws:firehose:{region}:{account}:deliverystream/{n['stream']}"
    tags = ctx.tag_list()
    return {
        "write": _role(iam, n["write_role"], "lambda.amazonaws.com",
                       [logs, {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": table_arn}], tags),
        "forward": _role(iam, n["forward_role"], "lambda.amazonaws.com", [logs, {
            "Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                          "dynamodb:ListStreams"], "Resource": f"{table_arn}/stream/*"},
            {"Effect": "Allow", "Action": ["firehose:PutRecordBatch"], "Resource": stream_arn}], tags),
        "firehose": _role(iam, n["firehose_role"], "firehose.amazonaws.com", [{
            "Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetBucketLocation",
                                          "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{n['bucket']}", f"arn:aws:s3:::{n['bucket']}/*"]}], tags),
    }


def _account() -> str:
    from .. import aws

    return aws.account_id()


def retry_role_propagation(call, attempts: int = 10):
    """On a real account a new role takes seconds to be assumable by Lambda: retry while it is not."""
    for i in range(attempts):
        try:
            return call()
        except Exception as exc:  # Lambda: InvalidParameterValueException; Firehose: InvalidArgumentException
            text = type(exc).__name__ + str(exc)
            if not any(s in text for s in ("InvalidParameterValue", "InvalidArgument", "assume")) or i == attempts - 1:
                raise
            time.sleep(3)


def deploy(ctx, write_source: str, forward_source: str, write_2016_source: str | None = None) -> dict:
    """Create (or update) the whole pipeline, both eras, idempotently; return names, ARNs and the invoke URLs."""
    from .. import invoke_urls

    n = names(ctx)
    arns = roles(ctx, n)
    ddb, s3, fh, lam, apigw = (ctx.client(s) for s in ("dynamodb", "s3", "firehose", "lambda", "apigateway"))
    if n["table"] not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName=n["table"], BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "eventId", "AttributeType": "S"}],
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                         Tags=ctx.tag_list())
        ddb.get_waiter("table_exists").wait(TableName=n["table"])
    stream_arn = ddb.describe_table(TableName=n["table"])["Table"]["LatestStreamArn"]
    if n["bucket"] not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        kwargs = {} if ctx.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": ctx.region}}
        s3.create_bucket(Bucket=n["bucket"], **kwargs)
        s3.put_bucket_tagging(Bucket=n["bucket"], Tagging={"TagSet": ctx.tag_list()})
    if n["stream"] not in fh.list_delivery_streams(Limit=100)["DeliveryStreamNames"]:
        retry_role_propagation(lambda: fh.create_delivery_stream(
            DeliveryStreamName=n["stream"], DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": arns["firehose"], "BucketARN": f"arn:aws:s3:::{n['bucket']}", "Prefix": "events/",
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}},  # the minimum: objects appear fast
            Tags=ctx.tag_list()))
    functions = {}
    write_2016_source = write_2016_source if write_2016_source is not None else handler_2016_source()
    for key, source, role, env in (("write", write_source, "write", {"TABLE_NAME": n["table"]}),
                                   ("write_2016", write_2016_source, "write", {"TABLE_NAME": n["table"]}),
                                   ("forward", forward_source, "forward", {"STREAM_NAME": n["stream"]})):
        functions[key] = ensure_function(lam, n[key], source, arns[role], env, ctx.tags)
    if not any(m["EventSourceArn"] == stream_arn for m in
               lam.list_event_source_mappings(FunctionName=n["forward"])["EventSourceMappings"]):
        retry_role_propagation(lambda: lam.create_event_source_mapping(
            FunctionName=n["forward"], EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=100,
            Enabled=True, BisectBatchOnFunctionError=True))
    api_id = ensure_api(ctx, apigw, lam, n, functions["write"], functions["write_2016"])
    base = invoke_urls.stage_url(api_id, API_STAGE, ctx.region)
    return {"names": n, "api_id": api_id, "url": base + PATH, "url_2016": base + PATH_2016, "stream_arn": stream_arn}


def ensure_function(lam, name: str, source: str, role_arn: str, env: dict, tags: dict) -> str:
    """Create the function, or update its code when it changed; return its ARN."""
    package = zip_source(source)
    try:
        config = lam.get_function(FunctionName=name)["Configuration"]
    except lam.exceptions.ResourceNotFoundException:
        arn = retry_role_propagation(lambda: lam.create_function(
            FunctionName=name, Runtime=RUNTIME, Role=role_arn, Handler="handler.handler",
            Code={"ZipFile": package}, Timeout=10, MemorySize=128, Environment={"Variables": env},
            Tags=tags))["FunctionArn"]
        lam.get_waiter("function_active_v2").wait(FunctionName=name)  # "Pending" for a few seconds on AWS
        return arn
    import base64
    import hashlib

    if config.get("CodeSha256") != base64.b64encode(hashlib.sha256(package).digest()).decode():
        lam.update_function_code(FunctionName=name, ZipFile=package)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    return config["FunctionArn"]


def lambda_uri(region: str, function_arn: str) -> str:
    """The integration URI of a Lambda function (the Lambda service's Invoke action, as API Gateway calls it)."""
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def ensure_resource(apigw, api_id: str, path: str) -> dict:
    """Find or create the resource at `path` (and its parents); return it."""
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api_id, limit=500)["items"]}
    parent = resources["/"]
    for i, part in enumerate(path.strip("/").split("/")):
        here = "/" + "/".join(path.strip("/").split("/")[:i + 1])
        if here not in resources:
            resources[here] = apigw.create_resource(restApiId=api_id, parentId=parent["id"], pathPart=part)
        parent = resources[here]
    return parent


def _allow_api(ctx, lam, function_arn: str, api_id: str, path: str, statement_id: str) -> None:
    try:
        lam.add_permission(FunctionName=function_arn, StatementId=statement_id, Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:{ctx.region}:{_account()}:{api_id}/*/POST{path}")
    except lam.exceptions.ResourceConflictException:
        pass  # already allowed


def ensure_api(ctx, apigw, lam, n: dict, function_arn: str, function_2016_arn: str) -> str:
    """The REST API, stage prod: POST /logger (validator, AWS_PROXY -> writeToDynamoDB) and the talk's
    POST /v2016/logger (AWS, mapping templates -> writeToDynamoDB-2016). Redeploys when a method changed."""
    api_id = next((a["id"] for a in apigw.get_rest_apis(limit=500)["items"] if a["name"] == n["api"]), None)
    if api_id is None:
        api_id = apigw.create_rest_api(name=n["api"], tags=ctx.tags, endpointConfiguration={"types": ["REGIONAL"]})["id"]
    logger = ensure_resource(apigw, api_id, PATH)
    if "LoggerEvent" not in {m["name"] for m in apigw.get_models(restApiId=api_id)["items"]}:
        apigw.create_model(restApiId=api_id, name="LoggerEvent", contentType="application/json",
                           schema=json.dumps(EVENT_SCHEMA))
    validators = apigw.get_request_validators(restApiId=api_id)["items"]
    validator = next((v["id"] for v in validators if v["name"] == "body"), None) or apigw.create_request_validator(
        restApiId=api_id, name="body", validateRequestBody=True, validateRequestParameters=False)["id"]
    changed = False
    if "POST" not in (logger.get("resourceMethods") or {}):
        apigw.put_method(restApiId=api_id, resourceId=logger["id"], httpMethod="POST", authorizationType="NONE",
                         requestValidatorId=validator, requestModels={"application/json": "LoggerEvent"})
        changed = True
    if _integration(apigw, api_id, logger["id"]) is None:
        apigw.put_integration(restApiId=api_id, resourceId=logger["id"], httpMethod="POST", type="AWS_PROXY",
                              integrationHttpMethod="POST", uri=lambda_uri(ctx.region, function_arn))
        changed = True
    _allow_api(ctx, lam, function_arn, api_id, PATH, "apigateway-logger")
    changed |= ensure_route_2016(apigw, api_id, ensure_resource(apigw, api_id, PATH_2016),
                                 lambda_uri(ctx.region, function_2016_arn))
    _allow_api(ctx, lam, function_2016_arn, api_id, PATH_2016, "apigateway-logger-2016")
    if changed or API_STAGE not in {s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]}:
        apigw.create_deployment(restApiId=api_id, stageName=API_STAGE,
                                description="POST /logger (proxy) and POST /v2016/logger (the talk's design)")
    return api_id


def _integration(apigw, api_id: str, resource_id: str) -> dict | None:
    try:
        found = apigw.get_integration(restApiId=api_id, resourceId=resource_id, httpMethod="POST")
    except apigw.exceptions.NotFoundException:
        return None
    return found if found.get("type") else None  # moto answers an empty document where AWS says NotFound


def ensure_route_2016(apigw, api_id: str, resource: dict, uri: str) -> bool:
    """POST on `resource` as in 2016: a non-proxy Lambda integration with a passthrough request template,
    a response template and the method/integration responses (200, and 500 for a Lambda error). Each part
    is found or created; True when something was created (the stage needs a new deployment)."""
    rid, changed = resource["id"], False
    if "POST" not in (resource.get("resourceMethods") or {}):
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod="POST", authorizationType="NONE")
        changed = True
    method = apigw.get_method(restApiId=api_id, resourceId=rid, httpMethod="POST")
    for status in ("200", "500"):
        if status not in (method.get("methodResponses") or {}):
            apigw.put_method_response(restApiId=api_id, resourceId=rid, httpMethod="POST", statusCode=status,
                                      responseModels={"application/json": "Empty"})
            changed = True
    integration = _integration(apigw, api_id, rid)
    if integration is None:
        apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="POST", type="AWS",
                              integrationHttpMethod="POST", uri=uri, passthroughBehavior="WHEN_NO_TEMPLATES",
                              requestTemplates=REQUEST_TEMPLATES_2016)
        integration, changed = {}, True
    responses = integration.get("integrationResponses") or {}
    if "200" not in responses:
        apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="POST", statusCode="200",
                                       responseTemplates=RESPONSE_TEMPLATES_2016)
        changed = True
    if "500" not in responses:
        apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="POST", statusCode="500",
                                       selectionPattern=ERROR_PATTERN_2016, responseTemplates=ERROR_TEMPLATES_2016)
        changed = True
    return changed


def build(ctx) -> None:
    """The whole pipeline, both eras, with the reference handlers (for later stages and the benchmark)."""
    deploy(ctx, *handler_sources(), handler_2016_source())


# --- verification ------------------------------------------------------------------------------

def invoke_url(ctx, path: str = PATH) -> str | None:
    """The stage's POST URL for `path` (…/prod/logger; PATH_2016 for the talk's design), or None when its
    API is not deployed."""
    from .. import invoke_urls

    n = names(ctx)
    for u in invoke_urls.invoke_urls(ctx.region):
        if u["name"] == n["api"] and u["stage"] == API_STAGE:
            return u["url"] + path
    return None


def post(url: str, body: bytes | str, timeout: float = 30) -> tuple[int, dict | str]:
    """POST `body` over HTTP (urllib, a real client); (status, parsed JSON or text)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def explain_failure(ctx, status: int, reply, function_name: str) -> None:
    """After a POST: nothing when it was accepted (200); else a WorkshopError in two lines — what the
    client got and the function's own error from its CloudWatch Logs — and what to do about it."""
    from ..errors import WorkshopError

    if status == 200:
        return
    error = last_error(ctx, function_name) if status == 502 else None
    first = f"POST answered {status} {json.dumps(reply) if isinstance(reply, dict) else reply}"
    if error:
        raise WorkshopError(f"{first}: {function_name} failed with {error}\n  fix that handler in its exercise "
                            f"cell, run it and the deploy cells again (log group /aws/lambda/{function_name})")
    raise WorkshopError(f"{first}\n  the request itself was refused: check the body is JSON with userId and value")


def last_error(ctx, function_name: str, lines: int = 200) -> str | None:
    """The function's most recent error, as Lambda logged it (`[ERROR] Type: message`), or None."""
    logs = ctx.client("logs")
    try:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}", limit=lines).get("events", [])
    except logs.exceptions.ResourceNotFoundException:
        return None
    for event in sorted(found, key=lambda e: e.get("timestamp", 0), reverse=True):
        for line in reversed(event.get("message", "").splitlines()):
            if line.startswith("[ERROR]"):
                return line[len("[ERROR]"):].strip()
    return None


def _reaches_s3(ctx, url: str, event_id: str, check: str) -> CheckResult:
    from .. import pipeline_load

    n = names(ctx)
    found = pipeline_load.wait_in_s3(ctx.client("s3"), n["bucket"], {event_id},
                                     timeout_s=20 if ctx.is_local else 180, progress=not ctx.is_local)
    ok = found.get(event_id, 0) >= 1
    return CheckResult(check, ok, f"an event POSTed to {url} reached s3://{n['bucket']}" if ok else
                       f"event {event_id} accepted but not in s3://{n['bucket']} after waiting: "
                       f"check the log group /aws/lambda/{n['forward']}")


def _end_to_end(ctx) -> CheckResult:
    url = invoke_url(ctx)
    if url is None:
        return CheckResult("post-to-s3", False, "no deployed API 'logger-api' stage prod: run the deploy cells")
    status, reply = post(url, json.dumps({"userId": "check", "value": 1}))
    if status != 200 or not isinstance(reply, dict) or "eventId" not in reply:
        return CheckResult("post-to-s3", False, f"expected 200 with an eventId from POST {url}, found {status} {reply}")
    return _reaches_s3(ctx, url, reply["eventId"], "post-to-s3")


def _end_to_end_2016(ctx) -> CheckResult:
    """The talk's design: the posted body is stored as the item (every field, as sent) and reaches S3."""
    name = "post-to-s3-2016"
    url = invoke_url(ctx, PATH_2016)
    if url is None:
        return CheckResult(name, False, "no deployed API 'logger-api' stage prod: run the deploy cells")
    sent = {"userId": "check-2016", "value": 1, "source": "the talk's design"}
    status, reply = post(url, json.dumps(sent))
    if status != 200 or not isinstance(reply, dict) or not reply.get("eventId"):
        return CheckResult(name, False, f"expected 200 with an eventId from POST {url}, found {status} {reply}: "
                                        f"run the cells of the talk's 2016 design (POST {PATH_2016})")
    item = ctx.client("dynamodb").get_item(TableName=names(ctx)["table"], Key={"eventId": {"S": reply["eventId"]}},
                                           ConsistentRead=True).get("Item", {})
    stored = {k: list(v.values())[0] for k, v in item.items() if k != "eventId"}
    if stored != {"userId": "check-2016", "value": "1", "source": "the talk's design"}:
        return CheckResult(name, False, f"expected the posted body {sent} stored as item {reply['eventId']}, "
                                        f"found {stored or 'no item'}: the request template should pass the body through")
    return _reaches_s3(ctx, url, reply["eventId"], name)


def _validator(ctx) -> CheckResult:
    url = invoke_url(ctx)
    if url is None:
        return CheckResult("validator", False, "no deployed API 'logger-api' stage prod: run the deploy cells")
    status, reply = post(url, json.dumps({"userId": "check", "value": "not a number"}))
    ok = status == 400
    return CheckResult("validator", ok, "a schema-invalid body gets 400 Invalid request body" if ok else
                       f"expected 400 for a bad body, found {status} {reply}: attach the validator and model to POST /logger")


def _runtime(ctx) -> CheckResult:
    lam = ctx.client("lambda")
    n = names(ctx)
    bad = []
    for key in ("write", "forward"):
        try:
            runtime = lam.get_function_configuration(FunctionName=n[key])["Runtime"]
        except lam.exceptions.ResourceNotFoundException:
            return CheckResult("runtime", False, f"function {n[key]} does not exist: run the deploy cells")
        if not lambda_runtimes.supported(runtime):
            bad.append(f"{n[key]}: {lambda_runtimes.describe(runtime)}")
    return CheckResult("runtime", not bad, lambda_runtimes.describe(RUNTIME) if not bad else "; ".join(bad))


BILL = bill.pipeline()

STAGE = register(Stage(
    number=9,
    slug="serverless_pipeline",
    title="A serverless data pipeline",
    slides="28-29",
    users="-",
    goal="POST an event to API Gateway and find it in S3: two Lambda functions, 16 lines, zero servers.",
    architecture=ARCHITECTURE,
    builds_on=(),
    checks=(
        Check("post-to-s3", _end_to_end, "an event POSTed over HTTP reaches S3"),
        Check("post-to-s3-2016", _end_to_end_2016,
              "the talk's 2016 design (non-proxy integration) stores the posted body as the item, and it reaches S3"),
        Check("validator", _validator, "the request validator rejects a bad body with 400"),
        Check("runtime", _runtime, "the functions' Python runtime is still supported by AWS"),
    ),
    build=build,
    band=Band(10_000_000, slide="28-30", note="slides 28-29 give no user count ('Performance & scalability: "
                   "maximum'): the pipeline is the event path of slide 30's '10+ million users' design, so it carries "
                   "at least their events"),
    exercises=EXERCISES,
    bill=BILL,
))
