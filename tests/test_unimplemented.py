"""An operation the local AWS lacks is AWS's 501 NotImplemented in the service's protocol (localaws/unimplemented.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from workshop import aws
from workshop.errors import Unsupported
from workshop.localaws import unimplemented

SIGNED = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"

# one operation moto 5.2.5 lacks per protocol (found by trying), with the least it needs
CASES = [
    pytest.param("dynamodb", "describe_contributor_insights", {"TableName": "t"}, id="json"),
    pytest.param("cloudwatch", "describe_anomaly_detectors", {}, id="json-cloudwatch"),
    pytest.param("sns", "list_origination_numbers", {}, id="query"),
    pytest.param("ec2", "describe_ipams", {}, id="ec2"),
    pytest.param("lambda", "get_function_recursion_config", {"FunctionName": "f"}, id="rest-json"),
    pytest.param("cloudfront", "list_realtime_log_configs", {}, id="rest-xml"),
]


def _plain_client(local_aws, service: str, mode: str = "standard"):
    """A boto3 client made outside the kit's factory (as the AWS CLI makes one), counting the requests it sends."""
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    client = session.client(service, endpoint_url=local_aws.endpoint,
                            config=Config(retries={"mode": mode, "max_attempts": 5}))
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    return client, sent


@pytest.mark.parametrize("service, method, params", CASES)
def test_an_unimplemented_operation_is_a_501_aws_error_sent_once(local_aws, service, method, params):
    """boto3 raises ClientError NotImplemented (HTTP 501) naming service and operation, after exactly one request."""
    client, sent = _plain_client(local_aws, service)
    operation = client.meta.method_to_api_mapping[method]
    with pytest.raises(ClientError) as caught:
        getattr(client, method)(**params)
    error, meta = caught.value.response["Error"], caught.value.response["ResponseMetadata"]
    assert (error["Code"], meta["HTTPStatusCode"]) == ("NotImplemented", 501)
    assert error["Message"] == f"The local AWS does not implement {service}.{operation}; it works on a real account"
    assert len(sent) == 1


def test_legacy_retry_mode_does_not_retry_it_either(local_aws):
    """botocore's legacy retry mode (the AWS CLI v1 default) sends an unimplemented call once too."""
    client, sent = _plain_client(local_aws, "dynamodb", mode="legacy")
    with pytest.raises(ClientError, match="NotImplemented"):
        client.describe_contributor_insights(TableName="t")
    assert len(sent) == 1


def _raw(local_aws, method: str, path: str, service: str, body: bytes = b"", headers: dict | None = None):
    request = urllib.request.Request(local_aws.endpoint + path, data=body or None, method=method,
                                     headers={"Authorization": SIGNED.format(service=service), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as answer:
        return answer.code, dict(answer.headers), answer.read()


def test_s3_answers_its_own_error_document(local_aws):
    """A method S3's emulation does not implement is S3's `<Error><Code>NotImplemented</Code>` with 501."""
    aws.client("s3").create_bucket(Bucket="unimplemented-probe")
    status, _, body = _raw(local_aws, "PATCH", "/unimplemented-probe/key", "s3")
    assert status == 501
    assert body.decode().startswith('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>')
    assert b"The local AWS does not implement s3." in body


def test_a_cbor_request_gets_a_cbor_error(local_aws):
    """A Smithy RPC v2 CBOR request (CloudWatch's newest protocol) gets its error in CBOR, as botocore parses it."""
    from botocore.parsers import create_parser

    status, headers, body = _raw(local_aws, "POST", "/service/GraniteServiceVersion20100801/operation/DescribeAnomalyDetectors",
                                 "monitoring", unimplemented.cbor({}),
                                 {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
    assert (status, headers["smithy-protocol"]) == (501, "rpc-v2-cbor")
    parsed = create_parser("smithy-rpc-v2-cbor").parse({"status_code": status, "headers": headers, "body": body}, None)
    assert parsed["Error"] == {"Code": "NotImplemented", "Message": unimplemented.message(
        "cloudwatch", "DescribeAnomalyDetectors")}


def test_a_rest_path_no_operation_has_is_an_unknown_operation(local_aws):
    """A Lambda path that is none of Lambda's operations is a 404 UnknownOperationException, not a web page."""
    status, headers, body = _raw(local_aws, "GET", "/2015-03-31/no-such-thing", "lambda")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    assert "lambda has no operation at GET /2015-03-31/no-such-thing" in json.loads(body)["message"]


def test_a_missing_resource_is_still_motos_own_answer(local_aws):
    """moto's own not-found answers (a missing function) are untouched: ResourceNotFoundException."""
    with pytest.raises(ClientError) as caught:
        aws.client("lambda").get_function(FunctionName="no-such-function")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_kits_client_says_unsupported_in_one_line(local_aws):
    """Through the kit's factory the same call is one `Unsupported` line naming service and operation."""
    with pytest.raises(Unsupported) as caught:
        aws.client("dynamodb").describe_contributor_insights(TableName="t")
    assert str(caught.value).startswith("the local AWS does not implement dynamodb.DescribeContributorInsights;")
    assert "\n" not in str(caught.value)


#: the AWS CLI of the test venv (`pip install .[test]`), next to this interpreter, else one on PATH
AWS_CLI = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_the_aws_cli_prints_one_line_at_once(local_aws, tmp_path):
    """`aws dynamodb describe-contributor-insights` fails at once with the NotImplemented line, no retries."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_MAX_ATTEMPTS": "5"}
    out = subprocess.run([AWS_CLI, "--endpoint-url", local_aws.endpoint, "--debug", "dynamodb",
                          "describe-contributor-insights", "--table-name", "t"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert "(NotImplemented)" in last and "dynamodb.DescribeContributorInsights" in last
    assert out.stderr.count("Sending http request") == 1
