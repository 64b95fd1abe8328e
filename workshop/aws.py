"""The one client factory: every boto3 client the kit or a notebook uses comes from here.

`client("ec2", target=t)` acts on the `config.Target` it is given (by default
`config.current()`). On the `local` target it talks to the local AWS on loopback with
dummy credentials, whatever AWS_PROFILE, AWS_ACCESS_KEY_ID or ~/.aws hold. The `aws`
target is used only when the target names the account (WORKSHOP_TARGET=aws and
WORKSHOP_AWS_ACCOUNT at the edge) and STS confirms it; otherwise the kit refuses before
any other call.

Clients are cached here, and only here, per (target, service, region): a boto3 client is
thread-safe and a new one costs ~10-30 ms even with the shared loader. Resources are not
cached (boto3 resources are not thread-safe).
"""

from __future__ import annotations

import functools
import os
import re
import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from . import config
from .errors import LocalAWSDown, NotOptedIn, Unsupported, WorkshopError

# proxies={}: the local AWS is on loopback, so HTTP(S)_PROXY never apply (botocore reads them
# from the environment only when a client's config names no proxies)
_LOCAL_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=60,
                       proxies={})
_LOADER = botocore.loaders.create_loader()
_verified_accounts: set[tuple[str, str]] = set()
_lock = threading.Lock()

_BAD_CREDENTIALS = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
                    "UnrecognizedClientException", "SignatureDoesNotMatch"}

OPT_IN_HELP = (
    "set WORKSHOP_TARGET=aws and WORKSHOP_AWS_ACCOUNT=<your 12-digit account id> to opt in "
    "(see README, 'Running on your own AWS account')"
)


@functools.cache
def _isolated_session(region: str) -> boto3.Session:
    """A boto3 session that reads nothing from the environment or ~/.aws (one per region, reused:
    a shared session keeps the parsed service models, so a new client costs ~10 ms, not ~300)."""
    variables = {k: (v[0], None, v[2], v[3]) for k, v in BOTOCORE_DEFAUT_SESSION_VARIABLES.items()}
    variables["config_file"] = (None, None, os.devnull, None)
    variables["credentials_file"] = (None, None, os.devnull, None)
    core = botocore.session.Session(session_vars=variables)
    core.register_component("data_loader", _LOADER)  # service models parsed once per process
    return boto3.Session(
        botocore_session=core,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=region,
    )


def endpoint(target: config.Target | None = None) -> str | None:
    """The endpoint clients use: the local AWS's URL, or None on a real account."""
    t = target or config.current()
    if not t.is_local:
        return None
    if t.endpoint:
        return t.endpoint
    from .localaws import discover

    return discover.endpoint(t)


def session(region: str | None = None, target: config.Target | None = None) -> boto3.Session:
    """The boto3 session for the target (isolated from the environment on local)."""
    t = target or config.current()
    if t.is_local:
        return _isolated_session(region or t.region)
    _require_opt_in(t)
    return boto3.Session(region_name=region or t.region)


_clients: dict[tuple, Any] = {}


def client(service: str, region: str | None = None, *, target: config.Target | None = None, **kwargs: Any):
    """A boto3 client for `service` on the target (default: `config.current()`), cached unless
    `kwargs` customise it."""
    t = target or config.current()
    region = region or t.region
    url = endpoint(t)
    key = (t.kind, url, t.account, service, region) if not kwargs else None
    if key is not None:
        cached = _clients.get(key)
        if cached is not None:
            return cached
    if t.is_local:
        kwargs.setdefault("endpoint_url", url)
        kwargs.setdefault("config", _LOCAL_CONFIG)
        with _lock:  # boto3 sessions are not thread-safe while making clients
            c = _isolated_session(region).client(service, **kwargs)
    else:
        c = session(region, t).client(service, **kwargs)
    _translate_errors(c, t.is_local)
    if key is not None:
        with _lock:
            c = _clients.setdefault(key, c)
    return c


