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
"""

from __future__ import annotations

import logging

log = logging.getLogger("workshop.localaws.ext.dynamo_direct")


class Direct:
    """A boto3 DynamoDB client whose `update_item` goes straight to moto's backend (see the module)."""

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
            item = backend.update_item(kwargs["TableName"], kwargs["Key"], kwargs["UpdateExpression"].strip(),
                                       kwargs.get("ExpressionAttributeNames") or {},
                                       kwargs.get("ExpressionAttributeValues") or {})
        except Exception as exc:  # AWS's own error, through the HTTP path
            log.debug("direct update_item refused (%s): through the API instead", exc)
            return self._client.update_item(**kwargs)
        answer = {"ResponseMetadata": {"HTTPStatusCode": 200}}
        if kwargs.get("ReturnValues", "NONE") != "NONE":
            answer["Attributes"] = item.to_json()["Attributes"]
        return answer
