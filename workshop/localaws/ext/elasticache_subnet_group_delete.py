"""DeleteCacheSubnetGroup, which moto 5.2.5 lacks: teardown must be able to remove stage 6's subnet group.

Like AWS: the group is removed from moto's ElastiCache state; a group still used by a
cache cluster or replication group answers CacheSubnetGroupInUse, an unknown one
CacheSubnetGroupNotFoundFault.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from ... import config

_NS = "http://elasticache.amazonaws.com/doc/2015-02-02/"


def _region(request: Request) -> str:
    from ..server import signed_scope

    return signed_scope(request).region or config.DEFAULT_REGION


def _error(code: str, message: str, status: int) -> Response:
    body = (f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return Response(body, status=status, mimetype="text/xml")


def delete_cache_subnet_group(request: Request, match=None) -> Response:
    from moto.backends import get_backend

    form = parse_qs(request.get_data(cache=True, as_text=True))
    name = (form.get("CacheSubnetGroupName") or [""])[0]
    backend = get_backend("elasticache")[config.LOCAL_ACCOUNT][_region(request)]
    if name not in backend.cache_subnet_groups:
        return _error("CacheSubnetGroupNotFoundFault", f"CacheSubnetGroup {name} not found.", 404)
    users = [c for c in list(getattr(backend, "cache_clusters", {}).values())
             + list(getattr(backend, "replication_groups", {}).values())
             if getattr(c, "cache_subnet_group_name", None) == name]
    if users:
        return _error("CacheSubnetGroupInUse", f"Cache subnet group {name} is currently in use by a cache cluster.", 400)
    del backend.cache_subnet_groups[name]
    body = (f'<DeleteCacheSubnetGroupResponse xmlns="{_NS}"><ResponseMetadata><RequestId>{uuid.uuid4()}'
            "</RequestId></ResponseMetadata></DeleteCacheSubnetGroupResponse>")
    return Response(body, status=200, mimetype="text/xml")


def install(server) -> None:
    from ..server import aws_action

    server.intercept(lambda req: aws_action(req) == "DeleteCacheSubnetGroup", delete_cache_subnet_group)
