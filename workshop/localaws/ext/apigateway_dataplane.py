"""API Gateway that answers: REST (v1) APIs served over HTTP on loopback.

Every deployed stage of every REST API answers at
`http://127.0.0.1:PORT/execute-api/{api_id}/{stage}/{path}` (the kit's fixed local scheme;
on AWS: `https://{api_id}.execute-api.{region}.amazonaws.com/{stage}/{path}`). As API Gateway does:
- routes by resource path and method (literal parts first, then `{param}`, then `{proxy+}`;
  `ANY` when the method has no own entry);
- AWS_PROXY integrations get the v1 proxy event ("Input to a Lambda function in API Gateway",
  https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html):
  header names as the client sent them, `multiValueHeaders`, `multiValueQueryStringParameters`,
  `requestContext`, the body base64-encoded (`isBase64Encoded`) when its Content-Type is one of
  the API's binary media types; the function's statusCode/headers/multiValueHeaders/body
  (`isBase64Encoded`: decoded) become the HTTP response ("Output from a Lambda function ...");
- AWS (Lambda), HTTP and MOCK integrations go through mapping templates and integration
  responses, HTTP_PROXY passes the request to a loopback URI (see `_apigateway_integrations`);
- unknown route or method -> 403 {"message":"Missing Authentication Token"};
  proxy function error or a malformed proxy response -> 502 {"message":"Internal server error"};
  a body over 10 MB -> 413; a request validator with validateRequestBody and a JSON-schema
  model rejects malformed JSON or a schema-invalid body with 400 {"message":"Invalid request body"}
  before any Lambda runs.
`put-integration` refuses a type API Gateway does not have (BadRequestException), as AWS does,
instead of accepting it and failing at request time.
Resources are served as they stand (moto does not snapshot them per deployment).
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import json
import logging
import re
import uuid
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from . import _apigateway_integrations as integrations
from ._apigateway_integrations import Call, error, raw_headers, request_context

log = logging.getLogger("workshop.localaws.apigateway")

#: API Gateway's payload limit for REST APIs: 10 MB (AWS docs, "Amazon API Gateway quotas",
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html)
MAX_BODY = 10 * 1024 * 1024
#: the integration types API Gateway has (API reference, PutIntegration's `type`)
INTEGRATION_TYPES = ("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK")


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


def _is_binary(api, content_type: str | None) -> bool:
    """True when the Content-Type matches one of the API's binary media types (`image/*`, `*/*` ...)."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    for media in getattr(api, "binaryMediaTypes", None) or []:
        media = media.replace("~1", "/").strip().lower()  # patch operations escape "/" as "~1"
        if content_type and fnmatch.fnmatchcase(content_type, media):
            return True
    return False


def _event(call: Call) -> dict:
    """The v1 proxy event ("Input to a Lambda function in API Gateway")."""
    request = call.request
    body = request.get_data()
    is_binary = bool(body) and _is_binary(call.api, request.headers.get("Content-Type"))
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in raw_headers(request):  # names as the client sent them
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query = {k: request.args.getlist(k)[-1] for k in request.args} or None
    multi_query = {k: request.args.getlist(k) for k in request.args} or None
    return {
        "resource": call.resource.get_path(),
        "path": call.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": call.path_params or None,
        "stageVariables": call.stage_variables or None,
        "requestContext": request_context(call),
        "body": (base64.b64encode(body).decode() if is_binary else body.decode("utf-8", errors="replace"))
        if body else None,
        "isBase64Encoded": is_binary,
    }


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
    api_id, stage = match.group("api"), match.group("stage")
    path = "/" + (match.group("path") or "").lstrip("/")
    if len(path) > 1:
        path = path.rstrip("/")
    region, api = _find_api(api_id)
    found = _route(api, path, request.method) if api is not None and stage in api.stages else None
    if found is None:
        return error(403, "Missing Authentication Token", str(uuid.uuid4()))
    resource, method, params = found
    call = Call(request, api, region, stage, resource, path, params)
    body = request.get_data()
    if len(body) > MAX_BODY:
        return error(413, "Request Too Long", call.request_id)
    if not _validate(api, method, body):
        return error(400, "Invalid request body", call.request_id)
    integration = method.method_integration
    kind = (integration.integration_type if integration is not None else "").upper()
    if kind == "AWS_PROXY":
        return _lambda_proxy(call, integration)
    if kind == "HTTP_PROXY":
        return integrations.http_proxy(call, integration)
    if kind in ("AWS", "HTTP", "MOCK"):
        return integrations.non_proxy(call, integration, kind)
    integrations.execution_log(call, f"Execution failed due to configuration error: integration type {kind or 'none'}")
    return error(500, "Internal server error", call.request_id)


