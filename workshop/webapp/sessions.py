"""Where a visitor's session lives: the instance's memory (stages 1-5) or a DynamoDB table (6 on).

In memory, a session is lost when the load balancer sends the visitor to another instance
or the instance goes away: the reason stage 6 moves it out. In DynamoDB every instance sees
the same count (one `UpdateItem` with `ADD`, atomic on AWS: Amazon DynamoDB Developer Guide,
"Atomic counters"). Both answer `visit(session_id) -> views` and `views(session_id)`; DynamoDB's
are blocking calls, run off the event loop by the app.
"""

from __future__ import annotations

import threading


class MemorySessions:
    """Sessions in this process: a dict, gone with the instance."""

    kind = "memory"
    blocking = False

    def __init__(self):
        self._views: dict[str, int] = {}
        self._lock = threading.Lock()

    def visit(self, session_id: str) -> int:
        with self._lock:
            self._views[session_id] = self._views.get(session_id, 0) + 1
            return self._views[session_id]


class DynamoSessions:
    """Sessions in a DynamoDB table whose partition key is `session_id` (S)."""

    kind = "dynamodb"
    blocking = True

    def __init__(self, client, table: str):
        self.client, self.table = client, table

    def visit(self, session_id: str) -> int:
        out = self.client.update_item(
            TableName=self.table, Key={"session_id": {"S": session_id}},
            UpdateExpression="ADD #v :one", ExpressionAttributeNames={"#v": "views"},
            ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")
        return int(out["Attributes"]["views"]["N"])


def from_config(config: dict, aws_client):
    """The store `config["sessions"]` names: "memory" or {"dynamodb": "<table>"};
    `aws_client("dynamodb")` gives the boto3 client for the latter."""
    spec = config.get("sessions", "memory")
    if spec in (None, "memory"):
        return MemorySessions()
    if isinstance(spec, dict) and isinstance(spec.get("dynamodb"), str) and spec["dynamodb"]:
        return DynamoSessions(aws_client("dynamodb"), spec["dynamodb"])
    raise ValueError(f'config "sessions" must be "memory" or {{"dynamodb": "<table>"}}, not {spec!r}')
