"""Invoke URLs of deployed REST APIs on the current target (`workshop status --json` lists them).

Local: `http://127.0.0.1:PORT/execute-api/{api_id}/{stage}` (served by the local AWS's
`ext/apigateway_dataplane.py`); a real account: `https://{api_id}.execute-api.{region}.amazonaws.com/{stage}`
(AWS docs, "Invoking a REST API in API Gateway").
"""

from __future__ import annotations

from . import aws, config


def stage_url(api_id: str, stage: str, region: str | None = None) -> str:
    """The base invoke URL of one stage of one REST API on the current target."""
    t = config.current()
    if t.is_local:
        return f"{aws.endpoint(t)}/execute-api/{api_id}/{stage}"
    return f"https://{api_id}.execute-api.{region or t.region}.amazonaws.com/{stage}"


def invoke_urls(region: str | None = None) -> list[dict]:
    """Every deployed stage of every REST API: [{api_id, name, stage, url, resources}], sorted by name and
    stage; `resources` maps each resource path with methods to its URL and methods, e.g.
    {"/logger": {"url": ".../prod/logger", "methods": ["POST"]}}."""
    apigw = aws.client("apigateway", region=region)
    found = []
    for page in apigw.get_paginator("get_rest_apis").paginate():
        for api in page.get("items", []):
            paths = {r["path"]: sorted(r.get("resourceMethods", {}))
                     for rpage in apigw.get_paginator("get_resources").paginate(restApiId=api["id"])
                     for r in rpage.get("items", []) if r.get("resourceMethods")}
            for stage in apigw.get_stages(restApiId=api["id"]).get("item", []):
                base = stage_url(api["id"], stage["stageName"], region)
                found.append({"api_id": api["id"], "name": api.get("name", ""), "stage": stage["stageName"],
                              "url": base, "resources": {p: {"url": base + (p if p != "/" else ""), "methods": m}
                                                         for p, m in sorted(paths.items())}})
    return sorted(found, key=lambda u: (u["name"], u["stage"]))
