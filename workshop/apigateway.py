"""Invoke URLs of deployed REST APIs on the current target (`workshop status --json` lists them).

Local: `http://127.0.0.1:PORT/execute-api/{api_id}/{stage}` (served by the local AWS's
`ext/apigateway_dataplane.py`); a real account: `https://{api_id}.execute-api.{region}.amazonaws.com/{stage}`
(AWS docs, "Invoking a REST API in API Gateway").
"""

from __future__ import annotations

from . import aws, config


def stage_url(api_id: str, stage: str, region: str | None = None) -> str:
    """The base invoke URL of one stage of one REST API on the current target."""
    s = config.settings(region=region)
    if s.is_local:
        return f"{aws.endpoint()}/execute-api/{api_id}/{stage}"
    return f"https://{api_id}.execute-api.{s.region}.amazonaws.com/{stage}"


def invoke_urls(region: str | None = None) -> list[dict]:
    """Every deployed stage of every REST API: [{api_id, name, stage, url}], sorted by name and stage."""
    apigw = aws.client("apigateway", region=region)
    found = []
    for page in apigw.get_paginator("get_rest_apis").paginate():
        for api in page.get("items", []):
            for stage in apigw.get_stages(restApiId=api["id"]).get("item", []):
                found.append({"api_id": api["id"], "name": api.get("name", ""), "stage": stage["stageName"],
                              "url": stage_url(api["id"], stage["stageName"], region)})
    return sorted(found, key=lambda u: (u["name"], u["stage"]))
