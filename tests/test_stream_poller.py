"""DynamoDB-stream event source mappings deliver records to Lambda like AWS's poller does."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from workshop import aws

from pipeline_helpers import bucket, function, wait_for

pytestmark = [pytest.mark.usefixtures("local_aws"), pytest.mark.slow]  # waits on the poller and workers

# Writes each batch it receives to S3 as batch-<first sequence number>.json; raises on a record
# whose value is "bad" unless the object "allow" exists in the bucket.
RECORDER = """
import boto3, json, os
s3 = boto3.client("s3")
def handler(event, context):
    bucket = os.environ["BUCKET"]
    bad = [r for r in event["Records"] if r["dynamodb"].get("NewImage", {}).get("v", {}).get("S") == "bad"]
    if bad and s3.list_objects_v2(Bucket=bucket, Prefix="allow").get("KeyCount", 0) == 0:
        raise ValueError("poison record " + bad[0]["dynamodb"]["Keys"]["k"]["S"])
    first = event["Records"][0]["dynamodb"]["SequenceNumber"]
    s3.put_object(Bucket=bucket, Key=f"batch-{int(first):040d}.json", Body=json.dumps(event))
    return {"records": len(event["Records"])}
"""


def _table() -> tuple[str, str]:
    ddb = aws.client("dynamodb")
    name = f"t-{uuid.uuid4().hex[:10]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    return name, ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def _put(table: str, keys, value: str = "ok") -> None:
    ddb = aws.client("dynamodb")
    for k in keys:
        ddb.put_item(TableName=table, Item={"k": {"S": k}, "v": {"S": value}})


def _batches(b: str) -> list[dict]:
    s3 = aws.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", []) if o["Key"].startswith("batch-"))
    return [json.loads(s3.get_object(Bucket=b, Key=k)["Body"].read()) for k in keys]


def _delivered_keys(b: str) -> list[str]:
    return [r["dynamodb"]["Keys"]["k"]["S"] for batch in _batches(b) for r in batch["Records"]]


def _setup(**mapping):
    b = bucket()
    table, stream = _table()
    name = function(RECORDER, env={"BUCKET": b}, timeout=10)
    uuid_ = aws.client("lambda").create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON", **mapping)["UUID"]
    return b, table, stream, name, uuid_


def test_records_arrive_in_order_in_batches_up_to_batch_size_with_aws_event_shape():
    """Every put item reaches the handler once, in order, in batches of at most BatchSize, shaped like AWS's event."""
    b, table, stream, _, _ = _setup(BatchSize=3)
    keys = [f"k{i:02d}" for i in range(10)]
    _put(table, keys)
    assert wait_for(lambda: len(_delivered_keys(b)) >= 10, timeout=15)
    assert _delivered_keys(b) == keys
    batches = _batches(b)
    assert all(1 <= len(x["Records"]) <= 3 for x in batches)
    record = batches[0]["Records"][0]
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == stream and record["awsRegion"] == "us-east-1"
    assert record["dynamodb"]["NewImage"] == {"k": {"S": "k00"}, "v": {"S": "ok"}}
    assert record["dynamodb"]["Keys"] == {"k": {"S": "k00"}}
    created = record["dynamodb"]["ApproximateCreationDateTime"]
    assert isinstance(created, (int, float)) and abs(created - time.time()) < 600


def test_a_failing_batch_is_retried_never_skipped():
    """A batch whose handler raises is retried until it succeeds; no record is lost or reordered."""
    b, table, _, _, _ = _setup(BatchSize=10)
    _put(table, ["a1", "a2"])
    _put(table, ["p1"], value="bad")
    _put(table, ["a3"])
    time.sleep(1.5)  # several failed attempts
    assert "p1" not in _delivered_keys(b) and "a3" not in _delivered_keys(b)
    aws.client("s3").put_object(Bucket=b, Key="allow", Body=b"1")
    assert wait_for(lambda: "a3" in _delivered_keys(b), timeout=15)
    assert _delivered_keys(b) == ["a1", "a2", "p1", "a3"]


