"""nodejs functions run their real code with Node.js inside the local AWS, as AWS's Node.js runtime runs them."""

from __future__ import annotations

import re
import uuid

import pytest

from workshop import aws
from workshop.localaws import lambda_sandbox

from pipeline_helpers import function, invoke, log_text, wait_for

pytestmark = [
    pytest.mark.slow,  # starts Node.js workers: make test, not make check
    pytest.mark.usefixtures("local_aws"),
    pytest.mark.skipif(lambda_sandbox.find_node() is None,
                       reason="Node.js is not installed (sudo apt-get install nodejs): nodejs functions need `node`"),
]

RUNTIME = "nodejs20.x"


def node_function(source: str, module: str = "index.js", handler: str = "index.handler", **kwargs) -> str:
    """A nodejs20.x function whose zip holds `source` as `module`."""
    return function("", runtime=RUNTIME, handler=handler, files={module: source}, **kwargs)


ECHO = """
exports.handler = async (event, context) => {
  return {
    event,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    remaining: context.getRemainingTimeInMillis(),
    executionEnv: process.env.AWS_EXECUTION_ENV,
    extra: process.env.EXTRA,
  };
};
"""


def test_an_async_handler_returns_the_event_with_awss_context_and_environment():
    """An `exports.handler = async (event, context)` function returns its result; context and AWS_EXECUTION_ENV are AWS's."""
    name = node_function(ECHO, env={"EXTRA": "yes"}, timeout=5)
    reply, payload = invoke(name, {"n": 41, "nested": {"a": [1, 2]}})
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply
    assert payload["event"] == {"n": 41, "nested": {"a": [1, 2]}}
    assert payload["requestId"] == reply["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert payload["functionName"] == name and payload["extra"] == "yes"
    assert 0 < payload["remaining"] <= 5000
    assert payload["executionEnv"] == "AWS_Lambda_nodejs20.x"


def test_a_callback_style_handler_answers_through_its_callback():
    """A `(event, context, callback)` handler's callback(null, value) is the result, callback(error) a FunctionError."""
    source = ("exports.handler = function (event, context, callback) {\n"
              "  setTimeout(() => event.fail ? callback(new TypeError('no')) : callback(null, {got: event.n}), 10);\n"
              "};\n")
    name = node_function(source)
    assert invoke(name, {"n": 3})[1] == {"got": 3}
    reply, payload = invoke(name, {"fail": True})
    assert reply["FunctionError"] == "Unhandled" and payload["errorType"] == "TypeError"


def test_an_es_module_handler_in_index_mjs_runs():
    """`export const handler` in index.mjs (the console's default file) runs, and can import node: modules."""
    source = ("import { createHash } from 'node:crypto';\n"
              "export const handler = async (event) => createHash('sha256').update(event.text).digest('hex');\n")
    name = node_function(source, module="index.mjs")
    assert invoke(name, {"text": "abc"})[1] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_console_log_lines_are_in_cloudwatch_logs_in_nodes_format_between_start_and_report():
    """console.log writes `<ISO time>\\t<request id>\\tINFO\\t<message>` to /aws/lambda/<name>, with START/END/REPORT."""
    source = "exports.handler = async (event) => { console.log('got %s', event.word); console.error('careful'); return 1; };\n"
    name = node_function(source)
    reply, _ = invoke(name, {"word": "hello"})
    rid = reply["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    text = log_text(name, contains="REPORT RequestId")
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(rf"^{stamp}\t{rid}\tINFO\tgot hello$", text, re.M), text
    assert re.search(rf"^{stamp}\t{rid}\tERROR\tcareful$", text, re.M), text
    assert f"START RequestId: {rid}" in text and f"END RequestId: {rid}" in text and f"REPORT RequestId: {rid}" in text


def test_a_thrown_error_is_an_unhandled_function_error_in_nodes_shape():
    """A thrown Error gives FunctionError Unhandled with {errorType, errorMessage, trace}, as AWS's Node.js runtime answers."""
    name = node_function("exports.handler = async () => { throw new Error('userId missing'); };\n")
    reply, payload = invoke(name)
    assert reply["FunctionError"] == "Unhandled"
    assert list(payload) == ["errorType", "errorMessage", "trace"]
    assert payload["errorType"] == "Error" and payload["errorMessage"] == "userId missing"
    assert payload["trace"][0] == "Error: userId missing" and any("index.js" in line for line in payload["trace"])
    assert "Invoke Error" in log_text(name, contains="Invoke Error")


def test_a_hanging_handler_times_out_with_awss_message_and_the_worker_is_replaced():
    """The timeout is enforced ("Task timed out after 1.00 seconds") and the next invocation runs in a fresh worker."""
    source = "exports.handler = async (event) => { if (event.hang) { while (true) {} } return process.pid; };\n"
    name = node_function(source, timeout=1)
    before = invoke(name)[1]
    reply, payload = invoke(name, {"hang": True})
    assert reply["FunctionError"] == "Unhandled" and payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    after = invoke(name)[1]
    assert isinstance(after, int) and after != before


def test_a_missing_module_is_an_import_module_error():
    """A handler setting naming a file the zip lacks gives Runtime.ImportModuleError naming the module."""
    name = node_function("exports.handler = async () => 1;\n", handler="app.handler")
    reply, payload = invoke(name)
    assert reply["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.ImportModuleError"
    assert "Cannot find module 'app'" in payload["errorMessage"]


@pytest.mark.parametrize("module, source", [
    ("index.js", "const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');\nexports.handler = async () => 1;\n"),
    ("index.mjs", "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nexport const handler = async () => 1;\n"),
], ids=["require", "import"])
def test_the_aws_sdk_for_javascript_is_missing_and_the_error_says_to_bundle_it(module, source):
    """Requiring or importing @aws-sdk/client-dynamodb fails with Runtime.ImportModuleError naming it, and one line: bundle it in the zip."""
    _, payload = invoke(node_function(source, module=module))
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "'@aws-sdk/client-dynamodb'" in payload["errorMessage"]
    hint = payload["errorMessage"].splitlines()[-1]
    assert "no AWS SDK for JavaScript" in hint and "bundle @aws-sdk/client-dynamodb in your zip" in hint


def test_a_missing_handler_export_is_handler_not_found():
    """A module that does not export the named handler gives Runtime.HandlerNotFound with AWS's message."""
    _, payload = invoke(node_function("exports.main = async () => 1;\n"))
    assert payload["errorType"] == "Runtime.HandlerNotFound"
    assert payload["errorMessage"] == "index.handler is undefined or not exported"


def test_a_syntax_error_is_a_user_code_syntax_error():
    """Broken JavaScript is accepted at create and reported at invoke as Runtime.UserCodeSyntaxError."""
    _, payload = invoke(node_function("exports.handler = async () => { return 1 ;\n"))
    assert payload["errorType"] == "Runtime.UserCodeSyntaxError" and payload["errorMessage"].startswith("SyntaxError:")


def test_a_dynamodb_stream_delivers_records_to_a_nodejs_function():
    """As in AWS's DynamoDB Streams tutorial (Node.js tab): each put item reaches the function through an event source mapping."""
    ddb = aws.client("dynamodb")
    table = f"t-{uuid.uuid4().hex[:10]}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    stream = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    source = ("exports.handler = async (event, context) => {\n"
              "  for (const record of event.Records) {\n"
              "    console.log('Stream record: ', JSON.stringify(record, null, 2));\n"
              "    console.log('key=%s event=%s', record.dynamodb.Keys.k.S, record.eventName);\n"
              "  }\n"
              "  return `Successfully processed ${event.Records.length} records.`;\n"
              "};\n")
    name = node_function(source, timeout=10)
    aws.client("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=stream,
                                                     StartingPosition="TRIM_HORIZON", BatchSize=10)
    for k in ("a", "b", "c"):
        ddb.put_item(TableName=table, Item={"k": {"S": k}, "v": {"S": "1"}})
    assert wait_for(lambda: "key=c event=INSERT" in log_text(name, timeout=0), timeout=15)
    text = log_text(name)
    assert all(f"key={k} event=INSERT" in text for k in ("a", "b", "c"))
    assert '"eventSource": "aws:dynamodb"' in text


def test_a_warm_nodejs_worker_keeps_its_module_state_between_invocations():
    """Two invocations share one warm Node.js process (module-level state survives), like a warm container."""
    source = "let calls = 0;\nconsole.log('cold start');\nexports.handler = async () => ({ pid: process.pid, calls: ++calls });\n"
    name = node_function(source)
    first, second = invoke(name)[1], invoke(name)[1]
    assert first["pid"] == second["pid"] and (first["calls"], second["calls"]) == (1, 2)
    assert re.search(r"\tundefined\tINFO\tcold start$", log_text(name, contains="cold start"), re.M)


def test_an_error_thrown_outside_the_handlers_promise_fails_the_invocation_and_the_next_one_runs():
    """An exception thrown from a timer during an invocation is that invocation's FunctionError; a fresh worker serves the next."""
    source = ("exports.handler = (event) => new Promise((resolve) => {\n"
              "  if (event.crash) { setTimeout(() => { throw new RangeError('late'); }, 5); } else { resolve('ok'); }\n"
              "});\n")
    name = node_function(source)
    reply, payload = invoke(name, {"crash": True})
    assert reply["FunctionError"] == "Unhandled" and payload["errorType"] == "RangeError"
    assert invoke(name)[1] == "ok"
