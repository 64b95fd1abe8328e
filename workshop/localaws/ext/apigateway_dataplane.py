"""API Gateway that answers: REST (v1) APIs served over HTTP on loopback.

Every deployed stage of every REST API answers at
`http://127.0.0.1:PORT/execute-api/{api_id}/{stage}/{path}` (the kit's fixed local scheme;
on AWS: `https://{api_id}.execute-api.{region}.amazonaws.com/{stage}/{path}`). As API Gateway does:
- routes by resource path and method (literal parts first, then `{param}`, then `{proxy+}`;
  `ANY` when the method has no own entry);
- AWS_PROXY integrations get the v1 proxy event and the function's statusCode/headers/body
  become the HTTP response; MOCK answers 200 with an empty body;
- unknown route or method -> 403 {"message":"Missing Authentication Token"};
  function error or a malformed proxy response -> 502 {"message":"Internal server error"};
  a body over 10 MB -> 413; a request validator with validateRequestBody and a JSON-schema
  model rejects malformed JSON or a schema-invalid body with 400 {"message":"Invalid request body"}
  before any Lambda runs.
Resources are served as they stand (moto does not snapshot them per deployment).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import time
import uuid
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

log = logging.getLogger("workshop.localaws.apigateway")

ACCOUNT = "123456789012"
#: API Gateway's payload limit for REST APIs: 10 MB (AWS docs, "Amazon API Gateway quotas",
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html)
MAX_BODY = 10 * 1024 * 1024
_LAMBDA_URI = re.compile(r"arn:aws[\w-]*:apigateway:[\w-]+:lambda:path/2015-03-31/functions/(?P<fn>.+?)/invocations")


def _json(status: int, doc: dict, request_id: str) -> Response:
    return Response(json.dumps(doc), status=status, mimetype="application/json",
                    headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": _ERROR_TYPES.get(status, "")})


_ERROR_TYPES = {403: "MissingAuthenticationTokenException", 400: "BadRequestException",
                413: "RequestEntityTooLargeException", 502: "InternalServerErrorException"}


def _find_api(api_id: str):
    """(region, moto RestAPI) for an id, looked up across the regions in use."""
    from moto.backends import get_backend

    for _account, regions in dict.items(get_backend("apigateway")):
        for region, backend in dict.items(regions):
            api = backend.apis.get(api_id)
            if api is not None:
                return region, api
    return None, None


@functools.lru_cache(maxsize=1024)
def _template_regex(path: str) -> tuple[re.Pattern, tuple[int, int]]:
    """A regex for a resource path template, and a rank (fewer params/greedy = more specific)."""
    parts, params, greedy = [], 0, 0
    for seg in path.strip("/").split("/") if path != "/" else []:
        m = re.fullmatch(r"\{(\w+)(\+?)\}", seg)
        if m and m.group(2):
            parts.append(f"(?P<{m.group(1)}>.+)")
            greedy += 1
        elif m:
            parts.append(f"(?P<{m.group(1)}>[^/]+)")
            params += 1
        else:
            parts.append(re.escape(seg))
    return re.compile("^/" + "/".join(parts) + "$"), (greedy, params)


def _route(api, path: str, method: str):
    """(resource, method object, path parameters) or None."""
    candidates = []
    for resource in list(api.resources.values()):
        template = resource.get_path()
        regex, rank = _template_regex(template)
        m = regex.match(path)
        if m:
            candidates.append((rank, -len(template), resource, m.groupdict()))
    for _rank, _, resource, params in sorted(candidates, key=lambda c: (c[0], c[1])):
        chosen = resource.resource_methods.get(method) or resource.resource_methods.get("ANY")
        if chosen is not None:
            return resource, chosen, {k: unquote(v) for k, v in params.items()}
    return None


def _validate(api, method, body: bytes) -> bool:
    """True when the method's request validator (if any) accepts the body."""
    validator_id = getattr(method, "request_validator_id", None)
    if not validator_id:
        return True
    validator = api.request_validators.get(validator_id)
    if validator is None or not getattr(validator, "validate_request_body", False):
        return True
    models = method.request_models or {}
    model_name = models.get("application/json") or next(iter(models.values()), None)
    if not model_name or model_name == "Empty":
        return True
    model = api.models.get(model_name)
    if model is None or not model.schema:
        return True
    schema = model.schema if isinstance(model.schema, str) else json.dumps(model.schema, sort_keys=True)
    validator = _validator(schema)
    if validator is None:
        log.warning("model %s of API %s has an invalid schema; not validating", model_name, api.id)
        return True
    try:
        document = json.loads(body.decode("utf-8") or "null")
    except (ValueError, UnicodeDecodeError):
        return False
    return validator.is_valid(document)


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str):
    """A compiled JSON-schema validator (API Gateway models are draft 4), or None if the schema is invalid."""
    import jsonschema

    try:
        schema = json.loads(schema_text)
        jsonschema.Draft4Validator.check_schema(schema)
    except (ValueError, jsonschema.SchemaError):
        return None
    return jsonschema.Draft4Validator(schema)


