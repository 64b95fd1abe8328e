"""The door of the local AWS: who may call it, and what a request may look like.

The local AWS takes unsigned requests (moto checks no signature), so what keeps a web page
the learner happens to open from creating a role and a Lambda function and invoking it is
this door. It is modelled on two servers that face the same threat:

- Jupyter Server refuses a request whose `Host` header is not a local name with 403
  (`allow_remote_access=False`, loopback addresses plus `local_hostnames`), which defeats DNS
  rebinding, and answers CORS only for the origins it allows (`check_origin`, `allow_origin`);
- LocalStack refuses a browser request from a foreign `Origin` with 403 before any service
  sees it and adds CORS headers only for its allowed origins (`aws/handlers/cors.py`:
  `CorsEnforcer`, `CorsResponseEnricher`; `DISABLE_CORS_CHECKS`, `EXTRA_CORS_ALLOWED_ORIGINS`).

Here: a request without `Origin` (AWS CLI, boto3, curl) passes; one from a loopback origin
(`http(s)://localhost|127.x.x.x|[::1]|*.localhost`, any port: where the kit's JupyterLab
runs) or an origin added with `LocalAWS.allow_origin` passes and gets CORS headers; any
other origin (including `null`) gets 403 and no CORS header. Unlike Jupyter's same-origin
default, any loopback port is allowed: JupyterLab and the local AWS listen on different ports.

Bodies are bounded (`limit_for`): refused from `Content-Length` before a byte is read,
capped while reading a chunked stream; malformed framing is a 400; a JSON-protocol body that
is not UTF-8 JSON is a 400 `SerializationException`. Every refusal is shaped like AWS's
errors (JSON `__type`/`message`, or XML `ErrorResponse`), so botocore raises a ClientError.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

#: the body limit of any request not listed in LIMITS: API Gateway's payload quota (10 MB,
#: "Amazon API Gateway quotas"); every other API the course calls takes far less (SQS 1 MiB,
#: a DynamoDB item 400 KB, CloudWatch PutMetricData 1 MB)
MAX_BODY = 10 * 1024 * 1024
#: per service (the SigV4 scope's service), where AWS legitimately takes more
LIMITS = {
    # a function's zip uploaded directly may be 50 MB ("Lambda quotas"); in CreateFunction's
    # JSON it is base64 (4/3 of it) plus the rest of the document
    "lambda": 70 * 1024 * 1024,
    # PutObject takes 5 GB on AWS, but moto keeps objects in this process's memory; boto3's
    # upload_file sends files over 8 MB as 8 MB parts, so large files still upload
    "s3": 100 * 1024 * 1024,
}
_READ_PIECE = 64 * 1024

_LOOPBACK_NAMES = ("localhost",)
_JSON_TYPE = re.compile(r"^application/x-amz-json-\d")


class Refused(Exception):
    """A request the door turns away: an HTTP status, an AWS error code and a message."""

    def __init__(self, status: int, code: str, message: str, json_code: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.json_code = json_code or code


# --- who may call ----------------------------------------------------------------------------

def is_local_name(host: str) -> bool:
    """True for a loopback host name or address: localhost, *.localhost, 127.x.x.x, ::1."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_host_header(value: str | None) -> bool:
    """True when a `Host` header names this machine (optionally with a port), or is absent."""
    if not value:
        return True  # HTTP/1.0 clients send none; browsers always do
    try:
        parts = urlsplit(f"//{value.strip()}")
        name, _ = parts.hostname, parts.port  # .port raises on a malformed port
    except ValueError:
        return False
    return bool(name) and is_local_name(name)


def is_allowed_origin(origin: str, extra: frozenset[str] | set[str] = frozenset()) -> bool:
    """True for a loopback http(s) origin on any port, or one listed in `extra` (exact match)."""
    origin = origin.strip()
    if origin.rstrip("/") in extra:
        return True
    try:
        parts = urlsplit(origin)
        name, _ = parts.hostname, parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not name or parts.path not in ("", "/"):
        return False
    return is_local_name(name)


