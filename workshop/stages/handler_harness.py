"""Run a learner's Lambda handler once, in a process of its own, against a recording fake boto3.

Used by the exercise checks of stage 9: `python -I handler_harness.py` reads one JSON
document on stdin — {"source", "event", "replies"} — imports the source as the module
`handler` with a fake `boto3` whose every call is recorded and answered from `replies`,
calls `handler(event, context)` and prints {"result", "calls", "error"} as JSON. The
handler's environment variables are this process's environment, given by the caller,
as Lambda gives a function its configuration. Values JSON lacks travel tagged:
Decimal as {"$decimal": "4.2"}, bytes as {"$bytes": "..."}, anything else as {"$repr": ...}.

This file imports nothing of the kit: it runs with the standard library alone.
"""

from __future__ import annotations

import json
import sys
import types
from decimal import Decimal


def encode(value):
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": bytes(value).decode("utf-8", "replace")}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return {"$repr": repr(value)}


def _floats(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_floats(v) for v in value.values())
    if isinstance(value, (list, tuple, set)):
        return any(_floats(v) for v in value)
    return False


class Recorder:
    def __init__(self, replies: dict):
        self.calls: list = []
        self._replies = replies

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append([name, encode(kwargs)])
            if name == "put_item" and _floats(kwargs.get("Item")):
                # what boto3's DynamoDB serializer raises for a float (boto3/dynamodb/types.py)
                raise TypeError("Float types are not supported. Use Decimal types instead.")
            return self._replies.get(name, {})
        return call


def main() -> None:
    request = json.loads(sys.stdin.read())
    recorder = Recorder(request.get("replies") or {})
    fake = types.ModuleType("boto3")
    fake.resource = lambda *a, **k: types.SimpleNamespace(Table=lambda name: recorder)
    fake.client = lambda *a, **k: recorder
    sys.modules["boto3"] = fake
    out: dict = {"result": None, "calls": recorder.calls, "error": None}
    try:
        module: dict = {"__name__": "handler"}
        exec(compile(request["source"], "handler.py", "exec"), module)
        if not callable(module.get("handler")):
            raise AssertionError("the module defines no handler(event, context)")
        context = types.SimpleNamespace(aws_request_id="req-0001", function_name="test",
                                        get_remaining_time_in_millis=lambda: 3000)
        out["result"] = encode(module["handler"](request["event"], context))
    except BaseException as exc:  # the learner's code: report it, whatever it raised
        out["error"] = f"{type(exc).__name__}: {exc}"
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main()