def _event(request: Request, api, stage: str, resource, path: str, params: dict, request_id: str) -> dict:
    body = request.get_data()
    text_types = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")
    is_binary = bool(body) and not any((request.mimetype or "").startswith(t) for t in text_types) \
        and not _is_utf8(body)
    headers = {k: v for k, v in request.headers.items()}
    multi_headers: dict[str, list[str]] = {}
    for k, v in request.headers.items():
        multi_headers.setdefault(k, []).append(v)
    query = {k: request.args.getlist(k)[-1] for k in request.args} or None
    multi_query = {k: request.args.getlist(k) for k in request.args} or None
    now = time.time()
    stage_obj = api.stages.get(stage)
    return {
        "resource": resource.get_path(),
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": params or None,
        "stageVariables": (getattr(stage_obj, "variables", None) or None),
        "requestContext": {
            "resourceId": resource.id,
            "resourcePath": resource.get_path(),
            "httpMethod": request.method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "stage": stage,
            "domainPrefix": api.id,
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.headers.get("User-Agent"),
                         "accountId": None, "caller": None, "user": None, "userArn": None},
            "domainName": request.host,
            "apiId": api.id,
        },
        "body": (base64.b64encode(body).decode() if is_binary else body.decode("utf-8")) if body else None,
        "isBase64Encoded": is_binary,
    }


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _proxy_response(payload: bytes, request_id: str) -> Response | None:
    """The HTTP response a Lambda proxy result describes, or None if it is malformed (-> 502)."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("statusCode", 200), int):
        return None
    extra = set(doc) - {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if extra:
        return None  # API Gateway rejects unknown keys: "Malformed Lambda proxy response"
    body = doc.get("body")
    if body is not None and not isinstance(body, str):
        return None
    data = base64.b64decode(body) if body and doc.get("isBase64Encoded") else (body or "").encode()
    response = Response(data, status=int(doc.get("statusCode") or 200))
    response.headers["Content-Type"] = "application/json"
    for k, v in (doc.get("headers") or {}).items():
        response.headers[k] = str(v)
    for k, values in (doc.get("multiValueHeaders") or {}).items():
        response.headers.pop(k, None)
        for v in values:
            response.headers.add(k, str(v))
    response.headers["x-amzn-RequestId"] = request_id
    return response


def handle(request: Request, match) -> Response:
    request_id = str(uuid.uuid4())
    api_id, stage = match.group("api"), match.group("stage")
    path = "/" + (match.group("path") or "").lstrip("/")
    if len(path) > 1:
        path = path.rstrip("/")
    region, api = _find_api(api_id)
    if api is None or stage not in api.stages:
        return _json(403, {"message": "Missing Authentication Token"}, request_id)
    found = _route(api, path, request.method)
    if found is None:
        return _json(403, {"message": "Missing Authentication Token"}, request_id)
    resource, method, params = found
    body = request.get_data()
    if len(body) > MAX_BODY:
        return _json(413, {"message": "Request Too Long"}, request_id)
    if not _validate(api, method, body):
        return _json(400, {"message": "Invalid request body"}, request_id)
    integration = method.method_integration
    kind = (integration.integration_type if integration is not None else "").upper()
    if kind == "MOCK":
        return Response(b"", status=200, headers={"x-amzn-RequestId": request_id})
    if kind != "AWS_PROXY":
        log.warning("API %s %s %s: integration type %r is not served locally", api_id, request.method, path, kind)
        return _json(500, {"message": f"Integration type {kind or 'none'} is not served by the local AWS"}, request_id)
    m = _LAMBDA_URI.search(integration.uri or "")
    if not m:
        return _json(502, {"message": "Internal server error"}, request_id)
    from . import lambda_execution

    rt = lambda_execution.runtime()
    fn = rt.find(m.group("fn"), region)
    if fn is None:
        log.warning("API %s: integration names a missing function %s", api_id, m.group("fn"))
        return _json(502, {"message": "Internal server error"}, request_id)
    event = _event(request, api, stage, resource, path, params, request_id)
    result = rt.invoke(fn, json.dumps(event))
    if not result.ok:
        log.info("API %s: %s failed: %s", api_id, fn.function_name, result.error_type)
        return _json(502, {"message": "Internal server error"}, request_id)
    response = _proxy_response(result.payload, request_id)
    if response is None:
        log.info("API %s: %s returned a malformed proxy response", api_id, fn.function_name)
        return _json(502, {"message": "Internal server error"}, request_id)
    return response


def install(server) -> None:
    server.route(None, r"^/execute-api/(?P<api>[A-Za-z0-9]+)/(?P<stage>[^/]+)(?P<path>/.*)?$", handle)