def _lambda_proxy(call: Call, integration) -> Response:
    m = integrations.LAMBDA_URI.search(integration.uri or "")
    if not m:
        return error(502, "Internal server error", call.request_id)
    from . import lambda_execution

    rt = lambda_execution.runtime()
    fn = rt.find(m.group("fn"), call.region)
    if fn is None:
        log.warning("API %s: integration names a missing function %s", call.api.id, m.group("fn"))
        return error(502, "Internal server error", call.request_id)
    result = rt.invoke(fn, json.dumps(_event(call)))
    if not result.ok:
        log.info("API %s: %s failed: %s", call.api.id, fn.function_name, result.error_type)
        return error(502, "Internal server error", call.request_id)
    response = _proxy_response(result.payload, call.request_id)
    if response is None:
        log.info("API %s: %s returned a malformed proxy response", call.api.id, fn.function_name)
        return error(502, "Internal server error", call.request_id)
    return response


def _keep_raw_headers(make_environ):
    """WSGI folds header names into `HTTP_*` keys; keep the list as the client sent it (names, order, repeats)."""

    @functools.wraps(make_environ)
    def wrapper(self):
        environ = make_environ(self)
        environ[integrations.RAW_HEADERS] = tuple(self.headers.items())
        return environ

    return wrapper


def _refuse_unknown_types(put_integration):
    """PutIntegration with a type API Gateway does not have: BadRequestException, as AWS answers."""

    @functools.wraps(put_integration)
    def wrapper(self, function_id, resource_id, method_type, integration_type, *args, **kwargs):
        from moto.apigateway.exceptions import BadRequestException

        if integration_type not in INTEGRATION_TYPES:
            raise BadRequestException(f"Invalid integration type specified: {integration_type!r}; API Gateway "
                                      f"integrations are {', '.join(INTEGRATION_TYPES)}")
        return put_integration(self, function_id, resource_id, method_type, integration_type, *args, **kwargs)

    return wrapper


def _create_with_binary_media_types(create_rest_api):
    """CreateRestApi keeps `binaryMediaTypes` (moto's handler drops the parameter)."""

    @functools.wraps(create_rest_api)
    def wrapper(self):
        status, headers, body = create_rest_api(self)
        media = self._get_param("binaryMediaTypes")
        if status == 200 and media:
            api = self.backend.get_rest_api(json.loads(body)["id"])
            api.binaryMediaTypes = [str(m) for m in media]
            body = json.dumps(api.to_dict())
        return status, headers, body

    return wrapper


def _binary_media_type_patches(apply_patch_operations):
    """UpdateRestApi `add`/`remove` of `/binaryMediaTypes/image~1png`, as AWS documents it (the
    media type in the path, "/" escaped as "~1"); moto expects it in `value`."""

    @functools.wraps(apply_patch_operations)
    def wrapper(self, patch_operations):
        rest = []
        for op in patch_operations:
            path = op.get("path") or ""
            if op.get("op") in ("add", "remove") and path.startswith("/binaryMediaTypes/"):
                media = path.removeprefix("/binaryMediaTypes/").replace("~1", "/")
                if op["op"] == "add" and media not in self.binaryMediaTypes:
                    self.binaryMediaTypes.append(media)
                elif op["op"] == "remove" and media in self.binaryMediaTypes:
                    self.binaryMediaTypes.remove(media)
            else:
                rest.append(op)
        return apply_patch_operations(self, rest)

    return wrapper


def patches(moto) -> None:
    from moto.apigateway.models import APIGatewayBackend, RestAPI
    from moto.apigateway.responses import APIGatewayResponse
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    MotoRequestHandler.make_environ = _keep_raw_headers(MotoRequestHandler.make_environ)
    APIGatewayBackend.put_integration = _refuse_unknown_types(APIGatewayBackend.put_integration)
    APIGatewayResponse.create_rest_api = _create_with_binary_media_types(APIGatewayResponse.create_rest_api)
    RestAPI.apply_patch_operations = _binary_media_type_patches(RestAPI.apply_patch_operations)


def install(server) -> None:
    server.route(None, r"^/execute-api/(?P<api>[A-Za-z0-9]+)/(?P<stage>[^/]+)(?P<path>/.*)?$", handle)
