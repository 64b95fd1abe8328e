"""Tutorial: Using AWS Lambda with Amazon DynamoDB streams, with the CLI, in Python and in Node.js."""

from __future__ import annotations

import json

import pytest

from tutorial_cli import node_missing, wait_for

pytestmark = pytest.mark.slow

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

# The tutorial's example function code, its Python and Node.js tabs: log each record.
PYTHON = '''import json


def lambda_handler(event, context):
    print(json.dumps(event, indent=2))
    for record in event['Records']:
        log_dynamodb_record(record)


def log_dynamodb_record(record):
    print(record['eventID'])
    print(record['eventName'])
    print(f"DynamoDB Record: {json.dumps(record['dynamodb'])}")
'''

NODE = '''console.log('Loading function');

export const handler = async (event, context) => {
    console.log(JSON.stringify(event, null, 2));
    event.Records.forEach(record => {
        logDynamoDBRecord(record);
    });
};

const logDynamoDBRecord = (record) => {
    console.log(record.eventID);
    console.log(record.eventName);
    console.log(`DynamoDB Record: ${JSON.stringify(record.dynamodb)}`);
};
'''

RUNTIMES = {  # tab -> (runtime, file, handler, source)
    "python": ("python3.13", "lambda_function.py", "lambda_function.lambda_handler", PYTHON),
    "nodejs": ("nodejs22.x", "index.mjs", "index.handler", NODE),
}


@pytest.mark.parametrize("tab", [
    "python",
    pytest.param("nodejs", marks=pytest.mark.skipif(node_missing(), reason="Node.js is not installed: "
                                                    "the local AWS refuses nodejs functions (sudo apt-get install nodejs)")),
])
def test_stream_records_reach_the_function_and_its_logs(cli, tab):
    """Tutorial: Using AWS Lambda with Amazon DynamoDB streams
    (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-example.html): role `lambda-dynamodb-role` with
    AWSLambdaDynamoDBExecutionRole, function `ProcessDynamoDBRecords` (the page's Python or Node.js tab),
    `lambda invoke` with the sample event, a table with a stream, `create-event-source-mapping --batch-size 100
    --starting-position LATEST`, `list-event-source-mappings`; then add, update and delete an item and the
    function's CloudWatch Logs show INSERT, MODIFY and REMOVE with their records, as the page says.
    Deviations: the table is made with `aws dynamodb create-table` (the page uses the console); names carry
    the tab; the sample event is shortened to one INSERT; no wait for the role or the mapping to be ready."""
    runtime, file, handler, source = RUNTIMES[tab]
    name, table, role_name = f"ProcessDynamoDBRecords-{tab}", f"lambda-dynamodb-stream-{tab}", f"lambda-dynamodb-role-{tab}"
    role = cli("iam", "create-role", "--role-name", role_name, "--assume-role-policy-document", TRUST)["Role"]["Arn"]
    cli("iam", "attach-role-policy", "--role-name", role_name,
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole")
    cli.write(file, source)
    cli("lambda", "create-function", "--function-name", name, "--zip-file", cli.zip(f"function-{tab}.zip", file),
        "--handler", handler, "--runtime", runtime, "--role", role)

    # Test the Lambda function: invoke it by hand with a sample event (input.txt)
    cli.write("input.txt", json.dumps({"Records": [{
        "eventID": "1", "eventVersion": "1.0", "eventName": "INSERT", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Example/stream/1",
        "dynamodb": {"Keys": {"Id": {"N": "101"}}, "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                     "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}}]}))
    answer = cli("lambda", "invoke", "--function-name", name, "--payload", "file://input.txt", f"outputfile-{tab}.txt")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer

    # Create a DynamoDB table with a stream enabled
    created = cli("dynamodb", "create-table", "--table-name", table,
                  "--attribute-definitions", "AttributeName=id,AttributeType=N",
                  "--key-schema", "AttributeName=id,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST",
                  "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES")
    stream_arn = created["TableDescription"]["LatestStreamArn"]
    cli("dynamodb", "wait", "table-exists", "--table-name", table)

    # Add an event source in AWS Lambda
    mapping = cli("lambda", "create-event-source-mapping", "--function-name", name, "--batch-size", "100",
                  "--starting-position", "LATEST", "--event-source", stream_arn)
    assert mapping["EventSourceArn"] == stream_arn and mapping["BatchSize"] == 100
    listed = cli("lambda", "list-event-source-mappings", "--function-name", name, "--event-source", stream_arn)
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [mapping["UUID"]]

    # Test the setup: add, update and delete items
    cli("dynamodb", "put-item", "--table-name", table, "--item", '{"id": {"N": "101"}, "message": {"S": "New item!"}}')
    cli("dynamodb", "update-item", "--table-name", table, "--key", '{"id": {"N": "101"}}',
        "--update-expression", "SET message = :m", "--expression-attribute-values", '{":m": {"S": "This item has changed"}}')
    cli("dynamodb", "delete-item", "--table-name", table, "--key", '{"id": {"N": "101"}}')

    def logged():
        events = cli("logs", "filter-log-events", "--log-group-name", f"/aws/lambda/{name}")["events"]
        text = "\n".join(e["message"] for e in events)
        return text if "REMOVE" in text else ""

    text = wait_for(logged, timeout=30)
    assert text, "the function logged no REMOVE record within 30 s"
    names = [line.strip().split("\t")[-1] for line in text.splitlines()
             if line.strip().split("\t")[-1] in ("INSERT", "MODIFY", "REMOVE")]
    assert names == ["INSERT", "INSERT", "MODIFY", "REMOVE"]  # the hand-made test event, then the three changes
    assert "This item has changed" in text and "DynamoDB Record: " in text
    state = cli("lambda", "get-event-source-mapping", "--uuid", mapping["UUID"])
    assert state["State"] == "Enabled" and state["LastProcessingResult"] == "OK"
