"""Stage 9: the serverless pipeline's exercises, line count, runtime, build and checks."""

from __future__ import annotations

import json
from datetime import date

import pytest

from workshop import behaviour, exercises, lambda_runtimes
from workshop.notebook import StageContext
from workshop.stages import get
from workshop.stages import s09_serverless_pipeline as s09


def test_the_reference_handler_bodies_total_16_lines_like_the_talk():
    """The two solution handler bodies count 16 lines together (slides 28-29)."""
    write, forward = s09.handler_sources()
    assert s09.body_lines(write) + s09.body_lines(forward) == 16


def test_reference_handlers_pass_their_checks():
    """The solution notebook's handlers are accepted by their exercise checkers."""
    write, forward = s09.handler_sources()
    assert s09._check_write(write, {}) is None and s09._check_forward(forward, {}) is None


@pytest.mark.parametrize("name,source,expected", [
    ("s09-write-handler", "def handler(event, context):\n    ...  # YOUR CODE HERE\n", "put_item"),
    ("s09-write-handler", "import json\ndef handler(event, context):\n    json.loads(event['body'])\n"
                          "    return {'statusCode': 200}\n", "put_item"),
    ("s09-forward-handler", "def handler(event, context):\n    pass\n", "e1, e2"),
    ("s09-forward-handler", "import boto3, json\nf = boto3.client('firehose')\ndef handler(event, context):\n"
                            "    f.put_record_batch(DeliveryStreamName='x', Records=[{'Data': json.dumps(r) + '\\n'} "
                            "for r in event['Records']])\n", "e1, e2"),
])
def test_wrong_handler_bodies_are_told_what_was_expected(name, source, expected):
    """A stub or wrong handler body gets an 'expected …, found …' message naming what is missing."""
    problem = exercises.get(name).checker(source, {})
    assert problem and problem.startswith("expected") and expected in problem


FORGETS_DECIMAL = """
import json, os
import boto3
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
def handler(event, context):
    body = json.loads(event["body"])
    table.put_item(Item={"eventId": context.aws_request_id, "userId": body["userId"], "value": body["value"]})
    return {"statusCode": 200, "body": json.dumps({"eventId": context.aws_request_id})}
"""

IGNORES_FAILED_PUT_COUNT = """
import json, os
import boto3
firehose = boto3.client("firehose")
def handler(event, context):
    records = [{"Data": json.dumps({k: list(v.values())[0] for k, v in r["dynamodb"]["NewImage"].items()}) + "\\n"}
               for r in event["Records"] if r["eventName"] == "INSERT"]
    firehose.put_record_batch(DeliveryStreamName=os.environ["STREAM_NAME"], Records=records)
"""


def test_a_write_handler_that_forgets_decimal_is_wrong():
    """The write checker sends value 4.2: a handler that stores a float (boto3 refuses it) is told to use Decimal."""
    problem = exercises.get("s09-write-handler").checker(FORGETS_DECIMAL, {})
    assert problem and "Decimal('4.2')" in problem and "parse_float=Decimal" in problem


def test_a_forward_handler_that_ignores_failed_put_count_is_wrong():
    """The forward checker answers FailedPutCount=1: a handler that does not raise is told the record would be lost."""
    problem = exercises.get("s09-forward-handler").checker(IGNORES_FAILED_PUT_COUNT, {})
    assert problem and "FailedPutCount=1" in problem and "lost" in problem


def test_hints_guide_without_giving_the_answer():
    """Neither handler's hint spells out the solution's key call."""
    assert "parse_float=Decimal" not in exercises.get("s09-write-handler").hint
    assert "raise" not in exercises.get("s09-forward-handler").hint


def test_a_handler_that_raises_is_a_wrong_answer_not_a_traceback(capsys):
    """check() turns a handler that crashes into a ✗ line and returns the reference source."""
    value = exercises.check("s09-write-handler", "def handler(event, context):\n    raise KeyError('body')\n", {})
    out = capsys.readouterr().out
    assert out.startswith("✗ s09-write-handler") and len(out.strip().splitlines()) == 2
    assert s09.body_lines(value) == 5


def test_the_course_runtime_is_still_supported_by_aws():
    """Fails once the declared runtime passes its published deprecation date (lambda_runtimes.RUNTIMES)."""
    assert s09.RUNTIME == lambda_runtimes.COURSE_RUNTIME
    assert lambda_runtimes.supported(s09.RUNTIME), lambda_runtimes.describe(s09.RUNTIME)


