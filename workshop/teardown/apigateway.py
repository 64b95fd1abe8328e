"""API Gateway kinds: REST APIs (and their execution log groups), HTTP APIs."""

from __future__ import annotations

from . import logs
from .kind import FRONT_DOORS, Kind
from .shapes import calling, gone_when_absent, paginate


def _find(service: str, op: str, key: str, id_key: str, name_key: str, tags_key: str):
    def find(scope):
        for api in paginate(scope.client(service), op, key):
            r = scope.owned(api.get(tags_key), api[name_key], api[id_key], data=api)
            if r:
                yield r
    return find


_delete_rest = calling("apigateway", "delete_rest_api", "restApiId")


def _delete_rest_api(scope, r):
    logs.remember(r, [f"API-Gateway-Execution-Logs_{r.id}/"])
    _delete_rest(scope, r)


KINDS = [
    Kind("api gateway rest api", "apigateway", FRONT_DOORS, _find("apigateway", "get_rest_apis", "items", "id",
                                                                  "name", "tags"),
         _delete_rest_api, gone_when_absent("apigateway", "get_rest_api", "restApiId")),
    Kind("api gateway http api", "apigatewayv2", FRONT_DOORS, _find("apigatewayv2", "get_apis", "Items", "ApiId",
                                                                    "Name", "Tags"),
         lambda s, r: s.client("apigatewayv2").delete_api(ApiId=r.id),
         gone_when_absent("apigatewayv2", "get_api", "ApiId"), arn_service="apigateway"),
]
