"""The local AWS's door: only the learner's own tools get in, and only well-formed, bounded requests."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
import uuid
from urllib.parse import urlencode

import boto3
import botocore.exceptions
import pytest

from workshop import aws
from workshop.localaws import guard
from workshop.localaws.server import LocalAWS

EVIL = "https://evil.example"
SIGNED = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/{service}/aws4_request, " \
         "SignedHeaders=host, Signature=0"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def door():
    """A private local AWS (no extensions) that drops a silent connection after one second."""
    server = LocalAWS(port=0, extensions=False, socket_timeout=1.0).start()
    yield server
    server.stop()


def _raw(port: int, head: str, body: bytes = b"", timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send bytes as they are; (status, lower-cased headers, body) of the answer, read to the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    header_block, _, payload = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, payload


def _create_role(port: int, name: str, origin: str | None) -> tuple[int, dict, bytes]:
    body = urlencode({"Action": "CreateRole", "Version": "2010-05-08", "RoleName": name,
                      "AssumeRolePolicyDocument": TRUST}).encode()
    head = (f"POST / HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Type: application/x-www-form-urlencoded\n"
            f"Authorization: {SIGNED.format(service='iam')}\nContent-Length: {len(body)}\n"
            + (f"Origin: {origin}\n" if origin else ""))
    return _raw(port, head, body)


def _sqs(door, **kwargs):
    return boto3.client("sqs", endpoint_url=door.endpoint, region_name="us-east-1",
                        aws_access_key_id="t", aws_secret_access_key="t", **kwargs)


def _roles(door) -> list[str]:
    iam = aws.client("iam", endpoint_url=door.endpoint)
    return [r["RoleName"] for r in iam.list_roles()["Roles"]]


# --- who may call ----------------------------------------------------------------------------

def test_a_foreign_origin_is_refused_and_creates_nothing(door):
    """CreateRole from a foreign web page answers 403 AccessDenied with no CORS header and creates no role."""
    name = f"evil-{uuid.uuid4().hex[:8]}"
    status, headers, body = _create_role(door.port, name, EVIL)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert not [h for h in headers if h.startswith("access-control-")]
    assert name not in _roles(door)
    status, _, _ = _create_role(door.port, name, "http://localhost:8888")  # the same request from the lab works
    assert status == 200 and name in _roles(door)


@pytest.mark.parametrize("origin", [EVIL, "null", "http://localhost.evil.example", "http://127.0.0.1.nip.io:8888",
                                    "file://", "chrome-extension://abc"])
def test_a_foreign_preflight_gets_no_cors(door, origin):
    """A preflight from a foreign origin is refused and answered without any Access-Control-* header."""
    status, headers, _ = _raw(door.port, f"OPTIONS /2015-03-31/functions HTTP/1.1\nHost: 127.0.0.1:{door.port}\n"
                                         f"Origin: {origin}\nAccess-Control-Request-Method: POST\n"
                                         "Access-Control-Request-Headers: authorization,x-amz-date\n")
    assert status == 403
    assert not [h for h in headers if h.startswith("access-control-")]


@pytest.mark.parametrize("origin", ["http://localhost:8888", "http://127.0.0.1:8888", "http://[::1]:8888",
                                    "https://lab.localhost", "http://localhost"])
def test_a_loopback_origin_is_answered_with_cors(door, origin):
    """A page on loopback (the kit's JupyterLab) gets its preflight and its answer with CORS for its own origin."""
    status, headers, _ = _raw(door.port, f"OPTIONS / HTTP/1.1\nHost: 127.0.0.1:{door.port}\nOrigin: {origin}\n"
                                         "Access-Control-Request-Method: POST\n"
                                         "Access-Control-Request-Headers: authorization,x-amz-target\n")
    assert status == 204 and headers["access-control-allow-origin"] == origin
    assert "authorization" in headers["access-control-allow-headers"]
    body = b'{"QueueNamePrefix": "nothing-"}'
    status, headers, _ = _raw(door.port, f"POST / HTTP/1.1\nHost: 127.0.0.1:{door.port}\nOrigin: {origin}\n"
                                         "X-Amz-Target: AmazonSQS.ListQueues\nContent-Type: application/x-amz-json-1.0\n"
                                         f"Authorization: {SIGNED.format(service='sqs')}\nContent-Length: {len(body)}\n",
                              body)
    assert status == 200 and headers["access-control-allow-origin"] == origin


def test_an_origin_added_by_allow_origin_gets_in():
    """`allow_origin` lets one more exact origin in (with CORS), and no other."""
    server = LocalAWS(port=0, extensions=False)
    server.allow_origin("https://lab.example.org/")
    server.start()
    try:
        ask = "GET /_workshop/health HTTP/1.1\nHost: 127.0.0.1\nOrigin: {}\n"
        status, headers, _ = _raw(server.port, ask.format("https://lab.example.org"))
        assert status == 200 and headers["access-control-allow-origin"] == "https://lab.example.org"
        assert _raw(server.port, ask.format("https://lab.example.org:8443"))[0] == 403
    finally:
        server.stop()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:4566", "127.0.0.1.evil.example",
                                  "localhost.evil.example:80", "10.0.0.5:4566", "127.0.0.1:notaport"])
def test_a_foreign_host_name_is_refused(door, host):
    """A request whose Host is not a loopback name (DNS rebinding) answers 403, even without Origin."""
    status, _, body = _raw(door.port, f"GET /_workshop/health HTTP/1.1\nHost: {host}\n")
    assert status == 403 and b"AccessDenied" in body


