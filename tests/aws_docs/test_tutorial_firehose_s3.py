"""Amazon Data Firehose delivering to S3, with the CLI examples AWS publishes."""

from __future__ import annotations

import json
import re

import pytest

from tutorial_cli import wait_for

pytestmark = pytest.mark.slow

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def test_a_record_put_to_a_direct_put_stream_lands_in_the_bucket(cli):
    """Firehose examples using AWS CLI (https://docs.aws.amazon.com/cli/v1/userguide/cli_firehose_code_examples.html:
    `create-delivery-stream` with an S3 destination, `describe-delivery-stream`, `put-record`,
    `put-record-batch`, `list-delivery-streams`) with the bucket and role "Create a Firehose stream"
    (https://docs.aws.amazon.com/firehose/latest/dev/basic-create.html) asks for. Outcome as "Understand data
    delivery in Amazon Data Firehose" (https://docs.aws.amazon.com/firehose/latest/dev/basic-deliver.html)
    describes it: objects under the prefix and a `YYYY/MM/DD/HH/` UTC path, named
    `<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<random>`, holding the records' bytes, each record once.
    Deviations: no wait for the stream to turn ACTIVE or for the buffer interval (the local AWS writes each
    put at once); the role's policy is not attached (IAM is not enforced locally)."""
    cli("s3api", "create-bucket", "--bucket", "my-firehose-bucket")
    role = cli("iam", "create-role", "--role-name", "firehose_delivery_role",
               "--assume-role-policy-document", TRUST)["Role"]["Arn"]
    created = cli("firehose", "create-delivery-stream", "--delivery-stream-name", "my-stream",
                  "--delivery-stream-type", "DirectPut",
                  "--extended-s3-destination-configuration", json.dumps({
                      "RoleARN": role, "BucketARN": "arn:aws:s3:::my-firehose-bucket", "Prefix": "tickers/",
                      "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}}))
    assert created["DeliveryStreamARN"].endswith(":deliverystream/my-stream")
    described = cli("firehose", "describe-delivery-stream", "--delivery-stream-name", "my-stream")
    assert described["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"
    assert "my-stream" in cli("firehose", "list-delivery-streams")["DeliveryStreamNames"]

    # AWS CLI v1 sends a blob given on the command line as its text (v2 would read it as base64)
    put = cli("firehose", "put-record", "--delivery-stream-name", "my-stream",
              "--record", json.dumps({"Data": '{"ticker": "AMZN", "price": 100}\n'}))
    assert put["RecordId"]
    cli.write("records.json", json.dumps([{"Data": f'{{"ticker": "T{i}", "price": {i}}}\n'} for i in range(3)]))
    batch = cli("firehose", "put-record-batch", "--delivery-stream-name", "my-stream", "--records", "file://records.json")
    assert batch["FailedPutCount"] == 0 and len(batch["RequestResponses"]) == 3

    def delivered():
        listed = cli("s3api", "list-objects-v2", "--bucket", "my-firehose-bucket", "--prefix", "tickers/")
        keys, lines = [o["Key"] for o in (listed or {}).get("Contents", [])], []
        for i, key in enumerate(keys):
            cli("s3api", "get-object", "--bucket", "my-firehose-bucket", "--key", key, f"object-{i}.txt")
            lines += (cli.workdir / f"object-{i}.txt").read_text().splitlines()
        return (keys, lines) if len(lines) >= 4 else None

    found = wait_for(delivered)
    assert found, "the four records did not all reach the bucket"
    keys, lines = found
    for key in keys:
        assert re.fullmatch(r"tickers/\d{4}/\d{2}/\d{2}/\d{2}/my-stream-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[\w-]+",
                            key), key
    assert sorted(json.loads(line)["ticker"] for line in lines) == ["AMZN", "T0", "T1", "T2"]
