"""Deployed REST APIs answer over HTTP on loopback like API Gateway (routing, proxy events, errors, validation)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from workshop import aws, invoke_urls

from pipeline_helpers import function, log_text

pytestmark = pytest.mark.usefixtures("local_aws")

ECHO = """
import json
def handler(event, context):
    body = event.get("body") or ""
    if body == "raise":
        raise RuntimeError("handler failed on purpose")
    if body == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    return {"statusCode": 201, "headers": {"X-From": "lambda"}, "body": json.dumps(event)}
"""


def _api(routes: list[tuple[str, str]], fn: str, validator_schema: dict | None = None) -> str:
    """A REST API with (path, method) -> AWS_PROXY fn, deployed to stage prod; returns its id."""
    apigw, lam = aws.client("apigateway"), aws.client("lambda")
    fn_arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    api = apigw.create_rest_api(name=f"api-{uuid.uuid4().hex[:8]}")["id"]
    by_path = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api)["items"]}
    extra = {}
    if validator_schema is not None:
        apigw.create_model(restApiId=api, name="Body", contentType="application/json", schema=json.dumps(validator_schema))
        vid = apigw.create_request_validator(restApiId=api, name="v", validateRequestBody=True)["id"]
        extra = {"requestValidatorId": vid, "requestModels": {"application/json": "Body"}}
    for path, method in routes:
        parent = "/"
        for part in path.strip("/").split("/"):
            here = (parent.rstrip("/") + "/" + part)
            if here not in by_path:
                by_path[here] = apigw.create_resource(restApiId=api, parentId=by_path[parent], pathPart=part)["id"]
            parent = here
        apigw.put_method(restApiId=api, resourceId=by_path[path], httpMethod=method, authorizationType="NONE", **extra)
        apigw.put_integration(restApiId=api, resourceId=by_path[path], httpMethod=method, type="AWS_PROXY",
                              integrationHttpMethod="POST",
                              uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn_arn}/invocations")
    apigw.create_deployment(restApiId=api, stageName="prod")
    return api


def _call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture(scope="module")
def echo_api():
    fn = function(ECHO)
    api = _api([("/items/{id}", "GET"), ("/items", "POST"), ("/files/{proxy+}", "ANY")], fn)
    return fn, invoke_urls.stage_url(api, "prod")


def test_routes_by_path_and_method_and_sends_the_v1_proxy_event(echo_api):
    """GET /items/{id} reaches the function with AWS's v1 proxy event; its statusCode/headers/body come back."""
    fn, base = echo_api
    status, headers, text = _call(f"{base}/items/42?color=red", headers={"X-Test": "1"})
    assert status == 201 and headers.get("X-From") == "lambda"
    event = json.loads(text)
    assert event["httpMethod"] == "GET" and event["resource"] == "/items/{id}" and event["path"] == "/items/42"
    assert event["pathParameters"] == {"id": "42"} and event["queryStringParameters"] == {"color": "red"}
    assert event["headers"]["X-Test"] == "1" and event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "prod" and event["requestContext"]["resourcePath"] == "/items/{id}"


def test_post_body_and_greedy_proxy_path(echo_api):
    """A POST body arrives as a string; {proxy+} captures the rest of the path under ANY."""
    _, base = echo_api
    status, _, text = _call(f"{base}/items", "POST", b'{"a": 1}', {"Content-Type": "application/json"})
    assert status == 201 and json.loads(text)["body"] == '{"a": 1}'
    status, _, text = _call(f"{base}/files/a/b/c.txt", "DELETE")
    event = json.loads(text)
    assert status == 201 and event["pathParameters"] == {"proxy": "a/b/c.txt"} and event["httpMethod"] == "DELETE"