@pytest.mark.parametrize("host", ["localhost", "localhost:{port}", "127.0.0.1:{port}", "127.0.0.2",
                                  "[::1]:{port}", "s3.localhost:{port}"])
def test_a_loopback_host_name_is_served(door, host):
    """Requests addressed to this machine by any loopback name are served."""
    status, _, _ = _raw(door.port, f"GET /_workshop/health HTTP/1.1\nHost: {host.format(port=door.port)}\n")
    assert status == 200


def test_boto3_and_curl_style_requests_keep_working(door):
    """Clients that send no Origin (boto3, the AWS CLI, curl) are served as before."""
    sqs = _sqs(door)
    url = sqs.create_queue(QueueName="door-q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hello"
    with urllib.request.urlopen(f"{door.endpoint}/_workshop/health", timeout=5) as r:
        assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers


# --- what a request may look like ------------------------------------------------------------

def test_a_declared_oversize_body_is_refused_before_reading(door):
    """Content-Length 300 MB answers 413 at once, although not one byte of the body was sent."""
    started = time.monotonic()
    status, headers, body = _raw(door.port, f"POST / HTTP/1.1\nHost: 127.0.0.1:{door.port}\n"
                                            "X-Amz-Target: AmazonSQS.ListQueues\nContent-Type: application/x-amz-json-1.0\n"
                                            f"Content-Length: {300 * 1024 * 1024}\n", timeout=5)
    assert status == 413 and json.loads(body)["__type"] == "RequestEntityTooLargeException"
    assert time.monotonic() - started < 0.9  # under the socket timeout: nothing waited for the body


def test_the_limit_is_per_service():
    """A Lambda code upload may be larger than the server-wide limit; nothing may exceed its own."""
    assert guard.limit_for("lambda") > guard.MAX_BODY == guard.limit_for("sqs") == guard.limit_for(None)
    assert guard.limit_for("lambda") >= 50 * 1024 * 1024 * 4 // 3  # AWS's 50 MB zip, base64-encoded


def test_a_chunked_body_is_capped_while_reading(door):
    """A chunked body that grows past the limit answers 413 without the server reading it all."""
    piece = b"x" * (1024 * 1024)
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    with socket.create_connection(("127.0.0.1", door.port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
        sent = 0
        try:
            for _ in range(40):  # 40 MB offered, 10 MB allowed
                s.sendall(chunk)
                sent += 1
        except OSError:
            pass  # the server answered and closed while we were still sending
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_truncated_body_times_out_and_others_are_served(door):
    """A client that sends 10 of its 1000 declared bytes is dropped after the socket timeout; meanwhile others are served."""
    result = {}

    def slow():
        started = time.monotonic()
        try:
            result["answer"] = _raw(door.port, "POST / HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 1000\n"
                                    "Content-Type: application/x-www-form-urlencoded\n", b"Action=Lis", timeout=10)[0]
        except OSError as exc:
            result["answer"] = exc
        result["after"] = time.monotonic() - started

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)
    with urllib.request.urlopen(f"{door.endpoint}/_workshop/health", timeout=2) as r:
        assert r.status == 200
    thread.join(timeout=8)
    assert not thread.is_alive() and result["answer"] == 408
    assert 0.9 <= result["after"] < 5


@pytest.mark.parametrize("framing", ["Content-Length: abc", "Content-Length: -5", "Content-Length: 10, 12",
                                     "Transfer-Encoding: chunked"])
def test_malformed_framing_is_a_400(door, framing):
    """A non-numeric, negative or doubled Content-Length, or a broken chunk header, answers 400."""
    body = b"zz-not-hex\r\nAction=ListQueues\r\n0\r\n\r\n" if "chunked" in framing else b"Action=ListQueues"
    status, _, answer = _raw(door.port, f"POST / HTTP/1.1\nHost: 127.0.0.1\n{framing}\n"
                                        "Content-Type: application/x-www-form-urlencoded\n", body)
    assert status == 400 and b"<Code>" in answer


@pytest.mark.parametrize("bad", [b"\xff\xfe{\x00}", b'{"QueueName": ', b"<xml/>"])
def test_a_json_protocol_body_that_is_not_utf8_json_is_a_serialization_error(door, bad):
    """A JSON-protocol request whose body is not UTF-8 JSON is a 400 SerializationException botocore parses."""
    sqs = _sqs(door, config=botocore.config.Config(retries={"max_attempts": 1}))

    def corrupt(request, **_):
        request.body = bad
        request.headers["Content-Length"] = str(len(bad))

    sqs.meta.events.register("before-send.sqs.CreateQueue", corrupt)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        sqs.create_queue(QueueName="never")
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "SerializationException"


def test_a_query_protocol_refusal_is_parsed_by_botocore(door):
    """An oversize query-protocol request's 413 reaches boto3 as a ClientError with AWS's fields."""
    iam = boto3.client("iam", endpoint_url=door.endpoint, region_name="us-east-1",
                       aws_access_key_id="t", aws_secret_access_key="t",
                       config=botocore.config.Config(retries={"max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        iam.create_role(RoleName="big", AssumeRolePolicyDocument="x" * (guard.MAX_BODY + 1))
    assert caught.value.response["Error"]["Code"] == "RequestEntityTooLarge"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
