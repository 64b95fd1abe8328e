"""API Gateway's non-proxy integrations (AWS, HTTP, MOCK) and the HTTP proxy, for the data plane.

As the API Gateway developer guide describes them:
- "Set up data transformations for REST APIs"
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-data-transformations.html):
  the request template chosen by the request's Content-Type (none: application/json) shapes what
  the backend gets; the integration response chosen by `selectionPattern` gives the status, the
  response template shapes the answer and `responseParameters` map its headers;
- "Method request behavior for payloads without mapping templates"
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-passthrough-behaviors.html):
  WHEN_NO_MATCH passes an unmapped body through, WHEN_NO_TEMPLATES only when there are no
  templates, NEVER never: otherwise 415 {"message": "Unsupported Media Type"};
- "Set up an integration response" / "Handle Lambda errors in API Gateway"
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/handle-errors-in-lambda-integration.html):
  for a Lambda integration `selectionPattern` is a regex matched against the whole `errorMessage`
  of a function error, for HTTP and MOCK against the status code; no match -> the default
  response (the one without a pattern), so a function error with no matching pattern is the
  default status (200) with the error document as body; no default either -> 500;
- a template that fails to render -> 500 {"message": "Internal server error"}, the reason in the
  stage's execution log (CloudWatch Logs `API-Gateway-Execution-Logs_{apiId}/{stage}` when the
  stage logs, and always in the server log).
The local AWS never sends traffic off this machine: HTTP integrations may only call loopback URIs.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from werkzeug.wrappers import Request, Response

from . import _apigateway_vtl as vtl

log = logging.getLogger("workshop.localaws.apigateway")

ACCOUNT = "123456789012"
LAMBDA_URI = re.compile(r"arn:aws[\w-]*:apigateway:[\w-]+:lambda:path/2015-03-31/functions/(?P<fn>.+?)/invocations")
#: API Gateway's default integration timeout (29 s)
HTTP_TIMEOUT_S = 29.0
#: the environ key where the server's request handler keeps the header names as the client sent them
RAW_HEADERS = "workshop.raw_headers"


@dataclass
class Call:
    """One request to a deployed stage, routed to its resource and method."""

    request: Request
    api: object  # moto's RestAPI
    region: str
    stage: str
    resource: object  # moto's Resource
    path: str
    path_params: dict[str, str]
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.time)

    @property
    def stage_variables(self) -> dict:
        stage = self.api.stages.get(self.stage)
        return dict(getattr(stage, "variables", None) or {})


def error(status: int, message: str, request_id: str) -> Response:
    """API Gateway's own error answer: {"message": ...} with its x-amzn-ErrorType."""
    kinds = {400: "BadRequestException", 403: "MissingAuthenticationTokenException", 413:
             "RequestEntityTooLargeException", 415: "UnsupportedMediaTypeException",
             500: "InternalServerErrorException", 502: "InternalServerErrorException"}
    return Response(json.dumps({"message": message}), status=status, mimetype="application/json",
                    headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": kinds.get(status, "")})


def raw_headers(request: Request) -> list[tuple[str, str]]:
    """The request's headers in order, with their names as the client spelled them.

    WSGI folds names into `HTTP_*` keys (werkzeug then title-cases them); the server's request
    handler keeps the original list (see apigateway_dataplane.patches). Without it: werkzeug's."""
    kept = request.environ.get(RAW_HEADERS)
    return list(kept) if kept is not None else list(request.headers.items())


def request_context(call: Call) -> dict:
    """`$context` / the proxy event's `requestContext` ("API Gateway mapping template and access
    logging variable reference": requestId, stage, resourcePath, httpMethod, identity.sourceIp, ...)."""
    request = call.request
    return {
        "resourceId": call.resource.id,
        "resourcePath": call.resource.get_path(),
        "httpMethod": request.method,
        "extendedRequestId": call.request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(call.started)),
        "path": f"/{call.stage}{call.path}",
        "accountId": ACCOUNT,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "stage": call.stage,
        "domainPrefix": call.api.id,
        "requestTimeEpoch": int(call.started * 1000),
        "requestId": call.request_id,
        "identity": {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.headers.get("User-Agent"),
                     "accountId": None, "caller": None, "user": None, "userArn": None, "apiKey": None},
        "domainName": request.host,
        "apiId": call.api.id,
    }


