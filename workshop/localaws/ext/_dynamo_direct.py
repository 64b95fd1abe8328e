"""The web app's session writes on the local AWS, straight into moto's DynamoDB backend.

Each dynamic page the course's app serves with sessions in DynamoDB (stage 6 on) makes one
`UpdateItem` (`workshop/webapp/sessions.py`). Through a boto3 client that call is a loopback HTTP
request: botocore builds and signs it, the local AWS's threaded werkzeug server and Flask parse it,
moto's response layer validates it, and the answer goes back the same way. Measured with py-spy
over `benchmarks/stage6_path.py`: that round trip was the largest cost of a page (about a quarter
of the local AWS's samples, against ~3% for the page's Redis read), and it capped one instance's
page rate near 70-95 requests/s on the 2-core machine.

`Direct(client)` answers the app's one call shape — `update_item(TableName, Key, UpdateExpression,
ExpressionAttributeNames, ExpressionAttributeValues, ReturnValues)` — by calling moto's backend
`update_item` in this process (the same code the HTTP path ends in) and returning the item's
attributes (`ALL_NEW`, which includes what `UPDATED_NEW` returns). Anything else, and any call the
backend refuses, goes to the boto3 client unchanged, so errors are AWS's errors. The web app itself
(what runs on AWS) is unchanged: only the local data plane hands it this client.

The session's own expression, `SET #e = :expires ADD #v :one` (a number added, another attribute
set), is applied to moto's item directly (`_session_update`), under a lock, as DynamoDB applies an
update atomically: moto's backend parses it, deep-copies its syntax tree and validates it on every
call, which was half the local AWS's time serving stage 6's pages (py-spy with `--gil` over
`benchmarks/stage6_path.py`). Only a table with a hash key alone, no stream and no index takes that
path; an attribute that is not a number, a key attribute in the expression, anything else goes to
moto's `update_item` (and its errors).
"""

from __future__ import annotations

import logging
import re
import threading
from decimal import Decimal

log = logging.getLogger("workshop.localaws.ext.dynamo_direct")

#: the web app's session update (workshop/webapp/sessions.py): SET one attribute, ADD a number to another
_SET_ADD = re.compile(r"SET\s+(#\w+)\s*=\s*(:\w+)\s+ADD\s+(#\w+)\s+(:\w+)")
#: read-modify-write of one item at a time (DynamoDB applies an update atomically)
_ITEMS = threading.Lock()


def _session_update(backend, name: str, key: dict, expression: str, names: dict, values: dict):
    """Apply `SET #a = :x ADD #b :n` to the item; the item, or None when the call is not that plain case."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    found = _SET_ADD.fullmatch(expression)
    table = backend.tables.get(name)
    if found is None or table is None or table.range_key_attr or table.stream_shard is not None \
            or table.indexes or table.global_indexes or set(key) != {table.hash_key_attr}:
        return None
    set_name, set_value = names.get(found[1]), values.get(found[2])
    add_name, add_value = names.get(found[3]), values.get(found[4])
    if not (isinstance(set_name, str) and isinstance(add_name, str) and isinstance(set_value, dict)
            and isinstance(add_value, dict) and list(add_value) == ["N"] and len(set_value) == 1) \
            or set_name == add_name or table.hash_key_attr in (set_name, add_name) or set(names) != {found[1], found[3]} \
            or set(values) != {found[2], found[4]}:
        return None
    hash_value = DynamoType(key[table.hash_key_attr])
    with _ITEMS:
        item = table.get_item(hash_value, None)
        if item is None:
            table.put_item({table.hash_key_attr: key[table.hash_key_attr], set_name: set_value, add_name: add_value})
            return table.get_item(hash_value, None)
        current = item.attrs.get(add_name)
        if current is not None and current.type != "N":
            return None  # moto says why (ADD to a non-number)
        total = add_value["N"] if current is None else str(Decimal(current.value) + Decimal(add_value["N"]))
        item.attrs[set_name] = DynamoType(set_value)
        item.attrs[add_name] = DynamoType({"N": total})
        return item


class Direct:
    """A boto3 DynamoDB client whose `update_item` goes straight to moto's backend (see the module)."""

    #: the session update is a few dict operations in memory: the app calls it on its event loop instead of
    #: handing it to a thread (`sessions.DynamoSessions.blocking`); a call that falls back to the API blocks
    #: the loop for that one request (moto's API server answers on its own threads)
    blocking = False

    def __init__(self, client, region: str):
        self._client, self._region = client, region
        self._owner: dict[str, object] = {}  # table name -> the moto backend that holds it

    def __getattr__(self, name):
        return getattr(self._client, name)

    def _backend(self, table: str):
        found = self._owner.get(table)
        if found is not None and table in getattr(found, "tables", {}):
            return found
        from moto.dynamodb.models import dynamodb_backends

        for _account, region, backend in list(dynamodb_backends.iter_backends()):
            if region == self._region and table in getattr(backend, "tables", {}):
                self._owner[table] = backend
                return backend
        return None

    def update_item(self, **kwargs):
        shape = {"TableName", "Key", "UpdateExpression", "ExpressionAttributeNames", "ExpressionAttributeValues",
                 "ReturnValues"}
        backend = self._backend(kwargs.get("TableName", "")) if set(kwargs) <= shape else None
        if backend is None or "UpdateExpression" not in kwargs:
            return self._client.update_item(**kwargs)
        try:
            args = (kwargs["TableName"], kwargs["Key"], kwargs["UpdateExpression"].strip(),
                    kwargs.get("ExpressionAttributeNames") or {}, kwargs.get("ExpressionAttributeValues") or {})
            item = _session_update(backend, *args) or backend.update_item(*args)
        except Exception as exc:  # AWS's own error, through the HTTP path
            log.debug("direct update_item refused (%s): through the API instead", exc)
            return self._client.update_item(**kwargs)
        answer = {"ResponseMetadata": {"HTTPStatusCode": 200}}
        if kwargs.get("ReturnValues", "NONE") != "NONE":
            answer["Attributes"] = item.to_json()["Attributes"]
        return answer