@pytest.mark.parametrize("path,method", [("/nowhere", "GET"), ("/items/42", "PUT"), ("", "GET")])
def test_unknown_route_or_method_is_403_missing_authentication_token(echo_api, path, method):
    """A path or method the API does not define answers 403 {"message":"Missing Authentication Token"}."""
    _, base = echo_api
    status, _, text = _call(base + path, method, b"" if method != "GET" else None)
    assert status == 403 and json.loads(text) == {"message": "Missing Authentication Token"}


def test_unknown_stage_or_api_is_403(echo_api):
    """A stage that was never deployed, or an unknown API id, answers 403 too."""
    _, base = echo_api
    status, _, _ = _call(base.replace("/prod", "/dev") + "/items/1")
    assert status == 403
    status, _, _ = _call(base.split("/execute-api/")[0] + "/execute-api/nosuchapi/prod/items/1")
    assert status == 403


def test_a_handler_error_is_502_and_logged(echo_api):
    """A raising function gives the client 502 Internal server error; the error is in its log group."""
    fn, base = echo_api
    status, _, text = _call(f"{base}/items", "POST", b"raise")
    assert status == 502 and json.loads(text) == {"message": "Internal server error"}
    assert "handler failed on purpose" in log_text(fn, contains="handler failed on purpose")


def test_a_malformed_proxy_response_is_502(echo_api):
    """A result whose body is not a string is a malformed proxy response: 502."""
    _, base = echo_api
    status, _, text = _call(f"{base}/items", "POST", b"malformed")
    assert status == 502 and json.loads(text) == {"message": "Internal server error"}


def test_a_body_over_10_mb_is_413(echo_api):
    """API Gateway's 10 MB payload limit: a larger body answers 413."""
    _, base = echo_api
    status, _, _ = _call(f"{base}/items", "POST", b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413


def test_the_validator_rejects_bad_bodies_before_any_lambda_runs():
    """Malformed JSON or a schema-invalid body gets 400 Invalid request body and the function never runs."""
    table = f"t-{uuid.uuid4().hex[:8]}"
    aws.client("dynamodb").create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
                                        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}])
    fn = function("import boto3, json, os\nfrom decimal import Decimal\n"
                  "def handler(event, context):\n    body = json.loads(event['body'], parse_float=Decimal)\n"
                  "    boto3.resource('dynamodb').Table(os.environ['T']).put_item(Item=body)\n"
                  "    return {'statusCode': 200, 'body': '{}'}\n", env={"T": table})
    schema = {"type": "object", "required": ["userId", "value"],
              "properties": {"userId": {"type": "string"}, "value": {"type": "number"}}}
    url = invoke_urls.stage_url(_api([("/logger", "POST")], fn, schema), "prod") + "/logger"
    for bad in (b'{"userId": "u1"}', b'{"userId": "u1", "value": "x"}', b'{"userId": 5, "value": 1}', b"{not json", b""):
        status, _, text = _call(url, "POST", bad, {"Content-Type": "application/json"})
        assert (status, json.loads(text)) == (400, {"message": "Invalid request body"}), bad
    assert aws.client("dynamodb").scan(TableName=table)["Count"] == 0
    status, _, _ = _call(url, "POST", b'{"userId": "u1", "value": 4.5}', {"Content-Type": "application/json"})
    assert status == 200 and aws.client("dynamodb").scan(TableName=table)["Count"] == 1


def test_invoke_urls_lists_every_deployed_stage(echo_api):
    """invoke_urls.invoke_urls() gives each deployed stage's URL in the local scheme."""
    _, base = echo_api
    urls = [u["url"] for u in invoke_urls.invoke_urls()]
    assert base in urls
    assert base.startswith(aws.endpoint() + "/execute-api/") and base.endswith("/prod")


def test_on_a_real_account_the_invoke_url_is_aws_s(monkeypatch):
    """On the aws target the URL is AWS's execute-api host for the region (no call is made to build it)."""
    monkeypatch.setenv("WORKSHOP_TARGET", "aws")
    monkeypatch.setenv("WORKSHOP_REGION", "eu-west-1")
    assert invoke_urls.stage_url("abc123", "prod") == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