#: headers a page may read from an answer (what AWS SDKs for JavaScript look at)
EXPOSE = ("x-amzn-RequestId, x-amz-request-id, x-amz-id-2, x-amzn-ErrorType, ETag, "
          "X-Amz-Function-Error, X-Amz-Log-Result, X-Amz-Executed-Version, x-amz-version-id")
METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"


def cors_headers(origin: str, request_headers: str | None = None, preflight: bool = False) -> list[tuple[str, str]]:
    """The CORS headers for an allowed origin (never called for another one)."""
    headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin"),
               ("Access-Control-Expose-Headers", EXPOSE)]
    if preflight:
        headers += [("Access-Control-Allow-Methods", METHODS), ("Access-Control-Max-Age", "600")]
        if request_headers:
            headers.append(("Access-Control-Allow-Headers", request_headers))
    return headers


# --- what a request may look like ------------------------------------------------------------

def limit_for(service: str | None) -> int:
    """The largest body accepted for a request signed for `service`."""
    return LIMITS.get(service or "", MAX_BODY)


def declared_length(environ) -> int | None:
    """The Content-Length a request declares; None for none (or a chunked body). Refused if malformed."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    raw = environ.get("CONTENT_LENGTH")
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    if not raw.isdigit():  # negative, several values ("10,12"), or not a number
        raise Refused(400, "InvalidRequest", f"Content-Length must be a non-negative integer, found {raw!r}",
                      "SerializationException")
    return int(raw)


def read_body(environ, limit: int) -> bytes:
    """The request body, at most `limit` bytes, read only once the declared length is known to fit."""
    length = declared_length(environ)
    stream = environ["wsgi.input"]
    too_large = Refused(413, "RequestEntityTooLarge",
                        f"The request body is larger than the local AWS accepts here ({limit} bytes)",
                        "RequestEntityTooLargeException")
    if length is not None:
        if length > limit:
            raise too_large
        body = _read(stream, length) if length else b""
        if len(body) < length:
            raise Refused(400, "IncompleteBody", f"The body ended after {len(body)} of {length} declared bytes",
                          "SerializationException")
        return body
    if not environ.get("wsgi.input_terminated"):
        return b""
    pieces, size = [], 0
    while True:
        piece = _read(stream, _READ_PIECE)  # a chunked stream returns at most this much
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > limit:
            raise too_large
        pieces.append(piece)


def _read(stream, size: int) -> bytes:
    try:
        return stream.read(size)
    except TimeoutError:
        raise Refused(408, "RequestTimeout", "The client stopped sending the request body", "RequestTimeoutException") from None
    except OSError as exc:  # werkzeug's DechunkedInput: a broken chunk header or terminator
        raise Refused(400, "InvalidRequest", f"Malformed chunked body: {exc}", "SerializationException") from None


def is_json_protocol(environ) -> bool:
    """True for an AWS JSON-protocol request (X-Amz-Target, or an application/x-amz-json-* body)."""
    return bool(environ.get("HTTP_X_AMZ_TARGET")) or bool(_JSON_TYPE.match(environ.get("CONTENT_TYPE", "")))


def check_json_body(environ, body: bytes) -> None:
    """Refuse a JSON-protocol body that is not UTF-8 JSON (an empty body is moto's to judge)."""
    if not body or not is_json_protocol(environ):
        return
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, "SerializationException", f"Invalid request body: {exc}") from None


def refusal(environ, refused: Refused) -> Response:
    """An AWS-shaped error: JSON for a JSON-looking request, XML (as query and REST-XML services answer) otherwise."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id, "Connection": "close"}
    content_type = environ.get("CONTENT_TYPE", "")
    if environ.get("HTTP_X_AMZ_TARGET") or "json" in content_type or environ.get("PATH_INFO", "").startswith("/20"):
        body = json.dumps({"__type": refused.json_code, "message": refused.message})
        headers["x-amzn-ErrorType"] = refused.json_code
        return Response(body, status=refused.status, headers=headers, mimetype="application/x-amz-json-1.1"
                        if environ.get("HTTP_X_AMZ_TARGET") else "application/json")
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{refused.code}</Code>"
            f"<Message>{_xml(refused.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(body, status=refused.status, headers=headers, mimetype="text/xml")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
