"""workshop status: the target, whether the local AWS is up, and the course's resources by stage."""

from __future__ import annotations

import json

from .. import config
from ..localaws import discover

NAME = "status"
HELP = "show the target, its endpoint, whether it is up, and the course's resources by stage"


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def collect() -> dict:
    s = config.current()
    doc: dict = {"target": s.kind, "region": s.region, "account": s.account}
    if s.is_local:
        state = discover.running()
        endpoint = s.endpoint or (state or {}).get("endpoint")
        up = bool(endpoint and discover.health(endpoint))
        port = (state or {}).get("port", discover.DEFAULT_PORT)
        doc.update(endpoint=endpoint, up=up, pid=(state or {}).get("pid"), log=str(discover.log_file(port)))
        if not up:
            doc.update(resources={}, invoke_urls=[], endpoints=[])
            return doc
        doc["endpoints"] = discover.endpoints(endpoint)["endpoints"]
    else:
        doc.update(endpoint=None, up=True)
    from .. import inventory

    found = inventory.course_resources()
    by_stage: dict[str, list[str]] = {}
    for r in found:
        by_stage.setdefault(r.stage or "?", []).append(f"{r.kind} {r.name}")
    doc["resources"] = {k: sorted(v) for k, v in sorted(by_stage.items())}
    doc["invoke_urls"] = _invoke_urls()
    return doc


def _invoke_urls() -> list[dict]:
    try:
        from .. import invoke_urls
    except ImportError:
        return []
    out = []
    for u in invoke_urls.invoke_urls():
        for path, info in (u.get("resources") or {"/": {"url": u["url"], "methods": []}}).items():
            out.append({"api_id": u["api_id"], "name": u["name"], "stage": u["stage"], "path": path,
                        "methods": info["methods"], "invoke_url": info["url"]})
    return out


def run(args) -> int:
    doc = collect()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    if doc["target"] == "local":
        state = "up" if doc["up"] else "DOWN (run 'workshop up')"
        print(f"target: local AWS at {doc['endpoint'] or '(none started)'} — {state}")
    else:
        print(f"target: AWS account {doc['account']} in {doc['region']}")
    resources = doc.get("resources") or {}
    if not resources:
        print("course resources: none")
    for stage, items in resources.items():
        print(f"stage {stage}: {len(items)} resource(s)")
        for item in items[:12]:
            print(f"  - {item}")
        if len(items) > 12:
            print(f"  … and {len(items) - 12} more")
    for u in doc.get("invoke_urls") or []:
        print(f"invoke URL: {' '.join(u['methods']) or 'ANY'} {u['invoke_url']}")
    for e in doc.get("endpoints") or []:
        names = f" ({', '.join(e['names'])})" if e.get("names") else ""
        print(f"{e['kind']} {e['resource_id']}: {e['url']}{names}")
    return 0
