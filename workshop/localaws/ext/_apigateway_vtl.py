"""API Gateway's mapping templates: Velocity (VTL), rendered with airspeed.

The variables a template sees are the ones AWS documents in the API Gateway developer guide,
"API Gateway mapping template and access logging variable reference"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html):
- `$input`: `.body` (the payload as text), `.json('$.x')` (a JSONPath's match as JSON text),
  `.path('$.x')` (the match as an object), `.params()` (`{path, querystring, header}`) and
  `.params('name')` (path, then query string, then header);
- `$util`: `escapeJavaScript`, `parseJson`, `urlEncode`, `urlDecode`, `base64Encode`, `base64Decode`;
- `$context` (requestId, stage, resourcePath, httpMethod, identity.sourceIp, apiId, ...; a response
  template may `#set($context.responseOverride.status = 400)`), `$stageVariables`.
LocalStack renders them with airspeed too; this is the kit's own, smaller mapping.
Not emulated: `$input.params().header` values joined from repeated headers (the last one wins),
booleans print as Python's `True`/`False` where Java prints `true`/`false`.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed


class TemplateFailed(Exception):
    """A mapping template that does not parse or does not render (API Gateway: 500 Internal server error)."""


class VtlMap(dict):
    """A JSON object as a Java Map: `keySet()`, `size()`, `containsKey()`, ..., printed `{a=1, b=2}`."""

    def keySet(self):  # Java's names, as templates call them
        return list(self.keys())

    def entrySet(self):
        return [{"key": k, "value": v} for k, v in self.items()]

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def containsKey(self, key) -> bool:
        return key in self

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}={v}" for k, v in self.items()) + "}"


class VtlList(list):
    """A JSON array as a Java List: `size()`, `get(i)`, `isEmpty()`, `contains()`."""

    def size(self) -> int:
        return len(self)

    def get(self, index: int):
        return self[index]

    def isEmpty(self) -> bool:
        return not self

    def contains(self, value) -> bool:
        return value in self


def vtl(value: Any) -> Any:
    """A parsed JSON value with Java's collection methods, as Velocity templates expect."""
    if isinstance(value, dict):
        return VtlMap((k, vtl(v)) for k, v in value.items())
    if isinstance(value, list):
        return VtlList(vtl(v) for v in value)
    return value


@functools.lru_cache(maxsize=256)
def _jsonpath(expression: str):
    import jsonpath_ng.ext  # moto[server]'s own dependency

    return jsonpath_ng.ext.parse(expression)


def json_path(document: Any, expression: str) -> Any:
    """The value a JSONPath selects (a list when it selects several; None when none)."""
    expression = (expression or "$").strip()
    if expression == "$":
        return document
    matches = [m.value for m in _jsonpath(expression).find(document)]
    if not matches:
        return None
    return matches[0] if len(matches) == 1 and "*" not in expression and ".." not in expression else matches


class Input:
    """`$input`: the request's (or, in a response template, the integration response's) payload and parameters."""

    def __init__(self, body: str, params: dict[str, dict[str, str]]):
        self.body = body
        self._params = params

    def _document(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise TemplateFailed(f"$input: the body is not JSON ({exc})") from None

    def json(self, expression: str = "$") -> str:
        return json.dumps(json_path(self._document(), expression))

    def path(self, expression: str = "$") -> Any:
        return vtl(json_path(self._document(), expression))

    def params(self, name: str | None = None):
        if name is None:
            return vtl(self._params)
        for where in ("path", "querystring"):
            if name in self._params.get(where, {}):
                return self._params[where][name]
        for header, value in self._params.get("header", {}).items():
            if header.lower() == name.lower():
                return value
        return ""


class Util:
    """`$util`, as the variable reference describes each function."""

    @staticmethod
    def escapeJavaScript(value: Any) -> str:
        """JavaScript string escaping; single quotes become \\' (which, as AWS warns, is not valid JSON)."""
        text = json.dumps("" if value is None else str(value))[1:-1]
        return text.replace("'", "\\'").replace("/", "\\/")

    @staticmethod
    def parseJson(text: str) -> Any:
        try:
            return vtl(json.loads(text))
        except (TypeError, ValueError) as exc:
            raise TemplateFailed(f"$util.parseJson: not JSON ({exc})") from None

    @staticmethod
    def urlEncode(text: str) -> str:
        return quote_plus(str(text))

    @staticmethod
    def urlDecode(text: str) -> str:
        return unquote_plus(str(text))

    @staticmethod
    def base64Encode(text: str) -> str:
        return base64.b64encode(str(text).encode()).decode()

    @staticmethod
    def base64Decode(text: str) -> str:
        try:
            return base64.b64decode(str(text), validate=True).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise TemplateFailed(f"$util.base64Decode: {exc}") from None


def render(template: str, *, body: str, params: dict, context: dict, stage_variables: dict | None) -> str:
    """The template rendered; `context` is the template's `$context` (its responseOverride is updated in place).

    Raises TemplateFailed with the reason when the template does not parse or render."""
    try:
        # a fresh Template per render: airspeed's parsed tree is not documented as thread-safe,
        # and the server answers requests in threads (parsing a mapping template takes well under 1 ms)
        return airspeed.Template(template).merge({
            "input": Input(body, params),
            "util": Util(),
            "context": context,
            "stageVariables": vtl(stage_variables or {}),
        })
    except TemplateFailed:
        raise
    except Exception as exc:  # airspeed's TemplateError, or a template method's own failure
        raise TemplateFailed(f"{type(exc).__name__}: {exc}") from None
