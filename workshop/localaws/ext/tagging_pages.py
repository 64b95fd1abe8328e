"""The tagging API's pages hold whatever changes between them (`GetResources`).

In moto 5.2.5 (pinned in constraints.txt) `GetResources` keeps a live generator over the
services' resource dictionaries between pages. If anything is created or deleted before the next
page is asked for (in the kit: another notebook of `workshop run --jobs 2` building, or an Auto
Scaling group scaling), the generator fails with "dictionary changed size during iteration"; moto
answers 500, the SDK retries with the same token, and the retried page finds the generator dead and
ends the listing there: the caller gets part of the account without any error. (Measured: 4 of 9
tagged VPCs, one created between pages; tests/test_tagging_pages.py. It was stage 8's `slide-20`
check seeing 5 of its 8 components "missing" in a CI run while they stood.)

AWS's listing is not a snapshot either, but it does not lose what stood all along. Here the first
page takes the whole list at once (retried if a change lands during that one pass) and later pages
are cut from it: everything that stood for the whole listing is in it; what came or went between
pages may be missing or listed as it was, as on AWS. Page sizes follow moto's own rules
(`ResourcesPerPage`, and a page ends before `TagsPerPage` tags).
"""

from __future__ import annotations

import threading

from moto.moto_api._internal import mock_random

#: passes at taking the list before giving up (each is a fraction of a millisecond per hundred resources)
SNAPSHOT_TRIES = 5

_LOCK = threading.Lock()


def _snapshot(backend, tag_filters, resource_type_filters, resource_arn_list) -> list:
    for attempt in range(SNAPSHOT_TRIES):
        try:
            return list(backend._get_resources_generator(tag_filters=tag_filters,
                                                         resource_type_filters=resource_type_filters,
                                                         resource_arn_list=resource_arn_list))
        except RuntimeError:  # a dictionary changed during the pass: take it again
            if attempt == SNAPSHOT_TRIES - 1:
                raise
    return []


def get_resources(self, pagination_token=None, resources_per_page: int = 50, tags_per_page: int = 100,
                  tag_filters=None, resource_type_filters=None, resource_arn_list=None):
    """moto's `get_resources`, over a list taken at the first page (see the module)."""
    from moto.resourcegroupstaggingapi.exceptions import ResourceGroupsTaggingAPIError as RESTError

    with _LOCK:
        if pagination_token:
            if pagination_token not in self._pages:
                raise RESTError("PaginationTokenExpiredException", "Token does not exist")
            items = self._pages[pagination_token]["items"]
        else:
            items = _snapshot(self, tag_filters, resource_type_filters, resource_arn_list)
    taken, tags = 0, 0
    while taken < len(items) and taken < resources_per_page:
        count = len(items[taken].tags)
        if taken and tags + count >= tags_per_page:
            break
        tags += count
        taken += 1
    page, rest = items[:taken], items[taken:]
    with _LOCK:
        if pagination_token:
            self._pages.pop(pagination_token, None)
        if not rest:
            return None, page
        token = str(mock_random.uuid4())
        self._pages[token] = {"items": rest}
    return token, page


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend

    ResourceGroupsTaggingAPIBackend.get_resources = get_resources
