"""Load the pipeline with a real HTTP client, then prove every event reached S3.

`run(url, events, concurrency, bucket)` POSTs random `{userId, value}` events (like the
talk's demo script) from `concurrency` threads with urllib, with a progress bar; each
accepted POST returns its event's identity (`eventId`). Then it reads the bucket until every
accepted event is found (delivery is at-least-once: an event found twice is counted once,
and the duplicates are reported) or the wait times out, and reports events/s and latency
percentiles. If the local AWS stops answering mid-load, it stops and says so in one line,
with what was confirmed up to then.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .errors import WorkshopError


@dataclass
class LoadResult:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0  # answered, but not 200 (e.g. 4xx/5xx)
    delivered: int = 0  # accepted events found in S3 (each counted once)
    duplicates: int = 0  # extra copies found (at-least-once delivery)
    lost: int = 0  # accepted, never found in S3 within the wait
    seconds_post: float = 0.0
    seconds_total: float = 0.0  # first POST -> last event found in S3 (read while posting, every second)
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    stopped: str | None = None  # why the run stopped early

    @property
    def post_rate(self) -> float:
        return self.accepted / self.seconds_post if self.seconds_post else 0.0

    @property
    def end_to_end_rate(self) -> float:
        return self.delivered / self.seconds_total if self.seconds_total else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def summary(self) -> str:
        lines = [
            f"sent {self.sent}, accepted {self.accepted}, rejected {self.rejected}; "
            f"in S3: {self.delivered} delivered (each once), {self.duplicates} duplicate copies, {self.lost} lost",
            f"POST: {self.post_rate:,.0f} events/s; end to end (POST -> S3): {self.end_to_end_rate:,.0f} events/s; "
            f"latency p50 {self.percentile(50):.0f} ms, p95 {self.percentile(95):.0f} ms, p99 {self.percentile(99):.0f} ms",
        ]
        return "\n".join(lines)


def random_event(rng: random.Random) -> dict:
    """An event like the talk's demo script sent: a user and a value."""
    return {"userId": f"user-{rng.randrange(1000):03d}", "value": round(rng.uniform(0, 100), 2)}


_connections = threading.local()


