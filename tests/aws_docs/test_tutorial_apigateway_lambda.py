"""API Gateway REST APIs in front of Lambda, proxy and non-proxy, as AWS's tutorials build them with the CLI."""

from __future__ import annotations

import json

import pytest

from tutorial_cli import curl

pytestmark = pytest.mark.slow

ASSUME_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

# The Python function of "Tutorial: Create a REST API with a Lambda proxy integration" (API Gateway
# Developer Guide), as the page gives it: the greeter comes from the query string, the headers or the body.
PROXY_FUNCTION = '''import json


def lambda_handler(event, context):
    print(event)

    greeter = 'World'

    try:
        if (event['queryStringParameters']) and (event['queryStringParameters']['greeter']) and (
                event['queryStringParameters']['greeter'] is not None):
            greeter = event['queryStringParameters']['greeter']
    except KeyError:
        print('No greeter')

    try:
        if (event['multiValueHeaders']) and (event['multiValueHeaders']['greeter']) and (
                event['multiValueHeaders']['greeter'] is not None):
            greeter = " and ".join(event['multiValueHeaders']['greeter'])
    except KeyError:
        print('No multiValueHeaders')

    try:
        if (event['headers']) and (event['headers']['greeter']) and (
                event['headers']['greeter'] is not None):
            greeter = event['headers']['greeter']
    except KeyError:
        print('No {greeter} in headers')

    if (event['body']) and (event['body'] is not None):
        body = json.loads(event['body'])
        try:
            if (body['greeter']) and (body['greeter'] is not None):
                greeter = body['greeter']
        except KeyError:
            print('No greeter')

    res = {
        "statusCode": 200,
        "headers": {
            "Content-Type": "*/*"
        },
        "body": "Hello, " + greeter + "!"
    }

    return res
'''

# The Python function of "Set up Lambda custom integrations in API Gateway", as the page gives it.
CUSTOM_FUNCTION = '''import json


def lambda_handler(event, context):
    print(event)
    res = {
        "statusCode": 200,
        "headers": {
            "Content-Type": "*/*"
        }
    }

    if event['greeter'] == "":
        res['body'] = "Hello, World"
    elif (event['greeter']):
        res['body'] = "Hello, " + event['greeter'] + "!"
    else:
        raise Exception('Missing the required greeter parameter.')

    return res
'''