def resource(service: str, region: str | None = None, *, target: config.Target | None = None, **kwargs: Any):
    """A boto3 resource for `service` on the target (default: `config.current()`)."""
    t = target or config.current()
    region = region or t.region
    if t.is_local:
        kwargs.setdefault("endpoint_url", endpoint(t))
        kwargs.setdefault("config", _LOCAL_CONFIG)
        with _lock:
            r = _isolated_session(region).resource(service, **kwargs)
    else:
        r = session(region, t).resource(service, **kwargs)
    _translate_errors(r.meta.client, t.is_local)
    return r


def account_id(target: config.Target | None = None) -> str:
    """The account the kit acts on (moto's fixed one on local)."""
    t = target or config.current()
    if t.is_local:
        return config.LOCAL_ACCOUNT
    _require_opt_in(t)
    return t.account or ""


def describe_target(target: config.Target | None = None) -> str:
    """One line naming the target and account, the first thing every notebook prints."""
    t = target or config.current()
    if t.is_local:
        return f"Target: local AWS at {endpoint(t)} (account {t.account}, {t.region}; no cost, nothing leaves this machine)"
    return f"Target: REAL AWS account {account_id(t)} in {t.region} (this costs money; see `workshop cost`)"


def _require_opt_in(s: config.Target) -> None:
    """Refuse the real-account target unless the account id was confirmed and matches STS."""
    wanted = (s.account or "").strip()
    if not re.fullmatch(r"\d{12}", wanted):
        raise NotOptedIn(
            "WORKSHOP_TARGET=aws needs WORKSHOP_AWS_ACCOUNT=<12 digits>, the account you agree to "
            f"create resources in; nothing was created. To opt in: {OPT_IN_HELP}"
        )
    key = (wanted, s.region)
    with _lock:
        if key in _verified_accounts:
            return
    try:
        sts = boto3.Session(region_name=s.region).client("sts")
        actual = sts.get_caller_identity()["Account"]
    except (NoCredentialsError, ProfileNotFound) as exc:
        raise NotOptedIn(f"no usable AWS credentials ({exc}); set AWS_PROFILE or run 'aws configure'") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _BAD_CREDENTIALS:
            profile = os.environ.get("AWS_PROFILE")
            whose = f" for profile {profile}" if profile else ""
            raise NotOptedIn(
                f"your AWS credentials{whose} are expired or invalid ({code}); refresh them "
                "(aws sso login, or new AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
            ) from None
        raise NotOptedIn(f"could not confirm the AWS account with STS: {exc}") from None
    except EndpointConnectionError as exc:
        raise NotOptedIn(f"could not reach AWS STS to confirm the account: {exc}") from None
    if actual != wanted:
        raise NotOptedIn(
            f"WORKSHOP_AWS_ACCOUNT={wanted} but your credentials are for account {actual}; "
            "nothing was created. Fix WORKSHOP_AWS_ACCOUNT or your credentials."
        )
    with _lock:
        _verified_accounts.add(key)


# --- errors a learner can read -------------------------------------------------------

def _translate_errors(c, local: bool) -> None:
    """Turn transport and emulator failures into one-line WorkshopErrors."""
    original = c._make_api_call
    service = c.meta.service_model.service_name
    url = c.meta.endpoint_url

    def _call(operation_name, api_params):
        try:
            return original(operation_name, api_params)
        except EndpointConnectionError:
            if local:
                raise LocalAWSDown(url.rstrip("/")) from None
            raise
        except ResponseParserError:
            if local:
                raise Unsupported(_unsupported(service, operation_name)) from None
            raise
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            # the local AWS answers what it lacks as AWS's 501 NotImplemented (localaws/unimplemented.py);
            # a 500 is a crash inside moto on a call it only half knows
            if local and (code == "NotImplemented" or (status == 500 and code in ("500", "InternalFailure", ""))):
                raise Unsupported(_unsupported(service, operation_name)) from None
            raise

    c._make_api_call = _call


def _unsupported(service: str, operation: str) -> str:
    return (
        f"the local AWS does not implement {service}.{operation}; this call works only on a real "
        "account (WORKSHOP_TARGET=aws). See the server log: workshop status"
    )


__all__ = ["client", "resource", "session", "endpoint", "account_id", "describe_target", "WorkshopError"]