def _post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST with a kept-alive HTTP/1.1 connection per client thread (as load generators and browsers do)."""
    parts = urllib.parse.urlsplit(url)
    key = (parts.scheme, parts.netloc)
    conn = getattr(_connections, "conn", None)
    if conn is None or getattr(_connections, "key", None) != key:
        factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = factory(parts.netloc, timeout=timeout)
        _connections.conn, _connections.key = conn, key
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    for attempt in (1, 2):
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, response.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
            conn.close()  # the server closed an idle kept-alive connection: reconnect once
            if attempt == 2:
                raise urllib.error.URLError(exc) from None
        except OSError as exc:
            conn.close()
            raise urllib.error.URLError(exc) from None
    raise AssertionError("unreachable")


def _is_down(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError,
                               TimeoutError, OSError))


# --- S3: what arrived -------------------------------------------------------------------------

class S3Events:
    """Reads the bucket incrementally (new objects only) and counts event identities."""

    def __init__(self, s3, bucket: str, prefix: str = ""):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.read_keys: set[str] = set()
        self.counts: dict[str, int] = {}
        self.found_at: dict[str, float] = {}  # event id -> time.monotonic() when first seen
        self._lock = threading.Lock()  # a background reader and the final wait may overlap

    def refresh(self) -> dict[str, int]:
        """Read the objects not read yet; the counts of every event id seen so far."""
        with self._lock:
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    if obj["Key"] not in self.read_keys:
                        self._read(obj["Key"])
            return self.counts

    def _read(self, key: str) -> None:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8", "replace")
        now = time.monotonic()
        for line in body.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and "eventId" in event:
                event_id = event["eventId"]
                self.counts[event_id] = self.counts.get(event_id, 0) + 1
                self.found_at.setdefault(event_id, now)
        self.read_keys.add(key)


def require_bucket(s3, bucket: str) -> None:
    """Say in one line, before any event is sent, that the bucket to verify against is missing."""
    from botocore.exceptions import ClientError

    from .errors import BadInput

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise BadInput(f"bucket {bucket} does not exist, so no event could be verified: build stage 9 first "
                           "(notebook 09_serverless_pipeline, or 'workshop up' then 'workshop run 9 --attach'), or name it with --bucket"
                           ) from None
        if code in ("403", "AccessDenied"):
            raise BadInput(f"bucket {bucket} is not readable with these credentials (it may be another "
                           "account's); name your run's bucket with --bucket") from None
        raise


def wait_in_s3(s3, bucket: str, wanted: set[str], timeout_s: float = 60, progress: bool = False,
               events: S3Events | None = None) -> dict[str, int]:
    """Read the bucket until every id in `wanted` is found or `timeout_s` passes; {id: copies} for all found."""
    events = events or S3Events(s3, bucket)
    deadline = time.monotonic() + timeout_s
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(wanted), desc="events found in S3", unit="ev")
    try:
        while True:
            counts = events.refresh()
            found = sum(1 for i in wanted if i in counts)
            if bar is not None:
                bar.update(found - bar.n)
            if found == len(wanted) or time.monotonic() > deadline:
                return counts
            time.sleep(0.2)
    finally:
        if bar is not None:
            bar.close()


# --- the load run -----------------------------------------------------------------------------

def run(url: str, events: int, concurrency: int, s3, bucket: str, wait_s: float = 120, seed: int | None = None,
        progress: bool = True, timeout_s: float = 30) -> LoadResult:
    """POST `events` events with `concurrency` threads, then verify each reached S3 exactly once by identity."""
    if events < 1 or concurrency < 1:
        from .errors import BadInput

        raise BadInput("--events and --concurrency must be at least 1")
    require_bucket(s3, bucket)
    rng = random.Random(seed)
    bodies = [json.dumps(random_event(rng)).encode() for _ in range(events)]
    result = LoadResult()
    ids: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=events, desc=f"POST {url.rsplit('/', 2)[-2] + '/' + url.rsplit('/', 1)[-1]}", unit="ev")

    def one(body: bytes) -> None:
        if stop.is_set():
            return
        started = time.perf_counter()
        try:
            status, reply = _post(url, body, timeout_s)
        except Exception as exc:
            if _is_down(exc):
                with lock:
                    if result.stopped is None:
                        result.stopped = f"{type(getattr(exc, 'reason', exc)).__name__}: {getattr(exc, 'reason', exc)}"
                stop.set()
                return
            raise
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            result.sent += 1
            if status == 200:
                try:
                    ids.append(json.loads(reply)["eventId"])
                    result.accepted += 1
                    result.latencies_ms.append(elapsed)
                except (ValueError, KeyError, TypeError):
                    result.rejected += 1
            else:
                result.rejected += 1
        if bar is not None:
            bar.update(1)

    reader = S3Events(s3, bucket)
    posting = threading.Event()

    def read_while_posting() -> None:  # so the end-to-end time is the pipeline's, not the reading's
        while not posting.wait(1.0):
            try:
                reader.refresh()
            except Exception:
                return  # the final wait below reports what it can

    started = time.monotonic()
    background = threading.Thread(target=read_while_posting, name="load-s3-reader", daemon=True)
    background.start()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, bodies))
    result.seconds_post = time.monotonic() - started
    posting.set()
    background.join()
    if bar is not None:
        bar.close()
    wanted = set(ids)
    try:
        counts = wait_in_s3(s3, bucket, wanted, timeout_s=0 if result.stopped else wait_s, progress=progress,
                            events=reader)
    except WorkshopError as exc:  # the local AWS is down: S3 cannot be read either
        counts = reader.counts
        result.stopped = result.stopped or str(exc)
    arrived = [reader.found_at[i] for i in wanted if i in reader.found_at]
    result.seconds_total = (max(arrived) if arrived and len(arrived) == len(wanted) else time.monotonic()) - started
    result.delivered = sum(1 for i in wanted if counts.get(i, 0) >= 1)
    result.duplicates = sum(counts.get(i, 0) - 1 for i in wanted if counts.get(i, 0) > 1)
    result.lost = len(wanted) - result.delivered
    return result
