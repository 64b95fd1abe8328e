"""API Gateway as AWS documents it: non-proxy integrations with mapping templates, and proxy events as AWS builds them."""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from workshop import aws, invoke_urls

from pipeline_helpers import function, wait_for

pytestmark = pytest.mark.usefixtures("local_aws")

REGION_URI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"

# The talk's 2016 pipeline: the handler stores the event it gets as the item (non-proxy integration).
WRITE_TO_DYNAMODB = """
import boto3, os
def handler(event, context):
    if event.get("value") is None:
        raise ValueError("Bad input: value is missing")
    boto3.resource("dynamodb").Table(os.environ["T"]).put_item(Item=event)
    return {"stored": event["userId"]}
"""

ECHO = """
import base64, json
def handler(event, context):
    if event.get("body") == "cookies":
        return {"statusCode": 200, "headers": {"X-One": "a"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-One": ["b"]},
                "body": base64.b64encode(b"\\x89PNG-bytes").decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "body": json.dumps(event)}
"""


def _table() -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
                                        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}])
    return name


def _lambda_uri(fn: str) -> str:
    return REGION_URI.format(arn=aws.client("lambda").get_function(FunctionName=fn)["Configuration"]["FunctionArn"])


def _rest_api(**kwargs) -> tuple[str, dict[str, str]]:
    apigw = aws.client("apigateway")
    api = apigw.create_rest_api(name=f"api-{uuid.uuid4().hex[:8]}", **kwargs)["id"]
    return api, {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api)["items"]}


def _method(api: str, resources: dict, path: str, http_method: str, integration: dict,
            responses: list[dict] = ()) -> None:
    """One resource/method with an integration and its integration (and method) responses."""
    apigw = aws.client("apigateway")
    if path not in resources:
        resources[path] = apigw.create_resource(restApiId=api, parentId=resources["/"],
                                                pathPart=path.strip("/"))["id"]
    rid = resources[path]
    apigw.put_method(restApiId=api, resourceId=rid, httpMethod=http_method, authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=rid, httpMethod=http_method, **integration)
    for response in responses:
        headers = {k: False for k in response.get("responseParameters", {})}
        apigw.put_method_response(restApiId=api, resourceId=rid, httpMethod=http_method,
                                  statusCode=response["statusCode"], responseParameters=headers)
        apigw.put_integration_response(restApiId=api, resourceId=rid, httpMethod=http_method, **response)


def _deploy(api: str) -> str:
    aws.client("apigateway").create_deployment(restApiId=api, stageName="prod")
    return invoke_urls.stage_url(api, "prod")


def _call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    """(status, headers as a list of pairs, body bytes), with header names sent exactly as given."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body,
                           headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.getheaders(), answer.read()
    finally:
        connection.close()


def _header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


@pytest.fixture(scope="module")
def logger_api():
    """The talk's 2016 design: POST /logger -> writeToDynamoDB through a non-proxy (AWS) integration."""
    table = _table()
    fn = function(WRITE_TO_DYNAMODB, env={"T": table})
    api, resources = _rest_api()
    request_template = ('{"userId": $input.json(\'$.userId\'), "value": $input.json(\'$.value\'), '
                        '"requestId": "$context.requestId", "stage": "$context.stage"}')
    _method(api, resources, "/logger", "POST",
            {"type": "AWS", "integrationHttpMethod": "POST", "uri": _lambda_uri(fn),
             "requestTemplates": {"application/json": request_template}, "passthroughBehavior": "NEVER"},
            [{"statusCode": "200", "responseTemplates": {"application/json": '{"ok": true, "user": $input.json(\'$.stored\')}'}},
             {"statusCode": "400", "selectionPattern": "Bad input: .*",
              "responseTemplates": {"application/json": '{"error": "$util.escapeJavaScript($input.path(\'$.errorMessage\'))"}'},
              "responseParameters": {"method.response.header.X-Reason": "'bad-input'"}}])
    # WHEN_NO_TEMPLATES with no template: the body goes to the function as it came; no integration
    # response pattern: a function error is the default 200 with the error document
    _method(api, resources, "/raw", "POST",
            {"type": "AWS", "integrationHttpMethod": "POST", "uri": _lambda_uri(fn),
             "passthroughBehavior": "WHEN_NO_TEMPLATES"},
            [{"statusCode": "200"}])
    _method(api, resources, "/broken", "POST",
            {"type": "AWS", "integrationHttpMethod": "POST", "uri": _lambda_uri(fn),
             "requestTemplates": {"application/json": '{"userId": $input.json(\'$.userId\')'
                                                      ' #foreach($x in $input.path(\'$.list\')) '}},
            [{"statusCode": "200"}])
    return table, _deploy(api), api


def _item(table: str, user: str):
    return aws.client("dynamodb").get_item(TableName=table, Key={"userId": {"S": user}}).get("Item")


