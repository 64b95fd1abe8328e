"""May CloudFront read this object from its S3 origin? And the object, as S3 answers it.

CloudFront Developer Guide, "Restricting access to an Amazon S3 origin": with an origin access
control (kept on the origin by `cloudfront_oac`) CloudFront signs its requests as the service
principal `cloudfront.amazonaws.com`, and the bucket policy grants `s3:GetObject` to that
principal under the condition `AWS:SourceArn` = the distribution's ARN (the policy stage 6
writes). Without one (and without a legacy origin access identity) the request is anonymous:
only a public bucket policy (`Principal: "*"`) lets it read, and not when the bucket's public
access block restricts public buckets. An explicit Deny wins. A missing key is S3's 403
AccessDenied unless the reader may also `s3:ListBucket` (then 404 NoSuchKey), as S3 answers
("GetObject", Amazon S3 API Reference: permissions).

Only what the kit's policies use is evaluated: Effect, Principal, Action, Resource and the
conditions StringEquals / StringLike / ArnEquals / ArnLike on `AWS:SourceArn`; a statement with
any other condition does not apply here.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass

CLOUDFRONT_PRINCIPAL = "cloudfront.amazonaws.com"
#: `<bucket>.s3.amazonaws.com`, `<bucket>.s3.<region>.amazonaws.com`, `<bucket>.s3-<region>.amazonaws.com`
BUCKET_DOMAIN = re.compile(r"^(?P<bucket>.+?)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$")
_PASSED_HEADERS = ("content-type", "cache-control", "content-encoding", "content-disposition", "content-language",
                   "expires")


@dataclass(frozen=True)
class Reader:
    """Who CloudFront reads as: signed by an OAC for `distribution_arn`, an OAI, or anonymous."""

    distribution_arn: str
    oac: bool
    oai: str = ""  # the origin access identity's id, when one is configured


def bucket_of(domain: str) -> str | None:
    match = BUCKET_DOMAIN.match((domain or "").lower().rstrip("."))
    return match.group("bucket") if match else None


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal, reader: Reader) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if "*" in _list(principal.get("AWS", [])):
        return True
    if reader.oac and CLOUDFRONT_PRINCIPAL in _list(principal.get("Service", [])):
        return True
    if reader.oai:
        return any(a.endswith(f"CloudFront Origin Access Identity {reader.oai}") for a in _list(principal.get("AWS", [])))
    return False


def _anonymous_principal(principal) -> bool:
    return principal == "*" or (isinstance(principal, dict) and "*" in _list(principal.get("AWS", [])))


def _conditions_hold(condition: dict, reader: Reader) -> bool:
    for operator, tests in (condition or {}).items():
        if operator not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"):
            return False
        for key, wanted in tests.items():
            if key.lower() != "aws:sourcearn" or not reader.oac:
                return False
            like = operator.endswith("Like")
            if not any(fnmatch.fnmatchcase(reader.distribution_arn, w) if like else reader.distribution_arn == w
                       for w in _list(wanted)):
                return False
    return True


def _applies(statement: dict, action: str, resource: str, reader: Reader) -> bool:
    actions = [a.lower() for a in _list(statement.get("Action", []))]
    if not any(fnmatch.fnmatchcase(action.lower(), a) for a in actions):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in _list(statement.get("Resource", []))):
        return False
    if not _principal_matches(statement.get("Principal"), reader):
        return False
    return _conditions_hold(statement.get("Condition") or {}, reader)


def allowed(bucket, action: str, resource: str, reader: Reader) -> bool:
    """Does the bucket's policy let `reader` do `action` on `resource` (explicit Deny wins)?"""
    try:
        policy = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy or "{}")
    except ValueError:
        return False
    statements = _list(policy.get("Statement", []))
    if any(s.get("Effect") == "Deny" and _applies(s, action, resource, reader) for s in statements):
        return False
    block = getattr(bucket, "public_access_block", None)
    restricted = block is not None and str(getattr(block, "restrict_public_buckets", "false")).lower() == "true"
    for statement in statements:
        if statement.get("Effect") != "Allow" or not _applies(statement, action, resource, reader):
            continue
        if restricted and _anonymous_principal(statement.get("Principal")):
            continue
        return True
    return False


def _error(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    request_id = os.urandom(8).hex().upper()
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>").encode()
    return status, [("Content-Type", "application/xml"), ("Server", "AmazonS3")], body


def read(bucket_name: str, key: str, reader: Reader, if_none_match: str | None = None):
    """(status, headers, body) as S3 answers CloudFront's GetObject for `key`."""
    from moto.s3.models import s3_backends

    bucket = None
    for _account, _partition, backend in list(s3_backends.iter_backends()):
        if bucket_name in backend.buckets:
            bucket = backend.buckets[bucket_name]
            break
    if bucket is None:
        return _error(404, "NoSuchBucket", "The specified bucket does not exist")
    if not allowed(bucket, "s3:GetObject", f"arn:aws:s3:::{bucket_name}/{key}", reader):
        return _error(403, "AccessDenied", "Access Denied")
    obj = bucket.keys.get(key) if key else None
    if obj is None or not hasattr(obj, "value"):
        if allowed(bucket, "s3:ListBucket", f"arn:aws:s3:::{bucket_name}", reader):
            return _error(404, "NoSuchKey", "The specified key does not exist.")
        return _error(403, "AccessDenied", "Access Denied")
    etag = obj.etag if obj.etag.startswith('"') else f'"{obj.etag}"'
    headers = [("ETag", etag), ("Last-Modified", obj.last_modified_RFC1123), ("Server", "AmazonS3")]
    for name, value in obj.metadata.items():
        if name.lower() in _PASSED_HEADERS:
            headers.append((name.title(), str(value)))  # S3 answers Content-Type, Cache-Control, ...
        elif name.lower().startswith("x-amz-meta-"):
            headers.append((name.lower(), str(value)))
    if if_none_match and if_none_match.strip() == etag:
        return 304, headers, b""
    return 200, headers, obj.value
