"""The talk's closing demo (slides 28-29) as it was built in 2016, deployed with the AWS CLI alone.

POST /prod/logger -> API Gateway (Lambda non-proxy integration, passthrough mapping template) -> Lambda
`writeToDynamoDB` -> DynamoDB `eventTable` -> DynamoDB Streams -> Lambda `DynamoDBToFirehose` -> Firehose
`firehoseToS3` -> S3. The kit's stage 9 builds today's version (proxy integration, boto3 from the kit);
this is the original design, to prove the local AWS serves AWS's 2016 tutorials' way too.
"""

from __future__ import annotations

import json

import pytest
from boto3.dynamodb.types import TypeDeserializer

from tutorial_cli import curl, wait_for

pytestmark = pytest.mark.slow

EVENTS = 100
BUCKET = "sbs-talk-2016-events"

# writeToDynamoDB: a reconstruction from the talk's slides 28-29 (docs/talk.md); the original
# source is not available here. The passthrough mapping template makes the event the posted JSON body.
WRITE_TO_DYNAMODB = '''import boto3

dynamodb = boto3.resource('dynamodb')
table = dynamodb.Table('eventTable')


def handler(event, context):
    table.put_item(Item=event)
    return {'status': 'OK'}
'''

# DynamoDBToFirehose: a reconstruction from the talk's slides 28-29 (docs/talk.md); the
# original source is not available here. Each INSERTed item's NewImage goes to Firehose, one line each.
DYNAMODB_TO_FIREHOSE = '''import json

import boto3

firehose = boto3.client('firehose')


def handler(event, context):
    for record in event['Records']:
        if record['eventName'] == 'INSERT':
            item = record['dynamodb']['NewImage']
            firehose.put_record(DeliveryStreamName='firehoseToS3',
                                Record={'Data': json.dumps(item) + '\\n'})
    return 'Successfully processed {} records.'.format(len(event['Records']))
'''


def _trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": f"{service}.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _function(cli, name: str, source: str, role_arn: str) -> str:
    cli.write(f"{name}.py", source)
    fn = cli("lambda", "create-function", "--function-name", name, "--runtime", "python3.13",
             "--handler", f"{name}.handler", "--role", role_arn, "--timeout", "10",
             "--zip-file", cli.zip(f"{name}.zip", f"{name}.py"))
    return fn["FunctionArn"]