def test_the_2016_design_stores_the_item_and_the_response_template_shapes_the_answer(logger_api):
    """POST /logger through an AWS integration: the request template's event is the DynamoDB item; the answer is the response template's."""
    table, base, _ = logger_api
    status, headers, body = _call(f"{base}/logger", "POST", b'{"userId": "u1", "value": 42}',
                                  {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (200, {"ok": True, "user": "u1"})
    assert _header(headers, "Content-Type") == ["application/json"]
    item = _item(table, "u1")
    assert item["value"] == {"N": "42"} and item["stage"] == {"S": "prod"}
    assert len(item["requestId"]["S"]) == 36 and item["requestId"]["S"] == _header(headers, "x-amzn-RequestId")[0]


def test_when_no_templates_passes_the_body_through_as_the_event(logger_api):
    """With WHEN_NO_TEMPLATES and no template, the posted body itself is the event, and so the item."""
    table, base, _ = logger_api
    status, _, body = _call(f"{base}/raw", "POST", b'{"userId": "u2", "value": 7, "extra": "kept"}',
                            {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (200, {"stored": "u2"})
    assert _item(table, "u2")["extra"] == {"S": "kept"}


def test_a_selection_pattern_maps_a_lambda_error_to_400(logger_api):
    """A function error whose message matches selectionPattern 'Bad input: .*' answers 400 with that response's template and headers."""
    table, base, _ = logger_api
    status, headers, body = _call(f"{base}/logger", "POST", b'{"userId": "u3"}', {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (400, {"error": "Bad input: value is missing"})
    assert _header(headers, "X-Reason") == ["bad-input"]
    assert _item(table, "u3") is None


def test_a_lambda_error_without_a_matching_pattern_is_200_with_the_error_body(logger_api):
    """No pattern matches: the default integration response (200) carries Lambda's error document, as on AWS."""
    _, base, _ = logger_api
    status, _, body = _call(f"{base}/raw", "POST", b'{"userId": "u4"}', {"Content-Type": "application/json"})
    doc = json.loads(body)
    assert status == 200 and doc["errorMessage"] == "Bad input: value is missing" and doc["errorType"] == "ValueError"


@pytest.mark.parametrize("path,content_type", [("/logger", "text/plain"), ("/logger", "application/xml")])
def test_never_passthrough_refuses_an_unmapped_content_type_with_415(logger_api, path, content_type):
    """NEVER with no template for the request's Content-Type: 415 Unsupported Media Type, nothing invoked."""
    table, base, _ = logger_api
    status, _, body = _call(base + path, "POST", b'{"userId": "u5", "value": 1}', {"Content-Type": content_type})
    assert (status, json.loads(body)) == (415, {"message": "Unsupported Media Type"})
    assert _item(table, "u5") is None


def test_a_template_that_fails_to_render_is_500_and_logged_in_the_execution_log(logger_api):
    """A broken request template: 500 Internal server error, the reason in API-Gateway-Execution-Logs_{api}/prod."""
    _, base, api = logger_api
    aws.client("apigateway").update_stage(restApiId=api, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"}])
    status, _, body = _call(f"{base}/broken", "POST", b'{"userId": "u6", "list": [1]}',
                            {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})
    logs = aws.client("logs")
    group = f"API-Gateway-Execution-Logs_{api}/prod"

    def messages():
        try:
            return " ".join(e["message"] for e in logs.filter_log_events(logGroupName=group)["events"])
        except logs.exceptions.ResourceNotFoundException:
            return ""

    assert "Unable to transform request" in wait_for(messages, timeout=5)


def test_mock_integration_chooses_the_integration_response_by_the_templates_status_code():
    """MOCK: the request template's statusCode selects the integration response, its template and header mapping."""
    api, resources = _rest_api()
    _method(api, resources, "/mock", "GET",
            {"type": "MOCK", "requestTemplates": {"application/json":
             '#if($input.params(\'which\') == "missing"){"statusCode": 404}#else{"statusCode": 200}#end'}},
            [{"statusCode": "200", "responseTemplates": {"application/json": '{"mock": "$context.resourcePath"}'},
              "responseParameters": {"method.response.header.X-Mock": "'yes'"}},
             {"statusCode": "404", "selectionPattern": "404",
              "responseTemplates": {"application/json": '{"message": "no such thing"}'}}])
    base = _deploy(api)
    status, headers, body = _call(f"{base}/mock")
    assert (status, json.loads(body), _header(headers, "X-Mock")) == (200, {"mock": "/mock"}, ["yes"])
    status, _, body = _call(f"{base}/mock?which=missing")
    assert (status, json.loads(body)) == (404, {"message": "no such thing"})


def test_http_integrations_call_loopback_only():
    """An HTTP integration reaches a loopback URI (here a MOCK of the same local AWS); any other host is a 500, never called."""
    api, resources = _rest_api()
    _method(api, resources, "/inner", "GET", {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
            [{"statusCode": "200", "responseTemplates": {"application/json": '{"from": "inner"}'}}])
    base = invoke_urls.stage_url(api, "prod")
    _method(api, resources, "/outer", "GET",
            {"type": "HTTP", "integrationHttpMethod": "GET", "uri": f"{base}/inner"},
            [{"statusCode": "200", "responseTemplates": {"application/json": '{"wrapped": $input.json(\'$\')}'}}])
    _method(api, resources, "/away", "GET",
            {"type": "HTTP", "integrationHttpMethod": "GET", "uri": "http://example.com/"}, [{"statusCode": "200"}])
    _deploy(api)
    status, _, body = _call(f"{base}/outer")
    assert (status, json.loads(body)) == (200, {"wrapped": {"from": "inner"}})
    status, _, body = _call(f"{base}/away")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})


def test_an_unsupported_integration_type_is_refused_at_put_integration():
    """put-integration --type LAMBDA fails at once with BadRequestException, not at request time."""
    api, resources = _rest_api()
    apigw = aws.client("apigateway")
    apigw.put_method(restApiId=api, resourceId=resources["/"], httpMethod="GET", authorizationType="NONE")
    with pytest.raises(ClientError) as caught:
        apigw.put_integration(restApiId=api, resourceId=resources["/"], httpMethod="GET", type="LAMBDA",
                              integrationHttpMethod="POST", uri="arn:aws:apigateway:us-east-1:lambda:path/x")
    assert caught.value.response["Error"]["Code"] == "BadRequestException"
    assert "LAMBDA" in caught.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def echo_api():
    fn = function(ECHO)
    api, resources = _rest_api(binaryMediaTypes=["image/png"])
    aws.client("apigateway").update_rest_api(restApiId=api, patchOperations=[  # as the AWS CLI docs add one
        {"op": "add", "path": "/binaryMediaTypes/application~1octet-stream"}])
    _method(api, resources, "/echo", "POST", {"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": _lambda_uri(fn)})
    return _deploy(api)


def test_a_proxy_event_keeps_header_names_as_sent_and_carries_multi_values_and_request_context(echo_api):
    """AWS's tutorial reads event['headers']['greeter']: the name stays lower-case; repeats are in multiValue*."""
    before = int(time.time() * 1000)
    status, _, body = _call(f"{echo_api}/echo?name=a&name=b&x=1", "POST", b"hello",
                            {"greeter": "John", "X-Multi": "1", "Content-Type": "text/plain"})
    event = json.loads(body)
    assert status == 200 and event["headers"]["greeter"] == "John" and "Greeter" not in event["headers"]
    assert event["multiValueHeaders"]["greeter"] == ["John"]
    assert event["queryStringParameters"] == {"name": "b", "x": "1"}
    assert event["multiValueQueryStringParameters"] == {"name": ["a", "b"], "x": ["1"]}
    ctx = event["requestContext"]
    assert (ctx["stage"], ctx["resourcePath"], ctx["httpMethod"], ctx["path"]) == ("prod", "/echo", "POST", "/prod/echo")
    assert ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["protocol"] == "HTTP/1.1"
    assert ctx["accountId"] == "123456789012" and ctx["apiId"] == echo_api.split("/")[-2]
    assert len(ctx["requestId"]) == 36 and ctx["requestTimeEpoch"] >= before
    assert event["body"] == "hello" and event["isBase64Encoded"] is False


def test_repeated_request_headers_are_all_in_multi_value_headers(echo_api):
    """A header sent twice: its last value in headers, both in multiValueHeaders."""
    parts = urlsplit(f"{echo_api}/echo")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("POST", parts.path)
        for name, value in (("x-twice", "one"), ("x-twice", "two"), ("Content-Length", "0")):
            connection.putheader(name, value)
        connection.endheaders()
        event = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert event["headers"]["x-twice"] == "two" and event["multiValueHeaders"]["x-twice"] == ["one", "two"]


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream"])
def test_a_binary_media_type_body_arrives_base64_encoded(echo_api, content_type):
    """A Content-Type among the API's binaryMediaTypes (set at create or by update): base64 body, isBase64Encoded true."""
    data = b"\x89PNG\r\n\x1a\n\x00\xff"
    status, _, body = _call(f"{echo_api}/echo", "POST", data, {"Content-Type": content_type})
    event = json.loads(body)
    assert status == 200 and event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == data


def test_a_proxy_response_honours_multi_value_headers_and_is_base64_encoded(echo_api):
    """multiValueHeaders become repeated headers (winning over headers) and an isBase64Encoded body is decoded."""
    request = urllib.request.Request(f"{echo_api}/echo", data=b"cookies", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            status, headers, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        pytest.fail(f"{exc.code} {exc.read()!r}")
    assert status == 200 and headers.get_all("Set-Cookie") == ["a=1", "b=2"] and headers.get_all("X-One") == ["b"]
    assert body == b"\x89PNG-bytes"
