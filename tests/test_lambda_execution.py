"""Lambda functions created with create_function run their real code inside the local AWS."""

from __future__ import annotations

import uuid

import pytest

from workshop import aws

from pipeline_helpers import bucket, function, invoke, log_text, role, wait_for, zip_files, zip_module

pytestmark = pytest.mark.usefixtures("local_aws")

ECHO = """
import os, boto3
def handler(event, context):
    print("got", event)
    names = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    return {"n": event.get("n", 0) + 1, "pid": os.getpid(), "fn": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            "region": os.environ["AWS_REGION"], "key": os.environ["AWS_ACCESS_KEY_ID"],
            "buckets": names, "request": context.aws_request_id, "extra": os.environ.get("EXTRA")}
"""


def test_invoke_returns_the_handlers_result_and_boto3_inside_reaches_the_local_aws():
    """The handler's real return value comes back, with AWS's environment and boto3 pointed at the local AWS."""
    b = bucket()
    name = function(ECHO, env={"EXTRA": "yes"})
    reply, payload = invoke(name, {"n": 41})
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply
    assert payload["n"] == 42 and payload["fn"] == name and payload["region"] == "us-east-1"
    assert payload["key"] == "testing" and payload["extra"] == "yes"
    assert b in payload["buckets"]
    assert payload["request"] == reply["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_print_goes_to_the_functions_log_group():
    """What the handler prints is in CloudWatch Logs /aws/lambda/<name>, between START and REPORT lines."""
    name = function(ECHO)
    invoke(name, {"n": 7})
    text = log_text(name, contains="got {'n': 7}")
    assert "got {'n': 7}" in text and "START RequestId" in text and "REPORT RequestId" in text


def test_warm_worker_is_reused_and_replaced_when_the_code_changes():
    """Two invocations share one warm process; update_function_code brings a new process and the new code."""
    name = function(ECHO)
    _, first = invoke(name, {"n": 1})
    _, second = invoke(name, {"n": 1})
    assert first["pid"] == second["pid"]
    aws.client("lambda").update_function_code(
        FunctionName=name, ZipFile=zip_module("import os\ndef handler(e, c):\n    return {'v': 2, 'pid': os.getpid()}\n"))
    _, third = invoke(name)
    assert third["v"] == 2 and third["pid"] != first["pid"]


def test_configuration_change_replaces_the_worker():
    """A new environment variable is seen by the next invocation (the worker is replaced)."""
    name = function(ECHO, env={"EXTRA": "one"})
    assert invoke(name)[1]["extra"] == "one"
    aws.client("lambda").update_function_configuration(FunctionName=name, Environment={"Variables": {"EXTRA": "two"}})
    assert invoke(name)[1]["extra"] == "two"


def test_an_exception_is_a_function_error_with_its_real_type_and_message_and_is_logged():
    """A raising handler gives FunctionError Unhandled with errorType/errorMessage, and the error is in its log."""
    name = function("def handler(event, context):\n    raise KeyError('userId')\n")
    reply, payload = invoke(name)
    assert reply["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "KeyError" and payload["errorMessage"] == "'userId'"
    assert any("app.py" in frame for frame in payload["stackTrace"])
    assert "KeyError" in log_text(name, contains="KeyError")


def test_a_syntax_error_is_accepted_at_create_and_reported_at_invoke():
    """create_function succeeds with broken code; invoke names the syntax error and its line."""
    name = function("def handler(event, context)\n    return 1\n")
    reply, payload = invoke(name)
    assert reply["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.UserCodeSyntaxError"
    assert "app.py, line 1" in payload["errorMessage"]


def test_a_missing_handler_function_is_reported():
    """A handler name the module lacks gives Runtime.HandlerNotFound."""
    name = function("def main(event, context):\n    return 1\n")
    _, payload = invoke(name)
    assert payload["errorType"] == "Runtime.HandlerNotFound"


def test_a_hanging_handler_times_out_and_the_worker_is_replaced():
    """The timeout is enforced with AWS's message, and the next invocation runs in a fresh worker."""
    source = "import os, time\ndef handler(event, context):\n    if event.get('hang'):\n        time.sleep(30)\n    return os.getpid()\n"
    name = function(source, timeout=1)
    _, before = invoke(name)
    reply, payload = invoke(name, {"hang": True})
    assert reply["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    _, after = invoke(name)
    assert isinstance(after, int) and after != before
    assert "Task timed out after 1.00 seconds" in log_text(name, contains="Task timed out")


def test_event_invocation_answers_202_and_runs_later():
    """InvocationType Event returns 202 at once and the handler still runs (it writes an object)."""
    b = bucket()
    name = function("import boto3, os\ndef handler(event, context):\n"
                    "    boto3.client('s3').put_object(Bucket=os.environ['B'], Key='done', Body=b'1')\n", env={"B": b})
    reply, _ = invoke(name, InvocationType="Event")
    assert reply["StatusCode"] == 202
    s3 = aws.client("s3")
    assert wait_for(lambda: s3.list_objects_v2(Bucket=b).get("KeyCount", 0), timeout=10)


def test_dry_run_answers_204_without_running():
    """InvocationType DryRun checks the function exists and answers 204."""
    name = function("def handler(event, context):\n    raise RuntimeError('must not run')\n")
    reply, _ = invoke(name, InvocationType="DryRun")
    assert reply["StatusCode"] == 204 and "FunctionError" not in reply


def test_log_type_tail_returns_the_log():
    """LogType Tail returns the invocation's log lines base64-encoded, as AWS does."""
    import base64

    name = function("def handler(event, context):\n    print('tail me')\n    return 1\n")
    reply, _ = invoke(name, LogType="Tail")
    assert "tail me" in base64.b64decode(reply["LogResult"]).decode()


def test_unknown_function_is_resource_not_found():
    """Invoking a function that does not exist is moto's ResourceNotFoundException, not a crash."""
    lam = aws.client("lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")


def test_a_non_json_result_is_a_marshal_error():
    """A result json cannot encode is Runtime.MarshalError, as on AWS."""
    name = function("def handler(event, context):\n    return {1, 2}\n")
    reply, payload = invoke(name)
    assert reply["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.MarshalError"


def test_a_handler_that_exits_the_process_is_reported_and_the_next_invoke_works():
    """sys.exit inside a handler is Runtime.ExitError; the next invocation gets a fresh worker."""
    name = function("import sys\ndef handler(event, context):\n    if event.get('exit'):\n        sys.exit(3)\n    return 'ok'\n")
    reply, payload = invoke(name, {"exit": True})
    assert reply["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.ExitError"
    assert invoke(name)[1] == "ok"


def test_idle_workers_of_deleted_functions_are_stopped():
    """After delete_function, the reaper stops the function's warm worker process."""
    from workshop.localaws.ext import lambda_execution

    name = function("import os\ndef handler(event, context):\n    return os.getpid()\n")
    pid = invoke(name)[1]
    aws.client("lambda").delete_function(FunctionName=name)
    lambda_execution.runtime().reap()
    assert wait_for(lambda: not _alive(pid), timeout=5)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:  # a zombie counts as gone
            return f.read().split()[2] != "Z"
    except OSError:  # it exited between the two looks (ESRCH/ENOENT): gone
        return False


def test_idle_warm_workers_are_capped_across_functions(monkeypatch):
    """However many functions run, at most MAX_IDLE_TOTAL warm workers stay idle (the longest-idle go first)."""
    from workshop.localaws.ext import lambda_execution

    monkeypatch.setattr(lambda_execution, "MAX_IDLE_TOTAL", 2)
    names = [function("import os\ndef handler(event, context):\n    return os.getpid()\n") for _ in range(3)]
    pids = [invoke(n)[1] for n in names]
    assert lambda_execution.runtime().idle_workers() <= 2
    assert wait_for(lambda: not _alive(pids[0]), timeout=5)  # the first one idled longest
    assert invoke(names[2])[1] == pids[2]  # the most recent stays warm


def test_a_runtime_the_local_aws_cannot_run_is_refused_at_create_in_one_line():
    """create_function with java21 is InvalidParameterValueException in one line naming what runs, and no function is left."""
    from botocore.exceptions import ClientError

    name = f"fn-java-{uuid.uuid4().hex[:8]}"
    lam = aws.client("lambda")
    with pytest.raises(ClientError) as refused:
        lam.create_function(FunctionName=name, Runtime="java21", Role=role(), Handler="example.Handler::handleRequest",
                            Code={"ZipFile": zip_module("")})
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == "The local AWS cannot run java21: it runs python3.x and nodejs runtimes only"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)


def test_nodejs_is_refused_at_create_and_update_when_node_is_not_installed(monkeypatch):
    """Without `node`, a nodejs20.x function is refused at create_function and update_function_configuration, saying what to install."""
    from botocore.exceptions import ClientError

    from workshop.localaws import lambda_sandbox

    python_fn = function("def handler(event, context):\n    return 1\n")
    monkeypatch.setattr(lambda_sandbox, "find_node", lambda: None)
    lam = aws.client("lambda")
    expected = "The local AWS cannot run nodejs20.x: Node.js is not installed (sudo apt-get install nodejs)"
    with pytest.raises(ClientError) as refused:
        lam.create_function(FunctionName=f"fn-node-{uuid.uuid4().hex[:8]}", Runtime="nodejs20.x", Role=role(),
                            Handler="index.handler", Code={"ZipFile": zip_files({"index.js": ""})})
    assert refused.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": expected}
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName=python_fn, Runtime="nodejs20.x", Handler="index.handler")
    assert refused.value.response["Error"]["Message"] == expected
    assert lam.get_function_configuration(FunctionName=python_fn)["Runtime"] == "python3.13"


@pytest.mark.parametrize("runtime, runs", [
    ("python3.13", True), ("nodejs22.x", True), ("java21", False), ("dotnet8", False), ("ruby3.3", False),
    ("provided.al2023", False),
])
def test_the_local_aws_runs_python_and_nodejs_runtimes_only(runtime, runs, monkeypatch):
    """cannot_run names every runtime but python3.x and nodejs (with `node` found) as one the local AWS refuses."""
    from workshop.localaws import lambda_sandbox
    from workshop.localaws.ext import lambda_execution

    monkeypatch.setattr(lambda_sandbox, "find_node", lambda: "/usr/bin/node")
    assert (lambda_execution.cannot_run(runtime) is None) is runs


def test_the_runtimes_table_holds_awss_nodejs_rows():
    """nodejs20.x is past AWS's deprecation date (Apr 30, 2026) while nodejs22.x and nodejs24.x are supported then."""
    from datetime import date

    from workshop import lambda_runtimes

    day = date(2026, 5, 1)
    assert not lambda_runtimes.supported("nodejs20.x", today=day)
    assert lambda_runtimes.supported("nodejs22.x", today=day) and lambda_runtimes.supported("nodejs24.x", today=day)
    assert lambda_runtimes.RUNTIMES["nodejs18.x"].block_update < day