def execution_log(call: Call, message: str) -> None:
    """One line in the stage's execution log: the server log always, CloudWatch Logs when the stage logs."""
    line = f"({call.request_id}) {message}"
    log.warning("API %s stage %s: %s", call.api.id, call.stage, line)
    stage = call.api.stages.get(call.stage)
    settings = getattr(stage, "method_settings", None) or {}
    key = call.resource.get_path().replace("/", "~1") + "/" + call.request.method
    level = (settings.get(key) or settings.get("*/*") or {}).get("loggingLevel")
    if level not in ("INFO", "ERROR"):
        return
    try:
        from moto.backends import get_backend

        logs = get_backend("logs")[ACCOUNT][call.region]
        group = f"API-Gateway-Execution-Logs_{call.api.id}/{call.stage}"
        logs.ensure_log_group(group)
        stream = _streams.setdefault(group, uuid.uuid4().hex)
        try:
            logs.create_log_stream(group, stream)
        except Exception:
            pass  # the stream already exists
        logs.put_log_events(group, stream, [{"timestamp": int(time.time() * 1000), "message": line}])
    except Exception:
        log.exception("could not write the execution log of API %s", call.api.id)


_streams: dict[str, str] = {}


def method_params(call: Call) -> dict[str, dict[str, str]]:
    """`$input.params()`: path, query string and header parameters (the last of repeated ones)."""
    return {"path": dict(call.path_params),
            "querystring": {k: call.request.args.getlist(k)[-1] for k in call.request.args},
            "header": dict(raw_headers(call.request))}


# --- non-proxy: AWS (Lambda), HTTP, MOCK ------------------------------------------------------

