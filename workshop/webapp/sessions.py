"""Where a visitor's session lives: the instance's memory (stages 1-5) or a DynamoDB table (6 on).

In memory, a session is lost when the load balancer sends the visitor to another instance
or the instance goes away: the reason stage 6 moves it out. In DynamoDB every instance sees
the same count (one `UpdateItem` with `ADD`, atomic on AWS: Amazon DynamoDB Developer Guide,
"Atomic counters"); each visit also sets the item's expiry, the table's TTL attribute
(`expires_at`, epoch seconds, a day ahead unless the config says otherwise: Amazon DynamoDB
Developer Guide, "Using time to live"). Both answer `visit(session_id) -> views`; DynamoDB's are
blocking calls, run off the event loop by the app. Memory keeps at most `MAX_MEMORY_SESSIONS`,
the least recently seen dropped first (a load test without cookies makes a session per request).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_MEMORY_SESSIONS = 10_000
TTL_ATTRIBUTE, TTL_SECONDS = "expires_at", 24 * 3600


class MemorySessions:
    """Sessions in this process: gone with the instance."""

    kind = "memory"
    blocking = False

    def __init__(self, limit: int = MAX_MEMORY_SESSIONS):
        self._views: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit

    def visit(self, session_id: str) -> int:
        with self._lock:
            views = self._views.pop(session_id, 0) + 1
            self._views[session_id] = views
            while len(self._views) > self.limit:
                self._views.popitem(last=False)
            return views


class DynamoSessions:
    """Sessions in a DynamoDB table whose partition key is `session_id` (S). A boto3 client's calls block (the
    app runs them off its event loop); a client that says `blocking = False` (the local AWS's, answering in
    memory) is called on the loop."""

    kind = "dynamodb"

    def __init__(self, client, table: str, ttl_attribute: str = TTL_ATTRIBUTE, ttl_seconds: int = TTL_SECONDS,
                 clock=time.time):
        self.blocking = getattr(client, "blocking", True) is not False
        self.client, self.table = client, table
        self.ttl_attribute, self.ttl_seconds, self.clock = ttl_attribute, int(ttl_seconds), clock

    def visit(self, session_id: str) -> int:
        out = self.client.update_item(
            TableName=self.table, Key={"session_id": {"S": session_id}},
            UpdateExpression="SET #e = :expires ADD #v :one",
            ExpressionAttributeNames={"#v": "views", "#e": self.ttl_attribute},
            ExpressionAttributeValues={":one": {"N": "1"},
                                       ":expires": {"N": str(int(self.clock()) + self.ttl_seconds)}},
            ReturnValues="UPDATED_NEW")
        return int(out["Attributes"]["views"]["N"])


def from_config(config: dict, aws_client):
    """The store `config["sessions"]` names: "memory" or {"dynamodb": "<table>"} (optional
    "ttl_attribute", "ttl_seconds");
    `aws_client("dynamodb")` gives the boto3 client for the latter."""
    spec = config.get("sessions", "memory")
    if spec in (None, "memory"):
        return MemorySessions()
    if isinstance(spec, dict) and isinstance(spec.get("dynamodb"), str) and spec["dynamodb"]:
        return DynamoSessions(aws_client("dynamodb"), spec["dynamodb"], spec.get("ttl_attribute", TTL_ATTRIBUTE),
                              spec.get("ttl_seconds", TTL_SECONDS))
    raise ValueError(f'config "sessions" must be "memory" or {{"dynamodb": "<table>"}}, not {spec!r}')
