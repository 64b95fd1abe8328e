"""Helpers for the serverless tests: deploy a Lambda function from source on the local AWS."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

from workshop import aws


def zip_module(source: str, module: str = "app") -> bytes:
    return zip_files({f"{module}.py": source})


def zip_files(files: dict[str, str]) -> bytes:
    """A deployment package holding `files` ({path in the zip: text})."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return buf.getvalue()


def role() -> str:
    iam = aws.client("iam")
    name = "test-lambda-role"
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]


def function(source: str, timeout: int = 3, env: dict | None = None, name: str | None = None,
             runtime: str = "python3.13", handler: str = "app.handler", files: dict[str, str] | None = None) -> str:
    """Create a function running `source` (module app, handler app.handler), or the zip of `files`
    with `handler`; return its name."""
    name = name or f"fn-{uuid.uuid4().hex[:10]}"
    aws.client("lambda").create_function(
        FunctionName=name, Runtime=runtime, Role=role(), Handler=handler,
        Code={"ZipFile": zip_files(files) if files is not None else zip_module(source)}, Timeout=timeout,
        Environment={"Variables": env or {}})
    return name


def invoke(name: str, event=None, **kwargs) -> tuple[dict, object]:
    """Invoke and decode: (the raw response, the parsed payload or None)."""
    reply = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    body = reply["Payload"].read()
    return reply, (json.loads(body) if body else None)


def log_text(name: str, timeout: float = 5.0, contains: str = "") -> str:
    """All messages in /aws/lambda/<name>, waiting until `contains` shows up."""
    logs = aws.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        text = "\n".join(e["message"] for e in events)
        if contains in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def bucket(name: str | None = None) -> str:
    name = name or f"test-{uuid.uuid4().hex[:12]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


def wait_for(fn, timeout: float = 10.0, interval: float = 0.1):
    """Poll fn() until it returns something truthy; return it (or the last falsy value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