@dataclass
class _Endpoint:
    """What the integration's backend answered."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
    error_message: str | None = None  # a Lambda function error's errorMessage


class _Failed(Exception):
    """The request cannot be served: the client gets `status` {"message": ...}; `detail` goes to the log."""

    def __init__(self, status: int, message: str, detail: str):
        super().__init__(detail)
        self.status, self.message, self.detail = status, message, detail


def non_proxy(call: Call, integration, kind: str) -> Response:
    """Serve an AWS, HTTP or MOCK integration: request template, backend, integration response."""
    try:
        payload = _integration_request(call, integration)
        if kind == "MOCK":
            endpoint = _mock(payload)
        elif kind == "HTTP":
            endpoint = _http(call, integration, payload.encode(), proxy=False)
        else:
            endpoint = _lambda(call, integration, payload)
        return _integration_response(call, integration, endpoint, kind)
    except _Failed as failed:
        execution_log(call, failed.detail)
        return error(failed.status, failed.message, call.request_id)


def _integration_request(call: Call, integration) -> str:
    """The integration request's body: the mapping template's output, or the body passed through."""
    request = call.request
    content_type = request.mimetype or "application/json"
    templates = integration.request_templates or {}
    behaviour = (integration.passthrough_behaviour or "WHEN_NO_MATCH").upper()
    body = request.get_data().decode("utf-8", errors="replace")
    if content_type not in templates:
        if behaviour == "NEVER" or (behaviour == "WHEN_NO_TEMPLATES" and templates):
            raise _Failed(415, "Unsupported Media Type",
                          f"Request Content-Type {content_type} has no mapping template and the passthrough "
                          f"behaviour is {behaviour}: 415 Unsupported Media Type")
        return body
    template = templates[content_type]
    if not template:
        return body
    try:
        return vtl.render(template, body=body, params=method_params(call), context=request_context(call),
                          stage_variables=call.stage_variables)
    except vtl.TemplateFailed as exc:
        raise _Failed(500, "Internal server error",
                      f"Execution failed due to configuration error: Unable to transform request: {exc}") from None


def _mock(payload: str) -> _Endpoint:
    """A MOCK integration answers the statusCode its request template names (200 without one)."""
    status = 200
    try:
        doc = json.loads(payload) if payload.strip() else {}
        if isinstance(doc, dict) and "statusCode" in doc:
            status = int(doc["statusCode"])
    except (ValueError, TypeError):
        raise _Failed(500, "Internal server error",
                      "Execution failed due to configuration error: the MOCK integration's request template "
                      f"must give JSON with a statusCode, got {payload[:200]!r}") from None
    return _Endpoint(status, b"", [])


def _lambda(call: Call, integration, payload: str) -> _Endpoint:
    m = LAMBDA_URI.search(integration.uri or "")
    if not m:
        raise _Failed(500, "Internal server error",
                      f"AWS integration {integration.uri!r}: the local AWS serves Lambda integrations "
                      "(arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations) only")
    from . import lambda_execution

    rt = lambda_execution.runtime()
    fn = rt.find(m.group("fn"), call.region)
    if fn is None:
        raise _Failed(500, "Internal server error",
                      f"Execution failed due to configuration error: no Lambda function {m.group('fn')}")
    result = rt.invoke(fn, payload if payload.strip() else "{}")
    if result.ok:
        return _Endpoint(200, result.payload, [("Content-Type", "application/json")])
    try:
        doc = json.loads(result.payload)
    except ValueError:
        doc = {}
    if result.error_type == "InvalidRequestContentException":  # Lambda refused the payload itself
        raise _Failed(500, "Internal server error",
                      f"Lambda invocation failed: {doc.get('errorMessage')} (the integration request is not JSON)")
    return _Endpoint(200, result.payload, [("Content-Type", "application/json")],
                     error_message=str(doc.get("errorMessage") or ""))


def _integration_response(call: Call, integration, endpoint: _Endpoint, kind: str) -> Response:
    """The method response: the integration response selected, its template and header mappings."""
    responses = dict(integration.integration_responses or {})
    subject = endpoint.error_message if kind == "AWS" else str(endpoint.status)
    chosen = None
    if subject is not None:
        for candidate in responses.values():
            pattern = candidate.selection_pattern
            if pattern and _matches(pattern, subject):
                chosen = candidate
                break
    if chosen is None:
        chosen = next((r for r in responses.values() if not r.selection_pattern), None)
    if chosen is None:
        raise _Failed(500, "Internal server error",
                      "Execution failed due to configuration error: No match for output mapping and no default "
                      f"output mapping configured. Endpoint Response Status Code: {endpoint.status}")
    status = int(chosen.status_code)
    body = endpoint.body
    context = request_context(call)
    context["responseOverride"] = {"status": None, "header": {}}
    content_type = "application/json"
    templates = chosen.response_templates or {}
    if templates:
        accept = (call.request.headers.get("Accept") or "").split(",")[0].split(";")[0].strip()
        content_type = accept if accept in templates else (
            "application/json" if "application/json" in templates else next(iter(templates)))
        template = templates[content_type]
        if template:
            try:
                body = vtl.render(template, body=endpoint.body.decode("utf-8", errors="replace"),
                                  params=method_params(call), context=context,
                                  stage_variables=call.stage_variables).encode()
            except vtl.TemplateFailed as exc:
                raise _Failed(500, "Internal server error",
                              f"Execution failed due to configuration error: Unable to transform response: {exc}"
                              ) from None
    override = context["responseOverride"]
    if override.get("status"):
        status = int(override["status"])
    response = Response(body, status=status)
    response.headers["Content-Type"] = content_type
    for target, source in (chosen.response_parameters or {}).items():
        name = target.removeprefix("method.response.header.")
        if name == target:
            continue
        value = _response_parameter(source, endpoint)
        if value is not None:
            response.headers[name] = value
    for name, value in (override.get("header") or {}).items():
        response.headers[name] = str(value)
    response.headers["x-amzn-RequestId"] = call.request_id
    return response


def _matches(pattern: str, subject: str) -> bool:
    """A Java-style whole-string match, as API Gateway's selection patterns are."""
    try:
        return re.fullmatch(pattern, subject) is not None
    except re.error:
        log.warning("selectionPattern %r is not a valid regex", pattern)
        return False


def _response_parameter(source: str, endpoint: _Endpoint) -> str | None:
    """A header value from `'literal'`, `integration.response.header.NAME` or `integration.response.body[.PATH]`."""
    source = source.strip()
    if len(source) >= 2 and source[0] == source[-1] == "'":
        return source[1:-1]
    if source.startswith("integration.response.header."):
        name = source.removeprefix("integration.response.header.").lower()
        values = [v for k, v in endpoint.headers if k.lower() == name]
        return values[-1] if values else None
    if source.startswith("integration.response.multivalueheader."):
        name = source.removeprefix("integration.response.multivalueheader.").lower()
        values = [v for k, v in endpoint.headers if k.lower() == name]
        return ",".join(values) if values else None
    if source == "integration.response.body" or source.startswith("integration.response.body."):
        text = endpoint.body.decode("utf-8", errors="replace")
        if source == "integration.response.body":
            return text
        try:
            value = vtl.json_path(json.loads(text), "$" + source.removeprefix("integration.response.body"))
        except ValueError:
            return None
        return value if isinstance(value, str) or value is None else json.dumps(value)
    return None