def test_100_posts_to_prod_logger_each_arrive_in_s3_exactly_once(cli):
    """The 2016 design, with the CLI steps AWS documented for it: "Set up Lambda custom integrations in API
    Gateway" (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-custom-integrations.html:
    create-rest-api, get-resources, create-resource, put-method, put-integration --type AWS
    --integration-http-method POST --uri arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/<arn>/
    invocations, put-integration-response, put-method-response, create-deployment), "Tutorial: Using AWS Lambda
    with Amazon DynamoDB streams" (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-example.html:
    create-event-source-mapping) and the Firehose CLI examples
    (https://docs.aws.amazon.com/cli/v1/userguide/cli_firehose_code_examples.html: create-delivery-stream with
    an S3 destination). 100 POSTs to /prod/logger each answer 200, the table holds 100 items, and the bucket
    holds each event exactly once. Deviations from 2016: runtime python3.13 (2016: python2.7, long retired);
    the mapping template `$input.json('$')` is the passthrough the console offered; no IAM propagation wait;
    the bucket is read as soon as objects appear (the local AWS writes each record at once, AWS after the
    buffer interval)."""
    account = cli("sts", "get-caller-identity")["Account"]
    roles = {}
    for name, service in (("lambda-writeToDynamoDB", "lambda"), ("lambda-DynamoDBToFirehose", "lambda"),
                          ("firehose_delivery_role", "firehose")):
        roles[name] = cli("iam", "create-role", "--role-name", name,
                          "--assume-role-policy-document", _trust(service))["Role"]["Arn"]

    table = cli("dynamodb", "create-table", "--table-name", "eventTable",
                "--attribute-definitions", "AttributeName=eventId,AttributeType=S",
                "--key-schema", "AttributeName=eventId,KeyType=HASH",
                "--provisioned-throughput", "ReadCapacityUnits=5,WriteCapacityUnits=5",
                "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_IMAGE")["TableDescription"]
    cli("dynamodb", "wait", "table-exists", "--table-name", "eventTable")
    cli("s3api", "create-bucket", "--bucket", BUCKET)
    cli("firehose", "create-delivery-stream", "--delivery-stream-name", "firehoseToS3",
        "--s3-destination-configuration", json.dumps({
            "RoleARN": roles["firehose_delivery_role"], "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}, "CompressionFormat": "UNCOMPRESSED"}))

    write_arn = _function(cli, "writeToDynamoDB", WRITE_TO_DYNAMODB, roles["lambda-writeToDynamoDB"])
    _function(cli, "DynamoDBToFirehose", DYNAMODB_TO_FIREHOSE, roles["lambda-DynamoDBToFirehose"])
    cli("lambda", "create-event-source-mapping", "--function-name", "DynamoDBToFirehose",
        "--event-source", table["LatestStreamArn"], "--batch-size", "100", "--starting-position", "TRIM_HORIZON")

    api = cli("apigateway", "create-rest-api", "--name", "logger")["id"]
    root = next(r["id"] for r in cli("apigateway", "get-resources", "--rest-api-id", api)["items"] if r["path"] == "/")
    res = cli("apigateway", "create-resource", "--rest-api-id", api, "--parent-id", root, "--path-part", "logger")["id"]
    where = ("--rest-api-id", api, "--resource-id", res, "--http-method", "POST")
    cli("apigateway", "put-method", *where, "--authorization-type", "NONE")
    cli("apigateway", "put-integration", *where, "--type", "AWS", "--integration-http-method", "POST",
        "--uri", f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{write_arn}/invocations",
        "--request-templates", json.dumps({"application/json": "$input.json('$')"}),
        "--passthrough-behavior", "WHEN_NO_TEMPLATES")
    cli("apigateway", "put-integration-response", *where, "--status-code", "200", "--selection-pattern", "")
    cli("apigateway", "put-method-response", *where, "--status-code", "200",
        "--response-models", "application/json=Empty")
    cli("lambda", "add-permission", "--function-name", "writeToDynamoDB", "--statement-id", "apigateway-prod-logger",
        "--action", "lambda:InvokeFunction", "--principal", "apigateway.amazonaws.com",
        "--source-arn", f"arn:aws:execute-api:us-east-1:{account}:{api}/prod/POST/logger")
    cli("apigateway", "create-deployment", "--rest-api-id", api, "--stage-name", "prod")

    url = cli.invoke_url(api, "prod", "/logger")
    sent = {f"evt-{i:03d}": {"eventId": f"evt-{i:03d}", "source": "web", "action": ("click", "view")[i % 2], "seq": i}
            for i in range(EVENTS)}
    for event in sent.values():
        status, _, body = curl("POST", url, body=json.dumps(event).encode(), headers={"Content-Type": "application/json"})
        assert (status, json.loads(body)) == (200, {"status": "OK"}), body

    assert cli("dynamodb", "scan", "--table-name", "eventTable", "--select", "COUNT")["Count"] == EVENTS

    def delivered():
        keys = [o["Key"] for page in [cli("s3api", "list-objects-v2", "--bucket", BUCKET)] for o in page.get("Contents", [])]
        return keys if len(keys) >= EVENTS else None

    keys = wait_for(delivered, timeout=60, interval=0.5)
    assert keys, "fewer than 100 objects reached the bucket within 60 s"
    cli("s3", "cp", f"s3://{BUCKET}/", "s3-out/", "--recursive", "--only-show-errors")  # one call, not 100
    plain, arrived = TypeDeserializer(), []
    for key in keys:
        for line in (cli.workdir / "s3-out" / key).read_text().splitlines():
            arrived.append({k: plain.deserialize(v) for k, v in json.loads(line).items()})
    ids = [a["eventId"] for a in arrived]
    assert len(ids) == EVENTS and set(ids) == set(sent), f"{len(ids)} events arrived, {len(set(ids))} distinct"
    assert all(a == sent[a["eventId"]] for a in arrived)