def _function(cli, name: str, source: str) -> str:
    """The tutorials' Lambda steps: an execution role, `zip function.zip lambda_function.py`,
    `aws lambda create-function`; returns the function's ARN."""
    role = cli("iam", "create-role", "--role-name", f"{name}-role", "--assume-role-policy-document", ASSUME_LAMBDA)
    cli("iam", "attach-role-policy", "--role-name", f"{name}-role",
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    cli.write("lambda_function.py", source)
    package = cli.zip(f"{name}.zip", "lambda_function.py")
    fn = cli("lambda", "create-function", "--function-name", name, "--runtime", "python3.13",
             "--handler", "lambda_function.lambda_handler", "--role", role["Role"]["Arn"], "--zip-file", package)
    return fn["FunctionArn"]


def _uri(function_arn: str) -> str:
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def test_lambda_proxy_integration_greets_from_query_header_and_body(cli):
    """Tutorial: Create a REST API with a Lambda proxy integration
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-create-api-as-simple-proxy-for-lambda.html),
    its console steps done with the CLI as "Set up Lambda proxy integration for API Gateway using the AWS CLI"
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integration-using-cli.html)
    does them: resource `helloworld`, method ANY, `put-integration --type AWS_PROXY`, `add-permission`, stage
    `test`; then the tutorial's three curl calls each answer "Hello, John!" (query string, `greeter` header,
    JSON body). Deviation: no IAM propagation wait (the local AWS does not need it)."""
    account = cli("sts", "get-caller-identity")["Account"]
    fn_arn = _function(cli, "GetStartedLambdaProxyIntegration", PROXY_FUNCTION)
    api = cli("apigateway", "create-rest-api", "--name", "LambdaProxyAPI")["id"]
    root = next(r["id"] for r in cli("apigateway", "get-resources", "--rest-api-id", api)["items"] if r["path"] == "/")
    res = cli("apigateway", "create-resource", "--rest-api-id", api, "--parent-id", root,
              "--path-part", "helloworld")["id"]
    cli("apigateway", "put-method", "--rest-api-id", api, "--resource-id", res, "--http-method", "ANY",
        "--authorization-type", "NONE")
    integration = cli("apigateway", "put-integration", "--rest-api-id", api, "--resource-id", res,
                      "--http-method", "ANY", "--type", "AWS_PROXY", "--integration-http-method", "POST",
                      "--uri", _uri(fn_arn))
    assert integration["type"] == "AWS_PROXY"
    cli("lambda", "add-permission", "--function-name", "GetStartedLambdaProxyIntegration",
        "--statement-id", "apigateway-test", "--action", "lambda:InvokeFunction",
        "--principal", "apigateway.amazonaws.com", "--source-arn", f"arn:aws:execute-api:us-east-1:{account}:{api}/*/*/helloworld")
    cli("apigateway", "create-deployment", "--rest-api-id", api, "--stage-name", "test")
    url = cli.invoke_url(api, "test", "/helloworld")

    assert curl("GET", url + "?greeter=John")[::2] == (200, b"Hello, John!")
    status, headers, body = curl("GET", url, headers={"content-type": "application/json", "greeter": "John"})
    assert (status, body) == (200, b"Hello, John!")
    assert headers.get("Content-Type") == "*/*"
    assert curl("POST", url, body=b'{"greeter":"John"}', headers={"content-type": "application/json"})[::2] \
        == (200, b"Hello, John!")
    assert curl("GET", url)[::2] == (200, b"Hello, World!")


def test_lambda_custom_integration_maps_the_query_string_into_the_event(cli):
    """Set up Lambda custom integrations in API Gateway
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-custom-integrations.html), the
    CLI steps of "Tutorial: Create a REST API with a Lambda non-proxy integration"
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/getting-started-lambda-non-proxy-integration.html):
    `GET /greeting?greeter={name}`, `put-method-response`, `put-integration --type AWS` with the request
    template `{"greeter":"$input.params('greeter')"}`, `put-integration-response --selection-pattern ""`, stage
    `test`. The page's outcome: the function's whole answer as the body, `"body": "Hello, me!"`; an empty or
    missing greeter is "Hello, World" (the template renders `$input.params('greeter')` as ""). Deviations: `--credentials` (API Gateway's role for the call)
    is replaced by `add-permission` (the page allows either; IAM is not enforced locally); region us-east-1."""
    fn_arn = _function(cli, "HelloWorld", CUSTOM_FUNCTION)
    api = cli("apigateway", "create-rest-api", "--name", "HelloWorld (AWS CLI)")["id"]
    root = next(r["id"] for r in cli("apigateway", "get-resources", "--rest-api-id", api)["items"] if r["path"] == "/")
    res = cli("apigateway", "create-resource", "--rest-api-id", api, "--parent-id", root,
              "--path-part", "greeting")["id"]
    where = ("--rest-api-id", api, "--resource-id", res, "--http-method", "GET")
    cli("apigateway", "put-method", *where, "--authorization-type", "NONE",
        "--request-parameters", "method.request.querystring.greeter=false")
    cli("apigateway", "put-method-response", *where, "--status-code", "200")
    integration = cli("apigateway", "put-integration", *where, "--type", "AWS", "--integration-http-method", "POST",
                      "--uri", _uri(fn_arn),
                      "--request-templates", json.dumps({"application/json": '{"greeter":"$input.params(\'greeter\')"}'}))
    assert integration["type"] == "AWS" and integration["httpMethod"] == "POST"
    answer = cli("apigateway", "put-integration-response", *where, "--status-code", "200", "--selection-pattern", "")
    assert answer["statusCode"] == "200"
    cli("lambda", "add-permission", "--function-name", "HelloWorld", "--statement-id", "apigateway-get",
        "--action", "lambda:InvokeFunction", "--principal", "apigateway.amazonaws.com")
    cli("apigateway", "create-deployment", "--rest-api-id", api, "--stage-name", "test")
    url = cli.invoke_url(api, "test", "/greeting")

    status, _, body = curl("GET", url + "?greeter=me")
    assert status == 200
    assert json.loads(body) == {"statusCode": 200, "headers": {"Content-Type": "*/*"}, "body": "Hello, me!"}
    assert json.loads(curl("GET", url + "?greeter=")[2])["body"] == "Hello, World"
    assert json.loads(curl("GET", url)[2])["body"] == "Hello, World"
