"""The shapes teardown kinds repeat, made once: AWS's "not found", paging, a delete that is
done if the resource is already gone, and the two ways to confirm a deletion ("gone once
describe says not found", "gone once the listing is empty")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from .. import tags, waits
from .kind import Resource, Scope


def code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_gone(exc: ClientError, *codes: str) -> bool:
    """True when AWS's error says the resource does not exist (or is one of `codes`)."""
    c = code(exc)
    return c in codes or "NotFound" in c or "NoSuch" in c


def paginate(client, op: str, key: str, **kw) -> Iterable[dict]:
    if client.can_paginate(op):
        for page in client.get_paginator(op).paginate(**kw):
            yield from page.get(key, [])
    else:
        yield from getattr(client, op)(**kw).get(key, [])


def name_tag(tag_items: Any) -> str:
    return tags.as_dict(tag_items).get("Name", "")


def calling(service: str, op: str, param: str, as_list: bool = False, tolerate: tuple[str, ...] = (), **extra):
    """A `delete`: `op(param=r.id, **extra)`, done if AWS says it is already gone (or answers with a
    `tolerate` code)."""
    def delete(scope: Scope, r: Resource) -> None:
        try:
            getattr(scope.client(service, r.region), op)(**{param: [r.id] if as_list else r.id}, **extra)
        except ClientError as exc:
            if not is_gone(exc) and not any(t in code(exc) for t in tolerate):
                raise
    return delete


def gone_when_absent(service: str, op: str, param: str, state: Callable[[dict], str] | None = None,
                     codes: tuple[str, ...] = ()):
    """A `gone` check: done once `op(param=r.id)` answers not-found, else still deleting (in `state`)."""
    def gone(scope: Scope, r: Resource):
        try:
            answer = getattr(scope.client(service, r.region), op)(**{param: r.id})
        except ClientError as exc:
            if is_gone(exc, *codes):
                return True
            raise
        return waits.Pending((state(answer) if state else "") or "deleting")
    return gone


def gone_when_unlisted(service: str, op: str, param: str, key: str, as_list: bool = False,
                       state: Callable[[dict], str] | None = None, done: tuple[str, ...] = (),
                       id_key: str = "", codes: tuple[str, ...] = ()):
    """A `gone` check: done once `op(param=r.id)` lists nothing (or only items in a `done` state,
    or answers not-found), else still deleting, showing the items' states."""
    def gone(scope: Scope, r: Resource):
        try:
            items = getattr(scope.client(service, r.region), op)(**{param: [r.id] if as_list else r.id}).get(key) or []
        except ClientError as exc:
            if is_gone(exc, *codes):
                return True
            raise
        if id_key:
            items = [i for i in items if i.get(id_key) == r.id]
        states = [(state(i) if state else "") or "" for i in items]
        if not items or (any(states) and all(s.lower() in done for s in states if s)):
            return True
        return waits.Pending(",".join(s for s in states if s) or "deleting")
    return gone
