"""What the local AWS answers for an operation it does not implement: an AWS error, not a web page.

moto raises `NotImplementedError` for an operation it lacks (Flask, in debug mode, lets it
reach werkzeug, which answers an HTML 500 page that botocore retries and cannot parse), and
its REST services answer an HTML 404 for a path none of its URL rules knows. Here both become
the error AWS documents for this case ("Common Errors" in each API reference:
`NotImplemented`, "A header you provided implies functionality that is not implemented",
HTTP 501), in the protocol of the request:

- JSON (`X-Amz-Target`): `{"__type": "NotImplemented", "message": ...}`;
- Smithy RPC v2 CBOR: the same map, CBOR-encoded, with `smithy-protocol: rpc-v2-cbor`;
- query: `<ErrorResponse><Error><Type>Sender</Type><Code>NotImplemented</Code>...`;
  EC2: `<Response><Errors><Error><Code>NotImplemented</Code>...`;
- REST-XML: `<Error><Code>NotImplemented</Code>...` (S3's shape, which botocore reads for all);
- REST-JSON: `x-amzn-ErrorType: NotImplemented` and `{"message": ...}`.

501 is outside botocore's retried statuses (500, 502, 503, 504 and throttling, in both its
legacy `_retry.json` and standard `retries/standard.py`), so the AWS CLI and boto3 print one
line at once. The message names the service and operation as botocore's models do
("The local AWS does not implement cloudwatch.DescribeAlarmHistory; it works on a real account").
A REST path that matches no operation of the service is a 404 `UnknownOperationException`.
Any other crash inside moto is an AWS-shaped 500 `InternalFailure` (logged), as AWS answers one.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

log = logging.getLogger("workshop.localaws")

CODE = "NotImplemented"
STATUS = 501

_CBOR_PATH = re.compile(r"^/service/[^/]+/operation/(?P<operation>[^/]+)$")
_GENERIC = re.compile(r"^The \w+ action has not been implemented$")


def install(app) -> None:
    """Make a moto service app (one Flask app per service) answer its failures as AWS errors."""
    app.register_error_handler(NotImplementedError, functools.partial(_not_implemented, app.service))
    app.register_error_handler(404, functools.partial(_no_route, app.service))
    app.register_error_handler(Exception, functools.partial(_crashed, app.service))


# --- naming the request ------------------------------------------------------------------

@functools.cache
def _botocore_names() -> dict[str, str]:
    """moto's service names (`awslambda`, `cognitoidp`) -> botocore's (`lambda`, `cognito-idp`)."""
    import botocore.session

    names = {name.replace("-", ""): name for name in botocore.session.get_session().get_available_services()}
    names["awslambda"] = "lambda"
    return names


def botocore_service(moto_service: str) -> str:
    """The botocore name of a moto service (its own name when botocore has no such model)."""
    return _botocore_names().get(moto_service.replace("-", ""), moto_service)


@functools.cache
def _model(service: str):
    import botocore.session

    try:
        return botocore.session.get_session().get_service_model(service)
    except Exception:  # no model: name what the request says, answer in XML
        return None


def wire_protocol(request: Request, service: str) -> str:
    """The protocol the request was sent in (and its answer must use)."""
    content_type = request.headers.get("Content-Type", "")
    if request.headers.get("smithy-protocol") == "rpc-v2-cbor" or content_type.startswith("application/cbor"):
        return "smithy-rpc-v2-cbor"
    if request.headers.get("X-Amz-Target") or content_type.startswith("application/x-amz-json"):
        return "json"
    model = _model(service)
    protocol = model.protocol if model is not None else "query"
    from .wire import aws_action

    if protocol not in ("rest-json", "rest-xml") and aws_action(request):
        return "ec2" if protocol == "ec2" else "query"
    return protocol


def operation_of(request: Request, moto_service: str) -> str | None:
    """The AWS operation a request names (None when it names none of the service's)."""
    m = _CBOR_PATH.match(request.path)
    if m:
        return m["operation"]
    from .wire import aws_action

    action = aws_action(request)
    if action:
        return action
    from moto.core.routing import get_service_router

    try:
        operation, _ = get_service_router(botocore_service(moto_service)).match(request)
    except Exception:  # NotFound, or a service moto cannot route
        return None
    return operation.name


# --- the answers -------------------------------------------------------------------------

def message(service: str, operation: str) -> str:
    return f"The local AWS does not implement {service}.{operation}; it works on a real account"


def _not_implemented(moto_service: str, exc: NotImplementedError):
    from flask import request

    service = botocore_service(moto_service)
    operation = operation_of(request, moto_service) or f"{request.method} {request.path}"
    text = message(service, operation)
    detail = str(exc).strip()
    if detail and not _GENERIC.match(detail):
        text += f" (moto: {detail})"
    log.info("not implemented: %s.%s", service, operation)
    return aws_error(request, service, STATUS, CODE, text)


def _no_route(moto_service: str, exc: HTTPException):
    """A path none of moto's URL rules knows: NotImplemented when it is one of the service's operations."""
    from flask import request

    if request.url_rule is not None:  # moto's own 404 (a missing resource): untouched
        return exc
    service = botocore_service(moto_service)
    operation = operation_of(request, moto_service)
    if operation is None:
        return aws_error(request, service, 404, "UnknownOperationException",
                         f"{service} has no operation at {request.method} {request.path}")
    log.info("not implemented: %s.%s", service, operation)
    return aws_error(request, service, STATUS, CODE, message(service, operation))


def _crashed(moto_service: str, exc: Exception):
    from flask import request

    if isinstance(exc, HTTPException):  # Flask routes these here too: moto's own answers
        return exc
    service = botocore_service(moto_service)
    operation = operation_of(request, moto_service) or f"{request.method} {request.path}"
    log.error("moto failed on %s.%s", service, operation, exc_info=exc)
    return aws_error(request, service, 500, "InternalFailure",
                     f"The local AWS failed on {service}.{operation} ({type(exc).__name__}: {exc}); "
                     "see the server log")


def aws_error(request: Request, service: str, status: int, code: str, text: str) -> Response:
    """An error as `service` answers it in the request's protocol."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    protocol = wire_protocol(request, service)
    if protocol == "json":
        body = json.dumps({"__type": code, "message": text})
        return Response(body, status=status, headers=headers,
                        content_type=request.headers.get("Content-Type") or "application/x-amz-json-1.1")
    if protocol == "smithy-rpc-v2-cbor":
        headers["smithy-protocol"] = "rpc-v2-cbor"
        return Response(cbor({"__type": code, "message": text}), status=status, headers=headers,
                        content_type="application/cbor")
    if protocol == "rest-json":
        headers["x-amzn-ErrorType"] = code
        return Response(json.dumps({"message": text}), status=status, headers=headers, content_type="application/json")
    if protocol == "ec2":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code>"
                f"<Message>{_xml(text)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
    elif protocol == "rest-xml" and service == "s3":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                f"<Message>{_xml(text)}</Message><RequestId>{request_id}</RequestId></Error>")
    else:  # query, and REST-XML services other than S3 (CloudFront, Route 53)
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{_xml(text)}</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(body, status=status, headers=headers, content_type="text/xml")


def cbor(value) -> bytes:
    """CBOR (RFC 8949) for the maps of text strings an error is made of."""
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(cbor(str(k)) + cbor(v) for k, v in value.items())
    data = str(value).encode("utf-8")
    return _head(3, len(data)) + data


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise ValueError("too long for CBOR")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
