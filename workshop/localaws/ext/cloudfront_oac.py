"""CloudFront origins keep their origin access control, as on AWS.

moto 5.2.5 (pinned in constraints.txt) accepts `OriginAccessControlId` on an S3 origin but
drops it: `GetDistribution(Config)` shows the origin without it, so a bucket served
through an origin access control looks unprotected. Here the origin keeps the id it was
given, as CloudFront does (CloudFront Developer Guide, "Restricting access to an Amazon
S3 origin").
"""

from __future__ import annotations

from moto.cloudfront import models as cfm

_ORIGINAL: dict = {}


def _origin_init(self, origin: dict) -> None:
    _ORIGINAL["init"](self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    _ORIGINAL["init"] = cfm.Origin.__init__
    cfm.Origin.__init__ = _origin_init

