"""The one client factory: every boto3 client the kit or a notebook uses comes from here.

`client("ec2")` on the default `local` target talks to the local AWS on loopback with
dummy credentials, whatever AWS_PROFILE, AWS_ACCESS_KEY_ID or ~/.aws hold. The `aws`
target is used only with WORKSHOP_TARGET=aws and WORKSHOP_AWS_ACCOUNT set to the account
STS reports; otherwise the kit refuses before any other call.
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


@functools.lru_cache(maxsize=None)
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


def endpoint() -> str | None:
    """The endpoint clients use: the local AWS's URL, or None on a real account."""
    s = config.settings()
    if not s.is_local:
        return None
    from .localaws import discover

    return discover.endpoint(autostart=True)


def session(region: str | None = None) -> boto3.Session:
    """The boto3 session for the current target (isolated from the environment on local)."""
    s = config.settings(region=region)
    if s.is_local:
        return _isolated_session(s.region)
    _require_opt_in(s)
    return boto3.Session(region_name=s.region)


def client(service: str, region: str | None = None, **kwargs: Any):
    """A boto3 client for `service` on the current target."""
    s = config.settings(region=region)
    if s.is_local:
        kwargs.setdefault("endpoint_url", endpoint())
        kwargs.setdefault("config", _LOCAL_CONFIG)
        with _lock:  # boto3 sessions are not thread-safe while making clients
            c = _isolated_session(s.region).client(service, **kwargs)
    else:
        c = session(region).client(service, **kwargs)
    _translate_errors(c)
    return c


def resource(service: str, region: str | None = None, **kwargs: Any):
    """A boto3 resource for `service` on the current target."""
    s = config.settings(region=region)
    if s.is_local:
        kwargs.setdefault("endpoint_url", endpoint())
        kwargs.setdefault("config", _LOCAL_CONFIG)
        with _lock:
            r = _isolated_session(s.region).resource(service, **kwargs)
    else:
        r = session(region).resource(service, **kwargs)
    _translate_errors(r.meta.client)
    return r


def account_id() -> str:
    """The account the kit acts on (moto's fixed one on local)."""
    s = config.settings()
    if s.is_local:
        return config.LOCAL_ACCOUNT
    _require_opt_in(s)
    return s.account or ""


def describe_target() -> str:
    """One line naming the target and account, the first thing every notebook prints."""
    s = config.settings()
    if s.is_local:
        return f"Target: local AWS at {endpoint()} (account {s.account}, {s.region}; no cost, nothing leaves this machine)"
    return f"Target: REAL AWS account {account_id()} in {s.region} (this costs money; see `workshop cost`)"


def _require_opt_in(s: config.Settings) -> None:
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

def _translate_errors(c) -> None:
    """Turn transport and emulator failures into one-line WorkshopErrors."""
    original = c._make_api_call
    service = c.meta.service_model.service_name
    url = c.meta.endpoint_url

    def _call(operation_name, api_params):
        try:
            return original(operation_name, api_params)
        except EndpointConnectionError:
            if config.settings().is_local:
                raise LocalAWSDown(url.rstrip("/")) from None
            raise
        except ResponseParserError:
            if config.settings().is_local:
                raise Unsupported(_unsupported(service, operation_name)) from None
            raise
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            if config.settings().is_local and status == 500 and code in ("500", "InternalFailure", ""):
                raise Unsupported(_unsupported(service, operation_name)) from None
            raise

    c._make_api_call = _call


def _unsupported(service: str, operation: str) -> str:
    return (
        f"the local AWS does not implement {service}.{operation}; this call works only on a real "
        "account (WORKSHOP_TARGET=aws). See the server log: workshop status"
    )


__all__ = ["client", "resource", "session", "endpoint", "account_id", "describe_target", "WorkshopError"]
