"""The tagging API's view: every resource tagged for the course (one run's, one stage's) in a
region, whatever its service. `scan` uses it to catch what no kind knows; `topology` to find
the course's resources of the services it draws."""

from __future__ import annotations

from collections.abc import Iterator

from .. import tags
from .kind import Scope


def tagged(scope: Scope) -> Iterator[tuple[str, dict[str, str]]]:
    """(ARN, tags) of each resource tagged for the course within `scope` (its run and that run's notebooks')."""
    pages = scope.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
        TagFilters=tags.filters(None, scope.stage))
    for page in pages:
        for item in page.get("ResourceTagMappingList", []):
            found = tags.as_dict(item.get("Tags"))
            if tags.in_run(found.get(tags.RUN_KEY), scope.run):
                yield item["ResourceARN"], found


def arn_service(arn: str) -> str:
    """'ec2' from 'arn:aws:ec2:us-east-1:123456789012:instance/i-1' ('' for something else)."""
    return arn.split(":")[2] if arn.count(":") >= 5 else ""