def test_deprecation_dates_are_applied():
    """A runtime past its deprecation date (python3.11 in July 2026) is reported unsupported."""
    assert not lambda_runtimes.supported("python3.11", today=date(2026, 7, 1))
    assert lambda_runtimes.supported("python3.12", today=date(2026, 7, 1))
    assert "DEPRECATED" in lambda_runtimes.describe("python3.11", today=date(2026, 7, 1))


def test_the_stage_stands_alone_and_builds_idempotently_then_passes_its_checks(local_aws):
    """build() twice creates one of each resource, and every stage check passes."""
    from workshop import aws

    ctx = StageContext.of(get(9), "s09test", "us-east-1")
    assert get(9).builds_on == ()
    get(9).build(ctx)
    get(9).build(ctx)
    n = s09.names(ctx)
    apis = [a for a in aws.client("apigateway").get_rest_apis()["items"] if a["name"] == n["api"]]
    assert len(apis) == 1
    mappings = aws.client("lambda").list_event_source_mappings(FunctionName=n["forward"])["EventSourceMappings"]
    assert len(mappings) == 1
    results = behaviour.run(ctx)
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]


# --- the talk's 2016 design: POST /prod/v2016/logger, a non-proxy integration -------------------

@pytest.fixture(scope="module")
def built(local_aws):
    """Stage 9 built twice for run id 's09era' (both designs), with the number of deployments after each build."""
    from workshop import aws

    ctx = StageContext.of(get(9), "s09era", "us-east-1")
    get(9).build(ctx)
    api_id = next(a["id"] for a in aws.client("apigateway").get_rest_apis()["items"]
                  if a["name"] == s09.names(ctx)["api"])
    first = len(aws.client("apigateway").get_deployments(restApiId=api_id)["items"])
    get(9).build(ctx)
    second = len(aws.client("apigateway").get_deployments(restApiId=api_id)["items"])
    return ctx, api_id, (first, second)


def _resource_id(api_id: str, path: str) -> str:
    from workshop import aws

    return next(r["id"] for r in aws.client("apigateway").get_resources(restApiId=api_id)["items"] if r["path"] == path)


def test_the_2016_design_is_a_non_proxy_integration_with_templates(built):
    """POST /v2016/logger is type AWS with the passthrough request template, a 200 and a 500 mapping; /logger stays proxy."""
    from workshop import aws

    ctx, api_id, (first, second) = built
    apigw = aws.client("apigateway")
    old = apigw.get_integration(restApiId=api_id, resourceId=_resource_id(api_id, s09.PATH_2016), httpMethod="POST")
    assert old["type"] == "AWS" and old["requestTemplates"] == {"application/json": "$input.json('$')"}
    assert set(old["integrationResponses"]) == {"200", "500"}
    assert old["integrationResponses"]["500"]["selectionPattern"] == ".+"
    new = apigw.get_integration(restApiId=api_id, resourceId=_resource_id(api_id, s09.PATH), httpMethod="POST")
    assert new["type"] == "AWS_PROXY"
    assert s09.invoke_url(ctx).endswith("/prod/logger") and s09.invoke_url(ctx, s09.PATH_2016).endswith("/prod/v2016/logger")
    assert second == first, "the second build deployed the API again although nothing changed"


def test_the_2016_path_stores_the_posted_body_as_the_item_and_it_reaches_s3(built):
    """A POST to /prod/v2016/logger stores every posted field, as sent, plus the eventId; the event arrives in S3."""
    from decimal import Decimal

    from workshop import aws, pipeline_load

    ctx, _, _ = built
    sent = {"userId": "u-2016", "value": 2.5, "device": "web", "tags": ["a", "b"]}
    status, reply = s09.post(s09.invoke_url(ctx, s09.PATH_2016), json.dumps(sent))
    assert status == 200 and set(reply) == {"eventId"}
    n = s09.names(ctx)
    item = aws.resource("dynamodb").Table(n["table"]).get_item(Key={"eventId": reply["eventId"]},
                                                                  ConsistentRead=True)["Item"]
    assert item == {**sent, "value": Decimal("2.5"), "eventId": reply["eventId"]}
    found = pipeline_load.wait_in_s3(aws.client("s3"), n["bucket"], {reply["eventId"]}, timeout_s=20)
    assert found.get(reply["eventId"]) == 1