# --- HTTP and HTTP_PROXY -----------------------------------------------------------------------

def http_proxy(call: Call, integration) -> Response:
    """HTTP_PROXY: the request goes to the integration URI as it came, the backend's answer comes back as it is."""
    try:
        endpoint = _http(call, integration, call.request.get_data(), proxy=True)
    except _Failed as failed:
        execution_log(call, failed.detail)
        return error(failed.status, failed.message, call.request_id)
    response = Response(endpoint.body, status=endpoint.status)
    for name, value in endpoint.headers:
        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
            response.headers.add(name, value)
    response.headers["x-amzn-RequestId"] = call.request_id
    return response


def _loopback(host: str | None) -> str | None:
    """The address to connect to for a URI's host, when it is this machine; else None."""
    if not host:
        return None
    if host.lower() == "localhost":
        return "127.0.0.1"
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


def _http(call: Call, integration, body: bytes, proxy: bool) -> _Endpoint:
    uri = _substitute(integration.uri or "", call, integration)
    parts = urlsplit(uri)
    address = _loopback(parts.hostname)
    if parts.scheme not in ("http", "https") or address is None:
        raise _Failed(500, "Internal server error",
                      f"HTTP integration to {uri!r} refused: the local AWS only calls URIs on this machine "
                      "(http://127.0.0.1:PORT/..., http://localhost:PORT/...), never the network")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    headers: dict[str, str] = {}
    if proxy:
        query.update({k: call.request.args.getlist(k)[-1] for k in call.request.args})
        skip = {"host", "content-length", "connection", "transfer-encoding"}
        headers = {k: v for k, v in raw_headers(call.request) if k.lower() not in skip}
    else:
        headers["Content-Type"] = call.request.mimetype or "application/json"
    for target, value in _mapped_parameters(call, integration).items():
        where, _, name = target.partition(".")
        if where == "querystring":
            query[name] = value
        elif where == "header":
            headers[name] = value
    target_path = (parts.path or "/") + (f"?{urlencode(query)}" if query else "")
    method = call.request.method if proxy or not integration.http_method or integration.http_method == "ANY" \
        else integration.http_method
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(address, parts.port, timeout=HTTP_TIMEOUT_S)
    try:
        connection.putrequest(method, target_path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", parts.netloc)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        return _Endpoint(answer.status, answer.read(), list(answer.getheaders()))
    except OSError as exc:
        raise _Failed(500 if not proxy else 502, "Internal server error",
                      f"Execution failed: HTTP integration {uri!r}: {exc}") from None
    finally:
        connection.close()


def _mapped_parameters(call: Call, integration) -> dict[str, str]:
    """`requestParameters` as `{"path.x"|"querystring.x"|"header.x": value}` from method request parameters."""
    params = method_params(call)
    headers_lower = {k.lower(): v for k, v in params["header"].items()}
    mapped = {}
    for target, source in (integration.request_parameters or {}).items():
        target = target.removeprefix("integration.request.")
        source = source.strip()
        if len(source) >= 2 and source[0] == source[-1] == "'":
            mapped[target] = source[1:-1]
            continue
        m = re.fullmatch(r"method\.request\.(path|querystring|header)\.(.+)", source)
        if not m:
            continue
        where, name = m.groups()
        value = headers_lower.get(name.lower()) if where == "header" else params[where].get(name)
        if value is not None:
            mapped[target] = value
    return mapped


def _substitute(uri: str, call: Call, integration) -> str:
    """The URI with `{name}` filled from the mapped path parameters (or the method's own of that name)."""
    mapped = {k.removeprefix("path."): v for k, v in _mapped_parameters(call, integration).items()
              if k.startswith("path.")}

    def fill(m: re.Match) -> str:
        name = m.group(1)
        return mapped.get(name, call.path_params.get(name, m.group(0)))

    return re.sub(r"\{(\w+)\+?\}", fill, uri)
