"""Does the local AWS answer every AWS operation the course uses, in AWS's shape?

Lists each operation called in workshop/, solutions/ and tests/ (boto3 method names, paginator
and waiter names, mapped to operation names through botocore's service models) plus those
AWS's own tutorials for the course's services use (TUTORIAL), then calls each once against a
local AWS with the least parameters its model requires (dummy values, no retries) and says
how it answered:

- `answers`: a 2xx answer that botocore parsed with the operation's output shape;
- `AWS error <Code>`: an AWS-shaped error botocore parsed (implemented: a dummy name is not found);
- `NOT IMPLEMENTED`: the local AWS's 501 NotImplemented (works only on a real account);
- `CRASH`: a 500 InternalFailure (moto failed on it: a bug to report or work around);
- `PARSER FAILED`: botocore could not parse the answer (not AWS's shape).

Which service a method belongs to: its receiver's, when the receiver is a client the file
assigns (`ec2 = aws.client("ec2")`), made inline, or named as the course names clients (ALIASES);
otherwise any service whose client the file makes (so a shared name like `describe_tags` may be
listed for several). Dummy parameters reach only the error paths of
most operations: `answers`/`AWS error` prove the operation is served and shaped, not that every
field is right; the behaviour tests (tests/test_ext_*.py) do that.

    .venv/bin/python benchmarks/audit_operations.py                  # its own local AWS, in-process
    .venv/bin/python benchmarks/audit_operations.py --endpoint http://127.0.0.1:4566 --markdown
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workshop import aws, config  # noqa: E402

FOLDERS = ("workshop", "solutions", "tests")
#: operations AWS's tutorials for the course's services call (AWS CLI names), beyond the course's own
TUTORIAL = {
    "lambda": ["get-event-source-mapping", "list-event-source-mappings", "get-function-configuration",
               "list-functions", "invoke"],
    "rds": ["reboot-db-instance", "describe-db-instances", "describe-events", "describe-orderable-db-instance-options"],
    "cloudwatch": ["describe-alarm-history", "describe-alarms", "get-metric-statistics", "set-alarm-state",
                   "list-metrics"],
    "autoscaling": ["describe-scaling-activities", "describe-policies", "set-desired-capacity"],
    "dynamodbstreams": ["describe-stream", "get-shard-iterator", "get-records"],
    "logs": ["filter-log-events", "get-log-events", "describe-log-streams"],
    "elbv2": ["describe-target-health"],
    "apigateway": ["test-invoke-method", "get-stages"],
    "sqs": ["get-queue-attributes", "receive-message"],
}

_CLIENT = re.compile(r"""(?:client|resource)\(\s*(?:[\w.]+\s*,\s*)?["']([a-z0-9-]+)["']""")
_ASSIGNED = re.compile(r"""\b([a-z_][a-z0-9_]*)\s*=\s*[\w.]*(?:client|resource)\(\s*(?:[\w.]+\s*,\s*)?["']([a-z0-9-]+)["']\)""")
_INLINE = re.compile(r"""(?:client|resource)\(\s*(?:[\w.]+\s*,\s*)?["']([a-z0-9-]+)["'][^()]*\)\.([a-z][a-z0-9_]*)\(""")
_CALL = re.compile(r"\b(\w+)\.([a-z][a-z0-9_]*)\(")
#: what the course calls its clients (a receiver named so is that service's client)
ALIASES = {"ec2": "ec2", "s3": "s3", "ddb": "dynamodb", "dynamodb": "dynamodb", "rds": "rds", "r53": "route53",
           "asg": "autoscaling", "lam": "lambda", "cf": "cloudfront", "iam": "iam", "cw": "cloudwatch",
           "logs": "logs", "apigw": "apigateway", "sts": "sts", "sqs": "sqs", "sns": "sns", "fh": "firehose",
           "elb": "elbv2", "elbv2": "elbv2", "streams": "dynamodbstreams", "ssm": "ssm"}
_NAMED = re.compile(r"""(?:get_paginator|get_waiter|waiter)\(\s*(?:[\w.]+\s*,\s*)?["']([a-z0-9_]+)["']""")


def _sources() -> dict[str, str]:
    """Every source file of the course as text (code cells only, for notebooks), by path."""
    texts = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix == ".py":
                texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8", errors="replace")
            elif path.suffix == ".ipynb" and ".ipynb_checkpoints" not in path.parts:
                cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
                texts[str(path.relative_to(ROOT))] = "\n".join(
                    "".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return texts


def _model(session, service: str):
    try:
        return session._session.get_service_model(service)
    except Exception:
        return None


def used_operations(session) -> dict[tuple[str, str], set[str]]:
    """(service, operation) -> where it is used (folders, or "tutorial")."""
    texts = _sources()
    named = {s for text in texts.values() for s in _CLIENT.findall(text)}
    models = {s: m for s in named if (m := _model(session, s)) is not None}
    methods = {s: {_snake(op): op for op in m.operation_names} for s, m in models.items()}
    waiters = {}
    for s in models:
        try:
            w = session._session.get_waiter_model(s)
            waiters[s] = {_snake(n): w.get_waiter(n).operation for n in w.waiter_names}
        except Exception:
            waiters[s] = {}
    used: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path, text in texts.items():
        folder = path.split("/", 1)[0]
        here = sorted({s for s in _CLIENT.findall(text) if s in models}) or sorted(models)
        receivers = dict(ALIASES)
        for name, service in _ASSIGNED.findall(text):
            receivers[name] = service
        calls = [(receivers.get(who), name) for who, name in _CALL.findall(text)]
        calls += [(service, name) for service, name in _INLINE.findall(text)]
        calls += [(None, name) for name in _NAMED.findall(text)]
        for owner, name in calls:
            for s in ([owner] if owner in models else here):
                op = methods[s].get(name) or waiters[s].get(name)
                if op:
                    used[(s, op)].add(folder)
    for s, cli_names in TUTORIAL.items():
        model = _model(session, s)
        for cli in cli_names:
            op = {_snake(o).replace("_", "-"): o for o in model.operation_names}[cli]
            used[(s, op)].add("tutorial")
    return used


def _snake(name: str) -> str:
    from botocore import xform_name

    return xform_name(name)


def dummy(shape, depth: int = 0):
    """The least value a shape accepts: required members only, dummy scalars."""
    kind = shape.type_name
    if kind == "structure":
        return {m: dummy(shape.members[m], depth + 1) for m in shape.required_members} if depth < 6 else {}
    if kind == "list":
        return []
    if kind == "map":
        return {}
    if kind == "string":
        enum = shape.metadata.get("enum")
        return enum[0] if enum else "audit-x"
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime.datetime.now(datetime.timezone.utc)
    if kind == "blob":
        return b"x"
    return None


def check(session, endpoint: str, service: str, operation: str) -> str:
    """How the local AWS answered one call of `operation`."""
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    client = session.client(service, endpoint_url=endpoint, config=Config(
        retries={"mode": "standard", "total_max_attempts": 1}, parameter_validation=False,
        connect_timeout=2, read_timeout=15, proxies={}))
    model = client.meta.service_model.operation_model(operation)
    params = dummy(model.input_shape) if model.input_shape is not None else {}
    try:
        client._make_api_call(operation, params)
        return "answers"
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NotImplemented":
            return "NOT IMPLEMENTED"
        if status == 500 or code in ("InternalFailure", "500"):
            return "CRASH"
        return f"AWS error {code}"
    except ResponseParserError:
        return "PARSER FAILED"
    except Exception as exc:  # the dummy parameters could not be sent (serializer)
        return f"not sent ({type(exc).__name__})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="a running local AWS (loopback only); default: start one in this process")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    server = None
    if args.endpoint:
        host = urlsplit(args.endpoint).hostname or ""
        if host not in ("localhost", "127.0.0.1", "::1"):
            parser.error("the audit calls only a local AWS on loopback")
        endpoint = args.endpoint.rstrip("/")
    else:
        from workshop.localaws.server import LocalAWS

        server = LocalAWS(port=0).start()
        endpoint = server.endpoint
    target = config.target(kind="local", endpoint=endpoint)
    session = aws.session(target=target)
    try:
        rows = [(s, op, ", ".join(sorted(where)), check(session, endpoint, s, op))
                for (s, op), where in sorted(used_operations(session).items())]
    finally:
        if server is not None:
            server.stop()
    if args.markdown:
        print("| service | operation | used in | local AWS |")
        print("|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        width = max(len(f"{s}.{op}") for s, op, _, _ in rows)
        for s, op, where, answer in rows:
            print(f"{s + '.' + op:<{width}}  {answer:<40}  {where}")
    counts = defaultdict(int)
    for *_, answer in rows:
        counts[answer.split(" ")[0] if answer.startswith(("AWS error", "not sent")) else answer] += 1
    print(f"\n{len(rows)} operations: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 1 if counts.get("PARSER FAILED") or counts.get("CRASH") else 0


if __name__ == "__main__":
    sys.exit(main())