def test_a_body_the_2016_template_cannot_parse_gets_500_and_runs_no_function(built):
    """Not JSON: `$input.json('$')` fails, API Gateway answers 500 Internal server error, nothing is stored;
    the proxy design's validator answers 400 to the same body."""
    from workshop import aws

    ctx, _, _ = built
    table = aws.resource("dynamodb").Table(s09.names(ctx)["table"])
    before = table.scan(Select="COUNT")["Count"]
    assert s09.post(s09.invoke_url(ctx, s09.PATH_2016), '{"userId": "u", "value": ') == (
        500, {"message": "Internal server error"})
    assert s09.post(s09.invoke_url(ctx), '{"userId": "u", "value": ') == (400, {"message": "Invalid request body"})
    assert table.scan(Select="COUNT")["Count"] == before


def test_the_2016_check_fails_in_one_line_without_its_integration_and_build_repairs_it(built):
    """With /v2016/logger's integration deleted, check post-to-s3-2016 fails with one line naming the fix;
    build() finds the missing part, puts it back (one new deployment) and the check passes again."""
    from workshop import aws

    ctx, api_id, _ = built
    apigw = aws.client("apigateway")
    check = next(c for c in get(9).checks if c.name == "post-to-s3-2016")
    assert check.run(ctx).ok
    apigw.delete_integration(restApiId=api_id, resourceId=_resource_id(api_id, s09.PATH_2016), httpMethod="POST")
    broken = check.run(ctx)
    assert not broken.ok and "\n" not in broken.message
    assert broken.message.startswith("expected 200 with an eventId") and s09.PATH_2016 in broken.message
    deployments = len(apigw.get_deployments(restApiId=api_id)["items"])
    get(9).build(ctx)
    assert len(apigw.get_deployments(restApiId=api_id)["items"]) == deployments + 1
    assert check.run(ctx).ok


def test_the_2016_check_fails_when_the_template_does_not_pass_the_body_through(built):
    """A request template that builds its own event (not the posted body) fails the check: the item is not the body."""
    from workshop import aws

    ctx, api_id, _ = built
    apigw = aws.client("apigateway")
    resource = s09.ensure_resource(apigw, api_id, s09.PATH_2016)
    uri = apigw.get_integration(restApiId=api_id, resourceId=resource["id"], httpMethod="POST")["uri"]

    def integrate(template: str) -> None:  # put-integration replaces the integration and its responses
        apigw.put_integration(restApiId=api_id, resourceId=resource["id"], httpMethod="POST", type="AWS",
                              integrationHttpMethod="POST", uri=uri, requestTemplates={"application/json": template})
        s09.ensure_route_2016(apigw, api_id, resource, uri)

    integrate('{"userId": "someone", "value": 1}')
    try:
        result = next(c for c in get(9).checks if c.name == "post-to-s3-2016").run(ctx)
        assert not result.ok and "pass the body through" in result.message and "\n" not in result.message
    finally:
        integrate("$input.json('$')")


def test_the_2016_handler_is_given_in_the_notebook_not_an_exercise():
    """The talk's handler is read from the solution notebook, labelled a reconstruction, and is no exercise."""
    import nbformat

    source = s09.handler_2016_source()
    assert "put_item(Item=item)" in source and "context.aws_request_id" in source
    assert all(e.variable != "write_to_dynamodb_2016_py" for e in exercises.all_exercises().values())
    nb = nbformat.read(exercises.SOLUTIONS / get(9).notebook, as_version=4)
    assert any("reconstruction from slides 28-29" in c.source for c in nb.cells if c.cell_type == "markdown")


def test_a_502_is_explained_with_the_functions_own_error(local_aws):
    """A deployed handler that forgets Decimal: the POST's 502 becomes two lines naming the function's TypeError."""
    from workshop.errors import WorkshopError

    ctx = StageContext.of(9, "s09bad", "us-east-1")
    write, forward = s09.handler_sources()
    deployed = s09.deploy(ctx, FORGETS_DECIMAL, forward)
    status, reply = s09.post(s09.invoke_url(ctx), json.dumps({"userId": "u1", "value": 4.5}))
    assert status == 502
    with pytest.raises(WorkshopError) as info:
        s09.explain_failure(ctx, status, reply, s09.names(ctx)["write"])
    lines = str(info.value).splitlines()
    assert len(lines) == 2 and "TypeError: Float types are not supported" in lines[0]
    assert "/aws/lambda/" in lines[1]
    status, reply = s09.post(s09.invoke_url(ctx), json.dumps({"userId": "u1", "value": 4}))
    s09.explain_failure(ctx, status, reply, s09.names(ctx)["write"])  # accepted: nothing to explain
    assert deployed
