"""Stage 9: the serverless pipeline's exercises, line count, runtime, build and checks."""

from __future__ import annotations

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
