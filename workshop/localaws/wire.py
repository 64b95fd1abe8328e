"""What a signed AWS request says about itself: the operation (`aws_action`), the service and
region of its SigV4 scope (`signed_scope`), and the moto account it acts in (`signed_account`).

One helper for every extension and the server (re-exported by `workshop.localaws.server`);
it imports nothing of the local AWS, so anything may use it.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple
from urllib.parse import parse_qs

from werkzeug.wrappers import Request


def aws_action(request: Request) -> str | None:
    """The AWS operation a query-protocol (Action=) or JSON-protocol (X-Amz-Target) request names."""
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    action = request.args.get("Action")
    if action:
        return action
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        values = parse_qs(request.get_data(cache=True, as_text=True)).get("Action")
        if values:
            return values[0]
    return None


class SignedScope(NamedTuple):
    service: str | None
    region: str | None


# SigV4: Credential=<access key>/<yyyymmdd>/<region>/<service>/aws4_request (header or presigned URL)
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9.-]+)/")


def _credential(request: Request) -> re.Match[str] | None:
    m = _CREDENTIAL.search(request.headers.get("Authorization", ""))
    if m is None and request.args.get("X-Amz-Credential"):
        m = _CREDENTIAL.search("Credential=" + request.args["X-Amz-Credential"])
    return m


def signed_scope(request: Request) -> SignedScope:
    """The service and region of the request's SigV4 credential scope; (None, None) when unsigned."""
    m = _credential(request)
    return SignedScope(m["service"], m["region"]) if m else SignedScope(None, None)


def aws_service(request: Request) -> str | None:
    """The service named in the request's SigV4 credential scope (e.g. `lambda`, `ec2`)."""
    return signed_scope(request).service


def signed_account(request: Request) -> str:
    """The moto account a request acts in, in moto's own order of precedence."""
    pinned = os.environ.get("MOTO_ACCOUNT_ID")  # moto's own setting, read as moto reads it
    if pinned:
        return pinned
    if request.headers.get("x-moto-account-id"):
        return request.headers["x-moto-account-id"]
    from moto.iam.models import get_account_id_from

    m = _credential(request)
    return get_account_id_from(m["key"] if m else "AKIAEXAMPLE")
