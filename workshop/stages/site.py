"""One request to the site, as a user's browser sends it: where the day-1 box answers, and what it says.

Stages 1-3 serve the course's web app (`workshop/webapp`) from one instance behind an Elastic
IP. `box_where(ctx, instance)` is where that address leads: on AWS the instance's public DNS
name (with the Elastic IP, `ec2-<eip>.compute-1.amazonaws.com`); on the local AWS the loopback
port its web server listens on, found under the same name (`GET /_workshop/endpoints`).
`get` and `post_message` send one request each, with a short timeout, and give back a `Page`:
status, headers and body, or the error that stood for an answer (connection refused, timeout).
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from ..errors import WorkshopError
from ..traffic import probe

#: seconds one request may take before it counts as not answered
TIMEOUT_S = 2.0
#: the local AWS opens a started instance's listener within one reconcile round (0.2 s): wait a little longer
LOCAL_STARTUP_S = 3.0


@dataclass(frozen=True)
class Page:
    status: int | None  # None: no answer at all (see error)
    headers: dict = field(default_factory=dict)
    body: str = ""
    error: str | None = None  # e.g. "ConnectionRefusedError", "HTTP 503"

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def why(self) -> str:
        """What went wrong, in a few words: the error, or the status and the first line of the body."""
        if self.status is None:
            return self.error or "no answer"
        first = self.body.strip().splitlines()[0][:160] if self.body.strip() else ""
        return f"HTTP {self.status}" + (f": {first}" if first else "")


def box_where(ctx, instance: dict) -> probe.Where:
    """Where requests to the instance's public address go (see the module's docstring). Locally, a
    box started a moment ago is waited for (its web server is listed within a reconcile round)."""
    name = instance.get("PublicDnsName") or instance.get("PublicIpAddress")
    instance_id, state = instance["InstanceId"], instance.get("State", {}).get("Name")
    if not name:
        raise WorkshopError(f"{instance_id} has no public address: associate the Elastic IP (stage 1)")
    deadline = time.monotonic() + (startup_s(ctx) if state == "running" else 0.0)
    while True:
        try:
            return probe.where(name, ctx.target)
        except WorkshopError:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
    if state != "running":
        raise WorkshopError(f"nothing answers as {name}: {instance_id} is {state}; "
                            f"start it (ec2.start_instances(InstanceIds=['{instance_id}']))")
    raise WorkshopError(f"nothing answers as {name} although {instance_id} is running: does its user data carry "
                        "the web app? (workshop status lists what answers)")


def request(where: probe.Where, method: str = "GET", path: str = "/", body: bytes | None = None,
            headers: dict | None = None, timeout: float = TIMEOUT_S) -> Page:
    """One request, no redirect followed; a refused or timed-out connection is a Page with `error`."""
    parts = urlsplit(where.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    sent = dict(headers or {})
    if where.host_header:
        sent["Host"] = where.host_header
    try:
        conn.request(method, path, body=body, headers=sent)
        answer = conn.getresponse()
        text = answer.read().decode("utf-8", "replace")
        return Page(answer.status, dict(answer.getheaders()), text, None if answer.status < 400 else f"HTTP {answer.status}")
    except (OSError, http.client.HTTPException) as exc:
        return Page(None, error=type(exc).__name__)
    finally:
        conn.close()


def get(where: probe.Where, path: str = "/", *, within_s: float = 0.0, cookie: str | None = None) -> Page:
    """GET `path`; with `within_s`, try again (every 0.1 s) until it answers or that time has passed."""
    deadline = time.monotonic() + within_s
    while True:
        page = request(where, "GET", path, headers={"Cookie": cookie} if cookie else None)
        if page.ok or time.monotonic() >= deadline:
            return page
        time.sleep(0.1)


def post_message(where: probe.Where, text: str) -> Page:
    """POST /messages with the form field `text` (the app answers 303 to / when it saved it)."""
    return request(where, "POST", "/messages", urlencode({"text": text}).encode(),
                   {"Content-Type": "application/x-www-form-urlencoded"})


def startup_s(ctx) -> float:
    """How long to keep asking a box that was just started: the local listener opens within a
    reconcile round; on AWS the boot and the user data's run take far longer, so ask once."""
    return LOCAL_STARTUP_S if ctx.is_local else 0.0