def test_retries_exhausted_go_to_the_on_failure_destination_and_bisect_isolates_the_bad_record():
    """With bisect and MaximumRetryAttempts, only the poison record goes to the SQS destination; the rest is delivered."""
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    b, table, stream, name, _ = _setup(BatchSize=10, MaximumRetryAttempts=1, BisectBatchOnFunctionError=True,
                                       DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    _put(table, ["b1", "b2"])
    _put(table, ["p1"], value="bad")
    _put(table, ["b3", "b4"])
    assert wait_for(lambda: len(_delivered_keys(b)) >= 4, timeout=20)
    assert _delivered_keys(b) == ["b1", "b2", "b3", "b4"]
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"), timeout=10)
    info = json.loads(messages[0]["Body"])
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1 and info["DDBStreamBatchInfo"]["streamArn"] == stream
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_a_disabled_mapping_pauses_and_resumes_where_it_stopped():
    """Records put while the mapping is disabled are delivered once it is enabled again."""
    b, table, _, _, mapping = _setup(BatchSize=100)
    lam = aws.client("lambda")
    _put(table, ["c1"])
    assert wait_for(lambda: _delivered_keys(b) == ["c1"], timeout=10)
    lam.update_event_source_mapping(UUID=mapping, Enabled=False)
    _put(table, ["c2", "c3"])
    time.sleep(1.0)
    assert _delivered_keys(b) == ["c1"]
    lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    assert wait_for(lambda: len(_delivered_keys(b)) == 3, timeout=10)
    assert _delivered_keys(b) == ["c1", "c2", "c3"]


def test_moto_no_longer_swallows_the_stream():
    """With a mapping in place, get_records still returns the records (moto does not consume them)."""
    _, table, stream, _, _ = _setup()
    _put(table, ["d1"])
    streams = aws.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["dynamodb"]["Keys"]["k"]["S"] for r in streams.get_records(ShardIterator=it)["Records"]] == ["d1"]


def test_latest_starts_after_what_is_already_in_the_stream():
    """StartingPosition LATEST skips records written before the mapping existed."""
    b = bucket()
    table, stream = _table()
    _put(table, ["old"])
    name = function(RECORDER, env={"BUCKET": b}, timeout=10)
    aws.client("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=stream,
                                                     StartingPosition="LATEST")
    time.sleep(0.6)  # the poller has seen the mapping
    _put(table, ["new"])
    assert wait_for(lambda: _delivered_keys(b), timeout=10) == ["new"]


def test_a_mapping_reports_its_last_processing_result_as_aws_does():
    """LastProcessingResult is "No records processed", then "OK" after a delivered batch, then
    "PROBLEM: Function call failed" while a batch fails; StateTransitionReason is "User action" in every answer."""
    lam = aws.client("lambda")
    b, table, stream, name, mapping = _setup(BatchSize=10)
    first = lam.get_event_source_mapping(UUID=mapping)
    assert (first["LastProcessingResult"], first["StateTransitionReason"]) == ("No records processed", "User action")
    _put(table, ["e1"])
    assert wait_for(lambda: lam.get_event_source_mapping(UUID=mapping)["LastProcessingResult"] == "OK", timeout=10)
    _put(table, ["e2"], value="bad")
    assert wait_for(lambda: lam.get_event_source_mapping(UUID=mapping)["LastProcessingResult"]
                    == "PROBLEM: Function call failed", timeout=10)
    listed = [m for m in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"] if m["UUID"] == mapping]
    assert listed[0]["LastProcessingResult"] == "PROBLEM: Function call failed"
    updated = lam.update_event_source_mapping(UUID=mapping, Enabled=False)
    assert (updated["StateTransitionReason"], updated["LastProcessingResult"]) == \
        ("User action", "PROBLEM: Function call failed")


def test_a_queue_mapping_is_user_initiated_without_a_processing_result():
    """An SQS mapping says StateTransitionReason "USER_INITIATED" and, as on AWS, no LastProcessingResult."""
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    queue = sqs.create_queue(QueueName=f"esm-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = function(RECORDER, env={"BUCKET": bucket()}, timeout=10)
    created = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1, Enabled=False)
    assert created["StateTransitionReason"] == "USER_INITIATED" and "LastProcessingResult" not in created
